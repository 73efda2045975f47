package nn

import (
	"errors"
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
	return appendTrainable(nil, params)
}

// appendTrainable is trainable appending to out (a step's reused scratch).
func appendTrainable(out, params []*Param) ([]*Param, error) {
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
	lists    stepLists
}

// stepLists holds an optimizer's per-step argument lists, reused from step
// to step so that a step allocates nothing.
type stepLists struct {
	ps            []*Param
	values, grads []*tensor.Tensor
	slot0, slot1  []*tensor.Tensor // velocities (SGD); moments (Adam)
}

// reset returns the trainable parameters of params and lists of their
// length, emptied of the last step's tensors.
func (l *stepLists) reset(params []*Param) ([]*Param, error) {
	ps, err := appendTrainable(l.ps[:0], params)
	l.ps = ps
	if err != nil {
		return nil, err
	}
	n := len(ps)
	for _, s := range []*[]*tensor.Tensor{&l.values, &l.grads, &l.slot0, &l.slot1} {
		if cap(*s) < n {
			*s = make([]*tensor.Tensor, n)
		}
		*s = (*s)[:n]
		clear(*s)
	}
	return ps, nil
}

// NewSGD returns an SGD optimizer; p.LR is the learning rate. Set
// p.Nesterov (with p.Momentum > 0) for torch.optim.SGD(nesterov=True).
func NewSGD(p tensor.SGDParams) *SGD { return &SGD{SGDParams: p, velocity: state{}} }

// Step applies one SGD update to each trainable parameter. Errors:
// ErrNotBuilt for a parameter that is not built, and the backend's SGDStep
// errors (e.g. tensor.ErrParam for a negative rate).
func (o *SGD) Step(params []*Param) error {
	ps, err := o.lists.reset(params)
	if err != nil {
		return err
	}
	values, grads, vels := o.lists.values, o.lists.grads, o.lists.slot0
	for i, p := range ps {
		values[i], grads[i] = p.Value, p.Grad
		if o.Momentum != 0 {
			vs, err := o.velocity.get(p, 1)
			if err != nil {
				return err
			}
			vels[i] = vs[0]
		}
	}
	if bo := batched(ps); bo != nil {
		if done, err := batchDone(bo.SGDSteps(values, grads, vels, o.SGDParams)); done {
			return err
		}
	}
	for i, p := range ps {
		if err := p.Value.Backend().SGDStep(p.Value, p.Grad, vels[i], o.SGDParams); err != nil {
			return fmt.Errorf("sgd step %s: %w", p.Name, err)
		}
	}
	return nil
}

// Close frees the velocity tensors.
func (o *SGD) Close() error {
	o.lists = stepLists{}
	return o.velocity.free()
}

// Adam is the Adam optimizer with PyTorch's semantics (see tensor.AdamParams).
type Adam struct {
	tensor.AdamParams
	// Steps counts the steps taken, for bias correction.
	Steps   int
	moments state
	lists   stepLists
}

// NewAdam returns an Adam optimizer; tensor.DefaultAdam() gives PyTorch's
// defaults. With p.Decoupled it is AdamW (tensor.DefaultAdamW() gives
// torch.optim.AdamW's defaults).
func NewAdam(p tensor.AdamParams) *Adam { return &Adam{AdamParams: p, moments: state{}} }

// Step applies one Adam update to each trainable parameter. Errors as for
// SGD.Step, with the backend's AdamStep errors.
func (o *Adam) Step(params []*Param) error {
	ps, err := o.lists.reset(params)
	if err != nil {
		return err
	}
	o.Steps++
	values, grads, ms, vs := o.lists.values, o.lists.grads, o.lists.slot0, o.lists.slot1
	for i, p := range ps {
		mv, err := o.moments.get(p, 2)
		if err != nil {
			return err
		}
		values[i], grads[i], ms[i], vs[i] = p.Value, p.Grad, mv[0], mv[1]
	}
	if bo := batched(ps); bo != nil {
		if done, err := batchDone(bo.AdamSteps(values, grads, ms, vs, o.AdamParams, o.Steps)); done {
			return err
		}
	}
	for i, p := range ps {
		if err := p.Value.Backend().AdamStep(p.Value, p.Grad, ms[i], vs[i], o.AdamParams, o.Steps); err != nil {
			return fmt.Errorf("adam step %s: %w", p.Name, err)
		}
	}
	return nil
}

// Close frees the moment tensors.
func (o *Adam) Close() error {
	o.lists = stepLists{}
	return o.moments.free()
}

// SetLR sets the learning rate of the next steps (for a Schedule).
func (o *SGD) SetLR(lr float64) { o.LR = lr }

// SetLR sets the learning rate of the next steps (for a Schedule).
func (o *Adam) SetLR(lr float64) { o.LR = lr }

// OptimizerState is an optimizer's state on the host, as a checkpoint holds
// it.
type OptimizerState struct {
	// Kind names the optimizer: "sgd" or "adam".
	Kind string
	// Steps is the number of steps taken (Adam's bias-correction count).
	Steps int
	// Tensors holds the per-parameter state, named "<param>.<slot>":
	// "0.weight.momentum_buffer" (SGD), "0.weight.exp_avg" and
	// "0.weight.exp_avg_sq" (Adam), as PyTorch names them.
	Tensors map[string]HostTensor
}

// StatefulOptimizer is an Optimizer whose state a checkpoint can save and
// restore. SGD and Adam implement it.
type StatefulOptimizer interface {
	Optimizer
	// State downloads the state of params. Errors: the backend's Download
	// errors.
	State(params []*Param) (OptimizerState, error)
	// SetState replaces the state of params with s (allocating it where
	// needed). Errors: a tensor.ErrParam error for another optimizer's state,
	// tensor.ErrShape errors naming a missing or misshapen tensor, and the
	// backend's errors.
	SetState(params []*Param, s OptimizerState) error
}

// saveSlots downloads the k state tensors of each trainable parameter that
// has them, named by slots.
func (s state) saveSlots(params []*Param, slots []string) (map[string]HostTensor, error) {
	out := map[string]HostTensor{}
	for _, p := range params {
		ts, ok := s[p]
		if !ok {
			continue
		}
		for i, t := range ts {
			h, err := ToHost(t)
			if err != nil {
				return nil, fmt.Errorf("optimizer state %s: %w", p.Name, err)
			}
			out[p.Name+"."+slots[i]] = h
		}
	}
	return out, nil
}

// loadSlots replaces the state from tensors: every trainable parameter gets
// its slots when the first slot of any parameter is present, else the state
// stays empty (an optimizer that has not stepped yet).
func (s state) loadSlots(params []*Param, slots []string, tensors map[string]HostTensor) error {
	ps, err := trainable(params)
	if err != nil {
		return err
	}
	want := 0
	for _, p := range ps {
		for _, slot := range slots {
			if _, ok := tensors[p.Name+"."+slot]; ok {
				want++
			}
		}
	}
	if want == 0 && len(tensors) == 0 {
		return s.free()
	}
	if want != len(tensors) || want != len(ps)*len(slots) {
		return fmt.Errorf("optimizer state has %d tensors, %d of them for this model's %d trainable parameters × %v: %w", len(tensors), want, len(ps), slots, tensor.ErrShape)
	}
	for _, p := range ps {
		for _, slot := range slots {
			if h := tensors[p.Name+"."+slot]; !h.Shape.Equal(p.Value.Shape()) {
				return fmt.Errorf("optimizer state %s.%s has shape %v, expected %v: %w", p.Name, slot, h.Shape, p.Value.Shape(), tensor.ErrShape)
			}
		}
	}
	if err := s.free(); err != nil {
		return err
	}
	for _, p := range ps {
		ts, err := s.get(p, len(slots))
		if err != nil {
			return err
		}
		for i, slot := range slots {
			d, err := convertHost(tensors[p.Name+"."+slot].Data, p.Value.DType(), p.Value.Len(), "optimizer state "+p.Name+"."+slot)
			if err != nil {
				return err
			}
			if err := p.Value.Backend().Upload(ts[i], d); err != nil {
				return fmt.Errorf("optimizer state %s.%s: %w", p.Name, slot, err)
			}
		}
	}
	return nil
}

var (
	sgdSlots  = []string{"momentum_buffer"}
	adamSlots = []string{"exp_avg", "exp_avg_sq"}
)

// State downloads the velocities (none before the first step or without
// momentum).
func (o *SGD) State(params []*Param) (OptimizerState, error) {
	ts, err := o.velocity.saveSlots(params, sgdSlots)
	return OptimizerState{Kind: "sgd", Tensors: ts}, err
}

// SetState restores velocities saved by State.
func (o *SGD) SetState(params []*Param, s OptimizerState) error {
	if s.Kind != "sgd" {
		return fmt.Errorf("optimizer state of %q, expected sgd: %w", s.Kind, tensor.ErrParam)
	}
	return o.velocity.loadSlots(params, sgdSlots, s.Tensors)
}

// State downloads the moments and the step count.
func (o *Adam) State(params []*Param) (OptimizerState, error) {
	ts, err := o.moments.saveSlots(params, adamSlots)
	return OptimizerState{Kind: "adam", Steps: o.Steps, Tensors: ts}, err
}

// SetState restores the moments and step count saved by State.
func (o *Adam) SetState(params []*Param, s OptimizerState) error {
	if s.Kind != "adam" {
		return fmt.Errorf("optimizer state of %q, expected adam: %w", s.Kind, tensor.ErrParam)
	}
	if err := o.moments.loadSlots(params, adamSlots, s.Tensors); err != nil {
		return err
	}
	o.Steps = s.Steps
	return nil
}

// batched returns the backend of ps when it updates many parameters in one
// pass (tensor.BatchedOptimizer) and ps has more than one parameter, all on
// it; else nil.
func batched(ps []*Param) tensor.BatchedOptimizer {
	if len(ps) < 2 {
		return nil
	}
	b := ps[0].Value.Backend()
	for _, p := range ps[1:] {
		if p.Value.Backend() != b {
			return nil
		}
	}
	bo, _ := b.(tensor.BatchedOptimizer)
	return bo
}

// batchDone reports whether a batched step settled the update: it succeeded,
// or failed on the device. An argument error is found before anything is
// recorded, and then the single steps run to report it with the parameter's
// name.
func batchDone(err error) (bool, error) {
	if err == nil {
		return true, nil
	}
	for _, arg := range []error{tensor.ErrParam, tensor.ErrShape, tensor.ErrDType, tensor.ErrBackend, tensor.ErrFreed} {
		if errors.Is(err, arg) {
			return false, nil
		}
	}
	return true, err
}
