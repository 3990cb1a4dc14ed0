#!/usr/bin/env bash
# CI's mutation step: StrykerJS on the pure core (src/core) against the fast tests, incremental from the
# committed baseline mutation/incremental.json (only mutants whose code or covering tests changed run again),
# failing (exit 1) under the break threshold in stryker.config.mjs. Prints how long it took.
#   bash scripts/mutation-ci.sh            # as CI runs it
#   bash scripts/mutation-ci.sh --force    # every core mutant, ignoring the baseline
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
status=0
MUTATION_SCOPE=core npx stryker run --incremental "$@" || status=$?
echo "mutation testing of src/core took $(( $(date +%s) - started )) s (exit ${status}); report: reports/mutation/index.html"
exit "${status}"
