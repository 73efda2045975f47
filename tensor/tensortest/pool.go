package tensortest

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// PoolCase is one pooling configuration over an input [N, C, H, W] with the
// parameters of tensor.Pool2DParams.
type PoolCase struct {
	N, C, H, W  int
	Window      [2]int
	Stride, Pad [2]int
	ExcludePad  bool
}

func (c PoolCase) out() (oh, ow int) {
	return outLen(c.H, c.Window[0], c.Stride[0], c.Pad[0], 1), outLen(c.W, c.Window[1], c.Stride[1], c.Pad[1], 1)
}

func (c PoolCase) params() tensor.Pool2DParams {
	return tensor.Pool2DParams{Window: c.Window, Stride: c.Stride, Pad: c.Pad, ExcludePad: c.ExcludePad}
}

func (c PoolCase) xShape() []int { return []int{c.N, c.C, c.H, c.W} }
func (c PoolCase) yShape() []int {
	oh, ow := c.out()
	return []int{c.N, c.C, oh, ow}
}

// String describes the configuration for failure messages.
func (c PoolCase) String() string {
	return fmt.Sprintf("x [%d %d %d %d] window %v stride %v pad %v exclude pad %v",
		c.N, c.C, c.H, c.W, c.Window, c.Stride, c.Pad, c.ExcludePad)
}

// poolSeed seeds the random pooling configurations and their data.
const poolSeed = 0x9001

// poolRandomCases is the number of random pooling configurations.
const poolRandomCases = 150

// edgePoolCases are hand-picked pooling configurations.
func edgePoolCases() []PoolCase {
	one, two := [2]int{1, 1}, [2]int{2, 2}
	return []PoolCase{
		{N: 1, C: 1, H: 1, W: 1, Window: one, Stride: one},                                       // identity
		{N: 2, C: 3, H: 6, W: 6, Window: two, Stride: two},                                       // classic 2×2
		{N: 1, C: 2, H: 7, W: 5, Window: [2]int{3, 3}, Stride: two, Pad: one},                    // overlap + pad
		{N: 1, C: 2, H: 7, W: 5, Window: [2]int{3, 3}, Stride: two, Pad: one, ExcludePad: true},  // same, excluded
		{N: 2, C: 1, H: 5, W: 8, Window: [2]int{5, 8}, Stride: one},                              // global window
		{N: 1, C: 1, H: 9, W: 9, Window: two, Stride: [2]int{4, 3}},                              // stride > window
		{N: 1, C: 2, H: 4, W: 6, Window: [2]int{2, 4}, Stride: [2]int{1, 2}, Pad: [2]int{1, 2}},  // half-window pad
		{N: 1, C: 1, H: 2, W: 2, Window: two, Stride: one, Pad: one, ExcludePad: true},           // padded corners
		{N: 3, C: 2, H: 3, W: 10, Window: [2]int{1, 3}, Stride: [2]int{1, 3}, Pad: [2]int{0, 1}}, // 1×3
		// Many channels, so that backends split the work.
		{N: 3, C: 24, H: 13, W: 14, Window: [2]int{3, 3}, Stride: two, Pad: one},
		{N: 2, C: 40, H: 16, W: 17, Window: two, Stride: two, Pad: [2]int{0, 1}, ExcludePad: true},
	}
}

// randomPoolCase draws a configuration: windows 1 to 4 per axis, stride 1 to
// 4, padding up to half the window, input sizes from the smallest the window
// allows to 6 more, both divisor modes.
func randomPoolCase(r *rand.Rand) PoolCase {
	c := PoolCase{N: 1 + r.IntN(2), C: 1 + r.IntN(3), ExcludePad: r.IntN(2) == 0}
	dims := [2]*int{&c.H, &c.W}
	for a := range 2 {
		c.Window[a] = 1 + r.IntN(4)
		c.Stride[a] = 1 + r.IntN(4)
		c.Pad[a] = r.IntN(c.Window[a]/2 + 1)
		*dims[a] = max(1, c.Window[a]-2*c.Pad[a]) + r.IntN(7)
	}
	return c
}

// poolCases returns the edge cases followed by the random ones.
func poolCases() []PoolCase {
	r := newRand(poolSeed)
	cs := edgePoolCases()
	for range poolRandomCases {
		cs = append(cs, randomPoolCase(r))
	}
	return cs
}

// poolData returns pooling input: small integers (many ties) for even cases,
// values in [-1, 1) for odd ones, and only negative values for every fifth, so
// that padding would win if it were read as 0.
func poolData(h *harness, r *rand.Rand, i, n int) []float64 {
	switch {
	case i%5 == 0:
		return integers(r, n, -4, -1)
	case i%2 == 0:
		return integers(r, n, -2, 2)
	}
	return h.round(uniform(r, n, -1, 1))
}

// Pool2D checks MaxPool2D, MaxPool2DBackward (ties go to the first maximum in
// row-major window order), AvgPool2D and AvgPool2DBackward, in both divisor
// modes, on the edge cases and 150 random configurations.
func Pool2D(t *testing.T, b tensor.Backend, dt tensor.DType) {
	tol := Tolerance(dt)
	failures := 0
	for i, c := range poolCases() {
		h := newHarness(named(t, "seed %#x case %d (%v)", poolSeed, i, c), b, dt)
		r := newRand(poolSeed + uint64(i) + 1)
		xs, ys := c.xShape(), c.yShape()
		x := poolData(h, r, i, tensor.Shape(xs).Len())
		dy := h.round(uniform(r, tensor.Shape(ys).Len(), -1, 1))
		xt, dyt := h.from(x, xs...), h.from(dy, ys...)
		p := c.params()
		ok := true
		if y := h.dst(ys...); h.ok("max pool", b.MaxPool2D(y, xt, p)) {
			ref, _ := refMaxPool(c, x)
			ok = compare(h.t, "max pool output", h.read(y), ref, nil, exact) && ok
		} else {
			ok = false
		}
		if dx := h.dst(xs...); h.ok("max pool backward", b.MaxPool2DBackward(dx, dyt, xt, p)) {
			ref, mag := refMaxPoolBackward(c, x, dy)
			ok = compare(h.t, "max pool input gradient", h.read(dx), ref, mag, tol) && ok
		} else {
			ok = false
		}
		if y := h.dst(ys...); h.ok("average pool", b.AvgPool2D(y, xt, p)) {
			ref, mag := refAvgPool(c, x)
			ok = compare(h.t, "average pool output", h.read(y), ref, mag, tol) && ok
		} else {
			ok = false
		}
		if dx := h.dst(xs...); h.ok("average pool backward", b.AvgPool2DBackward(dx, dyt, p)) {
			ref, mag := refAvgPoolBackward(c, dy)
			ok = compare(h.t, "average pool input gradient", h.read(dx), ref, mag, tol) && ok
		} else {
			ok = false
		}
		h.release()
		if !ok {
			if failures++; failures >= maxFailures {
				t.Fatalf("stopping after %d failing configurations", failures)
			}
		}
	}
}

// GlobalAvgPool checks GlobalAvgPool2D and its backward op with outputs
// [N, C] and [N, C, 1, 1].
func GlobalAvgPool(t *testing.T, b tensor.Backend, dt tensor.DType) {
	const seed = 0x6a9
	r := newRand(seed)
	tol := Tolerance(dt)
	for _, s := range [][4]int{{1, 1, 1, 1}, {2, 3, 4, 5}, {1, 8, 7, 7}, {5, 2, 1, 9}, {3, 4, 13, 11}, {4, 64, 20, 20}} {
		for _, keep := range []bool{false, true} {
			ps := []int{s[0], s[1]}
			if keep {
				ps = append(ps, 1, 1)
			}
			h := newHarness(named(t, "seed %#x x %v y %v", seed, s, ps), b, dt)
			rows, size := s[0]*s[1], s[2]*s[3]
			x := h.round(uniform(r, rows*size, -1, 1))
			if y := h.dst(ps...); h.ok("global average pool", b.GlobalAvgPool2D(y, h.from(x, s[:]...))) {
				ref, mag := refGlobalAvgPool(x, rows, size)
				compare(h.t, "global average pool output", h.read(y), ref, mag, tol)
			}
			dy := h.round(uniform(r, rows, -1, 1))
			if dx := h.dst(s[:]...); h.ok("global average pool backward", b.GlobalAvgPool2DBackward(dx, h.from(dy, ps...))) {
				compare(h.t, "global average pool input gradient", h.read(dx), refGlobalAvgPoolBackward(dy, rows, size), nil, tol)
			}
			h.release()
		}
	}
}
