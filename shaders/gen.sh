#!/bin/sh
# Compiles every shaders/*.comp to shaders/<name>.spv with glslc (Vulkan 1.1
# target, optimized), and each one that includes buf.glsl a second time with
# -DADDRESSED to shaders/<name>_addr.spv (its tensors reached through device
# addresses, see buf.glsl). Each output is written to a temporary file and renamed,
# so a failed compile never leaves a truncated .spv. Run it through
# `go generate ./shaders` or directly.
set -eu
cd "$(dirname "$0")"
if ! command -v glslc >/dev/null 2>&1; then
	echo "gen.sh: glslc not found; install it (Debian: glslc) to recompile the shaders" >&2
	exit 1
fi
tmp=""
trap 'rm -f "$tmp"' EXIT
for src in *.comp; do
	name=${src%.comp}
	tmp="$name.spv.tmp"
	glslc -O --target-env=vulkan1.1 -o "$tmp" "$src"
	mv "$tmp" "$name.spv"
	if grep -q '^#include "buf.glsl"' "$src"; then
		tmp="${name}_addr.spv.tmp"
		glslc -O --target-env=vulkan1.1 -DADDRESSED -o "$tmp" "$src"
		mv "$tmp" "${name}_addr.spv"
	fi
done
tmp=""
