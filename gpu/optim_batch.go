//go:build cgo

package gpu

import (
	"fmt"
	"math"

	"github.com/vkcnn/vkcnn/tensor"
)

// Batched optimizer steps (tensor.BatchedOptimizer): shaders/optim_batch.comp
// updates up to batchParams parameters per dispatch, binding each role
// (parameter, gradient, m, v) as an array of storage buffers and giving each
// parameter its own run of workgroups. It computes what optim.comp does for
// each parameter (the formulas are shared, in optim.glsl). Devices without
// shaderStorageBufferArrayDynamicIndexing, and steps with a parameter
// larger than one binding's range, run the single steps instead.

// maxBatchParams is the most parameters one optim_batch dispatch updates (its
// push constants hold 16 element counts).
const maxBatchParams = 16

// batchParams returns the parameters per optim_batch dispatch on this
// device: four arrays of them must fit the per-stage storage buffer limit. It
// returns 0 when the shader cannot run.
func (b *Backend) batchParams() int {
	if !b.arrayIndexing {
		return 0
	}
	return min(maxBatchParams, b.maxBindings/4)
}

// beyondBinding reports whether a tensor of es is larger than one binding's
// range: optim_batch.comp binds arrays of buffers and has no addressed
// variant, so such steps run one by one through optim.comp's.
func (b *Backend) beyondBinding(es []optEntry) bool {
	b.mu.Lock()
	limit := b.mem.bindLimit
	b.mu.Unlock()
	for _, e := range es {
		if uint64(e.n)*4 > limit {
			return true
		}
	}
	return false
}

// optEntry is one parameter of a batched step with its bound tensors.
type optEntry struct {
	param, grad, m, v *tensor.Tensor
	n                 int
}

// SGDSteps applies SGDStep to every (params[i], grads[i], velocities[i]) in
// as few dispatches as the device allows (one for up to 16 parameters on
// most GPUs, 8 on lavapipe). velocities may be nil, or hold nil entries,
// when o.Momentum is 0. Errors: ErrParam for slices of different lengths or
// entries that share memory, SGDStep's errors for a bad entry (naming its
// index), ErrClosed, ErrOutOfMemory or ErrDeviceLost from the device.
func (b *Backend) SGDSteps(params, grads, velocities []*tensor.Tensor, o tensor.SGDParams) error {
	const op = "sgd steps"
	if err := b.usable(op); err != nil {
		return err
	}
	if len(grads) != len(params) || velocities != nil && len(velocities) != len(params) {
		return fmt.Errorf("gpu: %s: %d parameters, %d gradients and %d velocities, expected equal counts: %w",
			op, len(params), len(grads), len(velocities), tensor.ErrParam)
	}
	es := make([]optEntry, len(params))
	for i := range params {
		var vel *tensor.Tensor
		if velocities != nil {
			vel = velocities[i]
		}
		n, err := tensor.CheckSGD(b, params[i], grads[i], vel, o)
		if err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		if o.Momentum == 0 {
			vel = params[i] // bound but unused
		}
		es[i] = optEntry{param: params[i], grad: grads[i], m: vel, v: vel, n: n}
	}
	if err := b.distinct(op, es, o.Momentum != 0); err != nil {
		return err
	}
	if b.batchParams() == 0 || b.beyondBinding(es) {
		for i := range es {
			if err := b.SGDStep(params[i], grads[i], es[i].m, o); err != nil {
				return fmt.Errorf("entry %d: %w", i, err)
			}
		}
		return nil
	}
	push := []uint32{f32(o.LR), f32(o.Momentum), f32(o.WeightDecay), 0, 0, 0, 0, 0, 0, 0, f32(1)}
	return b.optimBatch([]uint32{optSGD, flag(o.Momentum != 0), flag(o.Nesterov)}, push, es)
}

// AdamSteps applies AdamStep to every (params[i], grads[i], m[i], v[i]) in as
// few dispatches as the device allows, with the same step count. Errors as
// for SGDSteps, with AdamStep's for a bad entry.
func (b *Backend) AdamSteps(params, grads, m, v []*tensor.Tensor, o tensor.AdamParams, step int) error {
	const op = "adam steps"
	if err := b.usable(op); err != nil {
		return err
	}
	if len(grads) != len(params) || len(m) != len(params) || len(v) != len(params) {
		return fmt.Errorf("gpu: %s: %d parameters, %d gradients, %d first and %d second moments, expected equal counts: %w",
			op, len(params), len(grads), len(m), len(v), tensor.ErrParam)
	}
	es := make([]optEntry, len(params))
	for i := range params {
		n, err := tensor.CheckAdam(b, params[i], grads[i], m[i], v[i], o, step)
		if err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		es[i] = optEntry{param: params[i], grad: grads[i], m: m[i], v: v[i], n: n}
	}
	if err := b.distinct(op, es, true); err != nil {
		return err
	}
	if b.batchParams() == 0 || b.beyondBinding(es) {
		for i := range es {
			if err := b.AdamStep(params[i], grads[i], m[i], v[i], o, step); err != nil {
				return fmt.Errorf("entry %d: %w", i, err)
			}
		}
		return nil
	}
	bc1 := 1 - math.Pow(o.Beta1, float64(step))
	bc2 := 1 - math.Pow(o.Beta2, float64(step))
	decay, wd := 1.0, o.WeightDecay
	if o.Decoupled {
		decay, wd = 1-o.LR*o.WeightDecay, 0
	}
	push := []uint32{f32(o.LR), 0, f32(wd),
		f32(o.Beta1), f32(o.Beta2), f32(o.Eps), f32(bc1), f32(bc2), f32(1 - o.Beta1), f32(1 - o.Beta2), f32(decay)}
	return b.optimBatch([]uint32{optAdam, 0, 0}, push, es)
}

// distinct returns an ErrParam error when an entry shares memory with an
// earlier one (written state included when stateful). It compares every pair
// of entries, recomputing the earlier ones' ranges, so that it allocates
// nothing: optimizers call it every step, and entries number in the tens.
func (b *Backend) distinct(op string, es []optEntry, stateful bool) error {
	for i, e := range es {
		mine, n, err := b.entryAccesses(e, stateful)
		if err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		for _, earlier := range es[:i] {
			theirs, m, _ := b.entryAccesses(earlier, stateful) // checked when it was mine
			for _, a := range mine[:n] {
				for _, p := range theirs[:m] {
					if a.conflicts(p) {
						return fmt.Errorf("gpu: %s: entry %d shares memory with an earlier entry, expected distinct tensors: %w", op, i, tensor.ErrParam)
					}
				}
			}
		}
	}
	return nil
}

// entryAccesses returns the byte ranges an optimizer entry touches, n of
// them: the parameter (written) and the gradient (read), then, when
// stateful, the two state tensors (written).
func (b *Backend) entryAccesses(e optEntry, stateful bool) (as [4]access, n int, err error) {
	ts := [4]*tensor.Tensor{e.param, e.grad, e.m, e.v}
	n = 2
	if stateful {
		n = 4
	}
	for k, t := range ts[:n] {
		s, err := b.storageOf(t)
		if err != nil {
			return as, 0, err
		}
		as[k] = access{buf: uint64(h64(s.blk.buf)), off: s.off, end: s.off + s.size, write: k != 1}
	}
	return as, n, nil
}

// optimBatch records optim_batch dispatches of up to batchParams entries
// each (distinct has checked them): spec gets NP appended, push the element
// counts.
func (b *Backend) optimBatch(spec, hyper []uint32, es []optEntry) error {
	np := b.batchParams()
	var specArr [8]uint32 // the arrays keep a step's slices on the stack
	spec = append(append(specArr[:0], spec...), u32(np))
	for len(es) > 0 {
		chunk := es[:min(np, len(es))]
		es = es[len(chunk):]
		var pushArr [32]uint32
		push := append(pushArr[:0], hyper...)
		push = append(push, make([]uint32, maxBatchParams)...)
		var bufArr [4 * maxBatchParams]*tensor.Tensor
		bufs := bufArr[:4*np]
		groups := 0
		for j := range np {
			e := chunk[min(j, len(chunk)-1)] // unused slots repeat the last entry, with no elements
			if j < len(chunk) {
				push[len(hyper)+j] = u32(e.n)
				groups += divUp(e.n, 256)
			}
			bufs[j], bufs[np+j], bufs[2*np+j], bufs[3*np+j] = e.param, e.grad, e.m, e.v
		}
		if err := b.dispatchArrays("optim_batch", spec, push, b.groups1D(groups*256, 256), np, bufs...); err != nil {
			return err
		}
	}
	return nil
}
