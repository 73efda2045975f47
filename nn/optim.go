package nn

import (
	"fmt"

	"github.com/vkcnn/vkcnn/tensor"
)

// Optimizer updates parameters from their gradients, on the backend.
type Optimizer interface {
	// Step updates every parameter that is not frozen from its Grad. State
	// (momentum, moments) is allocated on the first step that sees a
	// parameter, with the parameter's shape, and kept until Close; it is
	// keyed by the *Param, so a model built again needs a new optimizer.
	Step(params []*Param) error
	// Close frees the optimizer's state tensors.
	Close() error
}

// state keeps one optimizer's per-parameter tensors.
type state map[*Param][]*tensor.Tensor

// get returns the k state tensors of p, allocating zeroed ones on first use.
func (s state) get(p *Param, k int) ([]*tensor.Tensor, error) {
	if ts, ok := s[p]; ok {
		return ts, nil
	}
	ts := make([]*tensor.Tensor, k)
	for i := range ts {
		t, err := p.Value.Backend().Alloc(p.Value.DType(), p.Value.Shape())
		if err != nil {
			for _, u := range ts[:i] {
				u.Free()
			}
			return nil, fmt.Errorf("optimizer state for %s: %w", p.Name, err)
		}
		ts[i] = t
	}
	s[p] = ts
	return ts, nil
}

// free releases every state tensor.
func (s state) free() error {
	var first error
	for p, ts := range s {
		for _, t := range ts {
			if err := t.Free(); err != nil && first == nil {
				first = err
			}
		}
		delete(s, p)
	}
	return first
}

// trainable returns the parameters to update, or an error for a parameter
// that is not built.
func trainable(params []*Param) ([]*Param, error) {
	var out []*Param
	for i, p := range params {
		if p == nil || p.Value == nil || p.Grad == nil {
			return nil, fmt.Errorf("optimizer step: parameter %d is not built: %w", i, ErrNotBuilt)
		}
		if !p.Frozen {
			out = append(out, p)
		}
	}
	return out, nil
}

// SGD is stochastic gradient descent with optional momentum and weight decay,
// with PyTorch's semantics (see tensor.SGDParams). Change its fields between
// steps to schedule the learning rate.
type SGD struct {
	tensor.SGDParams
	velocity state
}

// NewSGD returns an SGD optimizer; p.LR is the learning rate.
func NewSGD(p tensor.SGDParams) *SGD { return &SGD{SGDParams: p, velocity: state{}} }

// Step applies one SGD update to each trainable parameter. Errors:
// ErrNotBuilt for a parameter that is not built, and the backend's SGDStep
// errors (e.g. tensor.ErrParam for a negative rate).
func (o *SGD) Step(params []*Param) error {
	ps, err := trainable(params)
	if err != nil {
		return err
	}
	for _, p := range ps {
		var vel *tensor.Tensor
		if o.Momentum != 0 {
			vs, err := o.velocity.get(p, 1)
			if err != nil {
				return err
			}
			vel = vs[0]
		}
		if err := p.Value.Backend().SGDStep(p.Value, p.Grad, vel, o.SGDParams); err != nil {
			return fmt.Errorf("sgd step %s: %w", p.Name, err)
		}
	}
	return nil
}

// Close frees the velocity tensors.
func (o *SGD) Close() error { return o.velocity.free() }

// Adam is the Adam optimizer with PyTorch's semantics (see tensor.AdamParams).
type Adam struct {
	tensor.AdamParams
	// Steps counts the steps taken, for bias correction.
	Steps   int
	moments state
}

// NewAdam returns an Adam optimizer; tensor.DefaultAdam() gives PyTorch's
// defaults.
func NewAdam(p tensor.AdamParams) *Adam { return &Adam{AdamParams: p, moments: state{}} }

// Step applies one Adam update to each trainable parameter. Errors as for
// SGD.Step, with the backend's AdamStep errors.
func (o *Adam) Step(params []*Param) error {
	ps, err := trainable(params)
	if err != nil {
		return err
	}
	o.Steps++
	for _, p := range ps {
		mv, err := o.moments.get(p, 2)
		if err != nil {
			return err
		}
		if err := p.Value.Backend().AdamStep(p.Value, p.Grad, mv[0], mv[1], o.AdamParams, o.Steps); err != nil {
			return fmt.Errorf("adam step %s: %w", p.Name, err)
		}
	}
	return nil
}

// Close frees the moment tensors.
func (o *Adam) Close() error { return o.moments.free() }
