package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/internal/vktest"
	"github.com/vkcnn/vkcnn/models"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
	"github.com/vkcnn/vkcnn/viz"
)

// runCLI runs the command line in-process and returns stdout and the error.
func runCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(args, &stdout, &stderr)
	if s := stderr.String(); s != "" {
		t.Logf("stderr of %q:\n%s", args, s)
	}
	return stdout.String(), err
}

// decodePNG decodes a PNG file and returns its size.
func decodePNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, format, err := image.Decode(f)
	if err != nil || format != "png" {
		t.Fatalf("%s: decode: %v (format %q)", path, err, format)
	}
	return img
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"help"}, {"-h"}} {
		out, err := runCLI(t, args...)
		if err != nil || !strings.Contains(out, "Commands:") || !strings.Contains(out, "edges") {
			t.Errorf("%q: error %v, output %q", args, err, out)
		}
	}
	for cmd, flags := range map[string][]string{
		"devices": {"-device"},
		"train": {"-model", "-dataset", "-data", "-epochs", "-batch", "-optimizer", "-lr", "-momentum", "-seed", "-backend", "-device", "-init", "-out",
			"-schedule", "-warmup", "-weight-decay", "-clip", "-label-smoothing", "-patience", "-nesterov", "-resume", "-pictures", "-diverge"},
		"infer": {"-model", "-weights", "-spec", "-logits", "-dataset", "-split", "-backend"},
		"edges": {"-out", "-backend", "-device"},
	} {
		for _, args := range [][]string{{cmd, "--help"}, {cmd, "-h"}, {"help", cmd}} {
			out, err := runCLI(t, args...)
			if err != nil {
				t.Errorf("%q: %v", args, err)
				continue
			}
			if !strings.HasPrefix(out, "Usage: vkcnn "+cmd) || !strings.Contains(out, "Examples:") || !strings.Contains(out, "Flags:") {
				t.Errorf("%q: help lacks usage, examples or flags:\n%s", args, out)
			}
			for _, f := range flags {
				if !strings.Contains(out, "  "+f+" ") && !strings.Contains(out, "  "+f+"\n") {
					t.Errorf("%q: help does not list %s:\n%s", args, f, out)
				}
			}
		}
	}
}

// TestBench checks that the bench command is wired to package bench.
func TestBench(t *testing.T) {
	out, err := runCLI(t, "bench", "--help")
	if err != nil || !strings.HasPrefix(out, "Usage: vkcnn bench") || !strings.Contains(out, "-cases") {
		t.Errorf("bench --help: %v\n%s", err, out)
	}
	out, err = runCLI(t, "bench", "--list", "--cases", "^train/")
	if f := strings.Fields(out); err != nil || len(f) != 4 || f[0] != "train/seed01" || f[3] != "train/resnet" {
		t.Errorf("bench --list: %v\n%s", err, out)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.npy")
	if err := nn.SaveNpy(bad, nn.HostTensor{Shape: tensor.Shape{2, 5}, Data: make([]float32, 10)}); err != nil {
		t.Fatal(err)
	}
	notPicture := filepath.Join(dir, "text.png")
	os.WriteFile(notPicture, []byte("not a picture"), 0o644)
	model := trainLines(t, dir)
	fresh := filepath.Join(dir, "fresh", "run")      // a failed run must not create it
	three := filepath.Join(dir, "three.safetensors") // 3 outputs, for the 2 classes of lines
	if m3, err := nn.Parse("conv(1,4,3) relu maxpool(2) flatten dense(196,3)"); err != nil {
		t.Fatal(err)
	} else if err := m3.Build(cpu.New(), tensor.Shape{1, 16, 16}, 1); err != nil {
		t.Fatal(err)
	} else if err := m3.SaveSafetensors(three); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string // in the error message
	}{
		{nil, "no command"},
		{[]string{"frobnicate"}, "unknown command"},
		{[]string{"devices", "extra"}, "no arguments"},
		{[]string{"devices", "--bogus"}, "flag provided but not defined"},
		{[]string{"train", "--epochs", "two"}, "invalid value"},
		{[]string{"train", "--bogus"}, "flag provided but not defined"},
		{[]string{"train", "--model", "resnet50"}, "not a preset"},
		{[]string{"train", "--model", "conv(1,8"}, "not a preset"},
		{[]string{"train", "--dataset", "cifar", "--out", fresh}, "unknown dataset"},
		{[]string{"train", "--optimizer", "rmsprop"}, "rmsprop"},
		{[]string{"train", "--lr", "-1"}, "learning rate"},
		{[]string{"train", "--lr", "1e300"}, "--lr 1e+300 overflows float32"},
		{[]string{"train", "--schedule", "exp"}, `--schedule "exp"`},
		{[]string{"train", "--model", "conv(1,4,3) flatten dense(784,10)", "--schedule", "step"}, "--schedule step with --lr-decay 1"},
		{[]string{"train", "--warmup", "1"}, "--warmup with --schedule step, expected --schedule cosine"},
		{[]string{"train", "--schedule", "cosine", "--warmup", "9", "--epochs", "3"}, "--warmup 9 epochs"},
		{[]string{"train", "--nesterov"}, "--nesterov with adam"},
		{[]string{"train", "--optimizer", "adamw", "--momentum", "0.9"}, "--momentum 0.9 with adamw"},
		{[]string{"train", "--weight-decay", "-1"}, "--weight-decay -1"},
		{[]string{"train", "--clip", "-1"}, "--clip -1"},
		{[]string{"train", "--label-smoothing", "1"}, "--label-smoothing 1"},
		{[]string{"train", "--patience", "-1"}, "--patience -1"},
		{[]string{"train", "--resume", filepath.Join(dir, "nothing")}, "no interrupted or complete run"},
		{[]string{"train", "--resume", model, "--model", "cnn"}, "--resume with --model"},
		{[]string{"train", "--model", "missing.spec"}, "--model missing.spec: stat missing.spec: no such file or directory"},
		{[]string{"train", "--model", filepath.Join(dir, "nope", "m")}, "no such file or directory"},
		{[]string{"infer", "--weights", filepath.Join(model, "model.safetensors"), "--spec", "missing.spec", "--dataset", "lines"}, "--spec missing.spec: stat missing.spec: no such file"},
		{[]string{"infer", "--model", three, "--dataset", "lines", "--backend", "cpu"}, "the model has 3 outputs, the dataset 2 classes"},
		{[]string{"train", "--epochs", "0"}, "--epochs 0"},
		{[]string{"train", "--batch", "-3"}, "--batch -3"},
		{[]string{"train", "--loss", "hinge"}, "hinge"},
		{[]string{"train", "--shift", "-2"}, "--shift -2"},
		{[]string{"train", "--diverge", "-1"}, "--diverge -1"},
		// a loss that explodes while staying finite: nn's DivergeRatio
		{[]string{"train", "--model", "conv(1,4,3) relu maxpool(2) flatten dense(196,2)", "--dataset", "lines", "--optimizer", "sgd", "--lr", "5",
			"--diverge", "3", "--epochs", "1", "--out", fresh, "--backend", "cpu"}, "DivergeRatio 3 times the first step's loss"},
		{[]string{"train", "--backend", "tpu"}, "tpu"},
		{[]string{"train", "extra"}, "no arguments"},
		{[]string{"train", "--out", ""}, `--out ""`},
		{[]string{"train", "--out", dir}, "bad.npy, which vkcnn train did not write"},
		{[]string{"train", "--out", bad}, "is a file"},
		{[]string{"train", "--model", "conv(1,4,3) relu maxpool(2) flatten dense(196,2)", "--dataset", "lines", "--shift", "1000", "--out", fresh, "--backend", "cpu"}, "shift 1000"},
		{[]string{"train", "--model", "conv(1,4,3) relu maxpool(2) flatten dense(196,2)", "--dataset", "lines", "--flip", "--out", fresh, "--backend", "cpu"}, "--flip on lines"},
		{[]string{"train", "--resume", model, "--flip"}, "--resume with --flip"},
		{[]string{"train", "--model", "cnn", "--dataset", "lines", "--out", fresh, "--backend", "cpu"}, "dense"},
		{[]string{"train", "--model", "conv(1,4,3) flatten dense(784,3)", "--dataset", "lines", "--out", fresh, "--backend", "cpu"}, "3 outputs"},
		{[]string{"train", "--model", "conv(1,4,3) flatten dense(784,2)", "--dataset", "mnist", "--data", dir, "--out", fresh, "--backend", "cpu"}, "four IDX files"},
		{[]string{"infer", "--model", model, "--dataset", "mnist", "--data", dir}, "four IDX files"},
		{[]string{"edges", "a.png", "--out", dir, "--backend", "tpu"}, "tpu"},
		{[]string{"infer", "x.png"}, "no model"},
		{[]string{"infer", "--model", model}, "nothing to do"},
		{[]string{"infer", "--model", filepath.Join(dir, "missing"), "--dataset", "lines"}, "missing"},
		{[]string{"infer", "--model", model, bad}, "expected [N 1 16 16] or [N 16 16]"},
		{[]string{"infer", "--model", model, notPicture}, "picture"},
		{[]string{"infer", "--model", model, "--split", "validation", "--dataset", "lines"}, "--split"},
		{[]string{"infer", "--model", model, "--invert", "maybe", bad}, "--invert"},
		{[]string{"infer", "--model", model, "--weights", bad, "x.png"}, "either --model"},
		{[]string{"infer", "--weights", filepath.Join(model, "model.safetensors"), "--spec", "dense(3,2)", "--input", "3", "--dataset", "lines"}, "shape"},
		{[]string{"infer", "--weights", filepath.Join(model, "model.safetensors"), "--spec", "dense(3,2)", "--input", "a,b", "--dataset", "lines"}, "--input"},
		{[]string{"bench", "--bogus"}, "flag provided but not defined"},
		{[]string{"edges"}, "one picture"},
		{[]string{"edges", "a.png", "b.png", "--out", dir}, "one picture"},
		{[]string{"edges", "a.png"}, "--out"},
		{[]string{"edges", filepath.Join(dir, "missing.png"), "--out", dir}, "missing.png"},
		{[]string{"edges", notPicture, "--out", dir}, "picture"},
	} {
		out, err := runCLI(t, c.args...)
		if err == nil {
			t.Errorf("%q: no error; output:\n%s", c.args, out)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %q, want it to mention %q", c.args, err, c.want)
		}
		if _, err := os.Stat(filepath.Dir(fresh)); err == nil {
			t.Errorf("%q: the failed run created %s", c.args, filepath.Dir(fresh))
			os.RemoveAll(filepath.Dir(fresh))
		}
	}
	// Flag errors, bad values and bad shapes wrap the tensor sentinels.
	for _, args := range [][]string{{"train", "--bogus"}, {"train", "--epochs", "0"}, {"infer", "--model", model, bad}} {
		if _, err := runCLI(t, args...); !errors.Is(err, tensor.ErrParam) && !errors.Is(err, tensor.ErrShape) {
			t.Errorf("%q: error %v wraps neither ErrParam nor ErrShape", args, err)
		}
	}
}

// trainLines trains a tiny model on lines for 2 epochs into dir/model and
// returns that folder; the test fails on any error.
func trainLines(t *testing.T, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "model")
	if _, err := os.Stat(filepath.Join(out, "model.safetensors")); err == nil {
		return out
	}
	stdout, err := runCLI(t, "train", "--model", "conv(1,4,3) relu maxpool(2) flatten dense(196,2)", "--dataset", "lines",
		"--epochs", "2", "--batch", "16", "--lr", "0.01", "--backend", "cpu", "--out", out, "--progress")
	if err != nil {
		t.Fatalf("train: %v\n%s", err, stdout)
	}
	return out
}

// testAccuracy extracts "<label> accuracy NN.NN%" from a command's output.
func testAccuracy(t *testing.T, out, label string) string {
	t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(label) + ` accuracy (\d+\.\d\d%)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no %q accuracy in output:\n%s", label, out)
	}
	return m[1]
}

// TestTrainInfer trains on lines, checks every output file, then runs infer
// on the model: the dataset accuracy, .npy and PNG inputs, and --logits.
func TestTrainInfer(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "model")
	spec := "conv(1,4,3) relu maxpool(2) flatten dense(196,2)"
	stdout, err := runCLI(t, "train", "--model", spec, "--dataset", "lines", "--epochs", "2", "--batch", "16",
		"--lr", "0.01", "--backend", "cpu", "--out", out, "--progress", "--shift", "1", "--lr-decay", "0.5")
	if err != nil {
		t.Fatalf("train: %v\n%s", err, stdout)
	}
	for _, want := range []string{"epoch 1/2", "epoch 2/2", "test accuracy", "/10)", "wrote " + out} {
		if !strings.Contains(stdout, want) {
			t.Errorf("train output lacks %q:\n%s", want, stdout)
		}
	}
	trainAcc := testAccuracy(t, stdout, "test")

	// Files.
	if got, err := os.ReadFile(filepath.Join(out, "model.spec")); err != nil || string(got) != spec+"\n" {
		t.Errorf("model.spec = %q, %v; want %q", got, err, spec)
	}
	var mt struct {
		Spec    string `json:"spec"`
		Dataset string `json:"dataset"`
		History []struct {
			Epoch       int      `json:"epoch"`
			TrainLoss   *float64 `json:"train_loss"`
			ValAccuracy *float64 `json:"val_accuracy"`
			Seconds     float64  `json:"seconds"`
		} `json:"history"`
		TestAccuracy *float64 `json:"test_accuracy"`
	}
	js, err := os.ReadFile(filepath.Join(out, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &mt); err != nil {
		t.Fatalf("metrics.json: %v\n%s", err, js)
	}
	if mt.Spec != spec || mt.Dataset != "lines" || len(mt.History) != 2 || mt.History[1].Epoch != 2 ||
		mt.History[1].TrainLoss == nil || mt.History[1].Seconds <= 0 || mt.TestAccuracy == nil ||
		*mt.TestAccuracy != *mt.History[1].ValAccuracy {
		t.Errorf("metrics.json content:\n%s", js)
	}
	if got := percent(*mt.TestAccuracy); got != trainAcc {
		t.Errorf("metrics.json test accuracy %s, printed %s", got, trainAcc)
	}
	b := cpu.New()
	m, err := nn.LoadModel(filepath.Join(out, "model.safetensors"), b)
	if err != nil || m.String() != spec {
		t.Fatalf("model.safetensors: %v (spec %v)", err, m)
	}
	m.Free()
	for _, name := range []string{"curves.png", "filters.png", "featuremaps.png", "predictions.png"} {
		if img := decodePNG(t, filepath.Join(out, name)); img.Bounds().Dx() < 100 || img.Bounds().Dy() < 100 {
			t.Errorf("%s is only %v", name, img.Bounds())
		}
	}

	// infer on the test split gives the accuracy train printed.
	stdout, err = runCLI(t, "infer", "--model", out, "--dataset", "lines", "--split", "test", "--backend", "cpu")
	if err != nil {
		t.Fatalf("infer: %v\n%s", err, stdout)
	}
	if got := testAccuracy(t, stdout, "lines test"); got != trainAcc {
		t.Errorf("infer reports test accuracy %s, train reported %s", got, trainAcc)
	}

	// infer on a .npy batch [3,16,16], a .npy sample [1,16,16] and a PNG.
	_, test, err := data.Load("lines", data.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	npy3, npy1, png := filepath.Join(dir, "three.npy"), filepath.Join(dir, "one.npy"), filepath.Join(dir, "digit.png")
	if err := nn.SaveNpy(npy3, nn.HostTensor{Shape: tensor.Shape{3, 16, 16}, Data: test.Images[:3*256]}); err != nil {
		t.Fatal(err)
	}
	if err := nn.SaveNpy(npy1, nn.HostTensor{Shape: tensor.Shape{1, 16, 16}, Data: test.Images[3*256 : 4*256]}); err != nil {
		t.Fatal(err)
	}
	if err := viz.WriteGrayPNG(png, test.Image(4), 16, 16, 0, 1); err != nil {
		t.Fatal(err)
	}
	logits := filepath.Join(dir, "logits.npy")
	stdout, err = runCLI(t, "infer", "--model", filepath.Join(out, "model.safetensors"), npy3, npy1, "--logits", logits, png, "--backend", "cpu")
	if err != nil {
		t.Fatalf("infer inputs: %v\n%s", err, stdout)
	}
	rows := regexp.MustCompile(`(?m)^(\S+)\s+class ([01])\s+(\d+\.\d)%$`).FindAllStringSubmatch(stdout, -1)
	if len(rows) != 5 || rows[0][1] != npy3+"[0]" || rows[3][1] != npy1+"[0]" || rows[4][1] != png {
		t.Fatalf("infer printed %d predictions, want 5:\n%s", len(rows), stdout)
	}
	h, err := nn.LoadNpy(logits)
	if err != nil || !h.Shape.Equal(tensor.Shape{5, 2}) {
		t.Fatalf("logits: %v, shape %v", err, h.Shape)
	}
	lg := h.Float64s()
	for i, r := range rows {
		class := 0
		if lg[2*i+1] > lg[2*i] {
			class = 1
		}
		conf := 100 / (1 + math.Exp(-math.Abs(lg[2*i+1]-lg[2*i])))
		if r[2] != fmt.Sprint(class) || r[3] != fmt.Sprintf("%.1f", conf) {
			t.Errorf("row %d %q disagrees with logits %v (class %d, %.1f%%)", i, r[0], lg[2*i:2*i+2], class, conf)
		}
	}

	// The same weights through --weights and --spec.
	stdout, err = runCLI(t, "infer", "--weights", filepath.Join(out, "model.safetensors"), "--spec", spec, "--input", "1,16,16",
		"--dataset", "lines", "--backend", "cpu")
	if err != nil || testAccuracy(t, stdout, "lines test") != trainAcc {
		t.Errorf("infer --weights --spec: %v\n%s", err, stdout)
	}

	// --init starts from the trained weights.
	stdout, err = runCLI(t, "train", "--model", filepath.Join(out, "model.spec"), "--dataset", "lines", "--epochs", "1",
		"--init", filepath.Join(out, "model.safetensors"), "--backend", "cpu", "--out", filepath.Join(dir, "again"))
	if err != nil || !strings.Contains(stdout, "model model:") {
		t.Errorf("train from a spec file with --init: %v\n%s", err, stdout)
	}
}

func TestEdges(t *testing.T) {
	dir := t.TempDir()
	const h, w = 20, 24
	pix := make([]float32, h*w)
	for y := 5; y < 15; y++ {
		for x := 8; x < 16; x++ {
			pix[y*w+x] = 1 // a white rectangle on black
		}
	}
	in := filepath.Join(dir, "square.png")
	if err := viz.WriteGrayPNG(in, pix, h, w, 0, 1); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "edges")
	stdout, err := runCLI(t, "edges", in, "--out", out, "--backend", "cpu")
	if err != nil {
		t.Fatalf("edges: %v\n%s", err, stdout)
	}
	imgs := map[string]image.Image{}
	for _, name := range []string{"sobel_x.png", "sobel_y.png", "laplacian.png", "sharpen.png", "magnitude.png"} {
		img := decodePNG(t, filepath.Join(out, name))
		if img.Bounds() != image.Rect(0, 0, w, h) {
			t.Errorf("%s is %v, want %dx%d", name, img.Bounds(), w, h)
		}
		imgs[name] = img
	}
	gray := func(name string, x, y int) int {
		r, _, _, _ := imgs[name].At(x, y).RGBA()
		return int(r >> 8)
	}
	// Flat regions: magnitude black, signed maps mid-gray; edges: magnitude
	// bright, Sobel x dark/bright on the left/right edge of the rectangle.
	if v := gray("magnitude.png", 2, 2); v != 0 {
		t.Errorf("magnitude in a flat region = %d, want 0", v)
	}
	if v := gray("magnitude.png", 12, 10); v != 0 {
		t.Errorf("magnitude inside the rectangle = %d, want 0", v)
	}
	if v := gray("magnitude.png", 8, 10); v < 200 {
		t.Errorf("magnitude on the left edge = %d, want bright", v)
	}
	if v := gray("sobel_x.png", 2, 2); v < 120 || v > 135 {
		t.Errorf("sobel_x in a flat region = %d, want mid-gray", v)
	}
	if l, r := gray("sobel_x.png", 8, 10), gray("sobel_x.png", 15, 10); l < 200 || r > 55 {
		t.Errorf("sobel_x on the left edge %d (want bright), right edge %d (want dark)", l, r)
	}
	if v := gray("sobel_y.png", 12, 5); v < 200 {
		t.Errorf("sobel_y on the top edge = %d, want bright", v)
	}
	if v := gray("sharpen.png", 12, 10); v != 255 {
		t.Errorf("sharpen inside the rectangle = %d, want 255", v)
	}
}

func TestDevices(t *testing.T) {
	out, err := runCLI(t, "devices")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Backends:", "cpu     available", "vulkan  ", "Auto picks: ", "why: auto: using "} {
		if !strings.Contains(out, want) {
			t.Errorf("devices output lacks %q:\n%s", want, out)
		}
	}
}

func TestParseInterspersed(t *testing.T) {
	fs := newFlags("x", "Usage: vkcnn x")
	out := fs.String("out", "", "")
	n := fs.Int("n", 0, "")
	pos, err := fs.parse([]string{"a", "--out", "d", "b", "-n=3", "--", "--c", "-n"}, &bytes.Buffer{})
	if err != nil || *out != "d" || *n != 3 || strings.Join(pos, " ") != "a b --c -n" {
		t.Errorf("parse: %q, out %q, n %d, %v", pos, *out, *n, err)
	}
}

func TestNpySamples(t *testing.T) {
	in := tensor.Shape{1, 28, 28}
	for _, c := range []struct {
		shape tensor.Shape
		n     int
	}{{tensor.Shape{5, 1, 28, 28}, 5}, {tensor.Shape{5, 28, 28}, 5}, {tensor.Shape{1, 28, 28}, 1}, {tensor.Shape{28, 28}, 1},
		{tensor.Shape{5, 28, 27}, 0}, {tensor.Shape{784}, 0}, {tensor.Shape{5, 2, 28, 28}, 0}} {
		n, err := npySamples(c.shape, in)
		if n != c.n || (c.n == 0) != errors.Is(err, tensor.ErrShape) {
			t.Errorf("npySamples(%v) = %d, %v; want %d", c.shape, n, err, c.n)
		}
	}
}

// TestPictureFailure: a picture that cannot be drawn (the curve of a NaN
// loss) is an error naming the picture and why.
func TestPictureFailure(t *testing.T) {
	_, test, err := data.Load("lines", data.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	m, err := nn.Parse("conv(1,2,3) relu flatten dense(392,2)")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Build(cpu.New(), test.Shape, 1); err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	dir := t.TempDir()
	hist := []nn.EpochInfo{{Epoch: 1, Epochs: 1, Loss: math.NaN(), Accuracy: 0.5, ValLoss: 1, ValAccuracy: 0.5}}
	written, _, err := drawTraining(dir, "m", "lines", m, hist, test)
	if err == nil || !strings.Contains(err.Error(), "curves.png not drawn") || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("error %v, want one saying curves.png was not drawn because of a NaN", err)
	}
	if slices.Contains(written, "curves.png") || len(written) != 3 {
		t.Errorf("written %v, want the three other pictures", written)
	}
}

// TestNonFiniteInfer: NaN inputs and NaN weights make infer (and train
// --init) fail naming the file or tensor and the first bad index, on the
// CPU and on Vulkan.
func TestNonFiniteInfer(t *testing.T) {
	dir := t.TempDir()
	model := trainLines(t, dir)
	nanX := make([]float32, 256)
	nanX[3*16+4] = float32(math.NaN())
	nanNpy := filepath.Join(dir, "nan.npy")
	if err := nn.SaveNpy(nanNpy, nn.HostTensor{Shape: tensor.Shape{1, 16, 16}, Data: nanX}); err != nil {
		t.Fatal(err)
	}
	goodNpy := filepath.Join(dir, "good.npy")
	if err := nn.SaveNpy(goodNpy, nn.HostTensor{Shape: tensor.Shape{1, 16, 16}, Data: make([]float32, 256)}); err != nil {
		t.Fatal(err)
	}
	m, err := nn.LoadModel(filepath.Join(model, "model.safetensors"), cpu.New())
	if err != nil {
		t.Fatal(err)
	}
	sd, err := m.StateDict()
	if err != nil {
		t.Fatal(err)
	}
	sd["4.weight"].Data.([]float32)[200] = float32(math.Inf(-1))
	if err := m.LoadStateDict(sd); err != nil {
		t.Fatal(err)
	}
	nanModel := filepath.Join(dir, "inf.safetensors")
	if err := m.SaveSafetensors(nanModel); err != nil {
		t.Fatal(err)
	}
	m.Free()
	for _, backend := range []string{"cpu", "vulkan"} {
		t.Run(backend, func(t *testing.T) {
			if backend == "vulkan" {
				vktest.Open(t) // skips (or fails with VKCNN_REQUIRE_VULKAN=1) without a device
			}
			for _, c := range []struct {
				args []string
				want string
			}{
				{[]string{"infer", "--model", model, nanNpy}, nanNpy + "[0 3 4] is NaN"},
				{[]string{"infer", "--model", nanModel, goodNpy}, "parameter 4.weight[1 4] is -Inf"},
				{[]string{"infer", "--model", nanModel, "--dataset", "lines"}, "parameter 4.weight[1 4] is -Inf"},
				{[]string{"train", "--model", filepath.Join(model, "model.spec"), "--dataset", "lines", "--init", nanModel,
					"--out", filepath.Join(dir, "never")}, "--init " + nanModel + ": parameter 4.weight[1 4] is -Inf"},
			} {
				out, err := runCLI(t, append(c.args, "--backend", backend)...)
				if !errors.Is(err, nn.ErrNonFinite) || !strings.Contains(err.Error(), c.want) {
					t.Errorf("%q: error %v, want an ErrNonFinite error mentioning %q\n%s", c.args, err, c.want, out)
				}
			}
		})
	}
}

// TestResolveModelPresetSettings: a preset's training settings beyond the
// learning rate (schedule, Nesterov, weight decay, label smoothing, shift,
// flip) reach
// the CLI's run, so `vkcnn train --model resnet` trains as the quality test
// does.
func TestResolveModelPresetSettings(t *testing.T) {
	p, err := models.Get("resnet")
	if err != nil {
		t.Fatal(err)
	}
	s, err := resolveModel("resnet")
	if err != nil {
		t.Fatal(err)
	}
	if s.Schedule != p.Schedule || s.Nesterov != p.Nesterov || s.WeightDecay != p.WeightDecay ||
		s.LabelSmoothing != p.LabelSmoothing || s.Momentum != p.Momentum || s.LR != p.LR ||
		s.Shift != p.Shift || s.Flip != p.Flip || s.Epochs != p.Epochs {
		t.Errorf("resolveModel(resnet) = %+v, want the preset's %+v", s, p)
	}
	if p.Schedule == "" || !p.Nesterov || p.WeightDecay == 0 || !p.Flip {
		t.Errorf("resnet preset lost its schedule, Nesterov, weight decay or flips: %+v", p)
	}
}

// TestEdgesBeyondBindingRange runs `vkcnn edges` on a 4000×4000 picture on
// the CPU and on the Vulkan backend, whose four output channels (244 MiB)
// exceed lavapipe's maxStorageBufferRange of 128 MiB, and checks that the
// five pictures are the same files. It takes one to two minutes on lavapipe, so
// it runs only with VKCNN_BIG_TESTS=1; gpu's TestTensorBeyondBindingRange
// covers tensors past the limit in every run.
func TestEdgesBeyondBindingRange(t *testing.T) {
	if os.Getenv("VKCNN_BIG_TESTS") != "1" {
		t.Skip("set VKCNN_BIG_TESTS=1 to run the 4000×4000 case (one to two minutes on lavapipe)")
	}
	vktest.Open(t)
	dir := t.TempDir()
	const h, w = 4000, 4000
	pix := make([]float32, h*w)
	for y := range h {
		for x := range w {
			pix[y*w+x] = float32((x*7+y*13)%256) / 255
			if x >= 1200 && x < 2800 && y >= 1000 && y < 3000 {
				pix[y*w+x] = 1
			}
		}
	}
	in := filepath.Join(dir, "big.png")
	if err := viz.WriteGrayPNG(in, pix, h, w, 0, 1); err != nil {
		t.Fatal(err)
	}
	for _, backend := range []string{"cpu", "vulkan"} {
		if stdout, err := runCLI(t, "edges", in, "--out", filepath.Join(dir, backend), "--backend", backend); err != nil {
			t.Fatalf("edges --backend %s: %v\n%s", backend, err, stdout)
		}
	}
	for _, name := range []string{"sobel_x.png", "sobel_y.png", "laplacian.png", "sharpen.png", "magnitude.png"} {
		c, err := os.ReadFile(filepath.Join(dir, "cpu", name))
		if err != nil {
			t.Fatal(err)
		}
		v, err := os.ReadFile(filepath.Join(dir, "vulkan", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(c, v) {
			t.Errorf("%s differs between the CPU (%d bytes) and Vulkan (%d bytes)", name, len(c), len(v))
		}
	}
}
