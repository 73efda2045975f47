package nn_test

import (
	"math"
	"testing"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// TestFitIsDeterministic trains the same model twice from the same seed on
// every backend (and on the CPU with 1 and 3 threads) and requires the final
// weights to be identical bit for bit: the backends must not let scheduling
// change the order of any sum.
func TestFitIsDeterministic(t *testing.T) {
	train := blobs(200, 7)
	run := func(t *testing.T, b tensor.Backend, dt tensor.DType) []float64 {
		m := buildModel(t, b, dt, "conv(1,8,3,p1) relu maxpool(2) conv(8,8,3,p1) relu flatten dense(72,3)", tensor.Shape{1, 6, 6}, 11)
		opt := nn.NewAdam(tensor.DefaultAdam())
		defer opt.Close()
		if _, err := m.Fit(train, nn.FitConfig{Epochs: 2, BatchSize: 50, Loss: nn.CrossEntropyLoss(),
			Optimizer: opt, Shuffle: true, Seed: 3}); err != nil {
			t.Fatal(err)
		}
		var w []float64
		for _, p := range m.Params() {
			v, err := p.Get()
			if err != nil {
				t.Fatal(err)
			}
			w = append(w, v...)
		}
		return w
	}
	same := func(t *testing.T, a, b []float64) {
		t.Helper()
		for i := range a {
			if math.Float64bits(a[i]) != math.Float64bits(b[i]) {
				t.Fatalf("weight %d differs between two runs with the same seed: %v vs %v", i, a[i], b[i])
			}
		}
	}
	for _, tb := range backends() {
		t.Run(tb.name, func(t *testing.T) {
			b := tb.open(t)
			same(t, run(t, b, tb.dt), run(t, b, tb.dt))
		})
	}
	for _, threads := range []int{1, 3} {
		b := cpu.New(cpu.Threads(threads))
		defer b.Close()
		a := run(t, b, tensor.Float32)
		same(t, a, run(t, b, tensor.Float32))
	}
}
