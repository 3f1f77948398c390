#!/usr/bin/env bash
# Runs the four Fashion-MNIST policies from the repository root, keeps their reports in
# examples/fashion_mnist/results/ and rewrites the README's table from them.
#   examples/fashion_mnist/run_policies.sh [path/to/kmrc]     (default: build/kmrc)
set -euo pipefail
cd "$(dirname "$0")/../.."
kmrc="${1:-build/kmrc}"
here=examples/fashion_mnist
mkdir -p "$here/results"
reports=()
for policy in quickstart mixed_precision scripted_policy distill_lowrank; do
  echo "== $policy"
  status=0
  "$kmrc" run "$here/$policy.kmr" --report "$here/results/$policy.json" || status=$?
  # 2 is "no feasible configuration": the report still says what was tried.
  if [ "$status" -ne 0 ] && [ "$status" -ne 2 ]; then exit "$status"; fi
  reports+=("$here/results/$policy.json")
done
python3 "$here/results_table.py" "$here/README.md" "${reports[@]}"
