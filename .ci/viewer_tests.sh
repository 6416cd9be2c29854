#!/usr/bin/env bash
# Viewer CI (called from .ci/run): installs Bevy's build packages, Xvfb and
# Mesa's software Vulkan (lavapipe), builds somnium-viewer, runs its unit tests
# and the headless screenshot test under Xvfb. Runs from the repository root.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends \
    xvfb xauth mesa-vulkan-drivers libvulkan1 \
    pkg-config libudev-dev libasound2-dev libx11-dev libxkbcommon-dev libwayland-dev \
    libxkbcommon-x11-0 libxcursor1 libxrandr2 libxi6

# Render with Mesa's CPU Vulkan driver, whatever GPU the machine has.
export WGPU_BACKEND=vulkan
LVP_ICD="$(ls /usr/share/vulkan/icd.d/lvp_icd*.json 2>/dev/null | head -n 1 || true)"
if [ -n "$LVP_ICD" ]; then
    export VK_DRIVER_FILES="$LVP_ICD" VK_ICD_FILENAMES="$LVP_ICD"
fi

time cargo build --release -p somnium-viewer
# Unit tests, the error-path tests and (with --include-ignored) the screenshot test.
xvfb-run -a -s "-screen 0 1280x720x24" \
    cargo test --release -p somnium-viewer -- --include-ignored
