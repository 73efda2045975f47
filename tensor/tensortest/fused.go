package tensortest

import (
	"errors"
	"math"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// fusedConvCases bounds the convolution configurations Fused runs (each runs
// the fused op and the plain sequence).
const fusedConvCases = 40

// Fused checks the optional fused and batched ops a backend implements
// (tensor.FusedConv2D, tensor.FusedLinear, tensor.BatchedOptimizer) against
// the plain sequence of ops on the same backend: the results must be
// bit-identical, since these ops only save passes. It also checks the errors
// for an unknown activation, a bias of the wrong shape, slices of different
// lengths and entries sharing a tensor. A backend without them passes
// trivially.
func Fused(t *testing.T, b tensor.Backend, dt tensor.DType) {
	if fc, ok := b.(tensor.FusedConv2D); ok {
		for i, c := range convCases()[:fusedConvCases] {
			h := newHarness(named(t, "seed %#x case %d (%v)", convSeed, i, c), b, dt)
			checkFusedConv(h, fc, c, newRand(convSeed+uint64(i)+1))
			h.release()
		}
	}
	if fl, ok := b.(tensor.FusedLinear); ok {
		r := newRand(0xf05ed)
		for _, s := range [][3]int{{1, 1, 1}, {3, 7, 5}, {64, 84, 10}, {17, 400, 120}, {5, 33, 129}} {
			h := newHarness(named(t, "linear %v", s), b, dt)
			checkFusedLinear(h, fl, s[0], s[1], s[2], r)
			h.release()
		}
	}
	if bo, ok := b.(tensor.BatchedOptimizer); ok {
		h := newHarness(named(t, "batched optimizer"), b, dt)
		checkBatchedOptimizer(h, bo, newRand(0xba7c4))
		h.release()
	}
}

// checkBatchedOptimizer compares SGDSteps and AdamSteps over 19 parameters of
// assorted sizes (more than one dispatch holds on most devices) with the
// single steps, over three steps, and checks the argument errors.
func checkBatchedOptimizer(h *harness, bo tensor.BatchedOptimizer, r interface{ Float64() float64 }) {
	sizes := []int{1, 7, 256, 257, 1000, 3, 4096, 5, 300, 2, 513, 64, 9, 1, 700, 31, 2049, 8, 100}
	v := func(k int) []float64 {
		s := make([]float64, k)
		for i := range s {
			s[i] = 2*r.Float64() - 1
		}
		return h.round(s)
	}
	type set struct{ p, g, m, v []*tensor.Tensor }
	mk := func(init [][4][]float64) set {
		var s set
		for _, d := range init {
			n := len(d[0])
			s.p = append(s.p, h.from(d[0], n))
			s.g = append(s.g, h.from(d[1], n))
			s.m = append(s.m, h.from(d[2], n))
			s.v = append(s.v, h.from(d[3], n))
		}
		return s
	}
	var init [][4][]float64
	for _, n := range sizes {
		vs := v(n)
		for i := range vs {
			vs[i] = math.Abs(vs[i]) // second moments are non-negative
		}
		init = append(init, [4][]float64{v(n), v(n), v(n), vs})
	}
	sgd := tensor.SGDParams{LR: 0.1, Momentum: 0.9, WeightDecay: 0.01, Nesterov: true}
	adam := tensor.DefaultAdamW()
	for _, mode := range []string{"sgd", "sgd without momentum", "adam"} {
		batch, single := mk(init), mk(init)
		for step := 1; step <= 3; step++ {
			var err error
			switch mode {
			case "sgd":
				err = bo.SGDSteps(batch.p, batch.g, batch.m, sgd)
			case "sgd without momentum":
				err = bo.SGDSteps(batch.p, batch.g, nil, tensor.SGDParams{LR: 0.05})
			default:
				err = bo.AdamSteps(batch.p, batch.g, batch.m, batch.v, adam, step)
			}
			if !h.ok(mode+" batched", err) {
				return
			}
			for i := range single.p {
				switch mode {
				case "sgd":
					err = h.b.SGDStep(single.p[i], single.g[i], single.m[i], sgd)
				case "sgd without momentum":
					err = h.b.SGDStep(single.p[i], single.g[i], nil, tensor.SGDParams{LR: 0.05})
				default:
					err = h.b.AdamStep(single.p[i], single.g[i], single.m[i], single.v[i], adam, step)
				}
				if !h.ok(mode+" single", err) {
					return
				}
			}
		}
		for i := range single.p {
			sameBits(h, mode+" parameter", h.read(batch.p[i]), h.read(single.p[i]))
			sameBits(h, mode+" state", h.read(batch.m[i]), h.read(single.m[i]))
			sameBits(h, mode+" second moment", h.read(batch.v[i]), h.read(single.v[i]))
		}
	}
	s := mk([][4][]float64{init[1], init[1], init[1]})
	if err := bo.SGDSteps(s.p, s.g[:2], nil, tensor.SGDParams{LR: 0.1}); !errors.Is(err, tensor.ErrParam) {
		h.t.Errorf("SGDSteps with 3 parameters and 2 gradients: %v, want an ErrParam error", err)
	}
	shared := []*tensor.Tensor{s.p[0], s.p[1], s.p[0]}
	if err := bo.AdamSteps(shared, s.g, s.m, s.v, adam, 1); !errors.Is(err, tensor.ErrParam) {
		h.t.Errorf("AdamSteps with a parameter twice: %v, want an ErrParam error", err)
	}
	if err := bo.AdamSteps(s.p, s.g, s.m, s.v, adam, 0); !errors.Is(err, tensor.ErrParam) {
		h.t.Errorf("AdamSteps at step 0: %v, want an ErrParam error", err)
	}
}

// checkFusedConv compares Conv2DAct with Conv2D followed by ReLU.
func checkFusedConv(h *harness, fc tensor.FusedConv2D, c ConvCase, r interface{ Float64() float64 }) {
	n := func(k int) []float64 {
		v := make([]float64, k)
		for i := range v {
			v[i] = 2*r.Float64() - 1
		}
		return h.round(v)
	}
	x := h.from(n(c.N*c.C*c.H*c.W), c.xShape()...)
	w := h.from(n(c.K*c.kernelChannels()*c.KH*c.KW), c.wShape()...)
	var bias *tensor.Tensor
	if c.Bias {
		bias = h.from(n(c.K), c.K)
	}
	for _, act := range []tensor.Activation{tensor.ActNone, tensor.ActReLU} {
		fused, plain := h.dst(c.yShape()...), h.dst(c.yShape()...)
		if !h.ok("conv2d act", fc.Conv2DAct(fused, x, w, bias, c.params(), act)) ||
			!h.ok("conv2d", h.b.Conv2D(plain, x, w, bias, c.params())) {
			return
		}
		if act == tensor.ActReLU && !h.ok("relu", h.b.ReLU(plain, plain)) {
			return
		}
		sameBits(h, "conv2d+"+act.String(), h.read(fused), h.read(plain))
	}
	y := h.dst(c.yShape()...)
	if err := fc.Conv2DAct(y, x, w, bias, c.params(), tensor.Activation(99)); !errors.Is(err, tensor.ErrParam) {
		h.t.Errorf("conv2d with activation 99: %v, want an ErrParam error", err)
	}
}

// checkFusedLinear compares LinearAct with MatMul, AddBias and ReLU for x
// [n, in] and w [out, in].
func checkFusedLinear(h *harness, fl tensor.FusedLinear, n, in, out int, r interface{ Float64() float64 }) {
	v := func(k int) []float64 {
		s := make([]float64, k)
		for i := range s {
			s[i] = 2*r.Float64() - 1
		}
		return h.round(s)
	}
	x, w, bias := h.from(v(n*in), n, in), h.from(v(out*in), out, in), h.from(v(out), out)
	for _, withBias := range []bool{false, true} {
		bt := bias
		if !withBias {
			bt = nil
		}
		for _, act := range []tensor.Activation{tensor.ActNone, tensor.ActReLU} {
			fused, plain := h.dst(n, out), h.dst(n, out)
			if !h.ok("linear", fl.LinearAct(fused, x, w, bt, act)) || !h.ok("matmul", h.b.MatMul(plain, x, w, false, true)) {
				return
			}
			if withBias && !h.ok("add bias", h.b.AddBias(plain, plain, bias)) {
				return
			}
			if act == tensor.ActReLU && !h.ok("relu", h.b.ReLU(plain, plain)) {
				return
			}
			sameBits(h, "linear+"+act.String(), h.read(fused), h.read(plain))
		}
	}
	y := h.dst(n, out)
	if err := fl.LinearAct(y, x, w, h.zeros(out+1), tensor.ActNone); !errors.Is(err, tensor.ErrShape) {
		h.t.Errorf("linear with a bias of %d elements for %d outputs: %v, want an ErrShape error", out+1, out, err)
	}
	if err := fl.LinearAct(y, x, w, nil, tensor.Activation(-1)); !errors.Is(err, tensor.ErrParam) {
		h.t.Errorf("linear with activation -1: %v, want an ErrParam error", err)
	}
}

// sameBits reports the first element where got and want differ in any bit.
func sameBits(h *harness, what string, got, want []float64) {
	h.t.Helper()
	for i := range want {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			h.t.Errorf("%s: element %d is %v fused, %v by the plain ops", what, i, got[i], want[i])
			return
		}
	}
}
