package tensortest

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// ConvCase is one convolution configuration: input [N, C, H, W], kernel
// [K, C/Groups, KH, KW], the parameters of tensor.Conv2DParams, and whether a
// bias is passed. Index 0 of each pair is the height axis.
type ConvCase struct {
	N, C, H, W            int
	K, KH, KW             int
	Stride, Pad, Dilation [2]int
	Groups                int
	Bias                  bool
}

// outLen is ⌊(in + 2p − d(k−1) − 1)/s⌋ + 1, the output length along one axis.
func outLen(in, k, s, p, d int) int { return (in+2*p-d*(k-1)-1)/s + 1 }

// out returns the output height and width.
func (c ConvCase) out() (oh, ow int) {
	return outLen(c.H, c.KH, c.Stride[0], c.Pad[0], c.Dilation[0]),
		outLen(c.W, c.KW, c.Stride[1], c.Pad[1], c.Dilation[1])
}

func (c ConvCase) params() tensor.Conv2DParams {
	return tensor.Conv2DParams{Stride: c.Stride, Pad: c.Pad, Dilation: c.Dilation, Groups: c.Groups}
}

// kernelChannels is C/Groups, or 1 when Groups does not divide C.
func (c ConvCase) kernelChannels() int {
	if c.Groups < 1 || c.C%c.Groups != 0 {
		return 1
	}
	return c.C / c.Groups
}

func (c ConvCase) xShape() []int { return []int{c.N, c.C, c.H, c.W} }
func (c ConvCase) wShape() []int { return []int{c.K, c.kernelChannels(), c.KH, c.KW} }
func (c ConvCase) yShape() []int {
	oh, ow := c.out()
	return []int{c.N, c.K, oh, ow}
}

// macs is the number of multiply-adds of the forward pass, ignoring padding.
func (c ConvCase) macs() int {
	oh, ow := c.out()
	return c.N * c.K * oh * ow * (c.C / c.Groups) * c.KH * c.KW
}

// String describes the configuration for failure messages.
func (c ConvCase) String() string {
	return fmt.Sprintf("x [%d %d %d %d] w [%d %d %d %d] stride %v pad %v dilation %v groups %d bias %v",
		c.N, c.C, c.H, c.W, c.K, c.kernelChannels(), c.KH, c.KW, c.Stride, c.Pad, c.Dilation, c.Groups, c.Bias)
}

// convSeed seeds the random convolution configurations and their data.
const convSeed = 0xc0de

// convRandomCases is the number of random configurations per conv op.
const convRandomCases = 200

// maxConvMACs bounds the work of one random configuration, so that the suite
// stays fast on a small machine.
const maxConvMACs = 40000

// edgeConvCases are hand-picked configurations that must always be covered.
func edgeConvCases() []ConvCase {
	one := [2]int{1, 1}
	return []ConvCase{
		{N: 1, C: 1, H: 1, W: 1, K: 1, KH: 1, KW: 1, Stride: one, Dilation: one, Groups: 1},                                       // all ones
		{N: 2, C: 3, H: 5, W: 7, K: 4, KH: 1, KW: 1, Stride: one, Dilation: one, Groups: 1, Bias: true},                           // 1×1
		{N: 1, C: 2, H: 9, W: 8, K: 3, KH: 7, KW: 7, Stride: one, Pad: [2]int{3, 3}, Dilation: one, Groups: 1, Bias: true},        // 7×7 same
		{N: 1, C: 2, H: 7, W: 7, K: 2, KH: 7, KW: 7, Stride: one, Dilation: one, Groups: 1},                                       // kernel = input
		{N: 2, C: 2, H: 6, W: 9, K: 3, KH: 1, KW: 5, Stride: [2]int{1, 2}, Pad: [2]int{0, 2}, Dilation: one, Groups: 1},           // 1×5
		{N: 1, C: 3, H: 8, W: 5, K: 2, KH: 3, KW: 1, Stride: [2]int{2, 1}, Pad: [2]int{1, 0}, Dilation: one, Groups: 1},           // 3×1
		{N: 2, C: 2, H: 11, W: 10, K: 3, KH: 2, KW: 2, Stride: [2]int{3, 3}, Dilation: one, Groups: 1, Bias: true},                // stride > kernel
		{N: 1, C: 1, H: 9, W: 9, K: 2, KH: 1, KW: 1, Stride: [2]int{4, 3}, Dilation: one, Groups: 1},                              // 1×1, stride 4
		{N: 1, C: 2, H: 5, W: 6, K: 2, KH: 3, KW: 3, Stride: one, Pad: [2]int{2, 2}, Dilation: one, Groups: 1},                    // full padding
		{N: 1, C: 1, H: 4, W: 4, K: 1, KH: 2, KW: 2, Stride: one, Pad: [2]int{2, 2}, Dilation: one, Groups: 1, Bias: true},        // pad = kernel
		{N: 2, C: 2, H: 9, W: 7, K: 2, KH: 3, KW: 3, Stride: one, Pad: [2]int{2, 2}, Dilation: [2]int{2, 2}, Groups: 1},           // dilation 2
		{N: 1, C: 2, H: 8, W: 9, K: 2, KH: 3, KW: 2, Stride: [2]int{2, 3}, Pad: [2]int{1, 0}, Dilation: [2]int{2, 1}, Groups: 1},  // mixed
		{N: 2, C: 4, H: 6, W: 5, K: 6, KH: 3, KW: 3, Stride: one, Pad: one, Dilation: one, Groups: 2, Bias: true},                 // groups 2
		{N: 1, C: 4, H: 7, W: 6, K: 8, KH: 3, KW: 3, Stride: [2]int{2, 2}, Pad: one, Dilation: one, Groups: 4},                    // depthwise ×2
		{N: 3, C: 3, H: 5, W: 5, K: 3, KH: 5, KW: 3, Stride: one, Pad: [2]int{4, 2}, Dilation: one, Groups: 3, Bias: true},        // depthwise
		{N: 1, C: 6, H: 3, W: 11, K: 4, KH: 2, KW: 4, Stride: [2]int{1, 5}, Pad: [2]int{1, 3}, Dilation: [2]int{1, 2}, Groups: 2}, // groups, wide
		// Larger layers, so that backends split and tile the work.
		{N: 2, C: 12, H: 18, W: 19, K: 16, KH: 3, KW: 3, Stride: one, Pad: one, Dilation: one, Groups: 1, Bias: true},
		{N: 3, C: 32, H: 15, W: 15, K: 32, KH: 3, KW: 3, Stride: [2]int{2, 2}, Pad: one, Dilation: one, Groups: 32, Bias: true},
		{N: 1, C: 12, H: 17, W: 18, K: 18, KH: 5, KW: 5, Stride: one, Pad: [2]int{4, 2}, Dilation: [2]int{2, 1}, Groups: 3},
	}
}

// randomConvCase draws one configuration: batch 1 to 3; one group, two groups
// or depthwise; kernels from 1×1 to 7×7, often rectangular; stride 1 to 4 (so
// often larger than the kernel); padding 0 to kernel−1; dilation 1 or 2; input
// sizes from the smallest the kernel allows to 7 more, independently per axis.
func randomConvCase(r *rand.Rand) ConvCase {
	sizes := []int{1, 1, 2, 3, 3, 4, 5, 7}
	for {
		c := ConvCase{N: 1 + r.IntN(3), Bias: r.IntN(2) == 0}
		switch r.IntN(3) {
		case 0:
			c.Groups, c.C, c.K = 1, 1+r.IntN(5), 1+r.IntN(5)
		case 1:
			c.Groups, c.C, c.K = 2, 2*(1+r.IntN(3)), 2*(1+r.IntN(3))
		default:
			c.C = 1 + r.IntN(4)
			c.Groups, c.K = c.C, c.C*(1+r.IntN(2))
		}
		c.KH, c.KW = sizes[r.IntN(len(sizes))], sizes[r.IntN(len(sizes))]
		dims := [2]*int{&c.H, &c.W}
		for a, k := range [2]int{c.KH, c.KW} {
			c.Stride[a] = 1 + r.IntN(4)
			c.Dilation[a] = 1 + r.IntN(2)
			c.Pad[a] = r.IntN(k)
			span := c.Dilation[a]*(k-1) + 1
			*dims[a] = max(1, span-2*c.Pad[a]) + r.IntN(8)
		}
		if c.macs() <= maxConvMACs {
			return c
		}
	}
}

// convCases returns the edge cases followed by convRandomCases random ones.
func convCases() []ConvCase {
	r := newRand(convSeed)
	cs := edgeConvCases()
	for range convRandomCases {
		cs = append(cs, randomConvCase(r))
	}
	return cs
}

// maxFailures bounds the configurations reported per test.
const maxFailures = 5

// forConvCases runs f on every configuration with its own data generator and a
// harness whose test names the seed, the case and the configuration; f returns
// whether the case passed. It stops after maxFailures failing cases.
func forConvCases(t *testing.T, b tensor.Backend, dt tensor.DType, f func(h *harness, r *rand.Rand, c ConvCase) bool) {
	failures := 0
	for i, c := range convCases() {
		h := newHarness(named(t, "seed %#x case %d (%v)", convSeed, i, c), b, dt)
		ok := f(h, newRand(convSeed+uint64(i)+1), c)
		h.release()
		if !ok {
			if failures++; failures >= maxFailures {
				t.Fatalf("stopping after %d failing configurations", failures)
			}
		}
	}
}

// caseT prefixes the errors of a test with the case they come from.
type caseT struct {
	testing.TB
	prefix string
}

func (c caseT) Errorf(format string, args ...any) {
	c.TB.Helper()
	c.TB.Errorf(c.prefix+format, args...)
}

func (c caseT) Fatalf(format string, args ...any) {
	c.TB.Helper()
	c.TB.Fatalf(c.prefix+format, args...)
}

// named returns t with errors prefixed by the formatted case description.
func named(t testing.TB, format string, args ...any) caseT {
	return caseT{TB: t, prefix: fmt.Sprintf(format, args...) + ": "}
}

// ok reports err, if any, on h's test and returns whether err is nil.
func (h *harness) ok(op string, err error) bool {
	h.t.Helper()
	if err != nil {
		h.t.Errorf("%s: unexpected error: %v", op, err)
		return false
	}
	return true
}

// Conv2D checks Backend.Conv2D, with and without bias, against the naive
// cross-correlation on the edge cases and 200 random configurations.
func Conv2D(t *testing.T, b tensor.Backend, dt tensor.DType) {
	tol := Tolerance(dt)
	forConvCases(t, b, dt, func(h *harness, r *rand.Rand, c ConvCase) bool {
		x := h.round(uniform(r, c.N*c.C*c.H*c.W, -1, 1))
		w := h.round(uniform(r, c.K*(c.C/c.Groups)*c.KH*c.KW, -1, 1))
		var bias []float64
		var bt *tensor.Tensor
		if c.Bias {
			bias = h.round(uniform(r, c.K, -1, 1))
			bt = h.from(bias, c.K)
		}
		y := h.dst(c.yShape()...)
		if !h.ok("conv2d", b.Conv2D(y, h.from(x, c.xShape()...), h.from(w, c.wShape()...), bt, c.params())) {
			return false
		}
		ref, mag := refConv2D(c, x, w, bias)
		return compare(h.t, "conv2d output", h.read(y), ref, mag, tol)
	})
}

// Conv2DInputGrad checks Backend.Conv2DInputGrad against the naive full
// convolution on the edge cases and 200 random configurations.
func Conv2DInputGrad(t *testing.T, b tensor.Backend, dt tensor.DType) {
	tol := Tolerance(dt)
	forConvCases(t, b, dt, func(h *harness, r *rand.Rand, c ConvCase) bool {
		ys := c.yShape()
		dy := h.round(uniform(r, tensor.Shape(ys).Len(), -1, 1))
		w := h.round(uniform(r, c.K*(c.C/c.Groups)*c.KH*c.KW, -1, 1))
		dx := h.dst(c.xShape()...)
		if !h.ok("conv2d input gradient", b.Conv2DInputGrad(dx, h.from(dy, ys...), h.from(w, c.wShape()...), c.params())) {
			return false
		}
		ref, mag := refConv2DInputGrad(c, dy, w)
		return compare(h.t, "conv2d input gradient", h.read(dx), ref, mag, tol)
	})
}

// Conv2DKernelGrad checks Backend.Conv2DKernelGrad against the naive
// correlation of the input with the output gradient on the edge cases and 200
// random configurations.
func Conv2DKernelGrad(t *testing.T, b tensor.Backend, dt tensor.DType) {
	tol := Tolerance(dt)
	forConvCases(t, b, dt, func(h *harness, r *rand.Rand, c ConvCase) bool {
		ys := c.yShape()
		x := h.round(uniform(r, c.N*c.C*c.H*c.W, -1, 1))
		dy := h.round(uniform(r, tensor.Shape(ys).Len(), -1, 1))
		dw := h.dst(c.wShape()...)
		if !h.ok("conv2d kernel gradient", b.Conv2DKernelGrad(dw, h.from(x, c.xShape()...), h.from(dy, ys...), c.params())) {
			return false
		}
		ref, mag := refConv2DKernelGrad(c, x, dy)
		return compare(h.t, "conv2d kernel gradient", h.read(dw), ref, mag, tol)
	})
}

// BiasGrad checks Backend.BiasGrad on conv output gradients [N, K, OH, OW]
// up to 73728 elements, dense ones [N, F] and a rank-5 one.
func BiasGrad(t *testing.T, b tensor.Backend, dt tensor.DType) {
	const seed = 0xb1a5
	r := newRand(seed)
	tol := Tolerance(dt)
	shapes := [][]int{{1, 1}, {5, 3}, {1, 7}, {64, 10}, {1, 1, 1, 1}, {2, 3, 4, 5}, {3, 2, 7, 1}, {1, 16, 9, 11}, {2, 3, 2, 2, 2}, {8, 16, 24, 24}}
	for _, s := range shapes {
		h := newHarness(named(t, "seed %#x dy %v", seed, s), b, dt)
		n := tensor.Shape(s).Len()
		dy := h.round(uniform(r, n, -1, 1))
		db := h.dst(s[1])
		if h.ok("bias gradient", b.BiasGrad(db, h.from(dy, s...))) {
			ref, mag := refBiasGrad(dy, s[0], s[1], n/(s[0]*s[1]))
			compare(h.t, "bias gradient", h.read(db), ref, mag, tol)
		}
		h.release()
	}
}
