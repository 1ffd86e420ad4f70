#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The output-commit check with buffering off must find rollbacks: it can
# fail. See output_commit.sh.
E2E_UNBUFFERED=1 exec "$(dirname "$0")/output_commit.sh" "${E2E_UNBUFFERED_TRIALS:-4}"
