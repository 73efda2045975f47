//go:build cgo

package parity_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// The training parity run: a small CNN written directly with tensor.Backend
// ops,
//
//	conv 1→6 (3×3, pad 1) + bias → ReLU → max pool 2×2 → flatten
//	→ matmul [216 → 4] + bias → softmax cross-entropy,
//
// trained with SGD (momentum 0.9) for 50 steps on both backends from the same
// initial weights and the same batches of a synthetic 4-class task (a bright
// 4×4 patch somewhere in one quadrant of a noisy 12×12 image). The step losses must
// agree within 1e-4 relative, and the loss must fall.
const (
	trainSteps   = 50
	trainBatch   = 8
	trainClasses = 4
	trainSize    = 12
	trainFilters = 6
	trainLossTol = 1e-4
	// The task is kept hard enough that the loss stays well above 0: near 0,
	// the loss is a difference of nearly equal float32 logits and its relative
	// error says nothing about the backends.
	trainNoise  = 1.0
	trainSignal = 0.7
	trainLR     = 0.02
)

// net is the model's tensors on one backend.
type net struct {
	be                       tensor.Backend
	x, target                *tensor.Tensor // batch
	w1, b1, w2, b2           *tensor.Tensor // parameters
	v1, vb1, v2, vb2         *tensor.Tensor // momentum
	y1, r1, p1, flat, logits *tensor.Tensor // activations
	loss, dlogits, dw2, db2  *tensor.Tensor // gradients
	dflat, dp1, dr1, dw1     *tensor.Tensor
	db1                      *tensor.Tensor
	all                      []*tensor.Tensor
}

func newNet(t *testing.T, be tensor.Backend, init map[string][]float32) *net {
	t.Helper()
	n := &net{be: be}
	alloc := func(shape ...int) *tensor.Tensor {
		x, err := be.Alloc(tensor.Float32, shape)
		if err != nil {
			t.Fatalf("%s alloc %v: %v", be.Name(), shape, err)
		}
		n.all = append(n.all, x)
		return x
	}
	const pooled = trainFilters * (trainSize / 2) * (trainSize / 2)
	n.x, n.target = alloc(trainBatch, 1, trainSize, trainSize), alloc(trainBatch, trainClasses)
	n.w1, n.b1 = alloc(trainFilters, 1, 3, 3), alloc(trainFilters)
	n.w2, n.b2 = alloc(pooled, trainClasses), alloc(trainClasses)
	n.v1, n.vb1 = alloc(trainFilters, 1, 3, 3), alloc(trainFilters)
	n.v2, n.vb2 = alloc(pooled, trainClasses), alloc(trainClasses)
	n.y1, n.r1 = alloc(trainBatch, trainFilters, trainSize, trainSize), alloc(trainBatch, trainFilters, trainSize, trainSize)
	n.p1 = alloc(trainBatch, trainFilters, trainSize/2, trainSize/2)
	var err error
	if n.flat, err = n.p1.Reshape(tensor.Shape{trainBatch, pooled}); err != nil {
		t.Fatal(err)
	}
	n.logits, n.loss, n.dlogits = alloc(trainBatch, trainClasses), alloc(1), alloc(trainBatch, trainClasses)
	n.dw2, n.db2, n.dflat = alloc(pooled, trainClasses), alloc(trainClasses), alloc(trainBatch, pooled)
	if n.dp1, err = n.dflat.Reshape(n.p1.Shape()); err != nil {
		t.Fatal(err)
	}
	n.dr1, n.dw1, n.db1 = alloc(trainBatch, trainFilters, trainSize, trainSize), alloc(trainFilters, 1, 3, 3), alloc(trainFilters)
	for name, x := range map[string]*tensor.Tensor{"w1": n.w1, "b1": n.b1, "w2": n.w2, "b2": n.b2} {
		if err := be.Upload(x, init[name]); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, x := range n.all {
			x.Free()
		}
	})
	return n
}

// step runs one training step on the batch (x, target) and returns the loss,
// the one value read back per step.
func (n *net) step(x, target []float32) (float64, error) {
	be := n.be
	conv := tensor.Conv2DParams{Stride: [2]int{1, 1}, Pad: [2]int{1, 1}, Dilation: [2]int{1, 1}, Groups: 1}
	pool := tensor.Pool2DParams{Window: [2]int{2, 2}, Stride: [2]int{2, 2}}
	sgd := tensor.SGDParams{LR: trainLR, Momentum: 0.9}
	ops := []func() error{
		func() error { return be.Upload(n.x, x) },
		func() error { return be.Upload(n.target, target) },
		// Forward.
		func() error { return be.Conv2D(n.y1, n.x, n.w1, n.b1, conv) },
		func() error { return be.ReLU(n.r1, n.y1) },
		func() error { return be.MaxPool2D(n.p1, n.r1, pool) },
		func() error { return be.MatMul(n.logits, n.flat, n.w2, false, false) },
		func() error { return be.AddBias(n.logits, n.logits, n.b2) },
		func() error { return be.SoftmaxCrossEntropy(n.loss, n.dlogits, n.logits, n.target) },
		// Backward.
		func() error { return be.BiasGrad(n.db2, n.dlogits) },
		func() error { return be.MatMul(n.dw2, n.flat, n.dlogits, true, false) },
		func() error { return be.MatMul(n.dflat, n.dlogits, n.w2, false, true) },
		func() error { return be.MaxPool2DBackward(n.dr1, n.dp1, n.r1, pool) },
		func() error { return be.ReLUBackward(n.dr1, n.dr1, n.y1) },
		func() error { return be.Conv2DKernelGrad(n.dw1, n.x, n.dr1, conv) },
		func() error { return be.BiasGrad(n.db1, n.dr1) },
		// Update.
		func() error { return be.SGDStep(n.w1, n.dw1, n.v1, sgd) },
		func() error { return be.SGDStep(n.b1, n.db1, n.vb1, sgd) },
		func() error { return be.SGDStep(n.w2, n.dw2, n.v2, sgd) },
		func() error { return be.SGDStep(n.b2, n.db2, n.vb2, sgd) },
	}
	for _, op := range ops {
		if err := op(); err != nil {
			return 0, err
		}
	}
	l := make([]float32, 1)
	if err := be.Download(l, n.loss); err != nil {
		return 0, err
	}
	return float64(l[0]), nil
}

// trainBatchData draws a batch of the synthetic task: each image is noise
// plus a bright 4×4 patch in the quadrant of its class.
func trainBatchData(r *rand.Rand) (x, target []float32) {
	x = make([]float32, trainBatch*trainSize*trainSize)
	target = make([]float32, trainBatch*trainClasses)
	for i := 0; i < trainBatch; i++ {
		c := r.IntN(trainClasses)
		target[i*trainClasses+c] = 1
		img := x[i*trainSize*trainSize:][:trainSize*trainSize]
		for k := range img {
			img[k] = float32(trainNoise * r.NormFloat64())
		}
		// The patch sits anywhere in its quadrant.
		h0, w0 := (c/2)*trainSize/2+r.IntN(3), (c%2)*trainSize/2+r.IntN(3)
		for h := h0; h < h0+4; h++ {
			for w := w0; w < w0+4; w++ {
				img[h*trainSize+w] += trainSignal
			}
		}
	}
	return x, target
}

func TestParityTraining(t *testing.T) {
	p := newPair(t)
	r := rand.New(rand.NewPCG(21, 1))
	he := func(n, fanIn int) []float32 {
		v := make([]float32, n)
		lim := math.Sqrt(6 / float64(fanIn))
		for i := range v {
			v[i] = float32(lim * (2*r.Float64() - 1))
		}
		return v
	}
	const pooled = trainFilters * (trainSize / 2) * (trainSize / 2)
	init := map[string][]float32{
		"w1": he(trainFilters*9, 9), "b1": make([]float32, trainFilters),
		"w2": he(pooled*trainClasses, pooled), "b2": make([]float32, trainClasses),
	}
	cn, gn := newNet(t, p.c, init), newNet(t, p.g, init)
	var first, last []float64
	for s := 0; s < trainSteps; s++ {
		x, target := trainBatchData(r)
		lc, err := cn.step(x, target)
		if err != nil {
			t.Fatalf("step %d on cpu: %v", s, err)
		}
		lg, err := gn.step(x, target)
		if err != nil {
			t.Fatalf("step %d on vulkan: %v", s, err)
		}
		if d := math.Abs(lg - lc); !(d <= trainLossTol*math.Abs(lc)) {
			t.Fatalf("step %d: vulkan loss %.9g, cpu loss %.9g: relative difference %.3g above %g",
				s, lg, lc, d/math.Abs(lc), trainLossTol)
		}
		if s < 5 {
			first = append(first, lc)
		}
		if s >= trainSteps-5 {
			last = append(last, lc)
		}
		if s%5 == 0 || s == trainSteps-1 {
			t.Logf("step %2d: loss cpu %.7f vulkan %.7f", s, lc, lg)
		}
	}
	mean := func(v []float64) float64 {
		var s float64
		for _, x := range v {
			s += x
		}
		return s / float64(len(v))
	}
	if mean(last) > 0.5*mean(first) {
		t.Errorf("the loss did not fall: mean of the first 5 steps %.4f, of the last 5 %.4f", mean(first), mean(last))
	}
}
