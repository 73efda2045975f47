package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

const inferHelp = `Usage: vkcnn infer --model DIR [flags] [INPUT...]
       vkcnn infer --model DIR --dataset mnist --split test

Loads a trained model and prints the predicted class and its confidence for
every input, or measures the model's accuracy on a dataset split.

The model is a folder written by vkcnn train (--model DIR, which holds
model.safetensors), a safetensors file saved by vkcnn (--model FILE or
--weights FILE), or weights from elsewhere such as PyTorch with their
architecture given as --spec (a spec or a spec file) and --input.

Inputs are .npy arrays of float32 or float64 holding a batch [N,1,28,28] or
[N,28,28] (any per-sample shape of the model, with or without its channel
axis, with or without the batch axis), and PNG, JPEG or GIF pictures, which
are turned to gray, scaled to [0, 1] and resized to the model input. MNIST
digits are light on a dark background: --invert auto (the default) inverts
pictures whose border is mostly light, such as a digit drawn on white paper.

--dataset evaluates the model on a split of mnist, mnist01, fashion or lines and prints
the accuracy: the same number vkcnn train reported for its test set.

--logits FILE writes the model's raw outputs [N, classes] as .npy, for the
inputs or else for the dataset split.

Examples:

  vkcnn infer --model out/cnn digit7.png digit2.jpg
  vkcnn infer --model out/cnn --logits logits.npy batch.npy
  vkcnn infer --model out/lenet5 --dataset mnist --split test
  vkcnn infer --weights model.safetensors --spec "conv(1,8,3,p1) relu maxpool(2) flatten dense(1568,10)" digit.png`

// runInfer is "vkcnn infer".
func runInfer(args []string, stdout, _ io.Writer) error {
	fs := newFlags("infer", inferHelp)
	modelPath := fs.String("model", "", "model `folder` written by vkcnn train, or its model.safetensors")
	weights := fs.String("weights", "", "safetensors `file` of weights (with --spec for files not saved by vkcnn)")
	specArg := fs.String("spec", "", "model `spec`, or a file holding it, for --weights")
	inputArg := fs.String("input", "1,28,28", "per-sample input `shape` C,H,W for --spec")
	dataset := fs.String("dataset", "", "evaluate on this dataset: mnist, mnist01, fashion or lines")
	split := fs.String("split", "test", "dataset `split`: test or train")
	dataDir := fs.String("data", "", "`folder` holding the dataset's four IDX files (default: $VKCNN_DATA/<name>, the user cache, fetched when missing)")
	seed := fs.Uint64("seed", 1, "seed of the lines dataset (the one given to vkcnn train)")
	logits := fs.String("logits", "", "write the raw outputs to this .npy `file`")
	invert := fs.String("invert", "auto", "invert pictures: auto (when the border is light), yes or no")
	bf := addBackendFlags(fs)
	inputs, err := fs.parse(args, stdout)
	if err != nil {
		return done(err)
	}
	switch {
	case *modelPath == "" && *weights == "":
		return fmt.Errorf("no model: pass --model DIR (a vkcnn train output) or --weights FILE (see vkcnn infer --help): %w", tensor.ErrParam)
	case *modelPath != "" && (*weights != "" || *specArg != ""):
		return fmt.Errorf("--model with --weights or --spec: pass either --model, or --weights (and --spec): %w", tensor.ErrParam)
	case len(inputs) == 0 && *dataset == "":
		return fmt.Errorf("nothing to do: give input files (.npy, PNG, JPEG) or --dataset (see vkcnn infer --help): %w", tensor.ErrParam)
	case *split != "test" && *split != "train":
		return fmt.Errorf("--split %q, expected test or train: %w", *split, tensor.ErrParam)
	case *invert != "auto" && *invert != "yes" && *invert != "no":
		return fmt.Errorf("--invert %q, expected auto, yes or no: %w", *invert, tensor.ErrParam)
	}
	if err := bf.check(); err != nil {
		return err
	}

	b, _, err := bf.open(stdout)
	if err != nil {
		return err
	}
	defer b.Close()
	m, err := loadModel(b, *modelPath, *weights, *specArg, *inputArg)
	if err != nil {
		return err
	}
	defer m.Free()
	if err := m.CheckFinite(); err != nil {
		return fmt.Errorf("%s: %w", modelName(*modelPath, *weights), err)
	}
	fmt.Fprintf(stdout, "model: %s, input %v, output %v\n", m, m.InShape(), m.OutShape())

	var outputs []float32
	if len(inputs) > 0 {
		x, names, err := readInputs(inputs, m.InShape(), *invert)
		if err != nil {
			return err
		}
		preds, out, err := predictAll(m, x)
		if err != nil {
			return err
		}
		if i := nn.FirstNonFinite(out); i >= 0 {
			cols := m.OutShape().Len()
			return nn.NonFiniteError("output of "+names[i/cols]+" ", m.OutShape(), i%cols, float64(out[i]))
		}
		outputs = out
		width := 0
		for _, n := range names {
			width = max(width, len(n))
		}
		for i, p := range preds {
			fmt.Fprintf(stdout, "%-*s  class %d  %5.1f%%\n", width, names[i], p.Class, 100*p.Confidence)
		}
	}
	if *dataset != "" {
		train, test, err := data.Load(*dataset, data.Options{Dir: *dataDir, Seed: *seed})
		if err != nil {
			return fmt.Errorf("dataset %s: %w", *dataset, err)
		}
		set := test
		if *split == "train" {
			set = train
		}
		if outs := m.OutShape().Len(); outs != set.Classes && !(outs == 1 && set.Classes == 2) {
			return fmt.Errorf("--dataset %s: the model has %d outputs, the dataset %d classes; expected a model trained on %s (%d outputs, or 1 for 2 classes): %w",
				*dataset, outs, set.Classes, *dataset, set.Classes, tensor.ErrShape)
		}
		res, err := m.Evaluate(set, nil, evalBatch)
		if err != nil {
			return fmt.Errorf("dataset %s %s: %w", *dataset, *split, err)
		}
		fmt.Fprintf(stdout, "%s %s accuracy %s (%d/%d)\n", *dataset, *split, percent(res.Accuracy),
			int(math.Round(res.Accuracy*float64(res.Samples))), res.Samples)
		if outputs == nil && *logits != "" {
			if outputs, err = forwardAll(m, set.Images); err != nil {
				return err
			}
			if i := nn.FirstNonFinite(outputs); i >= 0 {
				cols := m.OutShape().Len()
				return nn.NonFiniteError(fmt.Sprintf("output of %s %s sample %d ", *dataset, *split, i/cols), m.OutShape(), i%cols, float64(outputs[i]))
			}
		}
	}
	if *logits != "" {
		cols := m.OutShape().Len()
		h := nn.HostTensor{Shape: tensor.Shape{len(outputs) / cols, cols}, Data: outputs}
		if err := nn.SaveNpy(*logits, h); err != nil {
			return fmt.Errorf("--logits: %w", err)
		}
		fmt.Fprintf(stdout, "wrote %s: outputs %v\n", *logits, h.Shape)
	}
	return nil
}

// modelName names the model's file in messages: --model or --weights.
func modelName(modelPath, weights string) string {
	if modelPath != "" {
		return "--model " + modelPath
	}
	return "--weights " + weights
}

// loadModel loads the model from --model, or from --weights with --spec and
// --input.
func loadModel(b tensor.Backend, modelPath, weights, specArg, inputArg string) (*nn.Sequential, error) {
	if modelPath != "" {
		path := modelPath
		if st, err := os.Stat(path); err == nil && st.IsDir() {
			path = filepath.Join(path, "model.safetensors")
		}
		m, err := nn.LoadModel(path, b)
		if err != nil {
			return nil, fmt.Errorf("--model: %w", err)
		}
		return m, nil
	}
	if specArg == "" {
		m, err := nn.LoadModel(weights, b)
		if err != nil {
			return nil, fmt.Errorf("--weights: %w (pass --spec and --input for weights not saved by vkcnn)", err)
		}
		return m, nil
	}
	spec, _, err := readSpecArg("--spec", specArg)
	if err != nil {
		return nil, err
	}
	m, err := nn.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("--spec: %w", err)
	}
	var in tensor.Shape
	for _, f := range strings.Split(inputArg, ",") {
		d, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("--input %q: %q is not an integer, expected a shape such as 1,28,28: %w", inputArg, f, tensor.ErrParam)
		}
		in = append(in, d)
	}
	if err := m.Build(b, in, 0); err != nil {
		return nil, fmt.Errorf("--spec with --input %s: %w", inputArg, err)
	}
	if err := m.LoadSafetensors(weights); err != nil {
		m.Free()
		return nil, fmt.Errorf("--weights: %w", err)
	}
	return m, nil
}

// readInputs reads the input files into samples of shape in, and names each
// sample for the report.
func readInputs(paths []string, in tensor.Shape, invert string) ([]float32, []string, error) {
	var x []float32
	var names []string
	for _, p := range paths {
		if strings.EqualFold(filepath.Ext(p), ".npy") {
			h, err := nn.LoadNpy(p)
			if err != nil {
				return nil, nil, err
			}
			n, err := npySamples(h.Shape, in)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", p, err)
			}
			if d, ok := h.Data.([]float64); ok {
				if i := nn.FirstNonFinite(d); i >= 0 {
					return nil, nil, nn.NonFiniteError(p, h.Shape, i, d[i])
				}
			}
			v := float32s(h) // float64 beyond float32's range becomes ±Inf
			if i := nn.FirstNonFinite(v); i >= 0 {
				return nil, nil, nn.NonFiniteError(p, h.Shape, i, float64(v[i]))
			}
			x = append(x, v...)
			for i := range n {
				names = append(names, fmt.Sprintf("%s[%d]", p, i))
			}
			continue
		}
		img, err := readPicture(p, in, invert)
		if err != nil {
			return nil, nil, err
		}
		x = append(x, img...)
		names = append(names, p)
	}
	return x, names, nil
}

// npySamples returns how many samples of shape in an array of the given shape
// holds: [N]+in, or in itself, where a leading channel axis of 1 may be left
// out. Anything else is a tensor.ErrShape error.
func npySamples(shape, in tensor.Shape) (int, error) {
	forms := []tensor.Shape{in}
	if len(in) > 1 && in[0] == 1 {
		forms = append(forms, in[1:])
	}
	for _, f := range forms {
		if shape.Equal(f) {
			return 1, nil
		}
		if len(shape) == len(f)+1 && shape[1:].Equal(f) {
			return shape[0], nil
		}
	}
	want := "[N " + strings.TrimPrefix(in.String(), "[")
	if len(forms) > 1 {
		want += " or [N " + strings.TrimPrefix(forms[1].String(), "[")
	}
	return 0, fmt.Errorf("array of shape %v, expected %s for input %v: %w", shape, want, in, tensor.ErrShape)
}

// readPicture reads a picture as one sample of shape in through the
// library's preprocessing (data.ReadImage): gray or RGB values in [0, 1],
// inverted as --invert says, resized to the model input.
func readPicture(path string, in tensor.Shape, invert string) ([]float32, error) {
	pol, err := data.ParsePolarity(invert)
	if err != nil {
		return nil, fmt.Errorf("--invert: %w", err)
	}
	if len(in) != 3 || (in[0] != 1 && in[0] != 3) {
		return nil, fmt.Errorf("%s: pictures are gray or RGB images, but the model input is %v, expected [1 H W] or [3 H W]: %w", path, in, tensor.ErrShape)
	}
	return data.ReadImage(path, in, data.ImageOptions{Polarity: pol})
}
