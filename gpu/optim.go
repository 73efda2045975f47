//go:build cgo

package gpu

import (
	"math"

	"github.com/vkcnn/vkcnn/tensor"
)

// The optimizer steps run shaders/optim.comp, one invocation per parameter,
// updating the parameter and its state in place in float32. Adam's bias
// corrections and 1 − β are computed on the host in float64 and passed as
// push constants, so a step records one dispatch and reads nothing back.

// Modes of shaders/optim.comp.
const (
	optSGD uint32 = iota
	optAdam
)

// SGDStep updates param in place with PyTorch's SGD: g = grad +
// WeightDecay·param; with momentum v = Momentum·v + g and param −= LR·v (with
// Nesterov param −= LR·(g + Momentum·v)), else param −= LR·g. velocity has
// param's shape; it is required when Momentum ≠ 0 and otherwise may be nil
// (it is left untouched). Errors wrap ErrParam (negative or NaN rates,
// Nesterov without momentum), ErrShape, ErrDType, ErrBackend or ErrFreed for bad
// arguments (see tensor.CheckSGD) and ErrClosed, ErrOutOfMemory or
// ErrDeviceLost from the device.
func (b *Backend) SGDStep(param, grad, velocity *tensor.Tensor, o tensor.SGDParams) error {
	if err := b.usable("sgd step"); err != nil {
		return err
	}
	n, err := tensor.CheckSGD(b, param, grad, velocity, o)
	if err != nil {
		return err
	}
	if o.Momentum == 0 {
		velocity = param // bound but unused
	}
	push := []uint32{u32(n), f32(o.LR), f32(o.Momentum), f32(o.WeightDecay), 0, 0, 0, 0, 0, 0, 0, f32(1)}
	return b.dispatch("optim", []uint32{optSGD, flag(o.Momentum != 0), flag(o.Nesterov)}, push, b.groups1D(n, 256),
		param, grad, velocity, velocity)
}

// AdamStep updates param, m and v in place with PyTorch's Adam (L2 weight
// decay added to the gradient, bias-corrected moments): g = grad +
// WeightDecay·param; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
// param −= LR·(m/(1−β1^t)) / (√(v/(1−β2^t)) + Eps), where t = step ≥ 1.
// With o.Decoupled it is AdamW: param ·= 1 − LR·WeightDecay (the factor
// computed in float64 and rounded to float32) first and g = grad.
// Errors wrap ErrParam (step < 1, rates out of range), ErrShape, ErrDType,
// ErrBackend or ErrFreed for bad arguments (see tensor.CheckAdam) and
// ErrClosed, ErrOutOfMemory or ErrDeviceLost from the device.
func (b *Backend) AdamStep(param, grad, m, v *tensor.Tensor, o tensor.AdamParams, step int) error {
	if err := b.usable("adam step"); err != nil {
		return err
	}
	n, err := tensor.CheckAdam(b, param, grad, m, v, o, step)
	if err != nil {
		return err
	}
	bc1 := 1 - math.Pow(o.Beta1, float64(step))
	bc2 := 1 - math.Pow(o.Beta2, float64(step))
	decay, wd := 1.0, o.WeightDecay
	if o.Decoupled {
		decay, wd = 1-o.LR*o.WeightDecay, 0
	}
	push := []uint32{u32(n), f32(o.LR), 0, f32(wd),
		f32(o.Beta1), f32(o.Beta2), f32(o.Eps), f32(bc1), f32(bc2), f32(1 - o.Beta1), f32(1 - o.Beta2), f32(decay)}
	return b.dispatch("optim", []uint32{optAdam, 0, 0}, push, b.groups1D(n, 256), param, grad, m, v)
}
