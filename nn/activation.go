package nn

import (
	"fmt"
	"strconv"

	"github.com/vkcnn/vkcnn/tensor"
)

// activation is a parameterless layer that keeps its input shape.
type activation struct {
	stateless
	kind string
	text string // spec form when it differs from kind
	fwd  func(b tensor.Backend, y, x *tensor.Tensor) error
	// bwd computes dx from dy and the forward's input x and output y.
	bwd func(b tensor.Backend, dx, dy, x, y *tensor.Tensor) error
}

// ReLU returns the rectifier max(x, 0), elementwise (PyTorch's nn.ReLU).
func ReLU() Layer {
	return &activation{kind: "relu", fwd: tensor.Backend.ReLU,
		bwd: func(b tensor.Backend, dx, dy, x, _ *tensor.Tensor) error { return b.ReLUBackward(dx, dy, x) }}
}

// Sigmoid returns the logistic function 1/(1+e^−x), elementwise (PyTorch's
// nn.Sigmoid).
func Sigmoid() Layer {
	return &activation{kind: "sigmoid", fwd: tensor.Backend.Sigmoid,
		bwd: func(b tensor.Backend, dx, dy, _, y *tensor.Tensor) error { return b.SigmoidBackward(dx, dy, y) }}
}

// Tanh returns the hyperbolic tangent, elementwise (PyTorch's nn.Tanh).
func Tanh() Layer {
	return &activation{kind: "tanh", fwd: tensor.Backend.Tanh,
		bwd: func(b tensor.Backend, dx, dy, _, y *tensor.Tensor) error { return b.TanhBackward(dx, dy, y) }}
}

// Softmax returns the softmax along the last axis of each sample (PyTorch's
// nn.Softmax(dim=-1)); outputs are positive and each row sums to 1.
func Softmax() Layer {
	return &activation{kind: "softmax", fwd: tensor.Backend.Softmax,
		bwd: func(b tensor.Backend, dx, dy, _, y *tensor.Tensor) error { return b.SoftmaxBackward(dx, dy, y) }}
}

// DefaultLeakySlope is PyTorch's default negative slope of LeakyReLU.
const DefaultLeakySlope = 0.01

// LeakyReLU returns x for x > 0, else slope·x, elementwise (PyTorch's
// nn.LeakyReLU(negative_slope=slope); DefaultLeakySlope is its default). A
// slope that is not finite fails at Forward with a tensor.ErrParam error.
func LeakyReLU(slope float64) Layer {
	text := "leakyrelu"
	if slope != DefaultLeakySlope {
		text = "leakyrelu(" + strconv.FormatFloat(slope, 'g', -1, 64) + ")"
	}
	return &activation{kind: "leakyrelu", text: text,
		fwd: func(b tensor.Backend, y, x *tensor.Tensor) error { return b.LeakyReLU(y, x, slope) },
		bwd: func(b tensor.Backend, dx, dy, x, _ *tensor.Tensor) error {
			return b.LeakyReLUBackward(dx, dy, x, slope)
		}}
}

// SiLU returns x·sigmoid(x), elementwise (PyTorch's nn.SiLU, also called
// swish).
func SiLU() Layer {
	return &activation{kind: "silu", fwd: tensor.Backend.SiLU,
		bwd: func(b tensor.Backend, dx, dy, x, _ *tensor.Tensor) error { return b.SiLUBackward(dx, dy, x) }}
}

// Kind returns the activation's name: "relu", "sigmoid", "tanh", "softmax",
// "leakyrelu" or "silu".
func (a *activation) Kind() string { return a.kind }

// String returns the activation in spec form: Kind, or "leakyrelu(0.2)" for
// a slope other than the default.
func (a *activation) String() string {
	if a.text != "" {
		return a.text
	}
	return a.kind
}

// OutShape returns in unchanged; it must have rank ≥ 1.
func (a *activation) OutShape(in tensor.Shape) (tensor.Shape, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("input is a scalar, expected rank ≥ 1: %w", tensor.ErrShape)
	}
	return in.Clone(), nil
}

// Forward applies the function.
func (a *activation) Forward(_ *Pass, y, x *tensor.Tensor) error {
	b, err := backendOf(x, a.kind, "input")
	if err != nil {
		return err
	}
	return a.fwd(b, y, x)
}

// Backward applies the derivative to dy.
func (a *activation) Backward(_ *Pass, dx, dy, x, y *tensor.Tensor) error {
	if dx == nil {
		return nil
	}
	b, err := backendOf(dy, a.kind, "output gradient")
	if err != nil {
		return err
	}
	return a.bwd(b, dx, dy, x, y)
}

// dropoutLayer is the layer made by Dropout.
type dropoutLayer struct {
	stateless
	rate float64
}

// Dropout returns dropout (PyTorch's nn.Dropout): in training mode each
// element is zeroed with probability rate and the others are scaled by
// 1/(1−rate); in evaluation mode it passes its input through. The mask is
// drawn on the backend from a seed that changes every training step, so runs
// are reproducible. rate must be in [0, 1).
func Dropout(rate float64) Layer { return &dropoutLayer{rate: rate} }

// Kind returns "dropout".
func (*dropoutLayer) Kind() string { return "dropout" }

// String returns "dropout(rate)".
func (l *dropoutLayer) String() string {
	return "dropout(" + strconv.FormatFloat(l.rate, 'g', -1, 64) + ")"
}

// OutShape checks the rate and returns in unchanged.
func (l *dropoutLayer) OutShape(in tensor.Shape) (tensor.Shape, error) {
	if !(l.rate >= 0 && l.rate < 1) {
		return nil, fmt.Errorf("rate %v, expected in [0, 1): %w", l.rate, tensor.ErrParam)
	}
	return in.Clone(), nil
}

// active reports whether the pass drops elements.
func (l *dropoutLayer) active(p *Pass) bool { return p != nil && p.Train && l.rate > 0 }

// Forward multiplies x by a fresh mask in training mode and copies it
// otherwise.
func (l *dropoutLayer) Forward(p *Pass, y, x *tensor.Tensor) error {
	b, err := backendOf(x, "dropout", "input")
	if err != nil {
		return err
	}
	if !l.active(p) {
		return b.Copy(y, x)
	}
	mask, err := p.scratchLike(x)
	if err != nil {
		return err
	}
	if err := b.DropoutMask(mask, l.rate, p.Seed); err != nil {
		return err
	}
	return b.Mul(y, x, mask)
}

// Backward multiplies dy by the forward's mask (training) or copies it.
func (l *dropoutLayer) Backward(p *Pass, dx, dy, x, _ *tensor.Tensor) error {
	if dx == nil {
		return nil
	}
	b, err := backendOf(dy, "dropout", "output gradient")
	if err != nil {
		return err
	}
	if !l.active(p) {
		return b.Copy(dx, dy)
	}
	mask, err := p.scratchLike(x)
	if err != nil {
		return err
	}
	return b.Mul(dx, dy, mask)
}
