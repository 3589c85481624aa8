#!/usr/bin/env bash
# Fetches Debian 13's libvulkan-dev (Vulkan headers 1.4.x) into a private folder without touching
# the system's apt state, for building llama.cpp's Vulkan backend on Debian 12 (whose 1.3.239
# headers are too old). Usage: scripts/fetch-vulkan-headers.sh [DEST]  (default build/vulkan-sdk)
set -euo pipefail
dest="${1:-build/vulkan-sdk}"
if [ -f "$dest/usr/include/vulkan/vulkan_core.h" ]; then
  echo "vulkan headers already in $dest"; exit 0
fi
state="$(mktemp -d)"
trap 'rm -rf "$state"' EXIT
mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/dl"
cat > "$state/debian.sources" <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
opts=(-o "Dir::State=$state" -o "Dir::State::Lists=$state/lists" -o "Dir::State::status=/var/lib/dpkg/status"
      -o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$state" -o "Dir::Cache=$state/cache"
      -o "Debug::NoLocking=1")
apt-get "${opts[@]}" -qq update
(cd "$state/dl" && apt-get "${opts[@]}" -qq download libvulkan-dev)
mkdir -p "$dest"
dpkg -x "$state"/dl/libvulkan-dev_*.deb "$dest"
grep -m1 "define VK_HEADER_VERSION " "$dest/usr/include/vulkan/vulkan_core.h"
