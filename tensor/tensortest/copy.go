package tensortest

import (
	"math"
	"slices"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// CopyFill checks Caps, Alloc (zero-filled), Upload and Download (exact round
// trips), Fill, Copy between shapes of one element count, Sync, and Reshape
// views that share memory with their tensor.
func CopyFill(t *testing.T, b tensor.Backend, dt tensor.DType) {
	h := newHarness(t, b, dt)
	if b.Name() == "" {
		t.Errorf("Name() is empty")
	}
	if c := b.Caps(); !c.Supports(dt) {
		t.Errorf("Caps().DTypes is %v, which lacks %v, the dtype under test", c.DTypes, dt)
	}

	x := h.zeros(3, 1, 4)
	if got := x.Shape(); !got.Equal(tensor.Shape{3, 1, 4}) || x.DType() != dt || x.Backend() != b {
		t.Errorf("Alloc(%v, [3 1 4]) made %v owned by %q", dt, x, x.Backend().Name())
	}
	compare(t, "alloc", h.read(x), make([]float64, 12), nil, exact)

	r := newRand(0xc09)
	vals := h.round(append(uniform(r, 6, -3, 3), 0, math.Copysign(0, -1), 1e30, -1e-30, 123456789, math.Pi))
	h.upload(x, vals)
	got := h.read(x)
	compare(t, "upload then download", got, vals, nil, exact)
	if math.Signbit(vals[7]) != math.Signbit(got[7]) {
		t.Errorf("upload then download lost the sign of -0")
	}

	for _, v := range []float64{0, -2.5, 1e30, math.Pi} {
		if h.ok("fill", b.Fill(x, v)) {
			want := h.round(slices.Repeat([]float64{v}, 12))
			compare(named(t, "fill %v", v), "fill", h.read(x), want, nil, exact)
		}
	}

	h.upload(x, vals)
	for _, s := range [][]int{{12}, {4, 3}, {3, 1, 4}} {
		y := h.dst(s...)
		if h.ok("copy", b.Copy(y, x)) {
			compare(named(t, "copy [3 1 4] to %v", s), "copy", h.read(y), vals, nil, exact)
		}
	}
	if err := b.Sync(); err != nil {
		t.Errorf("Sync: %v", err)
	}

	// A view shares memory with its tensor, in both directions.
	v, err := x.Reshape(tensor.Shape{2, 6})
	if err != nil {
		t.Fatalf("Reshape([3 1 4] to [2 6]): %v", err)
	}
	compare(t, "download through a view", h.read(v), vals, nil, exact)
	if h.ok("fill a view", b.Fill(v, 5)) {
		compare(t, "tensor after filling its view", h.read(x), slices.Repeat([]float64{5}, 12), nil, exact)
	}
	sq := h.round(uniform(r, 12, -1, 1))
	if h.ok("scale into a view", b.Scale(v, h.from(sq, 12), 2)) {
		want := make([]float64, 12)
		for i, s := range sq {
			want[i] = 2 * s
		}
		compare(t, "tensor after an op wrote its view", h.read(x), want, nil, exact)
	}
	if err := v.Free(); err != nil {
		t.Errorf("free a view: %v", err)
	}
	if !x.Freed() {
		t.Errorf("tensor not freed after freeing its view")
	}
}
