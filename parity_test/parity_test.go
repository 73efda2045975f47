//go:build cgo

package parity_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/gpu"
	"github.com/vkcnn/vkcnn/internal/vktest"
	"github.com/vkcnn/vkcnn/tensor"
)

// The tolerances stated in the package documentation.
const (
	relSum   = 2e-5 // sums and products, relative to Σ|terms|
	relTrans = 1e-5 // transcendental pointwise results, relative to |c|
	relOpt   = 1e-5 // optimizer steps, relative to |p| + |step|
	absTiny  = 1e-30
)

// pair runs the same ops on a CPU and a Vulkan backend.
type pair struct {
	t    *testing.T
	c    *cpu.Backend
	g    *gpu.Backend
	free []*tensor.Tensor
	n    int // configurations checked
}

// both is one tensor on each backend, holding the same float32 data.
type both struct {
	c, g *tensor.Tensor
	v    []float32
}

func newPair(t *testing.T) *pair {
	p := &pair{t: t, c: cpu.New(), g: vktest.Open(t)}
	t.Cleanup(func() {
		p.release()
		p.c.Close()
	})
	return p
}

// release frees every tensor allocated so far on both backends.
func (p *pair) release() {
	for _, x := range p.free {
		if !x.Freed() {
			if err := x.Free(); err != nil {
				p.t.Errorf("free %v: %v", x, err)
			}
		}
	}
	p.free = p.free[:0]
}

func (p *pair) alloc(be tensor.Backend, shape tensor.Shape) *tensor.Tensor {
	p.t.Helper()
	x, err := be.Alloc(tensor.Float32, shape)
	if err != nil {
		p.t.Fatalf("%s alloc %v: %v", be.Name(), shape, err)
	}
	p.free = append(p.free, x)
	return x
}

// put uploads v (nil: zeros) to a new tensor of the given shape on both
// backends.
func (p *pair) put(shape tensor.Shape, v []float32) both {
	p.t.Helper()
	if v == nil {
		v = make([]float32, shape.Len())
	}
	x := both{c: p.alloc(p.c, shape), g: p.alloc(p.g, shape), v: v}
	for _, t := range []*tensor.Tensor{x.c, x.g} {
		if err := t.Backend().Upload(t, v); err != nil {
			p.t.Fatalf("upload %v: %v", shape, err)
		}
	}
	return x
}

// run calls op on the CPU tensors and on the Vulkan tensors; the CPU result is
// the reference.
func (p *pair) run(what string, op func(be tensor.Backend, pick func(both) *tensor.Tensor) error) {
	p.t.Helper()
	if err := op(p.c, func(x both) *tensor.Tensor { return x.c }); err != nil {
		p.t.Fatalf("%s on cpu: %v", what, err)
	}
	if err := op(p.g, func(x both) *tensor.Tensor { return x.g }); err != nil {
		p.t.Fatalf("%s on vulkan: %v", what, err)
	}
}

// mag runs op on the CPU with every input replaced by its absolute value and
// returns the output: Σ|terms| of each element of a linear op.
func (p *pair) mag(shape tensor.Shape, op func(be tensor.Backend, out *tensor.Tensor, abs func(both) *tensor.Tensor) error) []float64 {
	p.t.Helper()
	out := p.alloc(p.c, shape)
	abs := func(x both) *tensor.Tensor {
		a := make([]float32, len(x.v))
		for i, v := range x.v {
			a[i] = float32(math.Abs(float64(v)))
		}
		t := p.alloc(p.c, x.c.Shape())
		if err := p.c.Upload(t, a); err != nil {
			p.t.Fatal(err)
		}
		return t
	}
	if err := op(p.c, out, abs); err != nil {
		p.t.Fatalf("magnitude on cpu: %v", err)
	}
	return p.read(out)
}

// read downloads a tensor of either backend as float64.
func (p *pair) read(x *tensor.Tensor) []float64 {
	p.t.Helper()
	v := make([]float32, x.Len())
	if err := x.Backend().Download(v, x); err != nil {
		p.t.Fatalf("download %v from %s: %v", x, x.Backend().Name(), err)
	}
	out := make([]float64, len(v))
	for i, f := range v {
		out[i] = float64(f)
	}
	return out
}

// check compares x on both backends: |g − c| ≤ rel·mag + abs, where mag[i] is
// the magnitude of the terms of element i (nil: |c|). rel = abs = 0 demands
// equality.
func (p *pair) check(what string, x both, mag []float64, rel, abs float64) {
	p.t.Helper()
	c, g := p.read(x.c), p.read(x.g)
	bad := 0
	for i := range c {
		m := math.Abs(c[i])
		if mag != nil {
			m = mag[i]
		}
		if c[i] == g[i] || math.Abs(g[i]-c[i]) <= rel*m+abs {
			continue
		}
		if bad < 3 {
			p.t.Errorf("%s: element %d of %v: vulkan %.9g, cpu %.9g (error %.3g, bound %.3g)",
				what, i, x.c.Shape(), g[i], c[i], math.Abs(g[i]-c[i]), rel*m+abs)
		}
		bad++
	}
	if bad > 0 {
		p.t.Errorf("%s: %d of %d elements out of tolerance", what, bad, len(c))
	}
}

// uniform returns n values in [lo, hi) rounded to float32.
func uniform(r *rand.Rand, n int, lo, hi float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return v
}

// integers returns n integer values in [lo, hi]: ties for selections.
func integers(r *rand.Rand, n, lo, hi int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(lo + r.IntN(hi-lo+1))
	}
	return v
}

// pick names the tensor of the backend being run.
type pick = func(both) *tensor.Tensor

// convConfig draws a random valid convolution.
func convConfig(r *rand.Rand, large bool) (x, w tensor.Shape, p tensor.Conv2DParams) {
	for {
		groups := []int{1, 1, 2, 3}[r.IntN(4)]
		cg, kg := 1+r.IntN(4), 1+r.IntN(4)
		n := 1 + r.IntN(3)
		if large {
			groups, cg, kg, n = 1, 20+r.IntN(60), 20+r.IntN(60), 2+r.IntN(3)
		}
		if r.IntN(6) == 0 && !large { // depthwise
			groups, cg, kg = 1+r.IntN(5), 1, 1+r.IntN(2)
		}
		kh, kw := 1+r.IntN(5), 1+r.IntN(5)
		p = tensor.Conv2DParams{
			Stride:   [2]int{1 + r.IntN(3), 1 + r.IntN(3)},
			Pad:      [2]int{r.IntN(kh), r.IntN(kw)},
			Dilation: [2]int{1 + r.IntN(2), 1 + r.IntN(2)},
			Groups:   groups,
		}
		h, wd := 1+r.IntN(12), 1+r.IntN(12)
		if large {
			h, wd = 10+r.IntN(15), 10+r.IntN(15)
		}
		x = tensor.Shape{n, groups * cg, h, wd}
		w = tensor.Shape{groups * kg, cg, kh, kw}
		if _, err := tensor.ConvGeometry(x, w, p); err == nil {
			return x, w, p
		}
	}
}

func TestParityConv(t *testing.T) {
	p := newPair(t)
	r := rand.New(rand.NewPCG(11, 1))
	for i := 0; i < 110; i++ {
		xs, ws, cp := convConfig(r, i >= 100)
		g, _ := tensor.ConvGeometry(xs, ws, cp)
		what := fmt.Sprintf("conv %d: x %v w %v %+v", i, xs, ws, cp)
		x, w := p.put(xs, uniform(r, xs.Len(), -1, 1)), p.put(ws, uniform(r, ws.Len(), -1, 1))
		bias := p.put(tensor.Shape{g.K}, uniform(r, g.K, -1, 1))
		dy := p.put(g.YShape(), uniform(r, g.YShape().Len(), -1, 1))
		y, dx, dw, db := p.put(g.YShape(), nil), p.put(xs, nil), p.put(ws, nil), p.put(tensor.Shape{g.K}, nil)
		withBias := i%2 == 0
		p.run(what, func(be tensor.Backend, s pick) error {
			var b *tensor.Tensor
			if withBias {
				b = s(bias)
			}
			if err := be.Conv2D(s(y), s(x), s(w), b, cp); err != nil {
				return err
			}
			if err := be.Conv2DInputGrad(s(dx), s(dy), s(w), cp); err != nil {
				return err
			}
			if err := be.Conv2DKernelGrad(s(dw), s(x), s(dy), cp); err != nil {
				return err
			}
			return be.BiasGrad(s(db), s(dy))
		})
		p.check(what+" forward", y, p.mag(g.YShape(), func(be tensor.Backend, out *tensor.Tensor, a pick) error {
			var b *tensor.Tensor
			if withBias {
				b = a(bias)
			}
			return be.Conv2D(out, a(x), a(w), b, cp)
		}), relSum, absTiny)
		p.check(what+" input grad", dx, p.mag(xs, func(be tensor.Backend, out *tensor.Tensor, a pick) error {
			return be.Conv2DInputGrad(out, a(dy), a(w), cp)
		}), relSum, absTiny)
		p.check(what+" kernel grad", dw, p.mag(ws, func(be tensor.Backend, out *tensor.Tensor, a pick) error {
			return be.Conv2DKernelGrad(out, a(x), a(dy), cp)
		}), relSum, absTiny)
		p.check(what+" bias grad", db, p.mag(tensor.Shape{g.K}, func(be tensor.Backend, out *tensor.Tensor, a pick) error {
			return be.BiasGrad(out, a(dy))
		}), relSum, absTiny)
		p.release()
		p.n++
	}
	t.Logf("%d convolution configurations, 4 ops each", p.n)
}

func TestParityPool(t *testing.T) {
	p := newPair(t)
	r := rand.New(rand.NewPCG(12, 1))
	for i := 0; i < 60; i++ {
		var pp tensor.Pool2DParams
		var xs tensor.Shape
		for {
			pp = tensor.Pool2DParams{Window: [2]int{1 + r.IntN(4), 1 + r.IntN(4)}, Stride: [2]int{1 + r.IntN(3), 1 + r.IntN(3)}}
			pp.Pad = [2]int{r.IntN(pp.Window[0]/2 + 1), r.IntN(pp.Window[1]/2 + 1)}
			pp.ExcludePad = r.IntN(2) == 0
			xs = tensor.Shape{1 + r.IntN(3), 1 + r.IntN(4), 1 + r.IntN(10), 1 + r.IntN(10)}
			if _, err := tensor.PoolGeometry(xs, pp); err == nil {
				break
			}
		}
		g, _ := tensor.PoolGeometry(xs, pp)
		what := fmt.Sprintf("pool %d: x %v %+v", i, xs, pp)
		// Small integers make ties, which both backends must break alike.
		x := p.put(xs, integers(r, xs.Len(), -3, 3))
		dy := p.put(g.YShape(), uniform(r, g.YShape().Len(), -1, 1))
		ym, ya, dxm, dxa := p.put(g.YShape(), nil), p.put(g.YShape(), nil), p.put(xs, nil), p.put(xs, nil)
		p.run(what, func(be tensor.Backend, s pick) error {
			if err := be.MaxPool2D(s(ym), s(x), pp); err != nil {
				return err
			}
			if err := be.MaxPool2DBackward(s(dxm), s(dy), s(x), pp); err != nil {
				return err
			}
			if err := be.AvgPool2D(s(ya), s(x), pp); err != nil {
				return err
			}
			return be.AvgPool2DBackward(s(dxa), s(dy), pp)
		})
		p.check(what+" max", ym, nil, 0, 0)
		p.check(what+" max backward", dxm, p.mag(xs, func(be tensor.Backend, out *tensor.Tensor, a pick) error {
			return be.MaxPool2DBackward(out, a(dy), x.c, pp)
		}), relSum, absTiny)
		p.check(what+" avg", ya, p.mag(g.YShape(), func(be tensor.Backend, out *tensor.Tensor, a pick) error {
			return be.AvgPool2D(out, a(x), pp)
		}), relSum, absTiny)
		p.check(what+" avg backward", dxa, p.mag(xs, func(be tensor.Backend, out *tensor.Tensor, a pick) error {
			return be.AvgPool2DBackward(out, a(dy), pp)
		}), relSum, absTiny)
		p.release()
		p.n++
	}
	for i := 0; i < 10; i++ {
		xs := tensor.Shape{1 + r.IntN(3), 1 + r.IntN(5), 1 + r.IntN(30), 1 + r.IntN(30)}
		ys := tensor.Shape{xs[0], xs[1]}
		if i%2 == 1 {
			ys = tensor.Shape{xs[0], xs[1], 1, 1}
		}
		what := fmt.Sprintf("global avg pool %d: x %v", i, xs)
		x, dy := p.put(xs, uniform(r, xs.Len(), -1, 1)), p.put(ys, uniform(r, ys.Len(), -1, 1))
		y, dx := p.put(ys, nil), p.put(xs, nil)
		p.run(what, func(be tensor.Backend, s pick) error {
			if err := be.GlobalAvgPool2D(s(y), s(x)); err != nil {
				return err
			}
			return be.GlobalAvgPool2DBackward(s(dx), s(dy))
		})
		p.check(what, y, p.mag(ys, func(be tensor.Backend, out *tensor.Tensor, a pick) error {
			return be.GlobalAvgPool2D(out, a(x))
		}), relSum, absTiny)
		p.check(what+" backward", dx, nil, relTrans, absTiny)
		p.release()
		p.n++
	}
	t.Logf("%d pooling configurations", p.n)
}

func TestParityMatMulSumBias(t *testing.T) {
	p := newPair(t)
	r := rand.New(rand.NewPCG(13, 1))
	for i := 0; i < 40; i++ {
		m, n, k := 1+r.IntN(90), 1+r.IntN(90), 1+r.IntN(90)
		ta, tb := r.IntN(2) == 0, r.IntN(2) == 0
		as, bs := tensor.Shape{m, k}, tensor.Shape{k, n}
		if ta {
			as = tensor.Shape{k, m}
		}
		if tb {
			bs = tensor.Shape{n, k}
		}
		what := fmt.Sprintf("matmul %d: %v·%v transA %v transB %v", i, as, bs, ta, tb)
		a, b, c := p.put(as, uniform(r, as.Len(), -1, 1)), p.put(bs, uniform(r, bs.Len(), -1, 1)), p.put(tensor.Shape{m, n}, nil)
		p.run(what, func(be tensor.Backend, s pick) error { return be.MatMul(s(c), s(a), s(b), ta, tb) })
		p.check(what, c, p.mag(tensor.Shape{m, n}, func(be tensor.Backend, out *tensor.Tensor, x pick) error {
			return be.MatMul(out, x(a), x(b), ta, tb)
		}), relSum, absTiny)
		p.release()
		p.n++
	}
	for i := 0; i < 30; i++ {
		rank := 1 + r.IntN(4)
		src := make(tensor.Shape, rank)
		for j := range src {
			src[j] = 1 + r.IntN(7)
		}
		if i >= 25 { // long reductions through the tree of partial sums
			src = tensor.Shape{1 + r.IntN(3), 2000 + r.IntN(30000)}
		}
		var axes []int
		var removed, ones tensor.Shape
		for j, d := range src {
			if r.IntN(2) == 0 || (i >= 25 && j == 1) {
				axes = append(axes, j)
				ones = append(ones, 1)
			} else {
				removed = append(removed, d)
				ones = append(ones, d)
			}
		}
		dst := ones
		if r.IntN(2) == 0 && len(removed) > 0 {
			dst = removed
		}
		if len(axes) == 0 {
			dst = tensor.Shape{1} // no axes sums everything
		}
		what := fmt.Sprintf("sum %d: %v over %v into %v", i, src, axes, dst)
		x, y := p.put(src, uniform(r, src.Len(), -1, 1)), p.put(dst, nil)
		p.run(what, func(be tensor.Backend, s pick) error { return be.Sum(s(y), s(x), axes...) })
		p.check(what, y, p.mag(dst, func(be tensor.Backend, out *tensor.Tensor, a pick) error {
			return be.Sum(out, a(x), axes...)
		}), relSum, absTiny)
		p.release()
		p.n++
	}
	for i := 0; i < 10; i++ {
		xs := tensor.Shape{1 + r.IntN(5), 1 + r.IntN(9)}
		if i%2 == 1 {
			xs = append(xs, 1+r.IntN(6), 1+r.IntN(6))
		}
		what := fmt.Sprintf("add bias %d: %v", i, xs)
		x, b := p.put(xs, uniform(r, xs.Len(), -1, 1)), p.put(tensor.Shape{xs[1]}, uniform(r, xs[1], -1, 1))
		y, db := p.put(xs, nil), p.put(tensor.Shape{xs[1]}, nil)
		p.run(what, func(be tensor.Backend, s pick) error {
			if err := be.AddBias(s(y), s(x), s(b)); err != nil {
				return err
			}
			return be.BiasGrad(s(db), s(x))
		})
		p.check(what, y, p.mag(xs, func(be tensor.Backend, out *tensor.Tensor, a pick) error {
			return be.AddBias(out, a(x), a(b))
		}), relSum, absTiny)
		p.check(what+" bias grad", db, p.mag(tensor.Shape{xs[1]}, func(be tensor.Backend, out *tensor.Tensor, a pick) error {
			return be.BiasGrad(out, a(x))
		}), relSum, absTiny)
		p.release()
		p.n++
	}
	t.Logf("%d matmul, sum and bias configurations", p.n)
}

func TestParityElementwise(t *testing.T) {
	p := newPair(t)
	r := rand.New(rand.NewPCG(14, 1))
	for i := 0; i < 20; i++ {
		n := 1 + r.IntN(3000)
		shape := tensor.Shape{n}
		span := []float64{1, 8, 40}[i%3]
		a, b := p.put(shape, uniform(r, n, -span, span)), p.put(shape, uniform(r, n, -span, span))
		y := p.put(shape, uniform(r, n, 0, 1)) // an activation's output
		alpha := r.Float64()*4 - 2
		slope := []float64{0.01, 0.2, -0.5}[i%3]
		for _, op := range []struct {
			name string
			run  func(be tensor.Backend, d, a, b, y *tensor.Tensor) error
			rel  float64
		}{
			{"add", func(be tensor.Backend, d, a, b, _ *tensor.Tensor) error { return be.Add(d, a, b) }, relSum},
			{"mul", func(be tensor.Backend, d, a, b, _ *tensor.Tensor) error { return be.Mul(d, a, b) }, 0},
			{"scale", func(be tensor.Backend, d, a, _, _ *tensor.Tensor) error { return be.Scale(d, a, alpha) }, 0},
			{"relu", func(be tensor.Backend, d, a, _, _ *tensor.Tensor) error { return be.ReLU(d, a) }, 0},
			{"relu backward", func(be tensor.Backend, d, a, b, _ *tensor.Tensor) error { return be.ReLUBackward(d, a, b) }, 0},
			{"sigmoid", func(be tensor.Backend, d, a, _, _ *tensor.Tensor) error { return be.Sigmoid(d, a) }, relTrans},
			{"sigmoid backward", func(be tensor.Backend, d, a, _, y *tensor.Tensor) error { return be.SigmoidBackward(d, a, y) }, relTrans},
			{"tanh", func(be tensor.Backend, d, a, _, _ *tensor.Tensor) error { return be.Tanh(d, a) }, relTrans},
			{"tanh backward", func(be tensor.Backend, d, a, _, y *tensor.Tensor) error { return be.TanhBackward(d, a, y) }, relTrans},
			{"leaky relu", func(be tensor.Backend, d, a, _, _ *tensor.Tensor) error { return be.LeakyReLU(d, a, slope) }, 0},
			{"leaky relu backward", func(be tensor.Backend, d, a, b, _ *tensor.Tensor) error {
				return be.LeakyReLUBackward(d, a, b, slope)
			}, 0},
			{"silu", func(be tensor.Backend, d, a, _, _ *tensor.Tensor) error { return be.SiLU(d, a) }, relTrans},
			{"silu backward", func(be tensor.Backend, d, a, b, _ *tensor.Tensor) error { return be.SiLUBackward(d, a, b) }, relTrans},
		} {
			what := fmt.Sprintf("%s %d: n %d span %v", op.name, i, n, span)
			d := p.put(shape, nil)
			p.run(what, func(be tensor.Backend, s pick) error { return op.run(be, s(d), s(a), s(b), s(y)) })
			var mag []float64
			switch op.name {
			case "add":
				mag = p.mag(shape, func(be tensor.Backend, out *tensor.Tensor, x pick) error { return be.Add(out, x(a), x(b)) })
			case "tanh backward":
				// dy·(1 − y²) cancels near y = 1: the terms are |dy|·(1 + y²).
				mag = make([]float64, n)
				for k := range mag {
					yk := float64(y.v[k])
					mag[k] = math.Abs(float64(a.v[k])) * (1 + yk*yk)
				}
			case "silu backward":
				// dy·s·(1 + x·(1 − s)) cancels near x ≈ −1.28: the terms
				// are |dy|·s·(1 + |x|·(1 − s)).
				mag = make([]float64, n)
				for k := range mag {
					x := float64(b.v[k])
					s := 1 / (1 + math.Exp(-x))
					mag[k] = math.Abs(float64(a.v[k])) * s * (1 + math.Abs(x)*(1-s))
				}
			}
			p.check(what, d, mag, op.rel, absTiny)
		}
		p.release()
		p.n++
	}
	for i := 0; i < 10; i++ {
		n := 1 + r.IntN(20000)
		rate := []float64{0, 0.1, 0.5, 0.9, r.Float64()}[i%5]
		seed := r.Uint64()
		what := fmt.Sprintf("dropout %d: n %d rate %v seed %#x", i, n, rate, seed)
		m := p.put(tensor.Shape{n}, nil)
		p.run(what, func(be tensor.Backend, s pick) error { return be.DropoutMask(s(m), rate, seed) })
		p.check(what, m, nil, 0, 0)
		p.release()
		p.n++
	}
	t.Logf("%d elementwise configurations", p.n)
}

func TestParityRows(t *testing.T) {
	p := newPair(t)
	r := rand.New(rand.NewPCG(15, 1))
	for i := 0; i < 20; i++ {
		shape := tensor.Shape{1 + r.IntN(40), 1 + r.IntN(300)}
		if i%4 == 3 {
			shape = tensor.Shape{2, 1 + r.IntN(5), 1 + r.IntN(50)}
		}
		rows := shape.Len() / shape[len(shape)-1]
		what := fmt.Sprintf("rows %d: %v", i, shape)
		xv := uniform(r, shape.Len(), -6, 6)
		if i%2 == 1 {
			xv = integers(r, shape.Len(), -2, 2) // ties for argmax
		}
		x, dy := p.put(shape, xv), p.put(shape, uniform(r, shape.Len(), -1, 1))
		y, dx, am := p.put(shape, nil), p.put(shape, nil), p.put(tensor.Shape{rows}, nil)
		p.run(what, func(be tensor.Backend, s pick) error {
			if err := be.Softmax(s(y), s(x)); err != nil {
				return err
			}
			if err := be.SoftmaxBackward(s(dx), s(dy), s(y)); err != nil {
				return err
			}
			return be.ArgMax(s(am), s(x))
		})
		p.check(what+" softmax", y, nil, relTrans, absTiny)
		// dx = y ⊙ (dy − Σ dy⊙y): mag = |y|·(|dy| + Σ|dy⊙y|).
		yv := p.read(y.c)
		mag := make([]float64, len(yv))
		cols := shape[len(shape)-1]
		for row := 0; row < rows; row++ {
			var dot float64
			for j := 0; j < cols; j++ {
				dot += math.Abs(float64(dy.v[row*cols+j]) * yv[row*cols+j])
			}
			for j := 0; j < cols; j++ {
				k := row*cols + j
				mag[k] = math.Abs(yv[k]) * (math.Abs(float64(dy.v[k])) + dot)
			}
		}
		p.check(what+" softmax backward", dx, mag, relSum, absTiny)
		p.check(what+" argmax", am, nil, 0, 0)
		p.release()
		p.n++
	}
	t.Logf("%d row configurations", p.n)
}

// oneHot returns rows×cols target rows, one-hot or (soft) random
// probabilities.
func oneHot(r *rand.Rand, rows, cols int, soft bool) []float32 {
	t := make([]float32, rows*cols)
	for i := 0; i < rows; i++ {
		if !soft {
			t[i*cols+r.IntN(cols)] = 1
			continue
		}
		var s float64
		row := make([]float64, cols)
		for j := range row {
			row[j] = r.Float64()
			s += row[j]
		}
		for j := range row {
			t[i*cols+j] = float32(row[j] / s)
		}
	}
	return t
}

func TestParityLosses(t *testing.T) {
	p := newPair(t)
	r := rand.New(rand.NewPCG(16, 1))
	for i := 0; i < 30; i++ {
		rows, cols := 1+r.IntN(64), 1+r.IntN(20)
		shape := tensor.Shape{rows, cols}
		n := float64(rows * cols)
		withGrad := i%3 != 2
		var pred, target []float32
		var run func(be tensor.Backend, loss, grad, pred, target *tensor.Tensor) error
		var kind string
		switch i % 3 {
		case 0:
			kind, pred, target = "mse", uniform(r, rows*cols, -2, 2), uniform(r, rows*cols, -2, 2)
			run = func(be tensor.Backend, l, g, x, y *tensor.Tensor) error { return be.MSELoss(l, g, x, y) }
		case 1:
			// Probabilities, some at exactly 0 and 1 to exercise the clamp.
			kind, pred, target = "bce", uniform(r, rows*cols, 0, 1), integers(r, rows*cols, 0, 1)
			pred[0], pred[len(pred)-1] = 0, 1
			run = func(be tensor.Backend, l, g, x, y *tensor.Tensor) error { return be.BCELoss(l, g, x, y) }
		default:
			kind, pred, target = "softmax cross entropy", uniform(r, rows*cols, -8, 8), oneHot(r, rows, cols, i%2 == 0)
			n = float64(rows)
			run = func(be tensor.Backend, l, g, x, y *tensor.Tensor) error { return be.SoftmaxCrossEntropy(l, g, x, y) }
		}
		for _, grad := range []bool{withGrad, !withGrad} {
			what := fmt.Sprintf("%s %d: %v grad %v", kind, i, shape, grad)
			x, y := p.put(shape, pred), p.put(shape, target)
			loss, g := p.put(tensor.Shape{1}, nil), p.put(shape, nil)
			p.run(what, func(be tensor.Backend, s pick) error {
				var gt *tensor.Tensor
				if grad {
					gt = s(g)
				}
				return run(be, s(loss), gt, s(x), s(y))
			})
			// Every term is ≥ 0 (squares, −log of probabilities, t·(lse − l)
			// with lse ≥ l), so the loss is its own Σ|terms|/n.
			p.check(what+" loss", loss, nil, relSum, absTiny)
			if grad {
				gm := make([]float64, shape.Len())
				cg := p.read(g.c)
				for k := range gm {
					gm[k] = math.Abs(cg[k]) + (math.Abs(float64(target[k])))/n
				}
				p.check(what+" gradient", g, gm, relTrans, absTiny)
			}
		}
		p.release()
		p.n++
	}
	t.Logf("%d loss configurations", p.n)
}

func TestParityOptimizers(t *testing.T) {
	p := newPair(t)
	r := rand.New(rand.NewPCG(17, 1))
	for i := 0; i < 20; i++ {
		n := 1 + r.IntN(5000)
		shape := tensor.Shape{n}
		param, mom, vel := p.put(shape, uniform(r, n, -1, 1)), p.put(shape, nil), p.put(shape, nil)
		grads := make([]both, 3)
		for s := range grads {
			grads[s] = p.put(shape, uniform(r, n, -1, 1))
		}
		adam := i%2 == 1
		so := tensor.SGDParams{LR: 0.1 * r.Float64(), Momentum: []float64{0, 0.9}[r.IntN(2)], WeightDecay: []float64{0, 1e-3}[r.IntN(2)]}
		ao := tensor.AdamParams{LR: 0.01 * r.Float64(), Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: []float64{0, 1e-2}[r.IntN(2)]}
		if i%4 == 0 { // every other SGD configuration uses Nesterov momentum
			so.Momentum, so.Nesterov = 0.9, true
		}
		if i%4 == 3 { // every other Adam configuration is AdamW
			ao.WeightDecay, ao.Decoupled = []float64{0, 0.1}[r.IntN(2)], true
		}
		what := fmt.Sprintf("sgd %d: n %d %+v", i, n, so)
		if adam {
			what = fmt.Sprintf("adam %d: n %d %+v", i, n, ao)
		}
		var before []float64
		for s := range grads {
			before = p.read(param.c)
			p.run(what, func(be tensor.Backend, pk pick) error {
				if adam {
					return be.AdamStep(pk(param), pk(grads[s]), pk(mom), pk(vel), ao, s+1)
				}
				var v *tensor.Tensor
				if so.Momentum != 0 {
					v = pk(vel)
				}
				return be.SGDStep(pk(param), pk(grads[s]), v, so)
			})
			// Keep both on the CPU's trajectory so each step is compared alone.
			after := p.read(param.c)
			mag := make([]float64, n)
			for k := range mag {
				mag[k] = math.Abs(before[k]) + math.Abs(after[k]-before[k])
			}
			p.check(fmt.Sprintf("%s step %d", what, s+1), param, mag, relOpt, absTiny)
			// The moments: terms |β·state| + |(1 − β)·g| are below |state| + |g|.
			for _, st := range []both{mom, vel} {
				c := p.read(st.c)
				for k := range mag {
					mag[k] = math.Abs(c[k]) + math.Abs(float64(grads[s].v[k]))
				}
				p.check(fmt.Sprintf("%s step %d state", what, s+1), st, mag, relOpt, absTiny)
			}
			for _, st := range []both{param, mom, vel} {
				v := p.read(st.c)
				f := make([]float32, len(v))
				for k := range v {
					f[k] = float32(v[k])
				}
				if err := p.g.Upload(st.g, f); err != nil {
					t.Fatal(err)
				}
			}
		}
		p.release()
		p.n++
	}
	t.Logf("%d optimizer configurations, 3 steps each", p.n)
}

// bnMags returns, for x [outer, C, inner] with batch mean mu and inverse
// std is (from the CPU), the magnitudes of the terms of batch norm's results:
// Σ|x|/n per channel (the mean), |γ|·is·(|x − μ| + Σ|x|/n) + |β| per element
// (the output), Σ|dy| and Σ|dy|·(|x| + |μ|)·is per channel (dβ, dγ) and
// |γ|·is·(|dy| + Σ|dy|/n + (|x| + |μ|)·is·Σ|dy|·(|x| + |μ|)·is/n) per element
// (dx).
func bnMags(outer, ch, inner int, x, dy, gamma, beta, mu, is []float32) (mean, y, db, dg, dx []float64) {
	n := float64(outer * inner)
	mean, db, dg = make([]float64, ch), make([]float64, ch), make([]float64, ch)
	y, dx = make([]float64, len(x)), make([]float64, len(x))
	each := func(c int, f func(k int)) {
		for o := 0; o < outer; o++ {
			for i := 0; i < inner; i++ {
				f((o*ch+c)*inner + i)
			}
		}
	}
	abs := func(v float32) float64 { return math.Abs(float64(v)) }
	for c := 0; c < ch; c++ {
		s := float64(is[c])
		each(c, func(k int) {
			mean[c] += abs(x[k]) / n
			db[c] += abs(dy[k])
			dg[c] += abs(dy[k]) * (abs(x[k]) + abs(mu[c])) * s
		})
		each(c, func(k int) {
			y[k] = abs(gamma[c])*s*(math.Abs(float64(x[k])-float64(mu[c]))+mean[c]) + abs(beta[c])
			dx[k] = abs(gamma[c]) * s * (abs(dy[k]) + db[c]/n + (abs(x[k])+abs(mu[c]))*s*dg[c]/n)
		})
	}
	return mean, y, db, dg, dx
}

func TestParityBatchNorm(t *testing.T) {
	p := newPair(t)
	r := rand.New(rand.NewPCG(18, 1))
	for i := 0; i < 24; i++ {
		var xs tensor.Shape
		switch i % 4 {
		case 0:
			xs = tensor.Shape{2 + r.IntN(60), 1 + r.IntN(20)}
		case 1:
			xs = tensor.Shape{1, 1 + r.IntN(6), 1 + r.IntN(9), 2 + r.IntN(9)} // batch 1
		default:
			xs = tensor.Shape{1 + r.IntN(9), 1 + r.IntN(12), 1 + r.IntN(15), 1 + r.IntN(15)}
		}
		if i >= 22 { // many chunks per channel
			xs = tensor.Shape{4 + r.IntN(8), 1 + r.IntN(3), 28 + r.IntN(30), 28 + r.IntN(30)}
		}
		if xs[0]*xs[2:].Len() < 2 {
			xs[0] = 2
		}
		ch, inner := xs[1], xs[2:].Len()
		offset := []float64{0, 0, 5, -40}[i%4]
		pp := tensor.BatchNormParams{Eps: []float64{1e-5, 1e-3}[r.IntN(2)], Momentum: []float64{0.1, 0.5}[r.IntN(2)]}
		what := fmt.Sprintf("batch norm %d: x %v offset %v %+v", i, xs, offset, pp)
		xv := uniform(r, xs.Len(), offset-1, offset+1)
		x, dy := p.put(xs, xv), p.put(xs, uniform(r, xs.Len(), -1, 1))
		gamma, beta := p.put(tensor.Shape{ch}, uniform(r, ch, -2, 2)), p.put(tensor.Shape{ch}, uniform(r, ch, -1, 1))
		rm, rv := p.put(tensor.Shape{ch}, uniform(r, ch, -1, 1)), p.put(tensor.Shape{ch}, uniform(r, ch, 0.5, 2))
		y, ye, mean, invStd := p.put(xs, nil), p.put(xs, nil), p.put(tensor.Shape{ch}, nil), p.put(tensor.Shape{ch}, nil)
		dx, dg, db := p.put(xs, nil), p.put(tensor.Shape{ch}, nil), p.put(tensor.Shape{ch}, nil)
		rv0 := append([]float32(nil), rv.v...)
		rm0 := append([]float32(nil), rm.v...)
		p.run(what, func(be tensor.Backend, s pick) error {
			if err := be.BatchNormEval(s(ye), s(x), s(gamma), s(beta), s(rm), s(rv), pp); err != nil {
				return err
			}
			if err := be.BatchNormTrain(s(y), s(mean), s(invStd), s(rm), s(rv), s(x), s(gamma), s(beta), pp); err != nil {
				return err
			}
			return be.BatchNormBackward(s(dx), s(dg), s(db), s(dy), s(x), s(gamma), s(mean), s(invStd))
		})
		// Both backends must agree on the statistics before the rest is
		// compared from the CPU's.
		mu, is := p.read(mean.c), p.read(invStd.c)
		f32 := func(v []float64) []float32 {
			out := make([]float32, len(v))
			for k := range v {
				out[k] = float32(v[k])
			}
			return out
		}
		mMag, yMag, dbMag, dgMag, dxMag := bnMags(xs[0], ch, inner, xv, dy.v, gamma.v, beta.v, f32(mu), f32(is))
		p.check(what+" mean", mean, mMag, relSum, absTiny)
		p.check(what+" inverse std", invStd, nil, relSum, absTiny)
		p.check(what+" output", y, yMag, relSum, absTiny)
		rmMag, rvMag := make([]float64, ch), make([]float64, ch)
		n := float64(xs[0] * inner)
		for c := range rmMag {
			rmMag[c] = (1-pp.Momentum)*math.Abs(float64(rm0[c])) + pp.Momentum*mMag[c]
			v := 1/(is[c]*is[c]) - pp.Eps
			rvMag[c] = (1-pp.Momentum)*float64(rv0[c]) + pp.Momentum*math.Abs(v)*n/(n-1)
		}
		p.check(what+" running mean", rm, rmMag, relSum, absTiny)
		p.check(what+" running variance", rv, rvMag, relSum, absTiny)
		eMag := make([]float64, xs.Len())
		for k := range eMag {
			c := (k / inner) % ch
			eMag[k] = math.Abs(float64(gamma.v[c]))*(math.Abs(float64(xv[k]))+math.Abs(float64(rm0[c])))/math.Sqrt(float64(rv0[c])+pp.Eps) +
				math.Abs(float64(beta.v[c]))
		}
		p.check(what+" eval output", ye, eMag, relSum, absTiny)
		p.check(what+" beta gradient", db, dbMag, relSum, absTiny)
		p.check(what+" gamma gradient", dg, dgMag, relSum, absTiny)
		p.check(what+" input gradient", dx, dxMag, relSum, absTiny)
		p.release()
		p.n++
	}
	t.Logf("%d batch norm configurations, train, eval and backward each", p.n)
}
