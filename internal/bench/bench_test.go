package bench

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/internal/bench/shapes"
	"github.com/vkcnn/vkcnn/internal/torchtest"
	"github.com/vkcnn/vkcnn/internal/vktest"
	"github.com/vkcnn/vkcnn/models"
	"github.com/vkcnn/vkcnn/tensor"
)

// tiny are settings that keep a Main run to milliseconds: small shapes, one
// model with a small batch, few repetitions.
var tiny = []string{"--conv", "N2_C3_K4_8x8_k3p1", "--pool", "N2_C3_8x8_w2", "--models", "cnn",
	"--batch", "4", "--predict-batch", "2", "--goroutines", "1,3", "--reps", "3", "--warmup", "1", "--quiet"}

// runMain runs Main with args plus --json and returns the table and the
// decoded report.
func runMain(t *testing.T, args ...string) (string, Report, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "out.json")
	var out bytes.Buffer
	err := Main(append(args, "--json", path), &out)
	var rep Report
	if data, rerr := os.ReadFile(path); rerr == nil {
		if jerr := json.Unmarshal(data, &rep); jerr != nil {
			t.Fatalf("JSON file does not decode: %v\n%s", jerr, data)
		}
	}
	return out.String(), rep, err
}

// checkResults verifies every result of rep: one per wanted case in order,
// positive times in order min ≤ median ≤ max, and the rate that the case's
// work and the median time imply.
func checkResults(t *testing.T, table string, rep Report, backend string, want map[string]float64) {
	t.Helper()
	if len(rep.Results) != len(want) {
		t.Fatalf("%d results, want %d: %+v", len(rep.Results), len(want), rep.Results)
	}
	for _, r := range rep.Results {
		work, ok := want[r.Case]
		if !ok {
			t.Errorf("unexpected case %q", r.Case)
			continue
		}
		if r.Error != "" {
			t.Errorf("%s: error %s", r.Case, r.Error)
			continue
		}
		if r.Backend != backend || r.Device == "" || r.Reps != 3 || r.Warmup != 1 {
			t.Errorf("%s: backend %q device %q reps %d warmup %d, want %s, a device, 3, 1", r.Case, r.Backend, r.Device, r.Reps, r.Warmup, backend)
		}
		if !(r.MSMin > 0 && r.MSMin <= r.MS && r.MS <= r.MSMax) {
			t.Errorf("%s: times min %v median %v max %v, want 0 < min ≤ median ≤ max", r.Case, r.MSMin, r.MS, r.MSMax)
		}
		var rate, scale float64
		switch {
		case strings.HasPrefix(r.Case, "conv"):
			rate, scale = r.GFLOPs, 1e9
		case strings.HasPrefix(r.Case, "train/"), strings.HasPrefix(r.Case, "predict/"):
			rate, scale = r.ImagesPerS, 1
		default:
			rate, scale = r.GBPerS, 1e9
		}
		if got := rate * scale * r.MS / 1e3; math.Abs(got-work) > 1e-9*work {
			t.Errorf("%s: rate %v at %v ms is %v units of work, want %v", r.Case, rate, r.MS, got, work)
		}
		if !strings.Contains(table, "| "+r.Case+" | "+backend+" | ") {
			t.Errorf("table has no row for %s on %s:\n%s", r.Case, backend, table)
		}
	}
}

// tinyWork is the work of each tiny case: FLOPs, bytes or images.
func tinyWork() map[string]float64 {
	flops := 2.0 * 2 * 4 * 8 * 8 * 3 * 9 // 2·N·K·OH·OW·C·KH·KW
	x, y := 2.0*3*8*8, 2.0*3*4*4         // pooling input and output elements
	return map[string]float64{
		"conv_fwd/N2_C3_K4_8x8_k3p1":   flops,
		"conv_train/N2_C3_K4_8x8_k3p1": 3 * flops,
		"maxpool_fwd/N2_C3_8x8_w2":     4 * (x + y),
		"maxpool_train/N2_C3_8x8_w2":   4 * (x + y + y + x + x),
		"avgpool_fwd/N2_C3_8x8_w2":     4 * (x + y),
		"avgpool_train/N2_C3_8x8_w2":   4 * (x + y + y + x),
		"train/cnn":                    4,
		"predict/cnn_b2_g1":            1 * 4 * 2, // goroutines · 4 calls · images per call
		"predict/cnn_b2_g3":            3 * 4 * 2,
	}
}

func TestMainCPU(t *testing.T) {
	table, rep, err := runMain(t, append([]string{"--backends", "cpu", "--threads", "1"}, tiny...)...)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Tool != "vkcnn" || rep.Threads != 1 || rep.Reps != 3 || rep.Warmup != 1 || rep.Batch != 4 || rep.DType != "float32" {
		t.Errorf("report header %+v, want tool vkcnn, 1 thread, 3 reps, 1 warm-up, batch 4, float32", rep)
	}
	for _, r := range rep.Results {
		if r.Threads != 1 || r.Device != "cpu (1 thread)" {
			t.Errorf("%s: threads %d device %q, want 1 and \"cpu (1 thread)\"", r.Case, r.Threads, r.Device)
		}
	}
	checkResults(t, table, rep, "cpu", tinyWork())
	if p := rep.Peak; p == nil || p.One.Threads != 1 || p.All.Threads != 1 || !(p.One.GFLOPS > 0) || !(p.All.GFLOPS > 0) {
		t.Errorf("peak %+v, want one-thread and all-thread (1) measurements", rep.Peak)
	}
	for _, r := range rep.Results {
		if conv := strings.HasPrefix(r.Case, "conv"); conv != (r.PeakFraction > 0) {
			t.Errorf("%s: peak fraction %v, want > 0 exactly for convolutions", r.Case, r.PeakFraction)
		}
	}
	if !strings.Contains(table, "CPU register-FMA peak") {
		t.Errorf("table does not give the peak:\n%s", table)
	}
	if !strings.Contains(table, "| case | backend | device | threads | ms | min–max ms | throughput | of peak | per CPU-s |") {
		t.Errorf("table has no header:\n%s", table)
	}
}

func TestMainVulkan(t *testing.T) {
	table, rep, err := runMain(t, append(append([]string{}, tiny...), "--backends", "vulkan", "--models", "")...)
	if errors.Is(err, tensor.ErrNoDevice) {
		if vktest.Required() {
			t.Fatalf("no Vulkan device although %s=1: %v", vktest.EnvRequire, err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	// One set of results per device; check the first device's.
	want := tinyWork()
	delete(want, "train/cnn")
	delete(want, "predict/cnn_b2_g1")
	delete(want, "predict/cnn_b2_g3")
	rep.Results = rep.Results[:len(want)]
	for _, r := range rep.Results {
		if r.Threads != 0 {
			t.Errorf("%s: threads %d on Vulkan, want 0", r.Case, r.Threads)
		}
	}
	checkResults(t, table, rep, "vulkan", want)
}

func TestMainHelpAndList(t *testing.T) {
	var out bytes.Buffer
	if err := Main([]string{"--help"}, &out); err != nil {
		t.Fatalf("--help: %v", err)
	}
	if s := out.String(); strings.Count(s, "Usage: vkcnn bench") != 1 || !strings.Contains(s, "-cases") {
		t.Errorf("--help printed:\n%s", s)
	}
	out.Reset()
	if err := Main([]string{"--list", "--cases", "^conv_fwd/"}, &out); err != nil {
		t.Fatalf("--list: %v", err)
	}
	got := strings.Fields(out.String())
	if len(got) != len(shapes.Conv) {
		t.Fatalf("--list printed %q, want the %d default conv_fwd cases", got, len(shapes.Conv))
	}
	for i, s := range shapes.Conv {
		if got[i] != "conv_fwd/"+s {
			t.Errorf("case %d is %q, want conv_fwd/%s", i, got[i], s)
		}
	}
	out.Reset()
	if err := Main([]string{"--list"}, &out); err != nil {
		t.Fatalf("--list: %v", err)
	}
	if n, want := len(strings.Fields(out.String())), 2*len(shapes.Conv)+4*len(shapes.Pool)+5*len(models.Names()); n != want {
		t.Errorf("--list printed %d cases, want %d", n, want)
	}
}

func TestMainErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want error
		text string
	}{
		{[]string{"--reps", "0"}, tensor.ErrParam, "--reps 0"},
		{[]string{"--threads", "0"}, tensor.ErrParam, "--threads 0"},
		{[]string{"--warmup", "-1"}, tensor.ErrParam, "--warmup -1"},
		{[]string{"--batch", "0"}, tensor.ErrParam, "--batch 0"},
		{[]string{"--predict-batch", "0"}, tensor.ErrParam, "--predict-batch 0"},
		{[]string{"--goroutines", "1,zero"}, tensor.ErrParam, `"zero"`},
		{[]string{"--goroutines", "0"}, tensor.ErrParam, `"0"`},
		{[]string{"--reps", "many"}, tensor.ErrParam, "many"},
		{[]string{"--nope"}, tensor.ErrParam, "nope"},
		{[]string{"extra"}, tensor.ErrParam, `"extra"`},
		{[]string{"--cases", "("}, tensor.ErrParam, "regular expression"},
		{[]string{"--cases", "nothing-matches"}, tensor.ErrParam, "no case matches"},
		{[]string{"--backends", "tpu"}, tensor.ErrParam, `"tpu"`},
		{[]string{"--backends", ","}, tensor.ErrParam, "empty"},
		{[]string{"--models", "vgg"}, tensor.ErrParam, `"vgg"`},
		{[]string{"--models", "cnn,lenet5", "--conv", "", "--pool", "", "--cases", "conv"}, tensor.ErrParam, "no case matches"},
		{[]string{"--conv", "N2_C3"}, tensor.ErrParam, "N<batch>_C<in>"},
		{[]string{"--conv", "N2_C3_K4_8x8_k9"}, tensor.ErrShape, "padded input"},
		{[]string{"--conv", "N2_C3_K4_8x8_k3g2"}, tensor.ErrParam, "groups 2"},
		{[]string{"--conv", "N2_C3_K4_8x8_k3s0"}, tensor.ErrParam, "stride 0"},
		{[]string{"--conv", "N0_C3_K4_8x8_k3"}, tensor.ErrShape, "dimension 0"},
		{[]string{"--conv", "N99999999999999999999_C3_K4_8x8_k3"}, tensor.ErrParam, "too large"},
		{[]string{"--pool", "N2_C3_8x8"}, tensor.ErrParam, "N<batch>_C<channels>"},
		{[]string{"--pool", "N2_C3_8x8_w2p2"}, tensor.ErrParam, "half the window"},
	} {
		var out bytes.Buffer
		err := Main(append(c.args, "--list"), &out)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("Main(%q): error %v, want one wrapping %v and mentioning %q", c.args, err, c.want, c.text)
		}
	}
}

func TestTrainCasesRun(t *testing.T) {
	// Every preset's training step sets up and runs on the CPU backend.
	b := cpu.New(cpu.Threads(1))
	defer b.Close()
	for _, p := range models.All() {
		name := p.Name
		step, free, err := trainCase(p, 2).setup(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if err := step(); err != nil {
			t.Errorf("%s: step: %v", name, err)
		}
		if err := free(); err != nil {
			t.Errorf("%s: free: %v", name, err)
		}
	}
}

// TestPredictCasesRun runs every preset's concurrent prediction case on the
// CPU and the Vulkan backend (when there is one), 3 goroutines sharing one
// model.
func TestPredictCasesRun(t *testing.T) {
	run := func(t *testing.T, b tensor.Backend) {
		for _, p := range models.All() {
			c := predictCase(p, 3, 3)
			if c.work != 3*predictCalls*3 {
				t.Errorf("%s: work %v images, want %d", c.name, c.work, 3*predictCalls*3)
			}
			step, free, err := c.setup(b)
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
				continue
			}
			if err := step(); err != nil {
				t.Errorf("%s: step: %v", c.name, err)
			}
			if err := free(); err != nil {
				t.Errorf("%s: free: %v", c.name, err)
			}
		}
	}
	t.Run("cpu", func(t *testing.T) {
		b := cpu.New(cpu.Threads(1))
		defer b.Close()
		run(t, b)
	})
	t.Run("vulkan", func(t *testing.T) { run(t, vktest.Open(t)) })
}

func TestMeasureReportsStepErrors(t *testing.T) {
	b := cpu.New(cpu.Threads(1))
	defer b.Close()
	boom := errors.New("boom")
	freed := false
	c := benchCase{name: "fake", setup: func(tensor.Backend) (func() error, func() error, error) {
		return func() error { return boom }, func() error { freed = true; return nil }, nil
	}}
	if _, _, _, err := measure(b, c, 1, 2); !errors.Is(err, boom) {
		t.Errorf("measure: %v, want the step's error", err)
	}
	if !freed {
		t.Error("measure did not free the case after an error")
	}
}

func TestMedianAndFormat(t *testing.T) {
	if m := median([]float64{3, 1, 2}); m != 2 {
		t.Errorf("median of 3 1 2 = %v, want 2", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median of 4 1 3 2 = %v, want 2.5", m)
	}
	for v, want := range map[float64]string{1234.5: "1234", 56.78: "56.8", 3.14159: "3.14", 0.01234: "0.012"} {
		if got := fmtNum(v); got != want {
			t.Errorf("fmtNum(%v) = %q, want %q", v, got, want)
		}
	}
}

func TestWriteJSONBadPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "out.json")
	if err := writeJSON(path, Report{}); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("writeJSON to a missing directory: %v, want an error naming %s", err, path)
	}
}

// TestTorchScriptInStep checks that scripts/bench_torch.py lists the same
// cases as Main and describes every model preset as package models does.
// It needs python3 (not torch) and is skipped without it, or fails when
// VKCNN_REQUIRE_TORCH=1 (see internal/torchtest).
func TestTorchScriptInStep(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		torchtest.Unavailable(t, "no python3: %v", err)
	}
	script := filepath.Join("..", "..", "scripts", "bench_torch.py")
	got, err := exec.Command(py, script, "--list").Output()
	if err != nil {
		t.Fatalf("bench_torch.py --list: %v", err)
	}
	var want bytes.Buffer
	if err := Main([]string{"--list"}, &want); err != nil {
		t.Fatal(err)
	}
	if string(got) != want.String() {
		t.Errorf("bench_torch.py --list printed\n%s\nvkcnn bench --list printed\n%s", got, want.String())
	}
	code := "import json, sys; sys.path.insert(0, sys.argv[1]); import bench_torch; print(json.dumps(bench_torch.MODELS))"
	out, err := exec.Command(py, "-B", "-c", code, filepath.Dir(script)).Output()
	if err != nil {
		t.Fatalf("reading bench_torch.MODELS: %v", err)
	}
	var table map[string][]any
	if err := json.Unmarshal(out, &table); err != nil {
		t.Fatalf("bench_torch.MODELS as JSON: %v\n%s", err, out)
	}
	for _, p := range models.All() {
		row, ok := table[p.Name]
		if !ok {
			t.Errorf("bench_torch.py has no model %s", p.Name)
			continue
		}
		shape, _ := json.Marshal(p.Input)
		rowShape, _ := json.Marshal(row[1])
		wantRow := []any{p.Spec, string(shape), p.Loss, p.Optimizer, p.LR, p.Momentum}
		gotRow := []any{row[0], string(rowShape), row[2], row[3], row[4], row[5]}
		for i := range wantRow {
			if gotRow[i] != wantRow[i] {
				t.Errorf("bench_torch.py model %s field %d is %v, want %v (models/models.go)", p.Name, i, gotRow[i], wantRow[i])
			}
		}
	}
}
