#!/usr/bin/env bash
# bench.sh: vkcnn's benchmarks (CPU backend and every Vulkan device) beside
# the same cases in PyTorch, merged into one Markdown table and one JSON file.
#
#   scripts/bench.sh [-t THREADS] [-R ROUNDS] [-r REPS] [-w WARMUP] [-o DIR] [-q] [-c REGEXP] [-b BATCH] [-- VKCNN-BENCH-FLAGS...]
#
#   -t, --threads N   CPU threads for vkcnn's CPU backend and for PyTorch (default: nproc)
#   -R, --rounds N    run vkcnn, then PyTorch, N times in turn, and report per case the round whose median
#                     is the median of the rounds' (default 1; odd counts recommended): on a machine whose
#                     speed drifts, both sides then meet the same drift (files gain a .ROUND suffix)
#   -r, --reps N      timed repetitions per case, median reported (default 10; 3 with --quick)
#   -w, --warmup N    untimed warm-up repetitions per case (default 2; 1 with --quick)
#   -o, --out DIR     output directory (default $TMPDIR/vkcnn-bench, else /tmp/vkcnn-bench): vkcnn.json, pytorch.json,
#                     bench.json (combined), bench.md (the table), *.log (progress)
#   -q, --quick       smoke-test settings (fewer repetitions)
#   -c, --cases RE    only cases whose name matches the regular expression, e.g. '^(conv_fwd|train)/'
#   -b, --batch N     batch size of the training-step cases (default 64)
#   -- ...            further flags for `vkcnn bench` only (e.g. --backends cpu, --device 0)
#
# The vkcnn binary is $VKCNN_BIN when set (then no Go toolchain is needed, e.g.
# on a GPU machine that got only the compiled binary); otherwise it is built
# from this checkout. PyTorch runs when `$PYTHON -c 'import torch'` works
# (PYTHON defaults to /usr/bin/python3); the merge needs only Python. Without
# Python the vkcnn table is printed alone. The exit status is non-zero when a
# case failed on either side.
#
# On a machine whose cores are busy with other work, PyTorch's OpenMP threads
# lose most of their time spinning (small ops 10-60x slower); run
# OMP_WAIT_POLICY=PASSIVE scripts/bench.sh there. Timings are only meaningful
# on an otherwise idle machine. PyTorch runs with glibc's malloc keeping the
# memory it frees (see bench_torch.py; its --system-malloc turns that off), so
# that its training steps do not fault their activations in again each time.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }

threads=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)
rounds=1
reps="" warmup="" out="${TMPDIR:-/tmp}/vkcnn-bench" quick="" cases="" batch=""
extra=()
need() { [[ $# -ge 2 && -n $2 ]] || { echo "bench.sh: $1 needs a value (see --help)" >&2; exit 2; }; }
while [[ $# -gt 0 ]]; do
	case $1 in
	-t | --threads) need "$@"; threads=$2; shift 2 ;;
	-R | --rounds) need "$@"; rounds=$2; shift 2 ;;
	-r | --reps) need "$@"; reps=$2; shift 2 ;;
	-w | --warmup) need "$@"; warmup=$2; shift 2 ;;
	-o | --out) need "$@"; out=$2; shift 2 ;;
	-c | --cases) need "$@"; cases=$2; shift 2 ;;
	-b | --batch) need "$@"; batch=$2; shift 2 ;;
	-q | --quick) quick=1; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; extra=("$@"); break ;;
	*) echo "bench.sh: unknown option $1, expected one of -t -R -r -w -o -q -c -b -- (see --help)" >&2; exit 2 ;;
	esac
done
for v in "$threads" "$rounds" ${reps:+"$reps"} ${batch:+"$batch"}; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || { echo "bench.sh: $v is not a positive integer" >&2; exit 2; }
done
[[ -z $warmup || $warmup =~ ^[0-9]+$ ]] || { echo "bench.sh: --warmup $warmup is not a non-negative integer" >&2; exit 2; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
PYTHON=${PYTHON:-/usr/bin/python3}

# The flags both tools share.
common=(--threads "$threads")
[[ -n $reps ]] && common+=(--reps "$reps")
[[ -n $warmup ]] && common+=(--warmup "$warmup")
[[ -n $quick ]] && common+=(--quick)
[[ -n $cases ]] && common+=(--cases "$cases")
[[ -n $batch ]] && common+=(--batch "$batch")

if [[ -n ${VKCNN_BIN:-} ]]; then
	bin=$VKCNN_BIN
	[[ -x $bin ]] || { echo "bench.sh: VKCNN_BIN=$bin is not an executable file" >&2; exit 2; }
else
	command -v go >/dev/null || { echo "bench.sh: no Go toolchain to build vkcnn; set VKCNN_BIN to a compiled vkcnn binary" >&2; exit 2; }
	bin=$out/vkcnn
	echo "building $bin" >&2
	(cd "$root" && go build -o "$bin" ./cmd/vkcnn)
fi

status=0
have_torch=""
if "$PYTHON" -c 'import torch' 2>/dev/null; then
	have_torch=1
else
	echo "bench.sh: $PYTHON cannot import torch; vkcnn alone" >&2
fi
go_args=() torch_args=()
for ((round = 1; round <= rounds; round++)); do
	sfx="" label=""
	if [[ $rounds -gt 1 ]]; then
		sfx=".$round" label=" (round $round of $rounds)"
	fi
	echo "running vkcnn bench$label (progress in $out/vkcnn$sfx.log)" >&2
	"$bin" bench --json "$out/vkcnn$sfx.json" "${common[@]}" "${extra[@]}" >"$out/vkcnn$sfx.md" 2> >(tee "$out/vkcnn$sfx.log" >&2) || status=$?
	if [[ ! -s $out/vkcnn$sfx.json ]]; then
		cat "$out/vkcnn$sfx.md"
		echo "bench.sh: vkcnn bench wrote no results (exit status $status)" >&2
		[[ $status -ne 0 ]] || status=1
		exit "$status"
	fi
	go_args+=(--go "$out/vkcnn$sfx.json")
	if [[ -n $have_torch ]]; then
		echo "running PyTorch$label (progress in $out/pytorch$sfx.log)" >&2
		"$PYTHON" "$root/scripts/bench_torch.py" --json "$out/pytorch$sfx.json" "${common[@]}" \
			>"$out/pytorch$sfx.md" 2> >(tee "$out/pytorch$sfx.log" >&2) || { rc=$?; [[ $status -ne 0 ]] || status=$rc; }
		[[ -s $out/pytorch$sfx.json ]] && torch_args+=(--torch "$out/pytorch$sfx.json")
	fi
done

if command -v "$PYTHON" >/dev/null; then
	"$PYTHON" "$root/scripts/bench_torch.py" merge "${go_args[@]}" "${torch_args[@]}" \
		--json "$out/bench.json" >"$out/bench.md"
else
	cp "$out/vkcnn$sfx.md" "$out/bench.md"
	cp "$out/vkcnn$sfx.json" "$out/bench.json"
fi
cat "$out/bench.md"
echo "wrote $out/bench.md and $out/bench.json" >&2
exit "$status"
