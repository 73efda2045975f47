package tensortest

import (
	"math"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// Elementwise checks Add, Mul and Scale on operands of one element count but
// different shapes, into a separate destination and with the destination
// aliasing an operand.
func Elementwise(t *testing.T, b tensor.Backend, dt tensor.DType) {
	const seed = 0xe1e
	r := newRand(seed)
	tol := Tolerance(dt)
	for _, n := range []int{1, 6, 97, 1000, 100_003} {
		for _, alias := range []string{"none", "a", "b", "both"} {
			if n > 1000 && alias != "none" {
				continue // the large size is there for work splitting only
			}
			h := newHarness(named(t, "seed %#x n %d alias %s", seed, n, alias), b, dt)
			av, bv := h.round(uniform(r, n, -2, 2)), h.round(uniform(r, n, -2, 2))
			if alias == "both" {
				bv = av
			}
			add, addMag := make([]float64, n), make([]float64, n)
			mul := make([]float64, n)
			for i := range av {
				add[i], addMag[i] = av[i]+bv[i], math.Abs(av[i])+math.Abs(bv[i])
				mul[i] = av[i] * bv[i]
			}
			for _, op := range []struct {
				name string
				f    func(dst, a, b *tensor.Tensor) error
				ref  []float64
				mag  []float64
			}{{"add", b.Add, add, addMag}, {"mul", b.Mul, mul, nil}} {
				// dst is [n], a is [1, n], b is [n, 1]: only the count matters.
				at, bt := h.from(av, 1, n), h.from(bv, n, 1)
				dst := h.dst(n)
				switch alias {
				case "a":
					dst = at
				case "b":
					dst = bt
				case "both":
					dst, bt = at, at
				}
				if h.ok(op.name, op.f(dst, at, bt)) {
					compare(h.t, op.name, h.read(dst), op.ref, op.mag, tol)
				}
			}
			for _, alpha := range []float64{0, 1, -1.5, 1e-3, 3} {
				x := h.from(av, n)
				dst := x
				if alias == "none" {
					dst = h.dst(n)
				}
				ref := make([]float64, n)
				for i, v := range av {
					ref[i] = alpha * v
				}
				if h.ok("scale", b.Scale(dst, x, alpha)) {
					compare(named(h.t, "alpha %v", alpha), "scale", h.read(dst), ref, nil, tol)
				}
			}
			h.release()
		}
	}
}

// activationInput returns n values in [-8, 8) followed by special values:
// zeros, values near ±1e-6, and large ones that overflow a naive exponential.
func activationInput(h *harness, n int) []float64 {
	x := uniform(newRand(0xac7), n, -8, 8)
	return h.round(append(x, 0, math.Copysign(0, -1), 1e-6, -1e-6, 3e-3, -3e-3, 30, -30, 88, 100, -100, 1000, -1000))
}

// Activations checks ReLU, LeakyReLU (positive, zero and negative slopes),
// Sigmoid, Tanh, SiLU and their backward ops, including inputs whose
// exponential overflows and in-place application.
func Activations(t *testing.T, b tensor.Backend, dt tensor.DType) {
	for _, size := range []int{300, 70_000} {
		h := newHarness(named(t, "%d random inputs", size), b, dt)
		checkActivations(h, size)
		h.release()
	}
}

// checkActivations runs the activation checks on size random inputs and the
// special values.
func checkActivations(h *harness, size int) {
	b, tol := h.b, Tolerance(h.dt)
	x := activationInput(h, size)
	n := len(x)
	dy := h.round(uniform(newRand(0xac8), n, -1, 1))
	xt, dyt := h.from(x, n), h.from(dy, n)
	relu, sig, tanh := make([]float64, n), make([]float64, n), make([]float64, n)
	reluB := make([]float64, n)
	ones := make([]float64, n)
	for i, v := range x {
		relu[i] = math.Max(v, 0)
		if v > 0 {
			reluB[i] = dy[i]
		}
		sig[i], tanh[i] = refSigmoid(v), math.Tanh(v)
		ones[i] = 1
	}
	for _, op := range []struct {
		name string
		f    func(dst, x *tensor.Tensor) error
		ref  []float64
		tol  Tol
		mag  []float64
	}{
		{"relu", b.ReLU, relu, exact, nil},
		{"sigmoid", b.Sigmoid, sig, tol, nil},
		// Near 0, tanh computed from exponentials cancels: compare absolutely.
		{"tanh", b.Tanh, tanh, tol, ones},
	} {
		y := h.dst(n)
		if h.ok(op.name, op.f(y, xt)) {
			compare(h.t, op.name, h.read(y), op.ref, op.mag, op.tol)
		}
		in := h.from(x, n)
		if h.ok(op.name+" in place", op.f(in, in)) {
			compare(h.t, op.name+" in place", h.read(in), op.ref, op.mag, op.tol)
		}
	}

	checkLeakyReLU(h, x, dy)
	checkSiLU(h, x, dy)

	// Backward ops take the forward output y (as the backend rounds it).
	ys := h.round(append([]float64(nil), sig...))
	yt := h.round(append([]float64(nil), tanh...))
	sigB, sigMag := make([]float64, n), make([]float64, n)
	tanhB, tanhMag := make([]float64, n), make([]float64, n)
	for i := range x {
		sigB[i] = dy[i] * ys[i] * (1 - ys[i])
		sigMag[i] = math.Abs(dy[i]*ys[i]) * (1 + math.Abs(ys[i]))
		tanhB[i] = dy[i] * (1 - yt[i]*yt[i])
		tanhMag[i] = math.Abs(dy[i]) * (1 + yt[i]*yt[i])
	}
	for _, op := range []struct {
		name string
		f    func(dx, dy, x *tensor.Tensor) error
		in   []float64
		ref  []float64
		tol  Tol
		mag  []float64
	}{
		{"relu backward", b.ReLUBackward, x, reluB, exact, nil},
		{"sigmoid backward", b.SigmoidBackward, ys, sigB, tol, sigMag},
		{"tanh backward", b.TanhBackward, yt, tanhB, tol, tanhMag},
	} {
		in := h.from(op.in, n)
		dx := h.dst(n)
		if h.ok(op.name, op.f(dx, dyt, in)) {
			compare(h.t, op.name, h.read(dx), op.ref, op.mag, op.tol)
		}
		g := h.from(dy, n)
		if h.ok(op.name+" in place", op.f(g, g, in)) {
			compare(h.t, op.name+" in place", h.read(g), op.ref, op.mag, op.tol)
		}
	}
}

// checkLeakyReLU checks LeakyReLU and LeakyReLUBackward on inputs x and
// output gradients dy, into separate destinations and in place. Both are one
// multiplication by the slope rounded to the dtype, or a copy, so they must
// match the reference exactly.
func checkLeakyReLU(h *harness, x, dy []float64) {
	b, n := h.b, len(x)
	xt, dyt := h.from(x, n), h.from(dy, n)
	for _, slope := range []float64{0.01, 0.2, 0, -0.5, 1.0 / 3} {
		rs := h.round([]float64{slope})[0]
		fwd, bwd := make([]float64, n), make([]float64, n)
		for i, v := range x {
			fwd[i], bwd[i] = refLeakyReLU(v, rs), refLeakyReLUBackward(dy[i], v, rs)
		}
		h.round(fwd)
		h.round(bwd)
		st := named(h.t, "slope %v", slope)
		y := h.dst(n)
		if h.ok("leaky relu", b.LeakyReLU(y, xt, slope)) {
			compare(st, "leaky relu", h.read(y), fwd, nil, exact)
		}
		in := h.from(x, n)
		if h.ok("leaky relu in place", b.LeakyReLU(in, in, slope)) {
			compare(st, "leaky relu in place", h.read(in), fwd, nil, exact)
		}
		dx := h.dst(n)
		if h.ok("leaky relu backward", b.LeakyReLUBackward(dx, dyt, xt, slope)) {
			compare(st, "leaky relu backward", h.read(dx), bwd, nil, exact)
		}
		g := h.from(dy, n)
		if h.ok("leaky relu backward in place", b.LeakyReLUBackward(g, g, xt, slope)) {
			compare(st, "leaky relu backward in place", h.read(g), bwd, nil, exact)
		}
	}
}

// checkSiLU checks SiLU and SiLUBackward on inputs x and output gradients dy,
// into separate destinations and in place. The backward is compared relative
// to |dy|·s·(1 + |x|·(1−s)), its terms, since 1 + x·(1−s) cancels near
// x ≈ −1.28, where SiLU has its minimum.
func checkSiLU(h *harness, x, dy []float64) {
	b, tol, n := h.b, Tolerance(h.dt), len(x)
	xt, dyt := h.from(x, n), h.from(dy, n)
	fwd, bwd, bwdMag := make([]float64, n), make([]float64, n), make([]float64, n)
	for i, v := range x {
		fwd[i] = refSiLU(v)
		bwd[i], bwdMag[i] = refSiLUBackward(dy[i], v)
	}
	y := h.dst(n)
	if h.ok("silu", b.SiLU(y, xt)) {
		compare(h.t, "silu", h.read(y), fwd, nil, tol)
	}
	in := h.from(x, n)
	if h.ok("silu in place", b.SiLU(in, in)) {
		compare(h.t, "silu in place", h.read(in), fwd, nil, tol)
	}
	dx := h.dst(n)
	if h.ok("silu backward", b.SiLUBackward(dx, dyt, xt)) {
		compare(h.t, "silu backward", h.read(dx), bwd, bwdMag, tol)
	}
	g := h.from(dy, n)
	if h.ok("silu backward in place", b.SiLUBackward(g, g, xt)) {
		compare(h.t, "silu backward in place", h.read(g), bwd, bwdMag, tol)
	}
}

// Softmax checks Softmax and SoftmaxBackward along the last axis of tensors of
// rank 1 to 3, including one-column rows and rows of logits near ±1000.
func Softmax(t *testing.T, b tensor.Backend, dt tensor.DType) {
	const seed = 0x50f7
	r := newRand(seed)
	tol := Tolerance(dt)
	for _, s := range [][]int{{1}, {7}, {3, 5}, {4, 1}, {2, 3, 4}, {3, 100}, {700, 130}} {
		h := newHarness(named(t, "seed %#x x %v", seed, s), b, dt)
		n := tensor.Shape(s).Len()
		cols := s[len(s)-1]
		rows := n / cols
		x := h.round(uniform(r, n, -5, 5))
		if rows > 1 { // overflow and underflow guards
			for c := 0; c < cols; c++ {
				x[c] += 1000
				x[(rows-1)*cols+c] -= 1000
			}
			h.round(x)
		}
		y := h.dst(s...)
		if h.ok("softmax", b.Softmax(y, h.from(x, s...))) {
			compare(h.t, "softmax", h.read(y), refSoftmax(x, rows, cols), nil, tol)
		}
		yv := h.round(refSoftmax(x, rows, cols))
		dy := h.round(uniform(r, n, -1, 1))
		dx := h.dst(s...)
		if h.ok("softmax backward", b.SoftmaxBackward(dx, h.from(dy, s...), h.from(yv, s...))) {
			ref, mag := refSoftmaxBackward(dy, yv, rows, cols)
			compare(h.t, "softmax backward", h.read(dx), ref, mag, tol)
		}
		h.release()
	}
}

// ArgMax checks ArgMax on integer-valued rows full of ties (the first maximum
// wins), with destinations [rows] and of the input's leading shape.
func ArgMax(t *testing.T, b tensor.Backend, dt tensor.DType) {
	const seed = 0xa53
	r := newRand(seed)
	for _, s := range [][]int{{1}, {5}, {3, 4}, {6, 1}, {2, 3, 6}, {10, 33}, {3000, 17}} {
		n := tensor.Shape(s).Len()
		cols := s[len(s)-1]
		rows := n / cols
		for _, ds := range [][]int{{rows}, append([]int{}, s[:len(s)-1]...)} {
			if len(ds) == 0 {
				ds = []int{1}
			}
			h := newHarness(named(t, "seed %#x x %v dst %v", seed, s, ds), b, dt)
			x := integers(r, n, -3, 3)
			x[0] = -7 // a row whose maximum is not at its start
			if rows > 1 {
				for c := 0; c < cols; c++ { // a row of equal values
					x[cols+c] = 2
				}
			}
			dst := h.dst(ds...)
			if h.ok("argmax", b.ArgMax(dst, h.from(x, s...))) {
				compare(h.t, "argmax", h.read(dst), refArgMax(x, rows, cols), nil, exact)
			}
			h.release()
		}
	}
}

// Dropout checks DropoutMask: element i is 0 where DropoutUniform(seed, i) <
// rate, else 1/(1−rate); the same seed gives the same mask and rate 0 keeps
// everything.
func Dropout(t *testing.T, b tensor.Backend, dt tensor.DType) {
	tol := Tolerance(dt)
	for _, s := range [][]int{{1}, {1000}, {4, 5, 6}, {100_003}} {
		for _, rate := range []float64{0, 0.1, 0.3, 0.5, 0.75} {
			for _, seed := range []uint64{0, 1, 0xdeadbeefcafe} {
				if s[0] == 100_003 && (rate != 0.3 || seed != 1) {
					continue // one large mask, so that backends split the work
				}
				h := newHarness(named(t, "mask %v rate %v seed %#x", s, rate, seed), b, dt)
				n := tensor.Shape(s).Len()
				ref := refDropout(n, rate, seed)
				m := h.dst(s...)
				if !h.ok("dropout mask", b.DropoutMask(m, rate, seed)) {
					continue
				}
				got := h.read(m)
				for i := range got {
					if (got[i] == 0) != (ref[i] == 0) {
						h.t.Errorf("element %d is %v, expected %v (DropoutUniform %v, rate %v)",
							i, got[i], ref[i], tensor.DropoutUniform(seed, uint32(i)), rate)
						break
					}
				}
				compare(h.t, "dropout mask", got, ref, nil, tol)
				if !h.ok("dropout mask again", b.DropoutMask(m, rate, seed)) {
					continue
				}
				compare(h.t, "dropout mask, same seed again", h.read(m), got, nil, exact)
				h.release()
			}
		}
	}
}
