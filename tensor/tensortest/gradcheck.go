package tensortest

import (
	"fmt"
	"math"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// Gradient check constants (see the package documentation).
const (
	// gradEps is the central-difference step, 2^−20 ≈ 9.5e-7: a power of
	// two, so that x ± ε is exact for the dyadic inputs.
	gradEps = 1.0 / (1 << 20)
	// gradMaxRel bounds the relative error of every gradient element.
	gradMaxRel = 1e-6
	// gradFloor is the smallest denominator of the relative error.
	gradFloor = 1e-8
)

// numGrad returns the central-difference gradient of the scalar Σ_j r_j·f(x)_j:
// n_i = Σ_j r_j·(f(x + ε·e_i)_j − f(x − ε·e_i)_j)/(2ε). Differencing output by
// output before summing keeps the outputs that do not depend on x_i out of
// the rounding error.
func numGrad(x, r []float64, f func(x []float64) []float64) []float64 {
	xp := append([]float64(nil), x...)
	g := make([]float64, len(x))
	for i := range x {
		xp[i] = x[i] + gradEps
		yp := f(xp)
		xp[i] = x[i] - gradEps
		ym := f(xp)
		xp[i] = x[i]
		var s float64
		for j, rj := range r {
			s += rj * (yp[j] - ym[j])
		}
		g[i] = s / (2 * gradEps)
	}
	return g
}

// relErr is |a − n| / max(|a|, |n|, gradFloor).
func relErr(a, n float64) float64 {
	return math.Abs(a-n) / math.Max(math.Max(math.Abs(a), math.Abs(n)), gradFloor)
}

// gradCompare fails t for every element whose relative error reaches
// gradMaxRel (the first few are named) and logs the largest error.
func gradCompare(t testing.TB, what string, analytic, numeric []float64) {
	t.Helper()
	if len(analytic) != len(numeric) {
		t.Errorf("%s: analytic gradient has %d elements, numeric %d", what, len(analytic), len(numeric))
		return
	}
	worst, bad := 0.0, 0
	for i := range analytic {
		e := relErr(analytic[i], numeric[i])
		if math.IsNaN(e) || e >= gradMaxRel {
			if bad++; bad <= 3 {
				t.Errorf("%s: element %d: analytic %.12g, numeric %.12g, relative error %.3g ≥ %g",
					what, i, analytic[i], numeric[i], e, gradMaxRel)
			}
		}
		if !(e <= worst) {
			worst = e
		}
	}
	if bad > 3 {
		t.Errorf("%s: %d of %d elements out of tolerance", what, bad, len(analytic))
	}
	t.Logf("%s: %d elements, max relative error %.3g", what, len(analytic), worst)
}

// must ends the test when a forward op fails.
func (h *harness) must(op string, err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatalf("%s: %v", op, err)
	}
}

// forward returns f for numGrad: it uploads x into in, runs op and downloads out.
func (h *harness) forward(in, out *tensor.Tensor, name string, op func() error) func([]float64) []float64 {
	return func(x []float64) []float64 {
		h.upload(in, x)
		h.must(name, op())
		return h.read(out)
	}
}

// GradCheck compares every backward op with central differences of the
// backend's own forward ops (see the package documentation): convolution
// (input, kernel, bias), max and average pooling, global average pooling,
// matmul (all transposes), add bias, ReLU, leaky ReLU, sigmoid, tanh, SiLU,
// softmax, the three losses and batch normalization (input, gamma, beta). It runs in Float64 only and skips otherwise.
func GradCheck(t *testing.T, b tensor.Backend, dt tensor.DType) {
	if dt != tensor.Float64 || !b.Caps().Supports(tensor.Float64) {
		t.Skipf("gradient checks run in float64 only (dtype %v, backend dtypes %v)", dt, b.Caps().DTypes)
	}
	t.Run("Conv2D", func(t *testing.T) { gradConv(t, b) })
	t.Run("Pool2D", func(t *testing.T) { gradPool(t, b) })
	t.Run("GlobalAvgPool", func(t *testing.T) { gradGlobalAvgPool(t, b) })
	t.Run("MatMul", func(t *testing.T) { gradMatMul(t, b) })
	t.Run("AddBias", func(t *testing.T) { gradAddBias(t, b) })
	t.Run("Activations", func(t *testing.T) { gradActivations(t, b) })
	t.Run("Softmax", func(t *testing.T) { gradSoftmax(t, b) })
	t.Run("Losses", func(t *testing.T) { gradLosses(t, b) })
	t.Run("BatchNorm", func(t *testing.T) { gradBatchNorm(t, b) })
}

const gradSeed = 0x6ad

func gradConv(t *testing.T, b tensor.Backend) {
	one := [2]int{1, 1}
	cases := []ConvCase{
		{N: 2, C: 3, H: 5, W: 6, K: 4, KH: 3, KW: 3, Stride: one, Pad: one, Dilation: one, Groups: 1, Bias: true},
		{N: 1, C: 4, H: 7, W: 6, K: 2, KH: 3, KW: 2, Stride: [2]int{2, 1}, Pad: [2]int{1, 0}, Dilation: [2]int{2, 1}, Groups: 2, Bias: true},
		{N: 2, C: 3, H: 6, W: 5, K: 3, KH: 2, KW: 2, Stride: [2]int{3, 3}, Dilation: one, Groups: 3, Bias: true},
		{N: 1, C: 2, H: 4, W: 5, K: 3, KH: 1, KW: 1, Stride: [2]int{2, 2}, Dilation: one, Groups: 1, Bias: true},
	}
	r := newRand(gradSeed)
	for i, c := range cases {
		h := newHarness(named(t, "seed %#x case %d (%v)", gradSeed, i, c), b, tensor.Float64)
		ys := c.yShape()
		x, w := dyadic(r, c.N*c.C*c.H*c.W), dyadic(r, c.K*(c.C/c.Groups)*c.KH*c.KW)
		bias, dy := dyadic(r, c.K), dyadic(r, tensor.Shape(ys).Len())
		xt, wt, bt := h.from(x, c.xShape()...), h.from(w, c.wShape()...), h.from(bias, c.K)
		yt, dyt := h.zeros(ys...), h.from(dy, ys...)
		p := c.params()
		conv := func() error { return b.Conv2D(yt, xt, wt, bt, p) }

		dx, dw, db := h.zeros(c.xShape()...), h.zeros(c.wShape()...), h.zeros(c.K)
		h.must("conv2d input gradient", b.Conv2DInputGrad(dx, dyt, wt, p))
		h.must("conv2d kernel gradient", b.Conv2DKernelGrad(dw, xt, dyt, p))
		h.must("bias gradient", b.BiasGrad(db, dyt))
		gradCompare(h.t, "conv2d input gradient", h.read(dx), numGrad(x, dy, h.forward(xt, yt, "conv2d", conv)))
		h.upload(xt, x)
		gradCompare(h.t, "conv2d kernel gradient", h.read(dw), numGrad(w, dy, h.forward(wt, yt, "conv2d", conv)))
		h.upload(wt, w)
		gradCompare(h.t, "conv2d bias gradient", h.read(db), numGrad(bias, dy, h.forward(bt, yt, "conv2d", conv)))
		h.release()
	}
}

// distinct returns n distinct multiples of 1/64 in random order, so that
// pooling maxima have no ties within 1/64 ≫ ε.
func distinct(n int) []float64 {
	r := newRand(gradSeed + uint64(n))
	v := make([]float64, n)
	for i, k := range r.Perm(n) {
		v[i] = float64(k-n/2) / 64
	}
	return v
}

func gradPool(t *testing.T, b tensor.Backend) {
	r := newRand(gradSeed + 1)
	for i, c := range []PoolCase{
		{N: 1, C: 2, H: 5, W: 6, Window: [2]int{3, 3}, Stride: [2]int{2, 2}, Pad: [2]int{1, 1}},
		{N: 2, C: 1, H: 4, W: 4, Window: [2]int{2, 2}, Stride: [2]int{2, 2}},
		{N: 1, C: 1, H: 5, W: 7, Window: [2]int{2, 3}, Stride: [2]int{3, 2}, Pad: [2]int{1, 1}},
		{N: 1, C: 2, H: 3, W: 3, Window: [2]int{2, 2}, Stride: [2]int{1, 1}, Pad: [2]int{1, 1}},
	} {
		for _, exclude := range []bool{false, true} {
			c.ExcludePad = exclude
			h := newHarness(named(t, "seed %#x case %d (%v)", gradSeed, i, c), b, tensor.Float64)
			xs, ys := c.xShape(), c.yShape()
			x, dy := distinct(tensor.Shape(xs).Len()), dyadic(r, tensor.Shape(ys).Len())
			xt, yt, dyt, dx := h.from(x, xs...), h.zeros(ys...), h.from(dy, ys...), h.zeros(xs...)
			p := c.params()
			if !exclude { // max pooling has no divisor
				h.must("max pool backward", b.MaxPool2DBackward(dx, dyt, xt, p))
				gradCompare(h.t, "max pool gradient", h.read(dx),
					numGrad(x, dy, h.forward(xt, yt, "max pool", func() error { return b.MaxPool2D(yt, xt, p) })))
			}
			h.must("average pool backward", b.AvgPool2DBackward(dx, dyt, p))
			gradCompare(h.t, "average pool gradient", h.read(dx),
				numGrad(x, dy, h.forward(xt, yt, "average pool", func() error { return b.AvgPool2D(yt, xt, p) })))
			h.release()
		}
	}
}

func gradGlobalAvgPool(t *testing.T, b tensor.Backend) {
	r := newRand(gradSeed + 2)
	h := newHarness(t, b, tensor.Float64)
	xs := []int{2, 3, 3, 4}
	x, dy := dyadic(r, 72), dyadic(r, 6)
	xt, yt, dyt, dx := h.from(x, xs...), h.zeros(2, 3), h.from(dy, 2, 3), h.zeros(xs...)
	h.must("global average pool backward", b.GlobalAvgPool2DBackward(dx, dyt))
	gradCompare(t, "global average pool gradient", h.read(dx),
		numGrad(x, dy, h.forward(xt, yt, "global average pool", func() error { return b.GlobalAvgPool2D(yt, xt) })))
}

func gradMatMul(t *testing.T, b tensor.Backend) {
	r := newRand(gradSeed + 3)
	const m, n, k = 3, 4, 5
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			h := newHarness(named(t, "transA %v transB %v", ta, tb), b, tensor.Float64)
			as, bs := []int{m, k}, []int{k, n}
			if ta {
				as = []int{k, m}
			}
			if tb {
				bs = []int{n, k}
			}
			av, bv, dc := dyadic(r, m*k), dyadic(r, k*n), dyadic(r, m*n)
			at, bt, ct, dct := h.from(av, as...), h.from(bv, bs...), h.zeros(m, n), h.from(dc, m, n)
			da, db := h.zeros(as...), h.zeros(bs...)
			// dop(A) = dC·op(B)ᵀ and dop(B) = op(A)ᵀ·dC, stored transposed
			// when the operand is.
			if ta {
				h.must("matmul", b.MatMul(da, bt, dct, tb, true))
			} else {
				h.must("matmul", b.MatMul(da, dct, bt, false, !tb))
			}
			if tb {
				h.must("matmul", b.MatMul(db, dct, at, true, ta))
			} else {
				h.must("matmul", b.MatMul(db, at, dct, !ta, false))
			}
			mm := func() error { return b.MatMul(ct, at, bt, ta, tb) }
			gradCompare(h.t, "matmul gradient of a", h.read(da), numGrad(av, dc, h.forward(at, ct, "matmul", mm)))
			h.upload(at, av)
			gradCompare(h.t, "matmul gradient of b", h.read(db), numGrad(bv, dc, h.forward(bt, ct, "matmul", mm)))
			h.release()
		}
	}
}

func gradAddBias(t *testing.T, b tensor.Backend) {
	r := newRand(gradSeed + 4)
	for _, s := range [][]int{{4, 3}, {2, 3, 2, 2}} {
		h := newHarness(named(t, "x %v", s), b, tensor.Float64)
		n := tensor.Shape(s).Len()
		x, bias, dy := dyadic(r, n), dyadic(r, s[1]), dyadic(r, n)
		xt, bt, yt, dyt, db := h.from(x, s...), h.from(bias, s[1]), h.zeros(s...), h.from(dy, s...), h.zeros(s[1])
		add := func() error { return b.AddBias(yt, xt, bt) }
		// The input gradient of a bias is the output gradient itself.
		gradCompare(h.t, "add bias input gradient", dy, numGrad(x, dy, h.forward(xt, yt, "add bias", add)))
		h.upload(xt, x)
		h.must("bias gradient", b.BiasGrad(db, dyt))
		gradCompare(h.t, "add bias bias gradient", h.read(db), numGrad(bias, dy, h.forward(bt, yt, "add bias", add)))
		h.release()
	}
}

func gradActivations(t *testing.T, b tensor.Backend) {
	r := newRand(gradSeed + 5)
	const n = 40
	h := newHarness(t, b, tensor.Float64)
	x := awayFromZero(r, n)
	for i := range x {
		x[i] *= 3 // |x| in [0.3, 3]: away from ReLU's kink, into the curves
	}
	dy := uniform(r, n, -1, 1)
	xt, yt, dyt, dx := h.from(x, n), h.zeros(n), h.from(dy, n), h.zeros(n)
	for _, a := range []struct {
		name     string
		fwd      func(y, x *tensor.Tensor) error
		bwd      func(dx, dy, in *tensor.Tensor) error
		usesOutY bool // the backward op takes the forward output, not x
	}{
		{"relu", b.ReLU, b.ReLUBackward, false},
		{"sigmoid", b.Sigmoid, b.SigmoidBackward, true},
		{"tanh", b.Tanh, b.TanhBackward, true},
		{"silu", b.SiLU, b.SiLUBackward, false},
		{"leaky relu 0.1", func(y, x *tensor.Tensor) error { return b.LeakyReLU(y, x, 0.1) },
			func(dx, dy, x *tensor.Tensor) error { return b.LeakyReLUBackward(dx, dy, x, 0.1) }, false},
		{"leaky relu -0.3", func(y, x *tensor.Tensor) error { return b.LeakyReLU(y, x, -0.3) },
			func(dx, dy, x *tensor.Tensor) error { return b.LeakyReLUBackward(dx, dy, x, -0.3) }, false},
	} {
		h.upload(xt, x)
		h.must(a.name, a.fwd(yt, xt))
		in := xt
		if a.usesOutY {
			in = yt
		}
		h.must(a.name+" backward", a.bwd(dx, dyt, in))
		gradCompare(t, a.name+" gradient", h.read(dx),
			numGrad(x, dy, h.forward(xt, yt, a.name, func() error { return a.fwd(yt, xt) })))
	}
}

func gradSoftmax(t *testing.T, b tensor.Backend) {
	r := newRand(gradSeed + 6)
	for _, s := range [][]int{{6}, {3, 5}} {
		h := newHarness(named(t, "x %v", s), b, tensor.Float64)
		n := tensor.Shape(s).Len()
		x, dy := uniform(r, n, -2, 2), uniform(r, n, -1, 1)
		xt, yt, dyt, dx := h.from(x, s...), h.zeros(s...), h.from(dy, s...), h.zeros(s...)
		h.must("softmax", b.Softmax(yt, xt))
		h.must("softmax backward", b.SoftmaxBackward(dx, dyt, yt))
		gradCompare(h.t, "softmax gradient", h.read(dx),
			numGrad(x, dy, h.forward(xt, yt, "softmax", func() error { return b.Softmax(yt, xt) })))
		h.release()
	}
}

func gradLosses(t *testing.T, b tensor.Backend) {
	r := newRand(gradSeed + 7)
	const rows, cols = 3, 5
	soft := make([]float64, rows*cols)
	oneHot := make([]float64, rows*cols)
	for i := 0; i < rows; i++ {
		oneHot[i*cols+r.IntN(cols)] = 1
		var s float64
		for c := 0; c < cols; c++ {
			soft[i*cols+c] = r.Float64()
			s += soft[i*cols+c]
		}
		for c := 0; c < cols; c++ {
			soft[i*cols+c] /= s
		}
	}
	for _, c := range []struct {
		name         string
		op           lossOp
		pred, target []float64
	}{
		{"mse loss", b.MSELoss, uniform(r, rows*cols, -2, 2), uniform(r, rows*cols, -2, 2)},
		{"bce loss", b.BCELoss, uniform(r, rows*cols, 0.1, 0.9), uniform(r, rows*cols, 0, 1)},
		{"bce loss, 0/1 targets", b.BCELoss, uniform(r, rows*cols, 0.1, 0.9), integers(r, rows*cols, 0, 1)},
		{"softmax cross entropy, soft targets", b.SoftmaxCrossEntropy, uniform(r, rows*cols, -3, 3), soft},
		{"softmax cross entropy, one-hot targets", b.SoftmaxCrossEntropy, uniform(r, rows*cols, -3, 3), oneHot},
	} {
		h := newHarness(named(t, "%s", c.name), b, tensor.Float64)
		pt, tt, loss, grad := h.from(c.pred, rows, cols), h.from(c.target, rows, cols), h.zeros(1), h.zeros(rows, cols)
		h.must(c.name, c.op(loss, grad, pt, tt))
		gradCompare(h.t, fmt.Sprintf("%s gradient", c.name), h.read(grad),
			numGrad(c.pred, []float64{1}, h.forward(pt, loss, c.name, func() error { return c.op(loss, nil, pt, tt) })))
		h.release()
	}
}

// gradBatchNorm checks BatchNormBackward against central differences of
// BatchNormTrain with respect to x, gamma and beta, on dense and image
// inputs, batch 1 and without affine parameters. The running statistics are
// left out: they are no function of the output.
func gradBatchNorm(t *testing.T, b tensor.Backend) {
	r := newRand(gradSeed + 8)
	p := tensor.BatchNormParams{Eps: 1e-3, Momentum: 0.1}
	for _, c := range []struct {
		shape  []int
		affine bool
	}{
		{[]int{4, 3}, true}, {[]int{2, 3, 2, 3}, true}, {[]int{1, 2, 3, 3}, true}, {[]int{3, 2, 5}, false},
	} {
		h := newHarness(named(t, "x %v affine %v", c.shape, c.affine), b, tensor.Float64)
		s := tensor.Shape(c.shape)
		n, ch := s.Len(), s[1]
		x, dy := uniform(r, n, -2, 2), uniform(r, n, -1, 1)
		xt, yt, dyt, dx := h.from(x, c.shape...), h.zeros(c.shape...), h.from(dy, c.shape...), h.zeros(c.shape...)
		mean, invStd := h.zeros(ch), h.zeros(ch)
		var gamma, beta []float64
		var gt, bt, dg, db *tensor.Tensor
		if c.affine {
			gamma, beta = uniform(r, ch, 0.5, 2), uniform(r, ch, -1, 1)
			gt, bt, dg, db = h.from(gamma, ch), h.from(beta, ch), h.zeros(ch), h.zeros(ch)
		}
		train := func() error { return b.BatchNormTrain(yt, mean, invStd, nil, nil, xt, gt, bt, p) }
		h.must("batch norm train", train())
		h.must("batch norm backward", b.BatchNormBackward(dx, dg, db, dyt, xt, gt, mean, invStd))
		gradCompare(h.t, "batch norm input gradient", h.read(dx), numGrad(x, dy, h.forward(xt, yt, "batch norm train", train)))
		h.upload(xt, x)
		if c.affine {
			gradCompare(h.t, "batch norm gamma gradient", h.read(dg), numGrad(gamma, dy, h.forward(gt, yt, "batch norm train", train)))
			h.upload(gt, gamma)
			gradCompare(h.t, "batch norm beta gradient", h.read(db), numGrad(beta, dy, h.forward(bt, yt, "batch norm train", train)))
		}
		h.release()
	}
}
