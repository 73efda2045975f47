package main

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/vkcnn/vkcnn"
	"github.com/vkcnn/vkcnn/gpu"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// evalBatch is the batch size of evaluation and inference, the same in train
// and infer so that both compute the test accuracy identically.
const evalBatch = 256

// backendFlags are the --backend and --device flags shared by the commands
// that compute.
type backendFlags struct {
	kind, device *string
}

// addBackendFlags registers --backend and --device on fs.
func addBackendFlags(fs *flagSet) backendFlags {
	return backendFlags{
		kind: fs.String("backend", "", "compute `backend`: auto (a hardware Vulkan GPU if there is one, else the CPU), cpu or vulkan (a software device such as lavapipe too); default $VKCNN_BACKEND, else auto"),
		device: fs.String("device", "", "Vulkan `device` by index (see vkcnn devices) or by part of its name; default $"+
			"VKCNN_DEVICE, else the best device"),
	}
}

// check validates --backend, so that a typo fails before any work.
func (f backendFlags) check() error {
	if *f.kind == "" {
		return nil
	}
	if _, err := vkcnn.ParseKind(*f.kind); err != nil {
		return fmt.Errorf("--backend: %w", err)
	}
	return nil
}

// open opens the chosen backend and prints which one it is and why; vulkan
// options (such as the live window's extensions) go to a Vulkan backend.
func (f backendFlags) open(stdout io.Writer, vulkan ...gpu.Option) (tensor.Backend, vkcnn.Info, error) {
	if err := f.check(); err != nil {
		return nil, vkcnn.Info{}, err
	}
	opts := []vkcnn.Option{vkcnn.WithVulkanOptions(vulkan...)}
	if *f.kind != "" {
		k, _ := vkcnn.ParseKind(*f.kind)
		opts = append(opts, vkcnn.WithBackend(k))
	}
	if *f.device != "" {
		opts = append(opts, vkcnn.WithDevice(*f.device))
	}
	b, info, err := vkcnn.Open(opts...)
	if err != nil {
		return nil, info, err
	}
	fmt.Fprintf(stdout, "backend: %s (%s)\n", info.Backend, info.Reason)
	return b, info, nil
}

// float32s returns a host tensor's data as float32 (converting float64).
func float32s(h nn.HostTensor) []float32 {
	if d, ok := h.Data.([]float32); ok {
		return d
	}
	v := h.Float64s()
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// forwardAll runs m in evaluation mode over x (samples laid out as
// data.Dataset.Images) in batches of evalBatch (Sequential.Outputs) and returns the
// raw outputs as float32, one row of m.OutShape().Len() values per sample.
func forwardAll(m *nn.Sequential, x []float32) ([]float32, error) {
	out, err := m.Outputs(x, evalBatch)
	if err != nil {
		return nil, err
	}
	return float32s(nn.HostTensor{Data: out}), nil
}

// predictAll returns the prediction for every sample of x.
func predictAll(m *nn.Sequential, x []float32) ([]nn.Prediction, []float32, error) {
	out, err := forwardAll(m, x)
	if err != nil {
		return nil, nil, err
	}
	cols := m.OutShape().Len()
	preds := make([]nn.Prediction, len(out)/cols)
	for i := range preds {
		row := make([]float64, cols) // becomes the prediction's Probs
		for j := range row {
			row[j] = float64(out[i*cols+j])
		}
		preds[i] = m.Interpret(row)
	}
	return preds, out, nil
}

// isTerminal reports whether w is a terminal (a progress bar is drawn only
// there by default).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// percent formats a fraction as "97.35%".
func percent(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) }
