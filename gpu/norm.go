//go:build cgo

package gpu

import (
	"fmt"

	"github.com/vkcnn/vkcnn/tensor"
)

// Batch normalization runs shaders/norm.comp in a few passes of at most four
// bindings each (the smallest storage-buffer limit Vulkan allows), through
// two scratch tensors: part, one result per chunk of a channel, and tab, a
// small per-channel table. Statistics are reduced per chunk with a fixed
// tree in shared memory, each chunk's squared deviations taken from its own
// mean, and the chunks merged with Chan's formula, so the variance never
// comes from E[x²] − E[x]² and the result does not depend on scheduling.
// Nothing is read back.

// Passes of shaders/norm.comp (its MODE specialization constant).
const (
	normStats uint32 = iota
	normMerge
	normTrainTab
	normEvalTab
	normApply
	normBwdSums
	normBwdMerge
	normBwdTab
	normBwdDx
)

// Flags of shaders/norm.comp.
const (
	normHasGamma   = 1
	normHasBeta    = 2
	normRunning    = 4
	normWantDgamma = 8
	normWantDbeta  = 16
)

// normOpt pairs an optional tensor with the flag that says it is given.
type normOpt struct {
	t    *tensor.Tensor
	flag uint32
}

// normFlags returns the flags of the given (non-nil) tensors.
func normFlags(opts ...normOpt) uint32 {
	var f uint32
	for _, o := range opts {
		if o.t != nil {
			f |= o.flag
		}
	}
	return f
}

// normPerInvocation is how many elements of a chunk each of the 256
// invocations of a workgroup reduces, at least.
const normPerInvocation = 4

// normPlan is the chunking of one batch-norm call.
type normPlan struct {
	g        tensor.ChannelGeom
	s, chunk int // chunks per channel and elements per chunk
}

// plan splits each channel into chunks of 256·k elements, k ≥
// normPerInvocation chosen so that the chunk count fits the device's
// workgroup limit; the channels go along the y axis of the dispatch.
func (b *Backend) plan(op string, g tensor.ChannelGeom) (normPlan, error) {
	n := g.PerChannel()
	if uint64(g.C) > uint64(b.maxGroups[1]) {
		return normPlan{}, fmt.Errorf("%s: %d channels, expected at most %d on this device: %w", op, g.C, b.maxGroups[1], tensor.ErrUnsupported)
	}
	k := normPerInvocation
	if s := divUp(n, 256*k); s > int(b.maxGroups[0]) {
		k = divUp(n, 256*int(b.maxGroups[0]))
	}
	chunk := 256 * k
	return normPlan{g: g, s: divUp(n, chunk), chunk: chunk}, nil
}

// push returns the push constants of shaders/norm.comp for the plan, as an
// array that stays on the caller's stack.
func (pl normPlan) push(flags uint32, eps, momentum float64) [11]uint32 {
	n := pl.g.PerChannel()
	varScale := 0.0
	if n > 1 {
		varScale = momentum * float64(n) / float64(n-1)
	}
	return [11]uint32{u32(pl.g.C), u32(pl.g.Inner), u32(n), u32(n * pl.g.C), u32(pl.s), u32(pl.chunk), flags,
		f32(eps), f32(momentum), f32(varScale), f32(1 / float64(n))}
}

// norm records one pass of shaders/norm.comp: the chunk reductions over
// (chunks, channels) workgroups, the per-channel passes over C invocations
// and the elementwise passes over every element of x.
func (b *Backend) norm(mode uint32, pl normPlan, push []uint32, bufs ...*tensor.Tensor) error {
	var groups [3]uint32
	switch mode {
	case normStats, normBwdSums:
		groups = [3]uint32{u32(pl.s), u32(pl.g.C), 1}
	case normApply, normBwdDx:
		groups = b.groups1D(pl.g.PerChannel()*pl.g.C, 256)
	default:
		groups = b.groups1D(pl.g.C, 256)
	}
	return b.dispatch("norm", []uint32{mode}, push, groups, bufs...)
}

// or returns t, or alt when t is nil: a binding the shader does not touch
// when the matching flag is clear.
func or(t, alt *tensor.Tensor) *tensor.Tensor {
	if t == nil {
		return alt
	}
	return t
}

// scratch2 returns two scratch tensors of n1 and n2 elements.
func (b *Backend) scratch2(n1, n2 int) (*tensor.Tensor, *tensor.Tensor, error) {
	s1, err := b.scratch(n1)
	if err != nil {
		return nil, nil, err
	}
	s2, err := b.scratch(n2)
	if err != nil {
		return nil, nil, freeAfter(s1, err)
	}
	return s1, s2, nil
}

// BatchNormTrain normalizes x ([N, C, ...], rank ≥ 2) with its batch
// statistics per channel: y = gamma·(x − μ)·invStd + beta with μ the mean
// and σ² the biased variance of each channel and invStd = 1/√(σ² + Eps). It
// writes mean = μ and invStd ([C]) and, when runningMean and runningVar are
// not nil, updates them with PyTorch's rule (the unbiased variance
// σ²·n/(n−1) enters the running variance). gamma nil is 1, beta nil is 0; y
// may alias x. The statistics are float32 tree sums per chunk of 1024 or
// more elements, merged with Chan's formula. Errors wrap ErrParam (Eps,
// Momentum, one value per channel), ErrShape, ErrDType, ErrBackend or
// ErrFreed for bad arguments (see tensor.CheckBatchNormTrain),
// ErrUnsupported for more channels than the device's workgroup limit, and
// ErrClosed, ErrOutOfMemory or ErrDeviceLost from the device.
func (b *Backend) BatchNormTrain(y, mean, invStd, runningMean, runningVar, x, gamma, beta *tensor.Tensor, p tensor.BatchNormParams) error {
	const op = "batch norm train"
	if err := b.usable(op); err != nil {
		return err
	}
	g, err := tensor.CheckBatchNormTrain(b, y, mean, invStd, runningMean, runningVar, x, gamma, beta, p)
	if err != nil {
		return err
	}
	pl, err := b.plan(op, g)
	if err != nil {
		return err
	}
	flags := normFlags(normOpt{gamma, normHasGamma}, normOpt{beta, normHasBeta}, normOpt{runningMean, normRunning})
	push := pl.push(flags, p.Eps, p.Momentum)
	part, tab, err := b.scratch2(2*pl.s*g.C, 3*g.C)
	if err != nil {
		return err
	}
	err = b.norm(normStats, pl, push[:], x, part, part, part) // the shader declares four bindings
	if err == nil {
		err = b.norm(normMerge, pl, push[:], part, tab, or(runningMean, tab), or(runningVar, tab))
	}
	if err == nil {
		err = b.norm(normTrainTab, pl, push[:], tab, or(beta, tab), mean, invStd)
	}
	if err == nil {
		err = b.norm(normApply, pl, push[:], y, x, tab, or(gamma, tab))
	}
	return freeAfter(tab, freeAfter(part, err))
}

// BatchNormEval normalizes x with the running statistics:
// y = gamma·(x − runningMean)/√(runningVar + Eps) + beta, in float32.
// Shapes as in BatchNormTrain; gamma nil is 1, beta nil is 0; y may alias x.
// Errors wrap ErrParam (Eps), ErrShape, ErrDType, ErrBackend or ErrFreed for
// bad arguments (see tensor.CheckBatchNormEval) and ErrClosed,
// ErrOutOfMemory or ErrDeviceLost from the device.
func (b *Backend) BatchNormEval(y, x, gamma, beta, runningMean, runningVar *tensor.Tensor, p tensor.BatchNormParams) error {
	const op = "batch norm eval"
	if err := b.usable(op); err != nil {
		return err
	}
	g, err := tensor.CheckBatchNormEval(b, y, x, gamma, beta, runningMean, runningVar, p)
	if err != nil {
		return err
	}
	pl, err := b.plan(op, g)
	if err != nil {
		return err
	}
	push := pl.push(normFlags(normOpt{gamma, normHasGamma}, normOpt{beta, normHasBeta}), p.Eps, 0)
	tab, err := b.scratch(3 * g.C)
	if err != nil {
		return err
	}
	err = b.norm(normEvalTab, pl, push[:], tab, runningMean, runningVar, or(beta, tab))
	if err == nil {
		err = b.norm(normApply, pl, push[:], y, x, tab, or(gamma, tab))
	}
	return freeAfter(tab, err)
}

// BatchNormBackward sets the gradients of BatchNormTrain from x, the output
// gradient dy and the saved mean and invStd ([C]): dbeta = Σ dy,
// dgamma = Σ dy·x̂ (float32 tree sums per chunk, chunks added in order) and
// dx = gamma·invStd·(dy − dbeta/n − x̂·dgamma/n), with x̂ = (x − mean)·invStd
// and n the elements per channel. dx, dgamma and dbeta may each be nil;
// gamma nil is 1; dx may alias dy. Errors wrap ErrShape, ErrDType,
// ErrBackend or ErrFreed for bad arguments (see
// tensor.CheckBatchNormBackward), ErrUnsupported for more channels than the
// device's workgroup limit, and ErrClosed, ErrOutOfMemory or ErrDeviceLost
// from the device.
func (b *Backend) BatchNormBackward(dx, dgamma, dbeta, dy, x, gamma, mean, invStd *tensor.Tensor) error {
	const op = "batch norm backward"
	if err := b.usable(op); err != nil {
		return err
	}
	g, err := tensor.CheckBatchNormBackward(b, dx, dgamma, dbeta, dy, x, gamma, mean, invStd)
	if err != nil {
		return err
	}
	if dx == nil && dgamma == nil && dbeta == nil {
		return nil
	}
	pl, err := b.plan(op, g)
	if err != nil {
		return err
	}
	flags := normFlags(normOpt{gamma, normHasGamma}, normOpt{dgamma, normWantDgamma}, normOpt{dbeta, normWantDbeta})
	push := pl.push(flags, 0, 0)
	part, tab, err := b.scratch2(2*pl.s*g.C, 5*g.C)
	if err != nil {
		return err
	}
	err = b.norm(normBwdSums, pl, push[:], dy, x, mean, part)
	if err == nil {
		err = b.norm(normBwdMerge, pl, push[:], part, tab, mean, invStd)
	}
	if err == nil {
		err = b.norm(normBwdTab, pl, push[:], tab, or(gamma, tab), or(dgamma, tab), or(dbeta, tab))
	}
	if err == nil && dx != nil {
		err = b.norm(normBwdDx, pl, push[:], dx, dy, x, tab)
	}
	return freeAfter(tab, freeAfter(part, err))
}
