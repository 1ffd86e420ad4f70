#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The output-commit proof, SOAK_TRIALS times (default 1000).
exec "$(dirname "$0")/output_commit.sh" "${SOAK_TRIALS:-1000}"
