#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The output-commit proof, SOAK_TRIALS times (default 1000), numbered from
# SOAK_FIRST (default 1). bench/soak/run.sh sets both on the kernel command
# line (the kernel hands KEY=VALUE words to init's environment) to split
# the trials over several VMs.
exec "$(dirname "$0")/output_commit.sh" "${SOAK_TRIALS:-1000}" "${SOAK_FIRST:-1}"
