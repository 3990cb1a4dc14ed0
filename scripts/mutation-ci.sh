#!/usr/bin/env bash
# CI's mutation step: StrykerJS on the pure core (src/core) against its fast tests, incremental from the
# committed baseline mutation/incremental.json (only mutants whose code or covering test files changed run again),
# failing (exit 1) under the break threshold in stryker.config.mjs. Prints how long it took.
#   bash scripts/mutation-ci.sh            # as CI runs it
#   bash scripts/mutation-ci.sh --force    # every core mutant, ignoring the baseline (about 40 min on 2 busy cores)
#
# With a current baseline this takes 1-3 min. A change to src/core or its tests without a refreshed baseline
# re-runs what it touched; editing a core test file re-runs every mutant that file covers, which can take most of
# the full run. So the run is capped (MUTATION_CI_MAX_MINUTES, default 10): past the cap it fails and says to
# refresh the baseline (run this script locally and commit mutation/incremental.json), instead of stretching CI.
set -euo pipefail
cd "$(dirname "$0")/.."
max_minutes="${MUTATION_CI_MAX_MINUTES:-10}"
started=$(date +%s)
status=0
MUTATION_SCOPE=core timeout --signal=INT --kill-after=30 "$((max_minutes * 60))" npx stryker run --incremental "$@" || status=$?
took=$(($(date +%s) - started))
if [ "${status}" -eq 124 ] || [ "${status}" -eq 130 ]; then
  echo "mutation testing of src/core did not finish within ${max_minutes} min: the committed baseline is stale." >&2
  echo "Run 'npm run mutation:ci' locally (or with MUTATION_CI_MAX_MINUTES=0 for no cap) and commit mutation/incremental.json." >&2
  status=1
fi
echo "mutation testing of src/core took ${took} s (exit ${status}); report: reports/mutation/index.html"
exit "${status}"
