package nn

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/vkcnn/vkcnn/tensor"
)

// convLayer is the layer made by Conv2D.
type convLayer struct {
	in, out      int
	cfg          config
	err          error
	weight, bias *Param
	act          tensor.Activation // applied in the output pass (fuse.go)
}

// Conv2D returns a 2-D convolution (PyTorch's nn.Conv2d) from in to out
// channels with a k×k kernel: input [in, H, W], output [out, OH, OW] with
// OH = ⌊(H + 2·pad − dilation·(k−1) − 1)/stride⌋ + 1. Options: KernelHW
// (rectangular kernel, replacing k), Stride, Pad, Dilation (and their HW
// forms), Groups, NoBias, WeightInit, BiasInit, Frozen. The weight is
// [out, in/groups, kh, kw], the bias [out]. Invalid sizes or options make
// Build fail with an error naming them.
func Conv2D(in, out, k int, opts ...Option) Layer {
	c, err := newConfig("conv", optKernel|optStride|optPad|optDilation|optGroups|optNoBias|optWeightInit|optBiasInit|optFrozen, opts)
	if c.set&optKernel == 0 {
		c.kernel = [2]int{k, k}
	}
	if err == nil && (in < 1 || out < 1) {
		err = fmt.Errorf("conv: %d input and %d output channels, expected ≥ 1: %w", in, out, tensor.ErrParam)
	}
	if err == nil && c.groups < 1 {
		err = fmt.Errorf("conv: groups %d, expected ≥ 1: %w", c.groups, tensor.ErrParam)
	}
	return &convLayer{in: in, out: out, cfg: c, err: err}
}

// Kind returns "conv".
func (l *convLayer) Kind() string { return "conv" }

func (l *convLayer) params() tensor.Conv2DParams {
	return tensor.Conv2DParams{Stride: l.cfg.stride, Pad: l.cfg.pad, Dilation: l.cfg.dilation, Groups: l.cfg.groups}
}

func (l *convLayer) weightShape() tensor.Shape {
	return tensor.Shape{l.out, l.in / l.cfg.groups, l.cfg.kernel[0], l.cfg.kernel[1]}
}

// OutShape checks that in is [in, H, W] and returns [out, OH, OW].
func (l *convLayer) OutShape(in tensor.Shape) (tensor.Shape, error) {
	if l.err != nil {
		return nil, l.err
	}
	if err := wantRank(in, 3, "[C H W]"); err != nil {
		return nil, err
	}
	if in[0] != l.in {
		return nil, fmt.Errorf("input %v has %d channels, expected %d: %w", in, in[0], l.in, tensor.ErrShape)
	}
	g, err := tensor.ConvGeometry(append(tensor.Shape{1}, in...), l.weightShape(), l.params())
	if err != nil {
		return nil, err
	}
	return tensor.Shape{g.K, g.OH, g.OW}, nil
}

// Build allocates the weight and, unless NoBias, the bias.
func (l *convLayer) Build(b tensor.Backend, dt tensor.DType, in tensor.Shape, rng *rand.Rand) error {
	ws := l.weightShape()
	area := ws[2] * ws[3]
	var err error
	l.weight, err = newParam(b, dt, "weight", ws, l.cfg.weightInit, ws[1]*area, ws[0]*area, rng, l.cfg.frozen)
	if err != nil || l.cfg.noBias {
		l.bias = nil
		return err
	}
	l.bias, err = newParam(b, dt, "bias", tensor.Shape{l.out}, l.cfg.biasInit, ws[1]*area, ws[0]*area, rng, l.cfg.frozen)
	if err != nil {
		freeParams([]*Param{l.weight})
	}
	return err
}

// Params returns the weight and the bias (if any).
func (l *convLayer) Params() []*Param { return paramList(l.weight, l.bias) }

// Forward computes y = bias + x ⋆ weight.
func (l *convLayer) Forward(_ *Pass, y, x *tensor.Tensor) error {
	if l.weight == nil {
		return fmt.Errorf("conv forward: %w", ErrNotBuilt)
	}
	b, err := backendOf(x, "conv", "input")
	if err != nil {
		return err
	}
	if f, ok := fusedConv(b, l.act); ok {
		return f.Conv2DAct(y, x, l.weight.Value, biasValue(l.bias), l.params(), l.act)
	}
	return b.Conv2D(y, x, l.weight.Value, biasValue(l.bias), l.params())
}

// Backward computes the input, kernel and bias gradients.
func (l *convLayer) Backward(_ *Pass, dx, dy, x, _ *tensor.Tensor) error {
	if l.weight == nil {
		return fmt.Errorf("conv backward: %w", ErrNotBuilt)
	}
	b, err := backendOf(dy, "conv", "output gradient")
	if err != nil {
		return err
	}
	if dx != nil {
		if err := b.Conv2DInputGrad(dx, dy, l.weight.Value, l.params()); err != nil {
			return err
		}
	}
	if !l.weight.Frozen {
		if err := b.Conv2DKernelGrad(l.weight.Grad, x, dy, l.params()); err != nil {
			return err
		}
	}
	if l.bias != nil && !l.bias.Frozen {
		return b.BiasGrad(l.bias.Grad, dy)
	}
	return nil
}

// String returns "conv(in,out,k[,sS][,pP][,dD][,gG][,nobias])".
func (l *convLayer) String() string {
	args := []string{strconv.Itoa(l.in), strconv.Itoa(l.out), sizeString(l.cfg.kernel)}
	args = appendTagged(args, "s", l.cfg.stride, [2]int{1, 1})
	args = appendTagged(args, "p", l.cfg.pad, [2]int{})
	args = appendTagged(args, "d", l.cfg.dilation, [2]int{1, 1})
	if l.cfg.groups != 1 {
		args = append(args, "g"+strconv.Itoa(l.cfg.groups))
	}
	if l.cfg.noBias {
		args = append(args, "nobias")
	}
	return "conv(" + strings.Join(args, ",") + ")"
}

// denseLayer is the layer made by Dense.
type denseLayer struct {
	in, out      int
	cfg          config
	err          error
	weight, bias *Param
	act          tensor.Activation // applied in the output pass (fuse.go)
}

// Dense returns a fully connected layer (PyTorch's nn.Linear) y = x·Wᵀ + b
// from a flat input [in] to [out]. The weight is [out, in], the bias [out].
// Options: NoBias, WeightInit, BiasInit, Frozen.
func Dense(in, out int, opts ...Option) Layer {
	c, err := newConfig("dense", optNoBias|optWeightInit|optBiasInit|optFrozen, opts)
	if err == nil && (in < 1 || out < 1) {
		err = fmt.Errorf("dense: %d inputs and %d outputs, expected ≥ 1: %w", in, out, tensor.ErrParam)
	}
	return &denseLayer{in: in, out: out, cfg: c, err: err}
}

// Kind returns "dense".
func (l *denseLayer) Kind() string { return "dense" }

// OutShape checks that in is [in] and returns [out].
func (l *denseLayer) OutShape(in tensor.Shape) (tensor.Shape, error) {
	if l.err != nil {
		return nil, l.err
	}
	if len(in) != 1 || in[0] != l.in {
		return nil, fmt.Errorf("input %v, expected [%d] (a flat vector: add flatten before dense): %w", in, l.in, tensor.ErrShape)
	}
	return tensor.Shape{l.out}, nil
}

// Build allocates the weight and, unless NoBias, the bias.
func (l *denseLayer) Build(b tensor.Backend, dt tensor.DType, _ tensor.Shape, rng *rand.Rand) error {
	var err error
	l.weight, err = newParam(b, dt, "weight", tensor.Shape{l.out, l.in}, l.cfg.weightInit, l.in, l.out, rng, l.cfg.frozen)
	if err != nil || l.cfg.noBias {
		l.bias = nil
		return err
	}
	l.bias, err = newParam(b, dt, "bias", tensor.Shape{l.out}, l.cfg.biasInit, l.in, l.out, rng, l.cfg.frozen)
	if err != nil {
		freeParams([]*Param{l.weight})
	}
	return err
}

// Params returns the weight and the bias (if any).
func (l *denseLayer) Params() []*Param { return paramList(l.weight, l.bias) }

// Forward computes y = x·Wᵀ + b.
func (l *denseLayer) Forward(_ *Pass, y, x *tensor.Tensor) error {
	if l.weight == nil {
		return fmt.Errorf("dense forward: %w", ErrNotBuilt)
	}
	b, err := backendOf(x, "dense", "input")
	if err != nil {
		return err
	}
	if f, ok := b.(tensor.FusedLinear); ok {
		return f.LinearAct(y, x, l.weight.Value, biasValue(l.bias), l.act)
	}
	if err := b.MatMul(y, x, l.weight.Value, false, true); err != nil {
		return err
	}
	if l.bias != nil {
		return b.AddBias(y, y, l.bias.Value)
	}
	return nil
}

// Backward computes dx = dy·W, dW = dyᵀ·x and db = Σ dy.
func (l *denseLayer) Backward(_ *Pass, dx, dy, x, _ *tensor.Tensor) error {
	if l.weight == nil {
		return fmt.Errorf("dense backward: %w", ErrNotBuilt)
	}
	b, err := backendOf(dy, "dense", "output gradient")
	if err != nil {
		return err
	}
	if dx != nil {
		if err := b.MatMul(dx, dy, l.weight.Value, false, false); err != nil {
			return err
		}
	}
	if !l.weight.Frozen {
		if err := b.MatMul(l.weight.Grad, dy, x, true, false); err != nil {
			return err
		}
	}
	if l.bias != nil && !l.bias.Frozen {
		return b.BiasGrad(l.bias.Grad, dy)
	}
	return nil
}

// String returns "dense(in,out[,nobias])".
func (l *denseLayer) String() string {
	s := "dense(" + strconv.Itoa(l.in) + "," + strconv.Itoa(l.out)
	if l.cfg.noBias {
		s += ",nobias"
	}
	return s + ")"
}

// paramList returns the non-nil parameters among weight and bias.
func paramList(weight, bias *Param) []*Param {
	var ps []*Param
	for _, p := range []*Param{weight, bias} {
		if p != nil {
			ps = append(ps, p)
		}
	}
	return ps
}

// biasValue returns the bias tensor, or nil for a layer without bias.
func biasValue(p *Param) *tensor.Tensor {
	if p == nil {
		return nil
	}
	return p.Value
}

// sizeString formats a size pair as "3" (square) or "3x5".
func sizeString(s [2]int) string {
	if s[0] == s[1] {
		return strconv.Itoa(s[0])
	}
	return strconv.Itoa(s[0]) + "x" + strconv.Itoa(s[1])
}

// appendTagged appends tag+size unless the size equals def.
func appendTagged(args []string, tag string, v, def [2]int) []string {
	if v == def {
		return args
	}
	return append(args, tag+sizeString(v))
}
