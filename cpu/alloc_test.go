package cpu

import (
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// TestConvNoAllocs checks that, once their pools and caches are warm, the
// convolutions and MatMul allocate nothing: every input-gradient method,
// strided, padded, pointwise, grouped and biased shapes, one thread and
// several, in both dtypes. (Their scratch memory, job state and parallel
// loops come from pools; see parallel.go, scratch.go and conv.go.) The
// average over 100 calls is taken, rounded down: internal/par starts its
// helper goroutines, up to a fixed number in the life of the process, when
// a loop finds none idle, which a loaded machine or qemu can delay past the
// first calls.
func TestConvNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops items at random")
	}
	type convCase struct {
		name       string
		x, w       tensor.Shape
		p          tensor.Conv2DParams
		bias       bool
		inputGrads []int
	}
	one := [2]int{1, 1}
	cases := []convCase{
		{"3x3p1", tensor.Shape{4, 8, 14, 14}, tensor.Shape{16, 8, 3, 3}, tensor.Conv2DParams{Stride: one, Pad: one, Dilation: one, Groups: 1}, true, []int{igForward, igCol2im}},
		{"3x3s2p1", tensor.Shape{4, 8, 15, 15}, tensor.Shape{8, 8, 3, 3}, tensor.Conv2DParams{Stride: [2]int{2, 2}, Pad: one, Dilation: one, Groups: 1}, false, []int{igAuto}},
		{"5x5s3", tensor.Shape{2, 3, 17, 17}, tensor.Shape{4, 3, 5, 5}, tensor.Conv2DParams{Stride: [2]int{3, 3}, Dilation: one, Groups: 1}, true, []int{igAuto}},
		{"1x1", tensor.Shape{4, 16, 7, 7}, tensor.Shape{8, 16, 1, 1}, tensor.Conv2DParams{Stride: one, Dilation: one, Groups: 1}, true, []int{igAuto}},
		{"grouped", tensor.Shape{2, 8, 9, 9}, tensor.Shape{8, 2, 3, 3}, tensor.Conv2DParams{Stride: one, Pad: one, Dilation: [2]int{2, 2}, Groups: 4}, true, []int{igForward, igCol2im}},
	}
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
		for _, threads := range []int{1, 3} {
			b := New(Threads(threads))
			b.colBudget = 300 // several bands per image
			alloc := func(s tensor.Shape) *tensor.Tensor {
				x, err := b.Alloc(dt, s)
				if err != nil {
					t.Fatal(err)
				}
				return x
			}
			for _, c := range cases {
				g, err := tensor.ConvGeometry(c.x, c.w, c.p)
				if err != nil {
					t.Fatal(err)
				}
				x, w, y := alloc(c.x), alloc(c.w), alloc(g.YShape())
				dx, dw, dy := alloc(c.x), alloc(c.w), alloc(g.YShape())
				var bias *tensor.Tensor
				if c.bias {
					bias = alloc(tensor.Shape{g.K})
				}
				for _, ig := range c.inputGrads {
					b.inputGrad = ig
					step := func() {
						must(t, b.Conv2D(y, x, w, bias, c.p))
						must(t, b.Conv2DInputGrad(dx, dy, w, c.p))
						must(t, b.Conv2DKernelGrad(dw, x, dy, c.p))
					}
					step()
					if a := testing.AllocsPerRun(100, step); a != 0 {
						t.Errorf("%v, %d threads, %s, input gradient method %d: %v allocations per forward + gradients, expected 0", dt, threads, c.name, ig, a)
					}
				}
			}
			ma, mb, mc := alloc(tensor.Shape{70, 90}), alloc(tensor.Shape{90, 110}), alloc(tensor.Shape{70, 110})
			mm := func() { must(t, b.MatMul(mc, ma, mb, false, false)) }
			mm()
			if a := testing.AllocsPerRun(100, mm); a != 0 {
				t.Errorf("%v, %d threads: %v allocations per MatMul, expected 0", dt, threads, a)
			}
			b.Close()
		}
	}
}

// TestOpsNoAllocs checks that the other ops of a training or evaluation step
// (batch norm, losses, argmax, softmax, pooling, activations, dropout masks,
// bias, sums and fills (gradient clipping), optimizer steps, transfers) allocate nothing once their pools are warm, in both dtypes, on
// one thread and several, averaged over 100 calls as in TestConvNoAllocs.
func TestOpsNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops items at random")
	}
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
		for _, threads := range []int{1, 3} {
			b := New(Threads(threads))
			alloc := func(s ...int) *tensor.Tensor {
				x, err := b.Alloc(dt, s)
				if err != nil {
					t.Fatal(err)
				}
				return x
			}
			// Sizes that split over the threads: 2x2 pooling of [16 8 32 32].
			x, y, dx := alloc(16, 8, 32, 32), alloc(16, 8, 32, 32), alloc(16, 8, 32, 32)
			c, c2, c3, c4 := alloc(8), alloc(8), alloc(8), alloc(8)
			pooled, dpooled := alloc(16, 8, 16, 16), alloc(16, 8, 16, 16)
			gap := alloc(16, 8)
			logits, target, grad, classes, loss := alloc(64, 10), alloc(64, 10), alloc(64, 10), alloc(64), alloc(1)
			must(t, b.Fill(target, 0.1))
			must(t, b.Fill(logits, 0.5))
			must(t, b.Fill(c3, 1))
			w, g, v1, v2 := alloc(4096), alloc(4096), alloc(4096), alloc(4096)
			host := newHostSlice(dt, 64*10)
			bn := tensor.DefaultBatchNorm()
			p2 := tensor.Pool2DParams{Window: [2]int{2, 2}, Stride: [2]int{2, 2}}
			p3 := tensor.Pool2DParams{Window: [2]int{3, 3}, Stride: [2]int{2, 2}, Pad: [2]int{1, 1}}
			pooled3 := alloc(16, 8, 16, 16)
			sgd := tensor.SGDParams{LR: 0.1, Momentum: 0.9, Nesterov: true, WeightDecay: 1e-4}
			adam := tensor.DefaultAdam()
			ops := []struct {
				name string
				f    func() error
			}{
				{"BatchNormTrain", func() error { return b.BatchNormTrain(y, c, c2, c3, c4, x, c3, c4, bn) }},
				{"BatchNormBackward", func() error { return b.BatchNormBackward(dx, c3, c4, y, x, c3, c, c2) }},
				{"BatchNormEval", func() error { return b.BatchNormEval(y, x, c3, c4, c, c3, bn) }},
				{"SoftmaxCrossEntropy", func() error { return b.SoftmaxCrossEntropy(loss, grad, logits, target) }},
				{"BCELoss", func() error { return b.BCELoss(loss, grad, target, target) }},
				{"MSELoss", func() error { return b.MSELoss(loss, grad, logits, target) }},
				{"ArgMax", func() error { return b.ArgMax(classes, logits) }},
				{"MaxPool2D", func() error { return b.MaxPool2D(pooled, x, p2) }},
				{"MaxPool2DBackward", func() error { return b.MaxPool2DBackward(dx, dpooled, x, p2) }},
				{"GlobalAvgPool2D", func() error { return b.GlobalAvgPool2D(gap, x) }},
				{"GlobalAvgPool2DBackward", func() error { return b.GlobalAvgPool2DBackward(dx, gap) }},
				{"ReLU", func() error { return b.ReLU(y, x) }},
				{"ReLUBackward", func() error { return b.ReLUBackward(dx, y, x) }},
				{"Sigmoid", func() error { return b.Sigmoid(y, x) }},
				{"SigmoidBackward", func() error { return b.SigmoidBackward(dx, y, x) }},
				{"Add", func() error { return b.Add(y, x, dx) }},
				{"Mul", func() error { return b.Mul(y, x, dx) }},
				{"Scale", func() error { return b.Scale(y, x, 0.5) }},
				{"LeakyReLU", func() error { return b.LeakyReLU(y, x, 0.1) }},
				{"LeakyReLUBackward", func() error { return b.LeakyReLUBackward(dx, y, x, 0.1) }},
				{"Tanh", func() error { return b.Tanh(y, x) }},
				{"TanhBackward", func() error { return b.TanhBackward(dx, y, x) }},
				{"SiLU", func() error { return b.SiLU(y, x) }},
				{"SiLUBackward", func() error { return b.SiLUBackward(dx, y, x) }},
				{"DropoutMask", func() error { return b.DropoutMask(y, 0.3, 7) }},
				{"Softmax", func() error { return b.Softmax(grad, logits) }},
				{"SoftmaxBackward", func() error { return b.SoftmaxBackward(grad, target, logits) }},
				{"AvgPool2D", func() error { return b.AvgPool2D(pooled, x, p2) }},
				{"AvgPool2DBackward", func() error { return b.AvgPool2DBackward(dx, dpooled, p2) }},
				{"MaxPool2D 3x3s2", func() error { return b.MaxPool2D(pooled3, x, p3) }},
				{"MaxPool2DBackward 3x3s2", func() error { return b.MaxPool2DBackward(dx, pooled3, x, p3) }},
				{"AddBias", func() error { return b.AddBias(y, x, c) }},
				{"BiasGrad", func() error { return b.BiasGrad(c, y) }},
				{"SGDStep", func() error { return b.SGDStep(w, g, v1, sgd) }},
				{"AdamStep", func() error { return b.AdamStep(w, g, v1, v2, adam, 3) }},
				{"Fill", func() error { return b.Fill(y, 0.5) }},
				{"Sum", func() error { return b.Sum(loss, x) }},
				{"Sum axes 0 2", func() error { return b.Sum(c, x, 0, 2, 3) }},
				{"Upload", func() error { return b.Upload(logits, host) }},
				{"Download", func() error { return b.Download(host, logits) }},
			}
			for _, op := range ops {
				f := func() { must(t, op.f()) }
				f()
				if a := testing.AllocsPerRun(100, f); a != 0 {
					t.Errorf("%v, %d threads: %v allocations per %s, expected 0", dt, threads, a, op.name)
				}
			}
			b.Close()
		}
	}
}

// newHostSlice returns a zeroed []float32 or []float64 of n elements as an
// any, as nn keeps its host buffers.
func newHostSlice(dt tensor.DType, n int) any {
	if dt == tensor.Float64 {
		return make([]float64, n)
	}
	return make([]float32, n)
}
