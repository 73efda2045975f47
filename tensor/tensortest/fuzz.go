package tensortest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// This file checks single configurations that may be invalid, for fuzz
// targets: a valid one must succeed and agree with the reference, an invalid
// one must fail with the sentinel its violation calls for, and no call may
// panic.

// violations returns the sentinels that c's invalid parameters call for:
// ErrParam for a stride, dilation or kernel size below 1, negative padding or
// groups that do not divide the channels; ErrShape for a dilated kernel larger
// than the padded input. It returns nil for a valid configuration.
func (c ConvCase) violations() []error {
	var v []error
	param := c.Groups < 1 || c.C%max(c.Groups, 1) != 0 || c.K%max(c.Groups, 1) != 0
	for a, k := range [2]int{c.KH, c.KW} {
		param = param || k < 1 || c.Stride[a] < 1 || c.Dilation[a] < 1 || c.Pad[a] < 0
	}
	if param {
		v = append(v, tensor.ErrParam)
	}
	for a, k := range [2]int{c.KH, c.KW} {
		if c.Dilation[a]*(k-1)+1 > [2]int{c.H, c.W}[a]+2*c.Pad[a] {
			v = append(v, tensor.ErrShape)
			break
		}
	}
	return v
}

// violations returns the sentinels that c's invalid parameters call for:
// ErrParam for a window or stride below 1, negative padding or padding more
// than half the window; ErrShape for a window larger than the padded input.
func (c PoolCase) violations() []error {
	var v []error
	param := false
	for a := range 2 {
		param = param || c.Window[a] < 1 || c.Stride[a] < 1 || c.Pad[a] < 0 || 2*c.Pad[a] > c.Window[a]
	}
	if param {
		v = append(v, tensor.ErrParam)
	}
	for a := range 2 {
		if c.Window[a] > [2]int{c.H, c.W}[a]+2*c.Pad[a] {
			v = append(v, tensor.ErrShape)
			break
		}
	}
	return v
}

// expectOutcome checks err from op against the violations of a
// configuration: nil when there are none, else an error wrapping one of them.
// It reports whether the op succeeded on a valid configuration, so that the
// caller compares its result.
func expectOutcome(t testing.TB, op string, err error, panicked any, want []error) bool {
	t.Helper()
	switch {
	case panicked != nil:
		t.Errorf("%s panicked: %v", op, panicked)
	case len(want) == 0 && err != nil:
		t.Errorf("%s of a valid configuration failed: %v", op, err)
	case len(want) == 0:
		return true
	case err == nil:
		t.Errorf("%s of an invalid configuration succeeded, expected an error wrapping %s", op, names(want))
	default:
		for _, w := range want {
			if errors.Is(err, w) {
				return false
			}
		}
		t.Errorf("%s returned %q, expected an error wrapping %s", op, err, names(want))
	}
	return false
}

func names(errs []error) string {
	s := make([]string, len(errs))
	for i, e := range errs {
		s[i] = fmt.Sprintf("%q", e)
	}
	return strings.Join(s, " or ")
}

// CheckConvCase runs Conv2D, Conv2DInputGrad and Conv2DKernelGrad on one
// configuration, valid or not, with data drawn from seed. Dimensions must be
// at least 1; a kernel of Groups that do not divide C gets one input channel,
// and the output of an invalid configuration is [N, K, 1, 1]. A valid
// configuration must succeed and agree with the reference within Tolerance;
// an invalid one must fail with an error wrapping tensor.ErrParam or
// tensor.ErrShape as its violation calls for. No call may panic.
func CheckConvCase(t testing.TB, b tensor.Backend, dt tensor.DType, c ConvCase, seed uint64) {
	t.Helper()
	h := newHarness(named(t, "seed %#x (%v)", seed, c), b, dt)
	defer h.release()
	r := newRand(seed)
	want := c.violations()
	ys := []int{c.N, c.K, 1, 1}
	if len(want) == 0 {
		ys = c.yShape()
	}
	x := h.round(uniform(r, tensor.Shape(c.xShape()).Len(), -1, 1))
	w := h.round(uniform(r, tensor.Shape(c.wShape()).Len(), -1, 1))
	dy := h.round(uniform(r, tensor.Shape(ys).Len(), -1, 1))
	var bias []float64
	var bt *tensor.Tensor
	if c.Bias {
		bias = h.round(uniform(r, c.K, -1, 1))
		bt = h.from(bias, c.K)
	}
	xt, wt, dyt := h.from(x, c.xShape()...), h.from(w, c.wShape()...), h.from(dy, ys...)
	p := c.params()
	tol := Tolerance(dt)

	y := h.dst(ys...)
	panicked, err := callSafely(func() error { return b.Conv2D(y, xt, wt, bt, p) })
	if expectOutcome(h.t, "conv2d", err, panicked, want) {
		ref, mag := refConv2D(c, x, w, bias)
		compare(h.t, "conv2d output", h.read(y), ref, mag, tol)
	}
	dx := h.dst(c.xShape()...)
	panicked, err = callSafely(func() error { return b.Conv2DInputGrad(dx, dyt, wt, p) })
	if expectOutcome(h.t, "conv2d input gradient", err, panicked, want) {
		ref, mag := refConv2DInputGrad(c, dy, w)
		compare(h.t, "conv2d input gradient", h.read(dx), ref, mag, tol)
	}
	dw := h.dst(c.wShape()...)
	panicked, err = callSafely(func() error { return b.Conv2DKernelGrad(dw, xt, dyt, p) })
	if expectOutcome(h.t, "conv2d kernel gradient", err, panicked, want) {
		ref, mag := refConv2DKernelGrad(c, x, dy)
		compare(h.t, "conv2d kernel gradient", h.read(dw), ref, mag, tol)
	}
}

// CheckPoolCase runs MaxPool2D, MaxPool2DBackward, AvgPool2D and
// AvgPool2DBackward on one configuration, valid or not, with small-integer
// data (ties) drawn from seed. Dimensions must be at least 1; the output of an
// invalid configuration is [N, C, 1, 1]. Outcomes are checked as in
// CheckConvCase.
func CheckPoolCase(t testing.TB, b tensor.Backend, dt tensor.DType, c PoolCase, seed uint64) {
	t.Helper()
	h := newHarness(named(t, "seed %#x (%v)", seed, c), b, dt)
	defer h.release()
	r := newRand(seed)
	want := c.violations()
	xs, ys := c.xShape(), []int{c.N, c.C, 1, 1}
	if len(want) == 0 {
		ys = c.yShape()
	}
	x := integers(r, tensor.Shape(xs).Len(), -2, 2)
	dy := h.round(uniform(r, tensor.Shape(ys).Len(), -1, 1))
	xt, dyt := h.from(x, xs...), h.from(dy, ys...)
	p := c.params()
	tol := Tolerance(dt)

	y := h.dst(ys...)
	panicked, err := callSafely(func() error { return b.MaxPool2D(y, xt, p) })
	if expectOutcome(h.t, "max pool", err, panicked, want) {
		ref, _ := refMaxPool(c, x)
		compare(h.t, "max pool output", h.read(y), ref, nil, exact)
	}
	dx := h.dst(xs...)
	panicked, err = callSafely(func() error { return b.MaxPool2DBackward(dx, dyt, xt, p) })
	if expectOutcome(h.t, "max pool backward", err, panicked, want) {
		ref, mag := refMaxPoolBackward(c, x, dy)
		compare(h.t, "max pool input gradient", h.read(dx), ref, mag, tol)
	}
	panicked, err = callSafely(func() error { return b.AvgPool2D(y, xt, p) })
	if expectOutcome(h.t, "average pool", err, panicked, want) {
		ref, mag := refAvgPool(c, x)
		compare(h.t, "average pool output", h.read(y), ref, mag, tol)
	}
	panicked, err = callSafely(func() error { return b.AvgPool2DBackward(dx, dyt, p) })
	if expectOutcome(h.t, "average pool backward", err, panicked, want) {
		ref, mag := refAvgPoolBackward(c, dy)
		compare(h.t, "average pool input gradient", h.read(dx), ref, mag, tol)
	}
}
