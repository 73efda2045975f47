// Package shapes names the benchmark shapes of vkcnn — the convolution and
// pooling workloads that cpu, gpu and vkcnn bench all measure — and parses
// names such as "N32_C64_K128_28x28_k3s2p1" into their geometry, so that one
// list serves every benchmark; RandomTensor makes their inputs.
package shapes

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"

	"github.com/vkcnn/vkcnn/tensor"
)

// Conv lists the convolution shapes benchmarked by default.
var Conv = []string{
	"N64_C1_K8_28x28_k3p1",
	"N32_C16_K32_14x14_k3p1",
	"N32_C64_K64_56x56_k3p1",
	"N64_C32_K64_14x14_k3p1",
	"N32_C64_K128_28x28_k3s2p1",
	"N32_C256_K64_14x14_k1",
}

// Pool lists the pooling shapes benchmarked by default.
var Pool = []string{"N32_C64_56x56_w2s2"}

var (
	convRe = regexp.MustCompile(`^N(\d+)_C(\d+)_K(\d+)_(\d+)x(\d+)_k(\d+)(?:x(\d+))?(?:s(\d+))?(?:p(\d+))?(?:d(\d+))?(?:g(\d+))?$`)
	poolRe = regexp.MustCompile(`^N(\d+)_C(\d+)_(\d+)x(\d+)_w(\d+)(?:x(\d+))?(?:s(\d+))?(?:p(\d+))?$`)
)

// atoiOr parses a decimal field of a shape name, or returns def when the
// optional field is absent. The regular expressions admit only digits, so the
// only failure is overflow.
func atoiOr(s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("number %s is too large: %w", s, tensor.ErrParam)
	}
	return v, nil
}

// fields parses the submatches of a shape name; defs gives each field's
// default (used when an optional field is absent).
func fields(m []string, defs ...int) ([]int, error) {
	out := make([]int, len(defs))
	for i, d := range defs {
		v, err := atoiOr(m[i+1], d)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// ParseConv parses a convolution shape such as "N32_C64_K128_28x28_k3s2p1":
// batch N, input channels C, output channels K, input height×width, then the
// kernel size (k3 or k3x5) with optional stride s, padding p, dilation d and
// groups g. It returns the geometry, or an error wrapping tensor.ErrParam or
// tensor.ErrShape.
func ParseConv(name string) (tensor.ConvGeom, error) {
	m := convRe.FindStringSubmatch(name)
	if m == nil {
		return tensor.ConvGeom{}, fmt.Errorf("convolution shape %q, expected N<batch>_C<in>_K<out>_<H>x<W>_k<size>[x<width>][s<stride>][p<pad>][d<dilation>][g<groups>], e.g. N32_C64_K128_28x28_k3s2p1: %w", name, tensor.ErrParam)
	}
	// The kernel width defaults to its height: filled in below.
	f, err := fields(m, 0, 0, 0, 0, 0, 0, -1, 1, 0, 1, 1)
	if err != nil {
		return tensor.ConvGeom{}, fmt.Errorf("convolution shape %q: %w", name, err)
	}
	n, c, k, h, w, kh, kw, s, p, d, g := f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10]
	if kw < 0 {
		kw = kh
	}
	cin := c
	if g > 0 {
		cin = c / g
	}
	prm := tensor.Conv2DParams{Stride: [2]int{s, s}, Pad: [2]int{p, p}, Dilation: [2]int{d, d}, Groups: g}
	geom, err := tensor.ConvGeometry(tensor.Shape{n, c, h, w}, tensor.Shape{k, max(cin, 1), kh, kw}, prm)
	if err != nil {
		return geom, fmt.Errorf("convolution shape %q: %w", name, err)
	}
	return geom, nil
}

// ParsePool parses a pooling shape such as "N32_C64_56x56_w2s2": batch N,
// channels C, input height×width, then the window (w2 or w2x3) with optional
// stride s (default: the window) and padding p. It returns the geometry, or
// an error wrapping tensor.ErrParam or tensor.ErrShape.
func ParsePool(name string) (tensor.PoolGeom, error) {
	m := poolRe.FindStringSubmatch(name)
	if m == nil {
		return tensor.PoolGeom{}, fmt.Errorf("pooling shape %q, expected N<batch>_C<channels>_<H>x<W>_w<window>[x<width>][s<stride>][p<pad>], e.g. N32_C64_56x56_w2s2: %w", name, tensor.ErrParam)
	}
	f, err := fields(m, 0, 0, 0, 0, 0, -1, -1, 0)
	if err != nil {
		return tensor.PoolGeom{}, fmt.Errorf("pooling shape %q: %w", name, err)
	}
	n, c, h, w, wh, ww, s, p := f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]
	if ww < 0 {
		ww = wh
	}
	stride := [2]int{s, s}
	if s < 0 {
		stride = [2]int{wh, ww}
	}
	prm := tensor.Pool2DParams{Window: [2]int{wh, ww}, Stride: stride, Pad: [2]int{p, p}}
	geom, err := tensor.PoolGeometry(tensor.Shape{n, c, h, w}, prm)
	if err != nil {
		return geom, fmt.Errorf("pooling shape %q: %w", name, err)
	}
	return geom, nil
}

// RandomTensor allocates a float32 tensor of the given shape on b and fills
// it with uniform values in [−1, 1) drawn from r. It returns b's Alloc and
// Upload errors, freeing the tensor on a failed upload.
func RandomTensor(b tensor.Backend, r *rand.Rand, shape tensor.Shape) (*tensor.Tensor, error) {
	t, err := b.Alloc(tensor.Float32, shape)
	if err != nil {
		return nil, err
	}
	v := make([]float32, t.Len())
	for i := range v {
		v[i] = 2*r.Float32() - 1
	}
	if err := b.Upload(t, v); err != nil {
		t.Free()
		return nil, err
	}
	return t, nil
}
