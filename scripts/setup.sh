#!/usr/bin/env bash
# Installs the system packages vkcnn needs, when they are missing (Debian/Ubuntu).
# Run as root or with sudo available. Safe to run again: it does nothing when all
# are present.
#   Vulkan loader, lavapipe (software Vulkan), validation layers, shader tools;
#   X11 headers, Xvfb, xwd and ImageMagick for the live training viewer (build
#   tag "view") and its screenshot test;
#   Fashion-MNIST (dataset-fashion-mnist, MIT, into /usr/share/datasets/fashion-mnist);
#   PyTorch (CPU) for the interop test and the benchmark comparison, with
#   OpenBLAS (OpenMP build) as the system BLAS: Debian's torch runs its dense
#   layers (aten::mm/addmm) through libblas.so.3, which is the slow reference
#   BLAS unless an optimized one is installed (its oneDNN serves only the
#   convolutions), and the OpenMP build shares torch's threads where the
#   pthreads one fights them;
#   qemu-user (qemu-aarch64) for make test's arm64 step (NEON kernels, conformance).
# MNIST needs no package: package data fetches it with the go command.
set -euo pipefail
# Go tools pinned in the Makefile (staticcheck), into the repository's bin/.
if command -v go >/dev/null 2>&1 && command -v make >/dev/null 2>&1; then
  make -s -C "$(dirname "$0")/.." tools
fi
pkgs=(libvulkan1 mesa-vulkan-drivers vulkan-validationlayers glslc spirv-tools vulkan-tools
  libx11-dev libxcursor-dev libxrandr-dev libxinerama-dev libxi-dev libxxf86vm-dev libgl1-mesa-dev xvfb xauth x11-apps imagemagick
  dataset-fashion-mnist python3-torch libopenblas0-openmp qemu-user)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "setup: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
