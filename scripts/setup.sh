#!/usr/bin/env bash
# Installs nagi's build dependencies from Debian's packages. Idempotent: does
# nothing (and needs no network) when everything is already installed.
# Usage: scripts/setup.sh [release|debug|asan|fuzz|arm64] (the build kinds of
# scripts/build.sh need the base packages only).
set -euo pipefail

packages=(build-essential cmake ninja-build g++ pkg-config
          libgtest-dev libgmock-dev libbenchmark-dev
          nlohmann-json3-dev libcli11-dev libpcre2-dev libicu-dev)
# `setup.sh fuzz`: also clang with libFuzzer (scripts/fuzz.sh); `setup.sh arm64`:
# the aarch64 cross compiler and qemu-user (scripts/test-arm64.sh).
case "${1:-}" in
  ""|release|debug|asan) ;;
  fuzz) packages+=(clang-14 libclang-rt-14-dev) ;;
  arm64) packages+=(g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user googletest) ;;
  *) echo "usage: $0 [release|debug|asan|fuzz|arm64]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
