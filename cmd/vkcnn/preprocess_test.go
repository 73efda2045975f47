package main

import (
	"fmt"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
	"github.com/vkcnn/vkcnn/viz"
)

// TestInferMatchesLibrary holds the CLI's infer and the library's documented
// path (data.ReadImage with the default options, then Sequential.Predict)
// equal on the same black-on-white picture at another size than the model's
// input: both invert it, resize it and get the same class and confidence,
// the class the model gives the dataset image the picture was drawn from.
func TestInferMatchesLibrary(t *testing.T) {
	dir := t.TempDir()
	train, test, err := data.Load("lines", data.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	b := cpu.New()
	defer b.Close()
	m, err := nn.Parse("conv(1,4,3,p1) relu maxpool(2) flatten dense(256,2)")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Build(b, tensor.Shape{1, 16, 16}, 1); err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	if _, err := m.Fit(train, nn.FitConfig{Epochs: 3, BatchSize: 16,
		Loss: nn.CrossEntropyLoss(), Optimizer: nn.NewSGD(tensor.SGDParams{LR: 0.05, Momentum: 0.9}), Shuffle: true, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "model.safetensors")
	if err := m.SaveSafetensors(model); err != nil {
		t.Fatal(err)
	}

	for _, i := range []int{0, 1, 2, 3} { // both classes
		// Dark ink on white paper, 32×32: the inverse of the test image, upscaled.
		ink := make([]float32, test.ItemLen())
		for j, v := range test.Image(i) {
			ink[j] = 1 - v
		}
		big, err := data.Resize(ink, 16, 16, 32, 32)
		if err != nil {
			t.Fatal(err)
		}
		png := filepath.Join(dir, fmt.Sprintf("paper%d.png", i))
		if err := viz.WriteGrayPNG(png, big, 32, 32, 0, 1); err != nil {
			t.Fatal(err)
		}

		// The library's documented path.
		x, err := data.ReadImage(png, m.InShape(), data.ImageOptions{})
		if err != nil {
			t.Fatal(err)
		}
		preds, err := m.Predict(x, 1)
		if err != nil {
			t.Fatal(err)
		}
		lib := fmt.Sprintf("class %d  %5.1f%%", preds[0].Class, 100*preds[0].Confidence)

		stdout, err := runCLI(t, "infer", "--model", model, png, "--backend", "cpu")
		if err != nil {
			t.Fatalf("infer: %v\n%s", err, stdout)
		}
		row := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(png) + `\s+(class \d+\s+\d+\.\d%)$`).FindStringSubmatch(stdout)
		if row == nil || row[1] != lib {
			t.Errorf("picture %d: CLI printed %q, the library gives %q\n%s", i, row, lib, stdout)
		}
		orig, err := m.Predict(test.Image(i), 1)
		if err != nil {
			t.Fatal(err)
		}
		if preds[0].Class != orig[0].Class {
			t.Errorf("picture %d: class %d, the test image it was drawn from gives %d", i, preds[0].Class, orig[0].Class)
		}
	}
}
