#!/usr/bin/env bash
# Installs what hearth needs on a Debian 12 host (as root): system packages, npm packages, the build.
# Safe to run again: apt and npm skip what is already there (the package lists are always refreshed).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(bubblewrap runsc qemu-system-x86 debootstrap erofs-utils busybox-static cpio
  gcc libc6-dev make python3 ca-certificates curl util-linux mount procps iproute2 xz-utils zstd
  protobuf-compiler)
export DEBIAN_FRONTEND=noninteractive
# Always first: on a fresh machine (or one whose lists are stale) the package lists are what make
# an install, and later `apt-get download`s of guest kernels and debootstrap, find current versions.
echo "==> apt-get update"
apt-get update -qq
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing system packages: ${missing[*]}"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "hearth needs Node.js 20 or newer on PATH" >&2
  exit 1
fi

echo "==> installing npm packages"
# `npm install` keeps to package-lock.json. Not `npm ci`: npm 11.19 writes lockfiles without the other
# platforms' optional packages (esbuild, biome, rollup binaries) and then `npm ci` refuses its own lockfile.
npm install --no-fund --no-audit --loglevel=error
echo "==> building"
npm run build --silent
