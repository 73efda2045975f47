//go:build cgo

package gpu_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/gpu"
	"github.com/vkcnn/vkcnn/internal/vktest"
	"github.com/vkcnn/vkcnn/tensor"
)

// Small hand-checked cases for each shader family of the ops. The full
// conformance suite runs in conformance_test.go and CPU parity in
// parity_test/.

// opPut uploads v into a new float32 tensor of the given shape.
func opPut(t *testing.T, b *gpu.Backend, shape tensor.Shape, v []float32) *tensor.Tensor {
	t.Helper()
	x, err := b.Alloc(tensor.Float32, shape)
	if err != nil {
		t.Fatalf("alloc %v: %v", shape, err)
	}
	if v != nil {
		if err := b.Upload(x, v); err != nil {
			t.Fatalf("upload %v: %v", shape, err)
		}
	}
	return x
}

// opGet downloads x.
func opGet(t *testing.T, b *gpu.Backend, x *tensor.Tensor) []float32 {
	t.Helper()
	v := make([]float32, x.Len())
	if err := b.Download(v, x); err != nil {
		t.Fatalf("download %v: %v", x, err)
	}
	return v
}

// opNear fails unless |got[i] − want[i]| ≤ rel·|want[i]| + abs for every i.
func opNear(t *testing.T, what string, got []float32, want []float64, rel, abs float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d values, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range want {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= rel*math.Abs(want[i])+abs) {
			if bad < 4 {
				t.Errorf("%s[%d] = %.9g, want %.9g", what, i, got[i], want[i])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d values off", what, bad, len(want))
	}
}

// opCheck fails the test on err.
func opCheck(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func TestOpsMatMul(t *testing.T) {
	b := vktest.Open(t)
	want := []float64{58, 64, 139, 154}
	a := []float32{1, 2, 3, 4, 5, 6}     // [2 3]
	at := []float32{1, 4, 2, 5, 3, 6}    // its transpose [3 2]
	bm := []float32{7, 8, 9, 10, 11, 12} // [3 2]
	bt := []float32{7, 9, 11, 8, 10, 12} // its transpose [2 3]
	for _, tc := range []struct {
		ta, tb bool
	}{{false, false}, {true, false}, {false, true}, {true, true}} {
		av, as := a, tensor.Shape{2, 3}
		if tc.ta {
			av, as = at, tensor.Shape{3, 2}
		}
		bv, bs := bm, tensor.Shape{3, 2}
		if tc.tb {
			bv, bs = bt, tensor.Shape{2, 3}
		}
		c := opPut(t, b, tensor.Shape{2, 2}, nil)
		opCheck(t, "matmul", b.MatMul(c, opPut(t, b, as, av), opPut(t, b, bs, bv), tc.ta, tc.tb))
		opNear(t, "matmul", opGet(t, b, c), want, 0, 0)
	}

	// Several tiles with ragged edges, in each tile shape (rows × columns
	// from 16×256 to 256×16, picked by the product's shape) and with
	// transposed operands, against a float64 reference.
	r := rand.New(rand.NewPCG(1, 2))
	for i, s := range [][3]int{{70, 130, 33}, {2, 600, 5}, {30, 1000, 17}, {100, 20, 40}, {200, 10, 3}} {
		m, n, k := s[0], s[1], s[2]
		ta, tb := i%2 == 1, i%3 == 1
		av, bv := opRandom(r, m*k), opRandom(r, k*n)
		ref := make([]float64, m*n)
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				for l := 0; l < k; l++ {
					ai, bi := i*k+l, l*n+j
					if ta {
						ai = l*m + i
					}
					if tb {
						bi = j*k + l
					}
					ref[i*n+j] += float64(av[ai]) * float64(bv[bi])
				}
			}
		}
		as, bs := tensor.Shape{m, k}, tensor.Shape{k, n}
		if ta {
			as = tensor.Shape{k, m}
		}
		if tb {
			bs = tensor.Shape{n, k}
		}
		c := opPut(t, b, tensor.Shape{m, n}, nil)
		opCheck(t, "matmul", b.MatMul(c, opPut(t, b, as, av), opPut(t, b, bs, bv), ta, tb))
		opNear(t, fmt.Sprintf("matmul %v·%v", as, bs), opGet(t, b, c), ref, 1e-5, 1e-5)
	}
}

// opRandom returns n uniform values in [−1, 1).
func opRandom(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(2*r.Float64() - 1)
	}
	return v
}

func TestOpsConv2DByHand(t *testing.T) {
	b := vktest.Open(t)
	p := tensor.DefaultConv2D()
	x := opPut(t, b, tensor.Shape{1, 1, 3, 3}, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9})
	w := opPut(t, b, tensor.Shape{1, 1, 2, 2}, []float32{1, 0, 0, -1})
	bias := opPut(t, b, tensor.Shape{1}, []float32{0.5})
	y := opPut(t, b, tensor.Shape{1, 1, 2, 2}, nil)
	// y[i, j] = x[i, j] − x[i+1, j+1] + 0.5 = −3.5 everywhere.
	opCheck(t, "conv2d", b.Conv2D(y, x, w, bias, p))
	opNear(t, "conv2d", opGet(t, b, y), []float64{-3.5, -3.5, -3.5, -3.5}, 0, 0)
	opCheck(t, "conv2d without bias", b.Conv2D(y, x, w, nil, p))
	opNear(t, "conv2d without bias", opGet(t, b, y), []float64{-4, -4, -4, -4}, 0, 0)

	dy := opPut(t, b, tensor.Shape{1, 1, 2, 2}, []float32{1, 1, 1, 1})
	dx := opPut(t, b, tensor.Shape{1, 1, 3, 3}, nil)
	// dx[h, w] = Σ dy[oh, ow]·w[h−oh, w−ow].
	opCheck(t, "input grad", b.Conv2DInputGrad(dx, dy, w, p))
	opNear(t, "input grad", opGet(t, b, dx), []float64{1, 1, 0, 1, 0, -1, 0, -1, -1}, 0, 0)
	dw := opPut(t, b, tensor.Shape{1, 1, 2, 2}, nil)
	// dw[kh, kw] = Σ x[oh+kh, ow+kw].
	opCheck(t, "kernel grad", b.Conv2DKernelGrad(dw, x, dy, p))
	opNear(t, "kernel grad", opGet(t, b, dw), []float64{12, 16, 24, 28}, 0, 0)

	// Stride 2 over a 3×3 input with a 1×1 kernel: dx is 0 where no window
	// lands.
	p2 := tensor.Conv2DParams{Stride: [2]int{2, 2}, Dilation: [2]int{1, 1}, Groups: 1}
	w1 := opPut(t, b, tensor.Shape{1, 1, 1, 1}, []float32{3})
	opCheck(t, "strided input grad", b.Conv2DInputGrad(dx, opPut(t, b, tensor.Shape{1, 1, 2, 2}, []float32{1, 2, 3, 4}), w1, p2))
	opNear(t, "strided input grad", opGet(t, b, dx), []float64{3, 0, 6, 0, 0, 0, 9, 0, 12}, 0, 0)
}

// convRef computes forward, input gradient and kernel gradient of one
// convolution in float64, straight from the definition.
func convRef(g tensor.ConvGeom, x, w, dy []float32) (y, dx, dw []float64) {
	y = make([]float64, g.N*g.K*g.OH*g.OW)
	dx = make([]float64, len(x))
	dw = make([]float64, len(w))
	cg, kg := g.C/g.Groups, g.K/g.Groups
	for n := 0; n < g.N; n++ {
		for k := 0; k < g.K; k++ {
			gr := k / kg
			for oh := 0; oh < g.OH; oh++ {
				for ow := 0; ow < g.OW; ow++ {
					o := ((n*g.K+k)*g.OH+oh)*g.OW + ow
					for c := 0; c < cg; c++ {
						for kh := 0; kh < g.KH; kh++ {
							ih := oh*g.Stride[0] - g.Pad[0] + kh*g.Dilation[0]
							for kw := 0; kw < g.KW; kw++ {
								iw := ow*g.Stride[1] - g.Pad[1] + kw*g.Dilation[1]
								if ih < 0 || ih >= g.H || iw < 0 || iw >= g.W {
									continue
								}
								xi := ((n*g.C+gr*cg+c)*g.H+ih)*g.W + iw
								wi := ((k*cg+c)*g.KH+kh)*g.KW + kw
								y[o] += float64(x[xi]) * float64(w[wi])
								dx[xi] += float64(dy[o]) * float64(w[wi])
								dw[wi] += float64(dy[o]) * float64(x[xi])
							}
						}
					}
				}
			}
		}
	}
	return y, dx, dw
}

func TestOpsConv2DGeometries(t *testing.T) {
	b := vktest.Open(t)
	r := rand.New(rand.NewPCG(3, 4))
	for _, c := range []struct {
		x, w tensor.Shape
		p    tensor.Conv2DParams
	}{
		{tensor.Shape{2, 4, 9, 7}, tensor.Shape{6, 2, 3, 2}, tensor.Conv2DParams{Stride: [2]int{2, 1}, Pad: [2]int{1, 2}, Dilation: [2]int{2, 1}, Groups: 2}},
		{tensor.Shape{1, 3, 5, 5}, tensor.Shape{3, 1, 3, 3}, tensor.Conv2DParams{Stride: [2]int{3, 3}, Pad: [2]int{0, 0}, Dilation: [2]int{1, 1}, Groups: 3}},
		{tensor.Shape{3, 70, 4, 4}, tensor.Shape{66, 70, 1, 1}, tensor.DefaultConv2D()},
		// Stride 2 with dilation 2: input rows and columns of odd phase get
		// no kernel tap, so their gradient is 0.
		{tensor.Shape{1, 2, 7, 7}, tensor.Shape{2, 1, 3, 3}, tensor.Conv2DParams{Stride: [2]int{2, 2}, Pad: [2]int{1, 2}, Dilation: [2]int{2, 2}, Groups: 2}},
		// Stride 3 over a 2×2 kernel leaves positions no window reaches.
		{tensor.Shape{2, 3, 8, 9}, tensor.Shape{4, 3, 2, 2}, tensor.Conv2DParams{Stride: [2]int{3, 3}, Pad: [2]int{0, 1}, Dilation: [2]int{1, 1}, Groups: 1}},
		// Many output channels over a 1×1 kernel: the kernel gradient is a
		// tall, narrow product (256×16 tiles).
		{tensor.Shape{2, 3, 5, 5}, tensor.Shape{150, 3, 1, 1}, tensor.DefaultConv2D()},
		// Long batch reduction over a small kernel: the kernel gradient splits.
		{tensor.Shape{4, 3, 20, 20}, tensor.Shape{5, 3, 3, 3}, tensor.Conv2DParams{Stride: [2]int{1, 1}, Pad: [2]int{1, 1}, Dilation: [2]int{1, 1}, Groups: 1}},
	} {
		g, err := tensor.ConvGeometry(c.x, c.w, c.p)
		opCheck(t, "geometry", err)
		xv, wv, dyv := opRandom(r, c.x.Len()), opRandom(r, c.w.Len()), opRandom(r, g.YShape().Len())
		y, dx, dw := convRef(g, xv, wv, dyv)
		xt, wt, dyt := opPut(t, b, c.x, xv), opPut(t, b, c.w, wv), opPut(t, b, g.YShape(), dyv)
		yt, dxt, dwt := opPut(t, b, g.YShape(), nil), opPut(t, b, c.x, nil), opPut(t, b, c.w, nil)
		opCheck(t, "conv2d", b.Conv2D(yt, xt, wt, nil, c.p))
		opCheck(t, "input grad", b.Conv2DInputGrad(dxt, dyt, wt, c.p))
		opCheck(t, "kernel grad", b.Conv2DKernelGrad(dwt, xt, dyt, c.p))
		opNear(t, "conv2d "+c.x.String(), opGet(t, b, yt), y, 1e-5, 1e-5)
		opNear(t, "input grad "+c.x.String(), opGet(t, b, dxt), dx, 1e-5, 1e-5)
		opNear(t, "kernel grad "+c.x.String(), opGet(t, b, dwt), dw, 1e-5, 1e-4)
	}
}

func TestOpsPool(t *testing.T) {
	b := vktest.Open(t)
	// Ties: each 2×2 window's first maximum in row-major order wins.
	x := opPut(t, b, tensor.Shape{1, 1, 4, 4}, []float32{
		5, 5, 1, 2,
		5, 1, 3, 3,
		0, 0, 7, 1,
		0, 0, 1, 7,
	})
	p := tensor.Pool2DParams{Window: [2]int{2, 2}, Stride: [2]int{2, 2}}
	y := opPut(t, b, tensor.Shape{1, 1, 2, 2}, nil)
	opCheck(t, "max pool", b.MaxPool2D(y, x, p))
	opNear(t, "max pool", opGet(t, b, y), []float64{5, 3, 0, 7}, 0, 0)
	dy := opPut(t, b, tensor.Shape{1, 1, 2, 2}, []float32{1, 2, 3, 4})
	dx := opPut(t, b, tensor.Shape{1, 1, 4, 4}, nil)
	opCheck(t, "max pool backward", b.MaxPool2DBackward(dx, dy, x, p))
	opNear(t, "max pool backward", opGet(t, b, dx), []float64{
		1, 0, 0, 0,
		0, 0, 2, 0,
		3, 0, 4, 0,
		0, 0, 0, 0,
	}, 0, 0)

	// Overlapping windows sum their gradients: with 3×3 windows, stride 1 and
	// padding 1 over 1..9, each window's maximum is its bottom-right input.
	x9 := opPut(t, b, tensor.Shape{1, 1, 3, 3}, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9})
	p3 := tensor.Pool2DParams{Window: [2]int{3, 3}, Stride: [2]int{1, 1}, Pad: [2]int{1, 1}}
	ones := opPut(t, b, tensor.Shape{1, 1, 3, 3}, []float32{1, 1, 1, 1, 1, 1, 1, 1, 1})
	d9 := opPut(t, b, tensor.Shape{1, 1, 3, 3}, nil)
	opCheck(t, "max pool backward", b.MaxPool2DBackward(d9, ones, x9, p3))
	opNear(t, "overlapping max pool backward", opGet(t, b, d9), []float64{0, 0, 0, 0, 1, 2, 0, 2, 4}, 0, 0)

	// Average pooling with padding, in both divisor modes.
	y9 := opPut(t, b, tensor.Shape{1, 1, 3, 3}, nil)
	opCheck(t, "avg pool", b.AvgPool2D(y9, x9, p3))
	opNear(t, "avg pool", opGet(t, b, y9), []float64{12. / 9, 21. / 9, 16. / 9, 27. / 9, 45. / 9, 33. / 9, 24. / 9, 39. / 9, 28. / 9}, 1e-6, 0)
	opCheck(t, "avg pool backward", b.AvgPool2DBackward(d9, ones, p3))
	opNear(t, "avg pool backward", opGet(t, b, d9), []float64{4. / 9, 6. / 9, 4. / 9, 6. / 9, 1, 6. / 9, 4. / 9, 6. / 9, 4. / 9}, 1e-6, 0)
	p3.ExcludePad = true
	opCheck(t, "avg pool exclude pad", b.AvgPool2D(y9, x9, p3))
	opNear(t, "avg pool exclude pad", opGet(t, b, y9), []float64{3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7}, 1e-6, 0)
	opCheck(t, "avg pool backward exclude pad", b.AvgPool2DBackward(d9, ones, p3))
	corner := 1./4 + 1./6 + 1./6 + 1./9
	edge := 1./4 + 1./6 + 1./4 + 1./6 + 1./9 + 1./6
	opNear(t, "avg pool backward exclude pad", opGet(t, b, d9)[:2], []float64{corner, edge}, 1e-6, 0)

	// Global average pooling and its backward.
	g := opPut(t, b, tensor.Shape{1, 1}, nil)
	opCheck(t, "global avg pool", b.GlobalAvgPool2D(g, x9))
	opNear(t, "global avg pool", opGet(t, b, g), []float64{5}, 0, 0)
	opCheck(t, "global avg pool backward", b.GlobalAvgPool2DBackward(d9, opPut(t, b, tensor.Shape{1, 1, 1, 1}, []float32{9})))
	opNear(t, "global avg pool backward", opGet(t, b, d9), []float64{1, 1, 1, 1, 1, 1, 1, 1, 1}, 0, 0)
}

func TestOpsReductions(t *testing.T) {
	b := vktest.Open(t)
	v := make([]float32, 24)
	for i := range v {
		v[i] = float32(i)
	}
	src := opPut(t, b, tensor.Shape{2, 3, 4}, v)
	for _, c := range []struct {
		axes  []int
		shape tensor.Shape
		want  []float64
	}{
		{nil, tensor.Shape{1}, []float64{276}},
		{[]int{0}, tensor.Shape{3, 4}, []float64{12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34}},
		{[]int{1}, tensor.Shape{2, 1, 4}, []float64{12, 15, 18, 21, 48, 51, 54, 57}},
		{[]int{2, 0}, tensor.Shape{3}, []float64{60, 92, 124}},
		{[]int{0, 1}, tensor.Shape{4}, []float64{60, 66, 72, 78}},
	} {
		dst := opPut(t, b, c.shape, nil)
		opCheck(t, "sum", b.Sum(dst, src, c.axes...))
		opNear(t, "sum", opGet(t, b, dst), c.want, 0, 0)
	}
	db := opPut(t, b, tensor.Shape{3}, nil)
	opCheck(t, "bias grad", b.BiasGrad(db, src))
	opNear(t, "bias grad", opGet(t, b, db), []float64{60, 92, 124}, 0, 0)

	// Long reductions go through a tree of partial sums; integers stay exact.
	n := 300001
	ones := make([]float32, n)
	for i := range ones {
		ones[i] = 1
	}
	all := opPut(t, b, tensor.Shape{1}, nil)
	opCheck(t, "sum", b.Sum(all, opPut(t, b, tensor.Shape{n}, ones)))
	opNear(t, "sum of 300001 ones", opGet(t, b, all), []float64{float64(n)}, 0, 0)
	mid := opPut(t, b, tensor.Shape{3, 2}, nil)
	opCheck(t, "sum", b.Sum(mid, opPut(t, b, tensor.Shape{3, 50000, 2}, ones[:300000]), 1))
	opNear(t, "sum over a long middle axis", opGet(t, b, mid), []float64{5e4, 5e4, 5e4, 5e4, 5e4, 5e4}, 0, 0)
}

func TestOpsElementwise(t *testing.T) {
	b := vktest.Open(t)
	xs := []float32{-100, -3, -0.2, -1e-3, 0, 1e-4, 0.1, 0.3, 2, 25, 100}
	x := opPut(t, b, tensor.Shape{len(xs)}, xs)
	c := opPut(t, b, tensor.Shape{len(xs)}, []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11})
	dst := opPut(t, b, tensor.Shape{len(xs)}, nil)
	ref := func(f func(x, c float64) float64) []float64 {
		out := make([]float64, len(xs))
		for i, v := range xs {
			out[i] = f(float64(v), float64(i+1))
		}
		return out
	}
	for _, tc := range []struct {
		name string
		run  func() error
		f    func(x, c float64) float64
		rel  float64
	}{
		{"add", func() error { return b.Add(dst, x, c) }, func(x, c float64) float64 { return x + c }, 1e-7},
		{"mul", func() error { return b.Mul(dst, x, c) }, func(x, c float64) float64 { return x * c }, 1e-7},
		{"scale", func() error { return b.Scale(dst, x, -0.5) }, func(x, _ float64) float64 { return -0.5 * x }, 0},
		{"relu", func() error { return b.ReLU(dst, x) }, func(x, _ float64) float64 { return max(x, 0) }, 0},
		{"relu backward", func() error { return b.ReLUBackward(dst, c, x) }, func(x, c float64) float64 {
			if x > 0 {
				return c
			}
			return 0
		}, 0},
		{"sigmoid", func() error { return b.Sigmoid(dst, x) }, func(x, _ float64) float64 { return 1 / (1 + math.Exp(-x)) }, 2e-6},
		{"sigmoid backward", func() error { return b.SigmoidBackward(dst, c, x) }, func(y, c float64) float64 { return c * y * (1 - y) }, 1e-6},
		{"tanh", func() error { return b.Tanh(dst, x) }, func(x, _ float64) float64 { return math.Tanh(x) }, 1e-6},
		{"tanh backward", func() error { return b.TanhBackward(dst, c, x) }, func(y, c float64) float64 { return c * (1 - y*y) }, 1e-6},
	} {
		opCheck(t, tc.name, tc.run())
		opNear(t, tc.name, opGet(t, b, dst), ref(tc.f), tc.rel, 1e-30)
	}

	// The destination may alias an input.
	opCheck(t, "add in place", b.Add(c, c, c))
	opNear(t, "add in place", opGet(t, b, c), []float64{2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22}, 0, 0)

	// Bias broadcast along axis 1 of [2, 3, 2].
	bx := opPut(t, b, tensor.Shape{2, 3, 2}, make([]float32, 12))
	opCheck(t, "add bias", b.AddBias(bx, bx, opPut(t, b, tensor.Shape{3}, []float32{1, 2, 3})))
	opNear(t, "add bias", opGet(t, b, bx), []float64{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}, 0, 0)
}

func TestOpsDropoutMask(t *testing.T) {
	b := vktest.Open(t)
	const n = 10007
	mask := opPut(t, b, tensor.Shape{n}, nil)
	for _, rate := range []float64{0, 0.3, 0.5, 0.999} {
		seed := uint64(0x123456789abcdef) + uint64(rate*1000)
		opCheck(t, "dropout", b.DropoutMask(mask, rate, seed))
		got := opGet(t, b, mask)
		keep := float32(1 / (1 - rate))
		bad := 0
		for i, v := range got {
			want := keep
			if float64(tensor.DropoutUniform(seed, uint32(i))) < rate {
				want = 0
			}
			if v != want && bad < 4 {
				t.Errorf("rate %v: mask[%d] = %v, want %v", rate, i, v, want)
				bad++
			}
		}
	}
	err := b.DropoutMask(mask, 1, 0)
	if !errors.Is(err, tensor.ErrParam) {
		t.Errorf("dropout rate 1: got %v, want ErrParam", err)
	}
}

func TestOpsRows(t *testing.T) {
	b := vktest.Open(t)
	x := opPut(t, b, tensor.Shape{3, 3}, []float32{1, 2, 3, 1000, 1000, -1000, 3, 1, 3})
	y := opPut(t, b, tensor.Shape{3, 3}, nil)
	opCheck(t, "softmax", b.Softmax(y, x))
	e := math.Exp(1.0)
	s := 1 + e + e*e
	opNear(t, "softmax", opGet(t, b, y), []float64{1 / s, e / s, e * e / s, 0.5, 0.5, 0, e * e / (1 + 2*e*e), 1 / (1 + 2*e*e), e * e / (1 + 2*e*e)}, 2e-6, 1e-30)

	arg := opPut(t, b, tensor.Shape{3}, nil)
	opCheck(t, "argmax", b.ArgMax(arg, x))
	opNear(t, "argmax", opGet(t, b, arg), []float64{2, 0, 0}, 0, 0)

	// Softmax backward of y = [0.25 0.25 0.5] with dy = [1 0 0]:
	// dx = y ⊙ (dy − 0.25).
	yv := opPut(t, b, tensor.Shape{1, 3}, []float32{0.25, 0.25, 0.5})
	dy := opPut(t, b, tensor.Shape{1, 3}, []float32{1, 0, 0})
	dx := opPut(t, b, tensor.Shape{1, 3}, nil)
	opCheck(t, "softmax backward", b.SoftmaxBackward(dx, dy, yv))
	opNear(t, "softmax backward", opGet(t, b, dx), []float64{0.1875, -0.0625, -0.125}, 1e-7, 0)
}

func TestOpsLosses(t *testing.T) {
	b := vktest.Open(t)
	loss := opPut(t, b, tensor.Shape{1}, nil)
	grad := opPut(t, b, tensor.Shape{2}, nil)

	p, tg := opPut(t, b, tensor.Shape{2}, []float32{1, 2}), opPut(t, b, tensor.Shape{2}, []float32{0, 4})
	opCheck(t, "mse", b.MSELoss(loss, grad, p, tg))
	opNear(t, "mse loss", opGet(t, b, loss), []float64{2.5}, 0, 0)
	opNear(t, "mse grad", opGet(t, b, grad), []float64{1, -2}, 0, 0)

	// BCE clamps: p = 1 with target 0 costs −log(1e-15).
	p = opPut(t, b, tensor.Shape{2}, []float32{0.5, 1})
	tg = opPut(t, b, tensor.Shape{2}, []float32{1, 0})
	opCheck(t, "bce", b.BCELoss(loss, nil, p, tg))
	opNear(t, "bce loss", opGet(t, b, loss), []float64{(math.Log(2) - math.Log(1e-15)) / 2}, 1e-6, 0)
	opCheck(t, "bce", b.BCELoss(loss, grad, p, tg))
	opNear(t, "bce grad", opGet(t, b, grad), []float64{-1, 1e15 / 2}, 1e-6, 0)

	logits := opPut(t, b, tensor.Shape{2, 2}, []float32{0, 0, 1000, 0})
	target := opPut(t, b, tensor.Shape{2, 2}, []float32{1, 0, 0, 1})
	cg := opPut(t, b, tensor.Shape{2, 2}, nil)
	opCheck(t, "softmax cross entropy", b.SoftmaxCrossEntropy(loss, cg, logits, target))
	opNear(t, "softmax cross entropy loss", opGet(t, b, loss), []float64{(math.Log(2) + 1000) / 2}, 1e-6, 0)
	opNear(t, "softmax cross entropy grad", opGet(t, b, cg), []float64{-0.25, 0.25, 0.5, -0.5}, 1e-6, 0)
	err := b.SoftmaxCrossEntropy(loss, nil, p, tg)
	if !errors.Is(err, tensor.ErrShape) {
		t.Errorf("softmax cross entropy of rank-1 logits: got %v, want ErrShape", err)
	}
}

func TestOpsOptim(t *testing.T) {
	b := vktest.Open(t)
	param := opPut(t, b, tensor.Shape{2}, []float32{1, -1})
	grad := opPut(t, b, tensor.Shape{2}, []float32{1, 2})
	vel := opPut(t, b, tensor.Shape{2}, nil)
	o := tensor.SGDParams{LR: 0.1, Momentum: 0.9}
	opCheck(t, "sgd", b.SGDStep(param, grad, vel, o))
	opCheck(t, "sgd", b.SGDStep(param, grad, vel, o))
	// v1 = g, v2 = 1.9·g; p = p0 − 0.1·2.9·g.
	opNear(t, "sgd momentum", opGet(t, b, param), []float64{1 - 0.29, -1 - 0.58}, 1e-6, 0)
	opNear(t, "sgd velocity", opGet(t, b, vel), []float64{1.9, 3.8}, 1e-6, 0)
	opCheck(t, "sgd plain", b.SGDStep(param, grad, nil, tensor.SGDParams{LR: 1, WeightDecay: 0.5}))
	// g = grad + 0.5·p.
	opNear(t, "sgd weight decay", opGet(t, b, param), []float64{0.71 - (1 + 0.355), -1.58 - (2 - 0.79)}, 1e-6, 0)

	// Adam's first step moves each parameter by lr against its gradient's sign.
	param = opPut(t, b, tensor.Shape{2}, []float32{1, -1})
	m, v := opPut(t, b, tensor.Shape{2}, nil), opPut(t, b, tensor.Shape{2}, nil)
	grad = opPut(t, b, tensor.Shape{2}, []float32{2, -0.5})
	opCheck(t, "adam", b.AdamStep(param, grad, m, v, tensor.DefaultAdam(), 1))
	opNear(t, "adam param", opGet(t, b, param), []float64{0.999, -0.999}, 1e-6, 0)
	opNear(t, "adam m", opGet(t, b, m), []float64{0.2, -0.05}, 1e-6, 0)
	opNear(t, "adam v", opGet(t, b, v), []float64{0.004, 0.00025}, 1e-6, 0)
}

// TestOpsErrorsMatchCPU checks that bad input gets the CPU backend's error
// text: both backends share the validation in tensor/check.go.
func TestOpsErrorsMatchCPU(t *testing.T) {
	g := vktest.Open(t)
	c := cpu.New()
	defer c.Close()
	run := func(be tensor.Backend) []error {
		al := func(s ...int) *tensor.Tensor {
			x, err := be.Alloc(tensor.Float32, s)
			if err != nil {
				t.Fatalf("%s alloc: %v", be.Name(), err)
			}
			return x
		}
		return []error{
			be.MatMul(al(2, 2), al(2, 3), al(2, 2), false, false),
			be.Conv2D(al(1, 2, 4, 4), al(1, 3, 5, 5), al(2, 3, 3, 3), nil, tensor.DefaultConv2D()),
			be.Conv2DKernelGrad(al(2, 3, 3, 3), al(1, 3, 5, 5), al(1, 2, 3, 3), tensor.Conv2DParams{}),
			be.MaxPool2D(al(1, 1, 2, 2), al(1, 1, 4, 4), tensor.Pool2DParams{Window: [2]int{2, 2}, Stride: [2]int{2, 2}, Pad: [2]int{2, 0}}),
			be.Add(al(3), al(3), al(4)),
			be.Softmax(al(2, 3), al(3, 2)),
			be.Sum(al(2), al(2, 3), 1, 1),
			be.SoftmaxCrossEntropy(al(1), nil, al(6), al(6)),
			be.SGDStep(al(3), al(3), nil, tensor.SGDParams{LR: 0.1, Momentum: 0.9}),
			be.AdamStep(al(3), al(3), al(3), al(3), tensor.DefaultAdam(), 0),
		}
	}
	ge, ce := run(g), run(c)
	for i := range ge {
		if ge[i] == nil || ce[i] == nil || ge[i].Error() != ce[i].Error() {
			t.Errorf("case %d: vulkan error %v, cpu error %v: want the same error", i, ge[i], ce[i])
		}
	}
}
