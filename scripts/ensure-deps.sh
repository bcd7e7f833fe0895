#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Makes sure every Debian package the build and tests need is installed.
# As root: one `apt-get update`, then a non-interactive install of what is missing.
# Otherwise: prints the exact command and fails, so nothing half-builds.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-14 lld-14 libclang-rt-14-dev wasi-libc
  libhwloc-dev hwloc
  libboost-dev libconcurrentqueue-dev libtbb-dev
  spin
  libvulkan-dev libvulkan1 mesa-vulkan-drivers glslc vulkan-validationlayers libstb-dev
  libpng-dev
  libseccomp-dev
  stress-ng
  xvfb chromium
  libglfw3-dev libimgui-dev xdotool x11-apps
  nodejs npm
)

missing=()
for pkg in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
done

# Node 20 may come from outside Debian's nodejs package; accept any working node >= 20.
if command -v node >/dev/null 2>&1 && [[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ]]; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
  read -r -a missing <<< "${missing[*]}"
fi

if (( ${#missing[@]} == 0 )); then
  exit 0
fi

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "triptych: missing system packages: ${missing[*]}" >&2
  echo "triptych: run as root:  sudo sh -c '$cmd'" >&2
  exit 1
fi
echo "triptych: installing ${missing[*]}"
apt-get update -q
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
