#!/usr/bin/env bash
# Installs the Debian packages KMR builds and tests with, skipping those already present.
set -euo pipefail
packages=(
  cmake make g++ python3 python3-numpy
  antlr4 libantlr4-runtime-dev llvm-16-dev libeigen3-dev doctest-dev nlohmann-json3-dev
  libcli11-dev libfmt-dev libbenchmark-dev zlib1g-dev dataset-fashion-mnist
)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
