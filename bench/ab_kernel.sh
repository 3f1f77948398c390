#!/bin/sh
# Compares two builds on one case of the kernel workload: their kernel_runs alternate,
# ROUNDS times each, so that both see the same phases of a shared machine (its memory
# and CPU speed drift by 10-50% over minutes here). Prints, per build, the best of the
# rounds' bests, the median of their bests and of their medians (docs/performance.md).
# Usage: bench/ab_kernel.sh BUILD_A BUILD_B [ROUNDS=6] [kernel_runs options, e.g. --case int8]
set -eu
if [ $# -lt 2 ]; then
  echo "usage: $0 BUILD_A BUILD_B [ROUNDS] [kernel_runs options]" >&2
  exit 2
fi
a=$1 b=$2
shift 2
rounds=6
if [ $# -gt 0 ]; then rounds=$1; shift; fi
for build in "$a" "$b"; do
  if [ ! -x "$build/bench/kernel_runs" ]; then
    echo "$0: $build/bench/kernel_runs is missing: build the kernel_runs target there" >&2
    exit 2
  fi
done
results=$(mktemp)
trap 'rm -f "$results"' EXIT
i=0
while [ "$i" -lt "$rounds" ]; do
  for build in "$a" "$b"; do
    # "fused: best 12.22 median 12.43 ms" -> "BUILD 12.22 12.43"
    "$build/bench/kernel_runs" "$@" | awk -v build="$build" '{ print build, $3, $5 }' >> "$results"
  done
  i=$((i + 1))
done
# The middle value of a column of numbers.
middle() { sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] }'; }
for build in "$a" "$b"; do
  bests=$(awk -v build="$build" '$1 == build { print $2 }' "$results" | sort -n)
  medians=$(awk -v build="$build" '$1 == build { print $3 }' "$results")
  echo "$build: best $(echo "$bests" | head -n 1), median of bests $(echo "$bests" | middle)," \
    "median of medians $(echo "$medians" | middle) ms; bests" $bests
done
