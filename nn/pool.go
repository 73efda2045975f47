package nn

import (
	"fmt"
	"strings"

	"github.com/vkcnn/vkcnn/tensor"
)

// poolLayer is the layer made by MaxPool2D and AvgPool2D.
type poolLayer struct {
	stateless
	max bool
	cfg config
	err error
}

// MaxPool2D returns max pooling (PyTorch's nn.MaxPool2d) over k×k windows:
// input [C, H, W], output [C, OH, OW]. The stride defaults to k. Options:
// KernelHW, Stride, Pad (padding never wins; at most half the window).
func MaxPool2D(k int, opts ...Option) Layer {
	return newPool(true, k, optKernel|optStride|optPad, opts)
}

// AvgPool2D returns average pooling (PyTorch's nn.AvgPool2d) over k×k
// windows; the stride defaults to k. Padding counts as zeros in the divisor
// unless ExcludePad is given. Options: KernelHW, Stride, Pad, ExcludePad.
func AvgPool2D(k int, opts ...Option) Layer {
	return newPool(false, k, optKernel|optStride|optPad|optExcludePad, opts)
}

func newPool(max bool, k int, allowed optBit, opts []Option) Layer {
	l := &poolLayer{max: max}
	l.cfg, l.err = newConfig(l.Kind(), allowed, opts)
	if l.cfg.set&optKernel == 0 {
		l.cfg.kernel = [2]int{k, k}
	}
	if l.cfg.set&optStride == 0 {
		l.cfg.stride = l.cfg.kernel
	}
	return l
}

// Kind returns "maxpool" or "avgpool".
func (l *poolLayer) Kind() string {
	if l.max {
		return "maxpool"
	}
	return "avgpool"
}

func (l *poolLayer) params() tensor.Pool2DParams {
	return tensor.Pool2DParams{Window: l.cfg.kernel, Stride: l.cfg.stride, Pad: l.cfg.pad, ExcludePad: l.cfg.excludePad}
}

// OutShape checks that in is [C, H, W] and returns [C, OH, OW].
func (l *poolLayer) OutShape(in tensor.Shape) (tensor.Shape, error) {
	if l.err != nil {
		return nil, l.err
	}
	if err := wantRank(in, 3, "[C H W]"); err != nil {
		return nil, err
	}
	g, err := tensor.PoolGeometry(append(tensor.Shape{1}, in...), l.params())
	if err != nil {
		return nil, err
	}
	return tensor.Shape{g.C, g.OH, g.OW}, nil
}

// Forward pools x into y.
func (l *poolLayer) Forward(_ *Pass, y, x *tensor.Tensor) error {
	b, err := backendOf(x, l.Kind(), "input")
	if err != nil {
		return err
	}
	if l.max {
		return b.MaxPool2D(y, x, l.params())
	}
	return b.AvgPool2D(y, x, l.params())
}

// Backward routes dy back to the window maxima (max) or spreads it evenly
// (average).
func (l *poolLayer) Backward(_ *Pass, dx, dy, x, _ *tensor.Tensor) error {
	if dx == nil {
		return nil
	}
	b, err := backendOf(dy, l.Kind(), "output gradient")
	if err != nil {
		return err
	}
	if l.max {
		return b.MaxPool2DBackward(dx, dy, x, l.params())
	}
	return b.AvgPool2DBackward(dx, dy, l.params())
}

// String returns "maxpool(k[,sS][,pP])" or "avgpool(k[,sS][,pP][,excludepad])".
func (l *poolLayer) String() string {
	args := []string{sizeString(l.cfg.kernel)}
	args = appendTagged(args, "s", l.cfg.stride, l.cfg.kernel)
	args = appendTagged(args, "p", l.cfg.pad, [2]int{})
	if l.cfg.excludePad {
		args = append(args, "excludepad")
	}
	return l.Kind() + "(" + strings.Join(args, ",") + ")"
}

// gapLayer is the layer made by GlobalAvgPool2D.
type gapLayer struct{ stateless }

// GlobalAvgPool2D returns global average pooling: input [C, H, W], output [C],
// the mean of each channel. Its PyTorch equivalent is AdaptiveAvgPool2d(1)
// followed by Flatten.
func GlobalAvgPool2D() Layer { return gapLayer{} }

// Kind returns "gap".
func (gapLayer) Kind() string { return "gap" }

// String returns "gap".
func (gapLayer) String() string { return "gap" }

// OutShape checks that in is [C, H, W] and returns [C].
func (gapLayer) OutShape(in tensor.Shape) (tensor.Shape, error) {
	if err := wantRank(in, 3, "[C H W]"); err != nil {
		return nil, err
	}
	return tensor.Shape{in[0]}, nil
}

// Forward averages each channel of x into y.
func (gapLayer) Forward(_ *Pass, y, x *tensor.Tensor) error {
	b, err := backendOf(x, "gap", "input")
	if err != nil {
		return err
	}
	return b.GlobalAvgPool2D(y, x)
}

// Backward spreads dy evenly over each channel.
func (gapLayer) Backward(_ *Pass, dx, dy, _, _ *tensor.Tensor) error {
	if dx == nil {
		return nil
	}
	b, err := backendOf(dy, "gap", "output gradient")
	if err != nil {
		return err
	}
	return b.GlobalAvgPool2DBackward(dx, dy)
}

// reshapeLayer is the layer made by Flatten and Reshape. Inside a Sequential
// its output is a view of its input (no copy); called on its own it copies.
type reshapeLayer struct {
	stateless
	dims []int // nil for Flatten
}

// Flatten returns a layer that flattens each sample to one axis: [C, H, W]
// becomes [C·H·W]. Inside a Sequential it costs nothing: the output is a view
// of the input.
func Flatten() Layer { return &reshapeLayer{} }

// Reshape returns a layer that gives each sample the shape dims (per sample,
// no batch axis); one dimension may be −1 and is then inferred. Like Flatten it
// is a view inside a Sequential.
func Reshape(dims ...int) Layer { return &reshapeLayer{dims: append([]int{}, dims...)} }

// reshapes marks layers whose output is a view of their input.
func (*reshapeLayer) reshapes() {}

// Kind returns "flatten" or "reshape".
func (l *reshapeLayer) Kind() string {
	if l.dims == nil {
		return "flatten"
	}
	return "reshape"
}

// String returns "flatten" or "reshape(d1,d2,…)".
func (l *reshapeLayer) String() string {
	if l.dims == nil {
		return "flatten"
	}
	parts := make([]string, len(l.dims))
	for i, d := range l.dims {
		parts[i] = fmt.Sprint(d)
	}
	return "reshape(" + strings.Join(parts, ",") + ")"
}

// OutShape returns [in.Len()] for Flatten, or the dims of Reshape with −1
// inferred; the element count must not change.
func (l *reshapeLayer) OutShape(in tensor.Shape) (tensor.Shape, error) {
	n := in.Len()
	if l.dims == nil {
		return tensor.Shape{n}, nil
	}
	if len(l.dims) == 0 {
		return nil, fmt.Errorf("reshape with no dimensions, expected at least one: %w", tensor.ErrParam)
	}
	out := tensor.Shape(append([]int{}, l.dims...))
	infer, known, tooBig := -1, 1, false // known ≤ n holds throughout
	for i, d := range out {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d == -1:
			return nil, fmt.Errorf("reshape%v has more than one −1: %w", out, tensor.ErrParam)
		case d < 1:
			return nil, fmt.Errorf("reshape%v: dimension %d is %d, expected ≥ 1 or −1: %w", out, i, d, tensor.ErrParam)
		case d > n/known:
			tooBig = true
		default:
			known *= d
		}
	}
	if infer >= 0 && !tooBig && n%known == 0 {
		out[infer], known = n/known, n
	}
	if tooBig || known != n {
		return nil, fmt.Errorf("input %v has %d elements, reshape%v does not fit them: %w", in, n, tensor.Shape(l.dims), tensor.ErrShape)
	}
	return out, nil
}

// Forward copies x into y (which has the new shape).
func (l *reshapeLayer) Forward(_ *Pass, y, x *tensor.Tensor) error {
	b, err := backendOf(x, l.Kind(), "input")
	if err != nil {
		return err
	}
	return b.Copy(y, x)
}

// Backward copies dy into dx.
func (l *reshapeLayer) Backward(_ *Pass, dx, dy, _, _ *tensor.Tensor) error {
	if dx == nil {
		return nil
	}
	b, err := backendOf(dy, l.Kind(), "output gradient")
	if err != nil {
		return err
	}
	return b.Copy(dx, dy)
}
