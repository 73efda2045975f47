package nn_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// scaleOnDevice is a DeviceTransform that scales the uploaded batch on the
// backend and counts its calls.
type scaleOnDevice struct {
	factor float64
	calls  *int
}

func (s scaleOnDevice) OnDevice() bool { return true }
func (s scaleOnDevice) Apply(b *nn.Batch) error {
	if b.X != nil || b.Tensor == nil || b.Tensor.Dim(0) != len(b.Labels) {
		return errors.New("device transform without the uploaded batch")
	}
	*s.calls++
	return b.Tensor.Backend().Scale(b.Tensor, b.Tensor, s.factor)
}

// TestTransformsReproducibleAndResumable trains with host and device
// transforms: two runs with the same seed agree bit for bit, a run stopped
// after epoch 2 and resumed from its checkpoint ends like the uninterrupted
// one, and the transforms change the training (a device scale by 0 leaves
// only the biases to learn from).
func TestTransformsReproducibleAndResumable(t *testing.T) {
	b := cpu64(t)
	dir := t.TempDir()
	train := blobs(40, 1)
	calls := 0
	run := func(tfs []nn.Transform, ckpt string, resume *nn.TrainState, stopAfter int) ([]nn.EpochInfo, map[string]nn.HostTensor) {
		m := buildModel(t, b, tensor.Float32, "conv(1,3,3,p1) relu maxpool(2) flatten dense(27,3)", tensor.Shape{1, 6, 6}, 7)
		hist, err := m.Fit(train, nn.FitConfig{Epochs: 4, BatchSize: 8, Loss: nn.CrossEntropyLoss(),
			Optimizer: nn.NewSGD(tensor.SGDParams{LR: 0.05, Momentum: 0.9}), Shuffle: true, Seed: 5,
			Transforms: tfs, Checkpoint: ckpt, Resume: resume,
			OnEpoch: func(e nn.EpochInfo) error {
				if e.Epoch == stopAfter {
					return nn.ErrStop
				}
				return nil
			}})
		if err != nil {
			t.Fatal(err)
		}
		sd, err := m.StateDict()
		if err != nil {
			t.Fatal(err)
		}
		return hist, sd
	}
	tfs := []nn.Transform{nn.RandomCrop(1), nn.HorizontalFlip(0.5), nn.Normalize([]float32{0.2}, []float32{0.5}), scaleOnDevice{1.5, &calls}}
	h1, sd1 := run(tfs, "", nil, 0)
	if calls != 4*5 {
		t.Errorf("device transform called %d times, want 20 (4 epochs × 5 steps)", calls)
	}
	h2, sd2 := run(tfs, "", nil, 0)
	plain, _ := run(nil, "", nil, 0)
	ckpt := filepath.Join(dir, "part.ckpt")
	run(tfs, ckpt, nil, 2)
	st, err := nn.ReadCheckpoint(ckpt)
	if err != nil {
		t.Fatal(err)
	}
	h3, sd3 := run(tfs, ckpt, st, 0)
	same := func(a, b []nn.EpochInfo) bool {
		for i := range a {
			if math.Float64bits(a[i].Loss) != math.Float64bits(b[i].Loss) || a[i].Accuracy != b[i].Accuracy {
				return false
			}
		}
		return len(a) == len(b)
	}
	if !same(h1, h2) || !same(h1, h3) {
		t.Errorf("runs with transforms differ:\n%v\n%v\nresumed %v", h1, h2, h3)
	}
	for k, v := range sd1 {
		a, b2, c := v.Float64s(), sd2[k].Float64s(), sd3[k].Float64s()
		for i := range a {
			if a[i] != b2[i] || a[i] != c[i] {
				t.Fatalf("%s[%d]: %g, repeated %g, resumed %g", k, i, a[i], b2[i], c[i])
			}
		}
	}
	if same(h1, plain) {
		t.Error("transforms changed nothing")
	}
	calls = 0
	zero, _ := run([]nn.Transform{scaleOnDevice{0, &calls}}, "", nil, 0)
	if calls != 20 || zero[3].Loss < 0.9*math.Log(3) {
		t.Errorf("inputs scaled to 0 on the device: %d calls, final loss %g, want 20 calls and about ln 3", calls, zero[3].Loss)
	}
}

func TestTransformValues(t *testing.T) {
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8} // two images [1 2 2]... as one [2 2 2]
	b := &nn.Batch{X: x, Sample: tensor.Shape{2, 2, 2}, Rand: nil}
	if err := nn.Normalize([]float32{1, 5}, []float32{1, 2}).Apply(b); err != nil {
		t.Fatal(err)
	}
	want := []float32{0, 1, 2, 3, 0, 0.5, 1, 1.5}
	for i := range want {
		if x[i] != want[i] {
			t.Fatalf("normalized %v, want %v", x, want)
		}
	}
	y := []float32{1, 2, 3, 4, 5, 6}
	fb := &nn.Batch{X: y, Sample: tensor.Shape{1, 2, 3}, Rand: newRand(1)}
	if err := nn.HorizontalFlip(1).Apply(fb); err != nil {
		t.Fatal(err)
	}
	if y[0] != 3 || y[2] != 1 || y[3] != 6 || y[5] != 4 || y[1] != 2 {
		t.Errorf("flipped %v, want [3 2 1 6 5 4]", y)
	}
	for _, c := range []struct {
		tf   nn.Transform
		want error
	}{
		{nn.HorizontalFlip(1.5), tensor.ErrParam},
		{nn.Normalize([]float32{0, 0, 0}, []float32{1, 1, 1}), tensor.ErrParam},
		{nn.Normalize([]float32{0}, []float32{0}), tensor.ErrParam},
		{nn.RandomCrop(5), tensor.ErrParam},
	} {
		if err := c.tf.Apply(&nn.Batch{X: make([]float32, 8), Sample: tensor.Shape{2, 2, 2}, Rand: newRand(2)}); !errors.Is(err, c.want) {
			t.Errorf("%T %v: %v, want %v", c.tf, c.tf, err, c.want)
		}
	}
	if err := nn.HorizontalFlip(0.5).Apply(&nn.Batch{X: make([]float32, 7), Sample: tensor.Shape{2, 2, 2}, Rand: newRand(2)}); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("flip of a partial image: %v", err)
	}
}

// newRand returns a seeded generator.
func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 9)) }

// TestDeviceTransformBackends runs a DeviceTransform on every backend: it gets
// the uploaded batch on that backend, and its effect (inputs scaled to 0, so
// only the biases learn) shows in the loss.
func TestDeviceTransformBackends(t *testing.T) {
	train := blobs(24, 1)
	for _, tb := range backends() {
		t.Run(tb.name, func(t *testing.T) {
			b := tb.open(t)
			m, err := nn.Parse("conv(1,2,3,p1) relu flatten dense(72,3)")
			if err != nil {
				t.Fatal(err)
			}
			if err := m.BuildDType(b, tb.dt, tensor.Shape{1, 6, 6}, 3); err != nil {
				t.Fatal(err)
			}
			defer m.Free()
			calls := 0
			hist, err := m.Fit(train, nn.FitConfig{Epochs: 2, BatchSize: 8, Loss: nn.CrossEntropyLoss(),
				Optimizer: nn.NewSGD(tensor.SGDParams{LR: 0.1}), Shuffle: true, Seed: 1,
				Transforms: []nn.Transform{nn.RandomShift(1), scaleOnDevice{0, &calls}}})
			if err != nil {
				t.Fatal(err)
			}
			if calls != 6 || math.Abs(hist[1].Loss-math.Log(3)) > 0.05 {
				t.Errorf("%d device calls, loss %g; want 6 calls and about ln 3 = %.4f", calls, hist[1].Loss, math.Log(3))
			}
		})
	}
}
