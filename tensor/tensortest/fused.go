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

// Fused checks the optional fused ops a backend implements
// (tensor.FusedConv2D, tensor.FusedLinear) against the plain sequence of ops
// on the same backend: the results must be bit-identical, since the fused op
// only saves passes. It also checks the errors for an unknown activation and
// a bias of the wrong shape. A backend without fused ops passes trivially.
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
