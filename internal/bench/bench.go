// Package bench measures vkcnn's speed on every available backend: the
// convolution forward and training passes (GFLOP/s), max and average pooling
// (GB/s), and the full training step of small CNNs (images/s), on random
// float32 data. Main is the `vkcnn bench` command; scripts/bench.sh runs it
// beside the same cases in PyTorch (scripts/bench_torch.py) and merges both
// into one table.
//
// # Cases
//
// Case names are "<kind>/<shape>":
//
//	conv_fwd/N32_C64_K128_28x28_k3s2p1    Conv2D with bias
//	conv_train/…                           Conv2D, Conv2DInputGrad, Conv2DKernelGrad, BiasGrad
//	maxpool_fwd/N32_C64_56x56_w2s2         MaxPool2D (avgpool_fwd: AvgPool2D)
//	maxpool_train/…                        MaxPool2D and MaxPool2DBackward (avgpool_train likewise)
//	train/lenet5                           one nn.Sequential.Fit step of a models preset on one batch
//	predict/lenet5_b8_g4                   4 goroutines sharing one model, each 4 Predict calls of 8 images
//
// A convolution shape is N<batch>_C<in>_K<out>_<H>x<W>_k<size> followed by
// optional s<stride>, p<pad>, d<dilation> and g<groups>; one pass costs
// 2·N·K·OH·OW·(C/groups)·KH·KW FLOPs and conv_train counts 3 passes. A pooling
// shape is N<batch>_C<channels>_<H>x<W>_w<window> with optional s<stride>
// (default: the window) and p<pad>; its GB/s counts each tensor an op reads or
// writes once, 4 bytes per element. A training step (a preset of package
// models with its loss and optimizer, on a random batch of --batch images)
// counts the batch's images. A prediction case predict/<preset>_b<B>_g<G>
// (--predict-batch B, each of --goroutines G) has G goroutines share one
// built model and make 4 Predict calls each of B random images per
// repetition, and counts the images of all goroutines (finiteness checks
// off), so that the figures for 1, 2, 4 and 8 goroutines show how well
// concurrent inference scales on a backend.
//
// # Timing
//
// Each case is set up once per backend (tensors allocated and filled), run
// for the warm-up repetitions, then timed for each repetition from issuing its
// ops to the end of a Backend.Sync, so that device work is inside the time.
// The median repetition is reported, with the fastest and slowest. On the CPU
// backend, Main sets runtime.GOMAXPROCS to the thread count for its duration,
// so that no part of the CPU backend uses more cores than asked.
//
// # Output
//
// Main prints a Markdown table and, with --json, writes a Report as JSON.
// scripts/bench_torch.py writes the same schema with backend "pytorch".
package bench

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vkcnn/vkcnn/internal/atomicfile"
	"github.com/vkcnn/vkcnn/internal/bench/shapes"

	"github.com/vkcnn/vkcnn"
	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/gpu"
	"github.com/vkcnn/vkcnn/internal/gemm"
	"github.com/vkcnn/vkcnn/models"
	"github.com/vkcnn/vkcnn/tensor"
)

// Result is one case measured on one backend: a row of the table and of the
// JSON file.
type Result struct {
	// Case is the case name, e.g. "conv_fwd/N64_C1_K8_28x28_k3p1".
	Case string `json:"case"`
	// Backend is "cpu" or "vulkan" ("pytorch" in bench_torch.py's file).
	Backend string `json:"backend"`
	// Device describes the hardware: "cpu (8 threads)" or the Vulkan device
	// name.
	Device string `json:"device"`
	// Threads is the CPU thread count, or 0 for a Vulkan device.
	Threads int `json:"threads"`
	// Reps is the number of timed repetitions, after Warmup untimed ones.
	Reps   int `json:"reps"`
	Warmup int `json:"warmup"`
	// MS is the median repetition's wall time in milliseconds; MSMin and
	// MSMax are the fastest and slowest.
	MS    float64 `json:"ms"`
	MSMin float64 `json:"ms_min"`
	MSMax float64 `json:"ms_max"`
	// GFLOPs is the convolution throughput at the median, in 10⁹ FLOP/s.
	GFLOPs float64 `json:"gflops,omitempty"`
	// PeakFraction is, for a convolution on the CPU backend, GFLOPs as a
	// fraction of the register-FMA peak measured with the same threads
	// just before the cases (Report.Peak.All.GFLOPS).
	PeakFraction float64 `json:"peak_fraction,omitempty"`
	// GFLOPPerCPUSecond is, for a convolution on the CPU backend, its FLOPs
	// per second of the process's CPU time over the timed repetitions (all
	// threads' time added), in 10⁹, and CPUPeakFraction that over the
	// peak's Report.Peak.All.PerCPUSecond: the efficiency of the cores the
	// case had, which other processes on the machine distort far less than
	// PeakFraction. 0 where the OS gives no CPU times.
	GFLOPPerCPUSecond float64 `json:"gflop_per_cpu_s,omitempty"`
	CPUPeakFraction   float64 `json:"cpu_peak_fraction,omitempty"`
	// GBPerS is the pooling throughput at the median, in 10⁹ bytes/s.
	GBPerS float64 `json:"gb_per_s,omitempty"`
	// ImagesPerS is the training throughput at the median, in images/s.
	ImagesPerS float64 `json:"images_per_s,omitempty"`
	// Error, when not empty, says why the case could not be measured; the
	// times and rates are then 0.
	Error string `json:"error,omitempty"`
	// Profile holds, with --profile on a Vulkan device, what one repetition
	// recorded and its device time per op.
	Profile *Profile `json:"profile,omitempty"`
}

// Profile is the mean of the timed repetitions of one case on a Vulkan
// device (gpu.Stats divided by the repetitions): counts are exact when every
// repetition records the same commands, as training steps do.
type Profile struct {
	// Dispatches, Transfers, Barriers and Submits count commands per
	// repetition (see gpu.Stats).
	Dispatches float64 `json:"dispatches"`
	Transfers  float64 `json:"transfers"`
	Barriers   float64 `json:"barriers"`
	Submits    float64 `json:"submits"`
	// UploadBytes and DownloadBytes are the bytes moved to and from the host
	// per repetition.
	UploadBytes   float64 `json:"upload_bytes"`
	DownloadBytes float64 `json:"download_bytes"`
	// DeviceMS is the device time per repetition in milliseconds, from
	// timestamp queries; 0 when the device takes none.
	DeviceMS float64 `json:"device_ms"`
	// Ops is the device time per op, largest first.
	Ops []ProfileOp `json:"ops,omitempty"`
	// TimestampPeriod is the device's nanoseconds per timestamp tick and
	// TimestampBits its queue's timestampValidBits (0 without timestamps).
	TimestampPeriod float64 `json:"timestamp_period_ns,omitempty"`
	TimestampBits   int     `json:"timestamp_bits,omitempty"`
}

// ProfileOp is one op's share of a profiled repetition.
type ProfileOp struct {
	// Op is the backend op ("conv2d", "adam step", …).
	Op string `json:"op"`
	// Calls is the op's commands per repetition.
	Calls float64 `json:"calls"`
	// MS is its device time per repetition in milliseconds.
	MS float64 `json:"ms"`
}

// Report is the JSON file that --json writes.
type Report struct {
	// Tool is "vkcnn" ("pytorch" in bench_torch.py's file).
	Tool string `json:"tool"`
	// Date is when the run started, RFC 3339.
	Date string `json:"date"`
	// Runtime is the Go version, OS and architecture.
	Runtime string `json:"runtime"`
	// CPU is the processor model, where /proc/cpuinfo tells it.
	CPU string `json:"cpu,omitempty"`
	// Threads is the CPU backend's thread count.
	Threads int `json:"threads"`
	// Reps and Warmup are the repetition counts; Batch the training batch
	// size; PredictBatch the images per Predict call of the predict/ cases;
	// DType the element type of every case.
	Reps         int    `json:"reps"`
	Warmup       int    `json:"warmup"`
	Batch        int    `json:"batch"`
	PredictBatch int    `json:"predict_batch"`
	DType        string `json:"dtype"`
	// Peak is the CPU's register-FMA peak, measured when the CPU backend
	// runs.
	Peak *PeakRef `json:"peak,omitempty"`
	// Notes say which backends were skipped and why.
	Notes []string `json:"notes,omitempty"`
	// Results holds one entry per case and backend, in run order.
	Results []Result `json:"results"`
}

// PeakRef is the CPU's register-FMA peak (internal/gemm.MeasurePeak, for
// peakTime each) on one thread and on the CPU backend's threads.
type PeakRef struct {
	One gemm.Peak `json:"one_thread"`
	All gemm.Peak `json:"all_threads"`
}

// peakTime is how long each peak measurement runs.
const peakTime = 300 * time.Millisecond

// config is Main's parsed command line.
type config struct {
	threads, reps, warmup, batch int
	predictBatch                 int
	goroutines                   []int
	convs, pools, models         []string
	filter                       *regexp.Regexp
	backends                     []string
	device                       string
	jsonPath                     string
	list, quiet, profile         bool
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// parseArgs parses Main's arguments. help is true when --help was given (the
// usage is then already written to stdout).
func parseArgs(args []string, stdout io.Writer) (cfg config, help bool, err error) {
	fs := flag.NewFlagSet("vkcnn bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	threads := fs.Int("threads", runtime.GOMAXPROCS(0), "CPU backend `threads` (runtime.GOMAXPROCS is set to this while benchmarking)")
	reps := fs.Int("reps", 10, "timed repetitions per case; the median is reported")
	warmup := fs.Int("warmup", 2, "untimed warm-up repetitions per case")
	quick := fs.Bool("quick", false, "smoke-test settings: 3 repetitions after 1 warm-up, unless --reps or --warmup are given")
	batch := fs.Int("batch", 64, "batch size of the training-step cases")
	predictBatch := fs.Int("predict-batch", 8, "images per Predict call in the predict/ cases")
	goroutines := fs.String("goroutines", "1,2,4,8", "comma-separated goroutine `counts` of the predict/ cases (goroutines sharing one model)")
	convs := fs.String("conv", strings.Join(shapes.Conv, ","), "comma-separated convolution `shapes`")
	pools := fs.String("pool", strings.Join(shapes.Pool, ","), "comma-separated pooling `shapes`")
	presets := fs.String("models", strings.Join(models.Names(), ","), "comma-separated model `presets` (package models) for the training-step cases")
	cases := fs.String("cases", "", "run only the cases whose name matches this regular `expression`, e.g. '^(conv_fwd|train)/'")
	backends := fs.String("backends", "cpu,vulkan", "comma-separated `backends`: cpu, vulkan (every Vulkan device, software ones included)")
	device := fs.String("device", os.Getenv(gpu.EnvDevice), "run Vulkan on this device only: an index or a name substring (default $"+gpu.EnvDevice+", else every device)")
	jsonPath := fs.String("json", "", "also write the results as JSON to this `file`")
	list := fs.Bool("list", false, "list the selected cases and exit")
	quiet := fs.Bool("quiet", false, "do not print progress to stderr")
	profile := fs.Bool("profile", false, "on Vulkan, take timestamps around every command and print, per case, the device time of each op and the dispatches, barriers, submits and bytes of one repetition")
	fs.Usage = func() {} // Parse calls it on errors too; the error says enough
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout, fs)
			return cfg, true, nil
		}
		return cfg, false, fmt.Errorf("bench: %v (see vkcnn bench --help): %w", err, tensor.ErrParam)
	}
	if fs.NArg() > 0 {
		return cfg, false, fmt.Errorf("bench: unexpected argument %q, expected only flags (see vkcnn bench --help): %w", fs.Arg(0), tensor.ErrParam)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *quick {
		if !set["reps"] {
			*reps = 3
		}
		if !set["warmup"] {
			*warmup = 1
		}
	}
	for _, c := range []struct {
		name   string
		v, min int
	}{{"threads", *threads, 1}, {"reps", *reps, 1}, {"warmup", *warmup, 0}, {"batch", *batch, 1}, {"predict-batch", *predictBatch, 1}} {
		if c.v < c.min {
			return cfg, false, fmt.Errorf("bench: --%s %d, expected ≥ %d: %w", c.name, c.v, c.min, tensor.ErrParam)
		}
	}
	var gs []int
	for _, f := range splitList(*goroutines) {
		g, err := strconv.Atoi(f)
		if err != nil || g < 1 {
			return cfg, false, fmt.Errorf("bench: --goroutines lists %q, expected counts ≥ 1: %w", f, tensor.ErrParam)
		}
		gs = append(gs, g)
	}
	cfg = config{threads: *threads, reps: *reps, warmup: *warmup, batch: *batch, predictBatch: *predictBatch, goroutines: gs,
		convs: splitList(*convs), pools: splitList(*pools), models: splitList(*presets),
		backends: splitList(*backends), device: strings.TrimSpace(*device),
		jsonPath: *jsonPath, list: *list, quiet: *quiet, profile: *profile}
	if cfg.filter, err = regexp.Compile(*cases); err != nil {
		return cfg, false, fmt.Errorf("bench: --cases %q is not a regular expression (%v): %w", *cases, err, tensor.ErrParam)
	}
	for _, b := range cfg.backends {
		if b != "cpu" && b != "vulkan" {
			return cfg, false, fmt.Errorf("bench: --backends lists %q, expected cpu and/or vulkan: %w", b, tensor.ErrParam)
		}
	}
	if len(cfg.backends) == 0 {
		return cfg, false, fmt.Errorf("bench: --backends is empty, expected cpu and/or vulkan: %w", tensor.ErrParam)
	}
	return cfg, false, nil
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprint(w, `Usage: vkcnn bench [flags]

Measures convolutions (GFLOP/s), pooling (GB/s) and the training step of small
CNNs (images/s) on the CPU backend and on every Vulkan device, and prints a
Markdown table: case, backend, device, threads, median ms, min–max ms,
throughput and, for convolutions on the CPU, the fraction of the CPU's
register-FMA peak (measured first, on 1 thread and on --threads). Each case runs --warmup untimed repetitions, then --reps timed ones,
each ending with a device sync; the median is reported.

Case names are <kind>/<shape>: conv_fwd and conv_train (forward, then both
gradients and the bias gradient: 3 passes of FLOPs) over convolution shapes
such as N32_C64_K128_28x28_k3s2p1 (batch, in, out channels, HxW, kernel size,
then optional s<stride> p<pad> d<dilation> g<groups>); maxpool_fwd,
maxpool_train, avgpool_fwd, avgpool_train over pooling shapes such as
N32_C64_56x56_w2s2 (batch, channels, HxW, window, optional s<stride> p<pad>);
train/<preset>: one full step (forward, loss, backward, the preset's optimizer
update) of a models preset on a random batch of --batch images;
predict/<preset>_b<B>_g<G>: G goroutines share one built preset and each
makes 4 Predict calls of B (--predict-batch) random images; images/s counts
all of them (finiteness checks off), so the rows for each --goroutines count
show how concurrent inference scales.
scripts/bench.sh runs the same cases in PyTorch and compares.

Flags:
`)
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// target is a backend to benchmark on.
type target struct {
	label   string // for notes: "cpu", "vulkan device 0 (llvmpipe …)"
	threads int    // CPU threads, 0 for Vulkan
	open    func() (tensor.Backend, vkcnn.Info, error)
}

// targets returns the backends to run, and notes about the ones that cannot
// run.
func targets(cfg config) ([]target, []string) {
	var ts []target
	var notes []string
	for _, name := range cfg.backends {
		switch name {
		case "cpu":
			n := cfg.threads
			ts = append(ts, target{label: "cpu", threads: n, open: func() (tensor.Backend, vkcnn.Info, error) {
				return vkcnn.Open(vkcnn.WithBackend(vkcnn.CPU), vkcnn.WithCPUOptions(cpu.Threads(n)))
			}})
		case "vulkan":
			var gopts []gpu.Option
			if cfg.profile {
				gopts = append(gopts, gpu.Profile())
			}
			vulkanOn := func(sel string) func() (tensor.Backend, vkcnn.Info, error) {
				return func() (tensor.Backend, vkcnn.Info, error) {
					return vkcnn.Open(vkcnn.WithBackend(vkcnn.Vulkan), vkcnn.WithDevice(sel), vkcnn.WithVulkanOptions(gopts...))
				}
			}
			if cfg.device != "" {
				ts = append(ts, target{label: "vulkan device " + strconv.Quote(cfg.device), open: vulkanOn(cfg.device)})
				continue
			}
			devs, err := gpu.Devices()
			if err != nil {
				notes = append(notes, "vulkan: not run: "+err.Error())
				continue
			}
			for _, d := range devs {
				if !d.Compute {
					notes = append(notes, fmt.Sprintf("vulkan: device %s not run: it has no compute queue", d))
					continue
				}
				ts = append(ts, target{label: "vulkan device " + d.String(), open: vulkanOn(strconv.Itoa(d.Index))})
			}
			if len(devs) == 0 {
				notes = append(notes, "vulkan: not run: no Vulkan device")
			}
		}
	}
	return ts, notes
}

// statser is what a Vulkan backend offers for --profile.
type statser interface {
	Stats() gpu.Stats
	ResetStats()
}

// measure sets c up on b, runs warmup untimed and reps timed repetitions,
// each followed by b.Sync, and returns the times in milliseconds and, when b
// counts its commands, what the timed repetitions recorded.
func measure(b tensor.Backend, c benchCase, warmup, reps int) (ms []float64, cpuS float64, prof *Profile, err error) {
	step, free, err := c.setup(b)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("setup: %w", err)
	}
	defer func() {
		if ferr := free(); err == nil && ferr != nil {
			err = fmt.Errorf("free: %w", ferr)
		}
	}()
	if err := b.Sync(); err != nil {
		return nil, 0, nil, fmt.Errorf("setup: %w", err)
	}
	st, _ := b.(statser)
	for i := range warmup + reps {
		if i == warmup && st != nil {
			st.ResetStats()
		}
		start, cpu0 := time.Now(), gemm.ProcessCPU()
		if err := step(); err != nil {
			return nil, 0, nil, err
		}
		if err := b.Sync(); err != nil {
			return nil, 0, nil, err
		}
		if i >= warmup {
			ms = append(ms, float64(time.Since(start).Nanoseconds())/1e6)
			cpuS += gemm.ProcessCPU() - cpu0
		}
	}
	if st != nil {
		prof = perRep(st.Stats(), reps)
	}
	return ms, cpuS, prof, nil
}

// perRep divides the stats of reps repetitions by reps.
func perRep(s gpu.Stats, reps int) *Profile {
	n := float64(reps)
	p := &Profile{Dispatches: float64(s.Dispatches) / n, Transfers: float64(s.Transfers) / n,
		Barriers: float64(s.Barriers) / n, Submits: float64(s.Submits) / n,
		UploadBytes: float64(s.Uploaded) / n, DownloadBytes: float64(s.Downloaded) / n,
		DeviceMS: float64(s.Total().Nanoseconds()) / 1e6 / n, TimestampPeriod: s.TimestampPeriod, TimestampBits: s.TimestampBits}
	for _, o := range s.Ops {
		p.Ops = append(p.Ops, ProfileOp{Op: o.Op, Calls: float64(o.Calls) / n, MS: float64(o.Time.Nanoseconds()) / 1e6 / n})
	}
	return p
}

// median returns the median of xs (the mean of the middle two for an even
// count), sorting xs.
func median(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// result turns the times of one case into a Result.
func result(c benchCase, r Result, ms []float64) Result {
	r.MS = median(ms)
	r.MSMin, r.MSMax = ms[0], ms[len(ms)-1]
	rate := c.work / (r.MS / 1e3)
	switch c.metric {
	case metricFLOPs:
		r.GFLOPs = rate / 1e9
	case metricBytes:
		r.GBPerS = rate / 1e9
	case metricImages:
		r.ImagesPerS = rate
	}
	return r
}

// cpuModel returns the processor model from /proc/cpuinfo, or "".
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Main runs `vkcnn bench` with args (the flags, without the command name),
// printing a Markdown table of the results to stdout and progress to stderr
// (unless --quiet). --help prints the usage to stdout and returns nil.
//
// Errors: a tensor.ErrParam error for a bad flag, shape, model name or case
// filter (naming it and what was expected); a tensor.ErrNoDevice error when
// none of the asked backends can be opened; an error from writing the --json
// file; and, after the table is printed and the JSON written, an error
// counting the cases that failed and quoting the first failure (a case that
// fails on one backend does not stop the others).
func Main(args []string, stdout io.Writer) error {
	cfg, help, err := parseArgs(args, stdout)
	if err != nil || help {
		return err
	}
	all, err := buildCases(cfg.convs, cfg.pools, cfg.models, cfg.batch, cfg.predictBatch, cfg.goroutines)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	var cases []benchCase
	for _, c := range all {
		if cfg.filter.MatchString(c.name) {
			cases = append(cases, c)
		}
	}
	if len(cases) == 0 {
		return fmt.Errorf("bench: no case matches --cases %q, expected a pattern matching names listed by --list: %w", cfg.filter, tensor.ErrParam)
	}
	if cfg.list {
		for _, c := range cases {
			fmt.Fprintln(stdout, c.name)
		}
		return nil
	}

	rep := Report{Tool: "vkcnn", Date: time.Now().Format(time.RFC3339),
		Runtime: fmt.Sprintf("%s %s/%s", runtime.Version(), runtime.GOOS, runtime.GOARCH), CPU: cpuModel(),
		Threads: cfg.threads, Reps: cfg.reps, Warmup: cfg.warmup, Batch: cfg.batch, PredictBatch: cfg.predictBatch, DType: "float32"}
	progress := io.Writer(os.Stderr)
	if cfg.quiet {
		progress = io.Discard
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(cfg.threads))

	ts, notes := targets(cfg)
	rep.Notes = notes
	opened, failed := 0, 0
	var firstFail string
	for _, t := range ts {
		b, info, err := t.open()
		if err != nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: not run: %v", t.label, err))
			continue
		}
		opened++
		if t.threads > 0 && rep.Peak == nil {
			rep.Peak = &PeakRef{One: gemm.MeasurePeak(1, peakTime), All: gemm.MeasurePeak(t.threads, peakTime)}
			fmt.Fprintf(progress, "[cpu] register-FMA peak (%s): %s GFLOP/s on 1 thread, %s on %d\n",
				rep.Peak.All.Kernel, fmtNum(rep.Peak.One.GFLOPS), fmtNum(rep.Peak.All.GFLOPS), t.threads)
		}
		for _, c := range cases {
			r := Result{Case: c.name, Backend: b.Name(), Device: info.Device, Threads: t.threads, Reps: cfg.reps, Warmup: cfg.warmup}
			ms, cpuS, prof, err := measure(b, c, cfg.warmup, cfg.reps)
			if cfg.profile {
				r.Profile = prof
			}
			if err != nil {
				r.Error = err.Error()
				if failed++; failed == 1 {
					firstFail = fmt.Sprintf("%s on %s: %v", c.name, info.Device, err)
				}
				fmt.Fprintf(progress, "[%s] %s: error: %v\n", info.Device, c.name, err)
			} else {
				r = result(c, r, ms)
				if rep.Peak != nil && t.threads > 0 && r.GFLOPs > 0 && rep.Peak.All.GFLOPS > 0 {
					r.PeakFraction = r.GFLOPs / rep.Peak.All.GFLOPS
					if cpuS > 0 && rep.Peak.All.PerCPUSecond > 0 {
						r.GFLOPPerCPUSecond = c.work * float64(cfg.reps) / cpuS / 1e9
						r.CPUPeakFraction = r.GFLOPPerCPUSecond / rep.Peak.All.PerCPUSecond
					}
				}
				fmt.Fprintf(progress, "[%s] %s: %s ms, %s\n", info.Device, c.name, fmtNum(r.MS), throughput(r))
			}
			rep.Results = append(rep.Results, r)
		}
		if err := b.Close(); err != nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: closing the backend: %v", t.label, err))
		}
	}
	writeTable(stdout, rep)
	if cfg.jsonPath != "" {
		if err := writeJSON(cfg.jsonPath, rep); err != nil {
			return err
		}
	}
	if opened == 0 {
		return fmt.Errorf("bench: no backend could be opened (%s): %w", strings.Join(rep.Notes, "; "), tensor.ErrNoDevice)
	}
	if failed > 0 {
		return fmt.Errorf("bench: %d of %d measurements failed; first: %s", failed, len(rep.Results), firstFail)
	}
	return nil
}

// fmtNum formats a positive figure with about three significant digits.
func fmtNum(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case v >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// throughput formats a result's rate with its unit.
func throughput(r Result) string {
	switch {
	case r.GFLOPs > 0:
		return fmtNum(r.GFLOPs) + " GFLOP/s"
	case r.GBPerS > 0:
		return fmtNum(r.GBPerS) + " GB/s"
	case r.ImagesPerS > 0:
		return fmtNum(r.ImagesPerS) + " images/s"
	}
	return ""
}

// percent formats a fraction as a whole percentage, or "" for 0.
func percent(f float64) string {
	if f <= 0 {
		return ""
	}
	return strconv.FormatFloat(100*f, 'f', 0, 64) + "%"
}

// cell makes s safe inside a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// writeTable prints the report as a Markdown table, preceded by the settings
// and followed by the notes.
func writeTable(w io.Writer, rep Report) {
	fmt.Fprintf(w, "vkcnn bench: %s, %d CPU threads, median of %d repetitions after %d warm-up, training batch %d, prediction batch %d\n\n",
		rep.DType, rep.Threads, rep.Reps, rep.Warmup, rep.Batch, rep.PredictBatch)
	if p := rep.Peak; p != nil {
		fmt.Fprintf(w, "CPU register-FMA peak (%s, float32): %s GFLOP/s on 1 thread, %s on %d (%s and %s GFLOP per CPU-second); \"of peak\" is a convolution's rate over the %d-thread figure, \"per CPU-s\" its FLOPs per CPU-second over the peak's (what a loaded machine distorts least)\n\n",
			p.All.Kernel, fmtNum(p.One.GFLOPS), fmtNum(p.All.GFLOPS), p.All.Threads, fmtNum(p.One.PerCPUSecond), fmtNum(p.All.PerCPUSecond), p.All.Threads)
	}
	fmt.Fprintln(w, "| case | backend | device | threads | ms | min–max ms | throughput | of peak | per CPU-s |")
	fmt.Fprintln(w, "|---|---|---|--:|--:|--:|--:|--:|--:|")
	for _, r := range rep.Results {
		threads := "–"
		if r.Threads > 0 {
			threads = strconv.Itoa(r.Threads)
		}
		if r.Error != "" {
			fmt.Fprintf(w, "| %s | %s | %s | %s | error | | %s | | |\n", r.Case, r.Backend, cell(r.Device), threads, cell(r.Error))
			continue
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s–%s | %s | %s | %s |\n", r.Case, r.Backend, cell(r.Device), threads,
			fmtNum(r.MS), fmtNum(r.MSMin), fmtNum(r.MSMax), throughput(r), percent(r.PeakFraction), percent(r.CPUPeakFraction))
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "\nNote: %s\n", n)
	}
	writeProfiles(w, rep)
}

// writeProfiles prints, for the results with a profile, one table of counts
// per repetition, then each case's device time per op.
func writeProfiles(w io.Writer, rep Report) {
	var ps []Result
	for _, r := range rep.Results {
		if r.Profile != nil && r.Error == "" {
			ps = append(ps, r)
		}
	}
	if len(ps) == 0 {
		return
	}
	fmt.Fprintln(w, "\nPer repetition (a training step for train/ cases), from the backend's counters and timestamp queries:")
	if p := ps[0].Profile; p.TimestampBits > 0 {
		fmt.Fprintf(w, "(timestamps: %g ns per tick, %d valid bits)\n", p.TimestampPeriod, p.TimestampBits)
	} else {
		fmt.Fprintln(w, "(the device takes no timestamps: device ms are 0)")
	}
	fmt.Fprintln(w, "\n| case | device | dispatches | barriers | transfers | submits | bytes up | bytes down | device ms |")
	fmt.Fprintln(w, "|---|---|--:|--:|--:|--:|--:|--:|--:|")
	for _, r := range ps {
		p := r.Profile
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Case, cell(r.Device),
			fmtCount(p.Dispatches), fmtCount(p.Barriers), fmtCount(p.Transfers), fmtCount(p.Submits),
			fmtCount(p.UploadBytes), fmtCount(p.DownloadBytes), fmtMS(p.DeviceMS))
	}
	for _, r := range ps {
		if len(r.Profile.Ops) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s on %s, device time per repetition by op:\n\n", r.Case, cell(r.Device))
		fmt.Fprintln(w, "| op | commands | device ms | share |")
		fmt.Fprintln(w, "|---|--:|--:|--:|")
		for _, o := range r.Profile.Ops {
			share := 0.0
			if r.Profile.DeviceMS > 0 {
				share = 100 * o.MS / r.Profile.DeviceMS
			}
			fmt.Fprintf(w, "| %s | %s | %s | %.1f%% |\n", cell(o.Op), fmtCount(o.Calls), fmtMS(o.MS), share)
		}
	}
}

// fmtCount formats a per-repetition count: an integer when it is one.
func fmtCount(v float64) string {
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// fmtMS formats milliseconds with three decimals.
func fmtMS(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }

// writeJSON writes rep to path through a temporary file in the same
// directory, renamed into place.
func writeJSON(path string, rep Report) error {
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: encoding the results: %w", err)
	}
	err = atomicfile.Write(path, func(w io.Writer) error { _, err := w.Write(append(data, '\n')); return err })
	if err != nil {
		return fmt.Errorf("bench: --json: %w", err)
	}
	return nil
}
