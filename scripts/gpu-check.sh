#!/usr/bin/env bash
# gpu-check.sh: one prepared command for measuring vkcnn on a (borrowed) GPU
# machine: prebuilt binaries in, one Markdown report out, in under 5 minutes.
#
#   scripts/gpu-check.sh --build DIR [--loader]         here, with Go: prepare DIR
#   scripts/gpu-check.sh [--bin DIR] [--out FILE] [--device SEL] [--quick] [--budget S]
#
# --build DIR builds DIR/vkcnn (the CLI) and the test binaries DIR/gpu.test and
# DIR/parity.test (`go test -c` of ./gpu and ./parity_test), so the machine that
# runs the check needs no Go toolchain. With --loader it also downloads the
# Debian Vulkan loader package (libvulkan1) into .gl/ at the repository root,
# for machines that have a GPU driver but no loader. DIR inside the checkout
# must be git-ignored to travel as a carried folder (.gpucheck/ is).
#
# The check (default) runs, each step under a share of --budget seconds
# (default 280) and reported even when it fails:
#   1. the machine: date, kernel, nvidia-smi, the Vulkan loader and driver
#      files; when libvulkan.so.1 is missing it unpacks .gl/*.deb if present
#      (else says how to bring them), and when the NVIDIA driver's ICD file is
#      outside the loader's search path it sets VK_DRIVER_FILES to it;
#   2. `vkcnn devices`;
#   3. the GPU conformance suite (DIR/gpu.test) and the CPU-vs-Vulkan parity
#      suite (DIR/parity.test) on the device, VKCNN_REQUIRE_VULKAN=1 and
#      VKCNN_DEVICE=SEL, with the validation layer and synchronization
#      validation when the layer is installed;
#   4. `vkcnn bench --profile` on the device (GFLOP/s, images/s, device time
#      per op from timestamp queries, dispatches and barriers per step);
#   5. the same cases in PyTorch on CUDA (scripts/bench_torch.py --device cuda,
#      TF32 off) when torch.cuda.is_available(), merged into one table.
# The report goes to --out (default $OUT/gpu-check.md when $OUT is set, else
# DIR/gpu-check.md), with vkcnn.json and pytorch.json beside it. The exit
# status is non-zero when a step failed.
#
# --device SEL picks the Vulkan device (an index or part of its name, as
# VKCNN_DEVICE); default: $VKCNN_DEVICE, else the first hardware device that
# `vkcnn devices` lists (lavapipe with --quick). --quick is the smoke test
# `make test` runs on lavapipe: a subset of each suite and one small case of
# each kind.
#
# On a borrowed NVIDIA machine (see the device notes) the loader is missing
# and the driver's ICD is /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json:
#   here:   scripts/gpu-check.sh --build .gpucheck --loader
#   there:  scripts/gpu-check.sh --bin .gpucheck      (carry .gpucheck and .gl)
set -uo pipefail

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="" bin="$root/.gpucheck" out="" device="${VKCNN_DEVICE:-}" quick="" budget=280 loader=""
need() { [[ $# -ge 2 && -n $2 ]] || { echo "gpu-check.sh: $1 needs a value (see --help)" >&2; exit 2; }; }
while [[ $# -gt 0 ]]; do
	case $1 in
	--build) need "$@"; build=$2; shift 2 ;;
	--loader) loader=1; shift ;;
	--bin) need "$@"; bin=$2; shift 2 ;;
	--out) need "$@"; out=$2; shift 2 ;;
	--device) need "$@"; device=$2; shift 2 ;;
	--budget) need "$@"; budget=$2; shift 2 ;;
	--quick) quick=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "gpu-check.sh: unknown option $1, expected --build, --loader, --bin, --out, --device, --budget or --quick (see --help)" >&2; exit 2 ;;
	esac
done
[[ $budget =~ ^[1-9][0-9]*$ ]] || { echo "gpu-check.sh: --budget $budget is not a positive number of seconds" >&2; exit 2; }

# ---- build mode -------------------------------------------------------------
if [[ -n $build ]]; then
	command -v go >/dev/null || { echo "gpu-check.sh: --build needs the Go toolchain" >&2; exit 2; }
	mkdir -p "$build" || exit 1
	build=$(cd "$build" && pwd)
	set -e
	cd "$root"
	echo "building $build/vkcnn, $build/gpu.test, $build/parity.test" >&2
	go build -o "$build/vkcnn" ./cmd/vkcnn
	go test -c -o "$build/gpu.test" ./gpu
	go test -c -o "$build/parity.test" ./parity_test
	if [[ -n $loader ]]; then
		mkdir -p "$root/.gl"
		lists=$(mktemp -d)
		o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
		mkdir -p "$lists/partial"
		apt-get "${o[@]}" update >/dev/null
		(cd "$root/.gl" && apt-get "${o[@]}" download libvulkan1)
		rm -rf "$lists"
		echo "downloaded the Vulkan loader into $root/.gl" >&2
	fi
	rel=${build#"$root"/}
	echo "ready: run \`scripts/gpu-check.sh --bin $rel\` on the GPU machine (carry $rel${loader:+ and .gl})" >&2
	exit 0
fi

# ---- check mode -------------------------------------------------------------
start=$(date +%s)
for f in vkcnn gpu.test parity.test; do
	[[ -x $bin/$f ]] || { echo "gpu-check.sh: $bin/$f is missing; run scripts/gpu-check.sh --build $bin first (with Go)" >&2; exit 2; }
done
bin=$(cd "$bin" && pwd)
if [[ -z $out ]]; then
	if [[ -n ${OUT:-} ]]; then out=$OUT/gpu-check.md; else out=$bin/gpu-check.md; fi
fi
outdir=$(dirname "$out")
mkdir -p "$outdir" || exit 1
outdir=$(cd "$outdir" && pwd)
out=$outdir/$(basename "$out")
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
report=$tmp/report.md
status=0
failed=()

say() { printf '%s\n' "$*" >>"$report"; }
# left returns the seconds of the budget that remain, at least 10.
left() { local l=$((budget - ($(date +%s) - start))); ((l < 10)) && l=10; echo "$l"; }
# step NAME SHARE CMD...: runs CMD under min(SHARE, what is left) seconds, its
# output (last 60 lines, unless showlog is empty) into the report; records a
# failure. The whole output stays in $tmp/step.log.
showlog=1
step() {
	local name=$1 share=$2; shift 2
	local lim rc t0
	lim=$(left)
	((share < lim)) && lim=$share
	t0=$(date +%s)
	echo "gpu-check: $name (up to ${lim}s)" >&2
	timeout --kill-after=10 "$lim" "$@" >"$tmp/step.log" 2>&1
	rc=$?
	say ""
	say "### $name"
	say ""
	say "\`$*\` → exit $rc in $(($(date +%s) - t0)) s$( ((rc == 124 || rc == 137)) && echo " (stopped at its ${lim} s limit)")"
	if [[ -n $showlog || $rc -ne 0 ]]; then
		say ""
		say '```'
		tail -n 60 "$tmp/step.log" >>"$report"
		say '```'
	fi
	if ((rc != 0)); then
		status=1
		failed+=("$name")
	fi
	return "$rc"
}

say "# vkcnn GPU check"
say ""
mode="full"
[[ -n $quick ]] && mode="quick (smoke test)"
say "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -srm), $(nproc) CPUs; mode: $mode; budget ${budget} s"
say ""
say "## Machine"
say ""
if command -v nvidia-smi >/dev/null; then
	say '```'
	nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv 2>&1 | head -5 >>"$report"
	say '```'
fi

# The Vulkan loader.
has_loader() { [[ -n ${VKCNN_VULKAN_LIBRARY:-} ]] || ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1'; }
if ! has_loader; then
	if compgen -G "$root/.gl/*.deb" >/dev/null && [[ $(id -u) -eq 0 ]]; then
		for f in "$root"/.gl/*.deb; do dpkg -x "$f" /; done
		ldconfig
		say "- The Vulkan loader was missing; unpacked $(ls "$root"/.gl/*.deb | xargs -n1 basename | tr '\n' ' ')from .gl/."
	fi
fi
if ! has_loader; then
	say "- **No Vulkan loader (libvulkan.so.1).** Bring one: on a Debian-like machine with network, in the repository root,"
	say "  \`scripts/gpu-check.sh --build .gpucheck --loader\` (or \`apt-get download libvulkan1\` into .gl/), carry .gl, and"
	say "  this script unpacks it (\`for f in .gl/*.deb; do dpkg -x \$f /; done; ldconfig\`, as root); or point"
	say "  VKCNN_VULKAN_LIBRARY at a libvulkan.so.1."
fi
# The NVIDIA driver's ICD: the loader finds drivers through JSON files in
# /usr/share/vulkan/icd.d and /etc/vulkan/icd.d; the borrowed machines mount the
# driver under /usr/local/nvidia instead.
nvicd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [[ -z ${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-} && -f $nvicd ]] &&
	! compgen -G "/usr/share/vulkan/icd.d/nvidia*.json" >/dev/null && ! compgen -G "/etc/vulkan/icd.d/nvidia*.json" >/dev/null; then
	export VK_DRIVER_FILES=$nvicd
	say "- The NVIDIA ICD is outside the loader's search path: set VK_DRIVER_FILES=$nvicd."
elif command -v nvidia-smi >/dev/null && [[ -z ${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-} ]] &&
	! compgen -G "/usr/share/vulkan/icd.d/nvidia*.json" >/dev/null && ! compgen -G "/etc/vulkan/icd.d/nvidia*.json" >/dev/null; then
	say "- **The NVIDIA driver is here but no Vulkan ICD file was found.** Point the loader at the driver's"
	say "  nvidia_icd.json with VK_DRIVER_FILES=/path/to/nvidia_icd.json (on the borrowed machines $nvicd)."
fi
say "- VK_DRIVER_FILES=${VK_DRIVER_FILES:-unset}; loader: $(ldconfig -p 2>/dev/null | grep -m1 'libvulkan\.so\.1' | sed 's/.*=> //' || true)${VKCNN_VULKAN_LIBRARY:+ VKCNN_VULKAN_LIBRARY=$VKCNN_VULKAN_LIBRARY}"

step "vkcnn devices" 30 "$bin/vkcnn" devices
devlog=$(cat "$tmp/step.log")
if command -v vulkaninfo >/dev/null && [[ -z $quick ]]; then
	# The limits that matter for tuning (informational; a failure here is not
	# a failed check).
	say ""
	say "### vulkaninfo (selected properties)"
	say ""
	say '```'
	timeout 30 vulkaninfo 2>/dev/null | grep -E 'deviceName|driverVersion|driverInfo|apiVersion|timestampPeriod|timestampValidBits|maxComputeSharedMemorySize|maxComputeWorkGroupInvocations|subgroupSize|maxStorageBufferRange|maxPerStageDescriptorStorageBuffers|shaderFloat16|cooperativeMatrix|VK_KHR_cooperative_matrix|VK_NV_cooperative_matrix' | sed 's/^[[:space:]]*//' | sort -u | head -40 >>"$report"
	say '```'
fi

# The device: the first hardware device listed, else lavapipe with --quick.
if [[ -z $device ]]; then
	if [[ -n $quick ]]; then
		device=llvmpipe
	else
		device=$(printf '%s\n' "$devlog" | sed -n 's/^  \([0-9][0-9]*\): .*\[\(.*\)\].*/\1 \2/p' | grep -v -e software -e unusable | head -1 | cut -d' ' -f1)
	fi
fi
if [[ -z $device ]]; then
	say ""
	say "**No hardware Vulkan device**: the suites and benchmarks did not run (pass --device to use another)."
	status=1
	failed+=("device selection")
else
	export VKCNN_DEVICE=$device VKCNN_REQUIRE_VULKAN=1
	say ""
	say "Device selector: VKCNN_DEVICE=$device"
	# Validation, synchronization validation included, where the layer is installed.
	if compgen -G "/usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json" >/dev/null ||
		compgen -G "/etc/vulkan/explicit_layer.d/VkLayer_khronos_validation.json" >/dev/null; then
		export VK_INSTANCE_LAYERS=VK_LAYER_KHRONOS_validation
		export VK_LAYER_ENABLES=VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT,VALIDATION_CHECK_ENABLE_SYNCHRONIZATION_VALIDATION_QUEUE_SUBMIT
		say "Validation: VK_LAYER_KHRONOS_validation with synchronization validation, across submits too (any message fails a test)."
	else
		say "Validation: the Khronos validation layer is not installed here; the suites run without it."
	fi

	say ""
	say "## Suites"
	gpurun=() parrun=()
	if [[ -n $quick ]]; then
		gpurun=(-test.run 'TestConformance/(MatMul|Fused|Optimizers)$|TestStats|TestSPIRV|TestBatchedOptimizer')
		parrun=(-test.run 'TestParity(MatMulSumBias|Optimizers)$')
	fi
	(cd "$root/gpu" && step "GPU conformance (gpu.test)" 120 "$bin/gpu.test" -test.count=1 -test.timeout 10m "${gpurun[@]}")
	r1=$?
	(cd "$root/parity_test" && step "CPU vs Vulkan parity (parity.test)" 90 "$bin/parity.test" -test.count=1 -test.timeout 10m "${parrun[@]}")
	r2=$?
	# step ran in subshells: carry their results over.
	((r1 != 0)) && { status=1; failed+=("GPU conformance"); }
	((r2 != 0)) && { status=1; failed+=("parity"); }

	say ""
	say "## Benchmarks"
	benchargs=(--backends vulkan --device "$device" --profile --json "$outdir/vkcnn.json")
	torchargs=(--json "$outdir/pytorch.json")
	if [[ -n $quick ]]; then
		sel=(--conv N8_C8_K16_14x14_k3p1 --pool N8_C8_14x14_w2s2 --models lenet5 --batch 16 --reps 2 --warmup 1)
	else
		sel=(--reps 10 --warmup 3)
	fi
	unset VK_INSTANCE_LAYERS VK_LAYER_ENABLES # timings without the layers
	showlog="" # its tables follow below
	step "vkcnn bench --profile" 150 "$bin/vkcnn" bench "${benchargs[@]}" "${sel[@]}"
	cp "$tmp/step.log" "$tmp/vkcnn-bench.log"
	showlog=1

	PY=${PYTHON:-}
	if [[ -z $PY ]]; then
		for p in python3 /usr/bin/python3; do
			if command -v "$p" >/dev/null && "$p" -c 'import torch' 2>/dev/null; then PY=$p; break; fi
		done
	fi
	torchjson=()
	if [[ -n $PY ]] && "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
		rm -f "$outdir/pytorch.json"
		step "PyTorch on CUDA (bench_torch.py --device cuda)" "$(left)" "$PY" "$root/scripts/bench_torch.py" --device cuda --quiet "${torchargs[@]}" "${sel[@]}"
		[[ -s $outdir/pytorch.json ]] && torchjson=(--torch "$outdir/pytorch.json")
	else
		say ""
		say "PyTorch on CUDA: not run (${PY:-no python with torch}${PY:+: torch.cuda.is_available() is False})."
	fi
	if [[ -s $outdir/vkcnn.json ]] && command -v "${PY:-python3}" >/dev/null; then
		say ""
		say "### vkcnn beside PyTorch"
		say ""
		"${PY:-python3}" "$root/scripts/bench_torch.py" merge --go "$outdir/vkcnn.json" "${torchjson[@]}" >>"$report" 2>&1 || say "(merge failed)"
		say ""
		say "### Profile (device time per op and counts per repetition, from \`vkcnn bench --profile\`)"
		say ""
		sed -n '/^Per repetition/,$p' "$tmp/vkcnn-bench.log" >>"$report"
	fi
fi

say ""
say "## Result"
say ""
if ((status == 0)); then
	say "All steps passed in $(($(date +%s) - start)) s."
else
	say "Failed: ${failed[*]} ($(($(date +%s) - start)) s)."
fi
cp "$report" "$out.tmp" && mv "$out.tmp" "$out"
echo "gpu-check: wrote $out" >&2
exit "$status"
