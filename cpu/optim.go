package cpu

import (
	"math"

	"github.com/vkcnn/vkcnn/internal/vec"
	"github.com/vkcnn/vkcnn/tensor"
)

// The optimizer steps update every element independently, so the elements are
// split over the workers. The arithmetic runs in float64 and is rounded once to
// the tensors' dtype on store.

// SGDStep updates param in place with PyTorch's SGD: g = grad +
// WeightDecay·param; with momentum v = Momentum·v + g and param −= LR·v (with
// Nesterov param −= LR·(g + Momentum·v)), else param −= LR·g. velocity has
// param's shape; it is required when Momentum ≠ 0 and otherwise may be nil
// (it is left untouched). Errors wrap ErrParam (negative or NaN rates,
// Nesterov without momentum), ErrShape, ErrDType, ErrBackend, ErrFreed or
// ErrClosed.
func (b *Backend) SGDStep(param, grad, velocity *tensor.Tensor, o tensor.SGDParams) error {
	if err := b.open("sgd step"); err != nil {
		return err
	}
	if _, err := tensor.CheckSGD(b, param, grad, velocity, o); err != nil {
		return err
	}
	if o.Momentum == 0 {
		velocity = nil
	}
	if param.DType() == tensor.Float32 {
		sgdStep(b, data[float32](param), data[float32](grad), optData[float32](velocity), o)
	} else {
		sgdStep(b, data[float64](param), data[float64](grad), optData[float64](velocity), o)
	}
	return nil
}

func sgdStep[T scalar](b *Backend, param, grad, vel []T, o tensor.SGDParams) {
	t := getTask[optTask[T], T](&optTasks)
	defer putTask[optTask[T], T](&optTasks, t)
	t.param, t.grad, t.m, t.sgd = param, grad, vel, o
	b.parallelTask(len(param), elemGrain, t)
}

// sgdRange is sgdStep on the elements [lo, hi), vel being t.m.
func (t *optTask[T]) sgdRange(lo, hi int) {
	param, grad, vel, o := t.param, t.grad, t.m, &t.sgd
	if p32 := vec32(param[lo:hi]); p32 != nil {
		// The same operations, 8 elements at a time (AVX-512).
		var v32 []float32
		if vel != nil {
			v32 = vec32(vel[lo:hi])
		}
		vec.SGD(p32, vec32(grad[lo:hi]), v32, o.LR, o.WeightDecay, o.Momentum, o.Nesterov)
		return
	}
	for i := lo; i < hi; i++ {
		p := float64(param[i])
		g := float64(grad[i]) + o.WeightDecay*p
		if vel != nil {
			v := o.Momentum*float64(vel[i]) + g
			vel[i] = T(v)
			if o.Nesterov {
				g += o.Momentum * float64(vel[i])
			} else {
				g = v
			}
		}
		param[i] = T(p - o.LR*g)
	}
}

// optTask is an optimizer step as a par.Task, pooled so that a call
// allocates nothing: the tensors' data, the parameters, and for Adam the
// per-step constants.
type optTask[T scalar] struct {
	adam              bool
	param, grad, m, v []T
	sgd               tensor.SGDParams
	adamP             tensor.AdamParams
	lr, rs, decay, wd float64
}

// Run updates the elements [lo, hi).
func (t *optTask[T]) Run(_, lo, hi int) {
	if t.adam {
		t.adamRange(lo, hi)
		return
	}
	t.sgdRange(lo, hi)
}

// AdamStep updates param, m and v in place with PyTorch's Adam (L2 weight
// decay added to the gradient, bias-corrected moments): g = grad +
// WeightDecay·param; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
// param −= LR·(m/(1−β1^t)) / (√(v/(1−β2^t)) + Eps), where t = step ≥ 1.
// With o.Decoupled it is AdamW: param ·= 1 − LR·WeightDecay first and
// g = grad.
// Errors wrap ErrParam (step < 1, rates out of range), ErrShape, ErrDType,
// ErrBackend, ErrFreed or ErrClosed.
func (b *Backend) AdamStep(param, grad, m, v *tensor.Tensor, o tensor.AdamParams, step int) error {
	if err := b.open("adam step"); err != nil {
		return err
	}
	if _, err := tensor.CheckAdam(b, param, grad, m, v, o, step); err != nil {
		return err
	}
	if param.DType() == tensor.Float32 {
		adamStep(b, data[float32](param), data[float32](grad), data[float32](m), data[float32](v), o, step)
	} else {
		adamStep(b, data[float64](param), data[float64](grad), data[float64](m), data[float64](v), o, step)
	}
	return nil
}

func adamStep[T scalar](b *Backend, param, grad, m, v []T, o tensor.AdamParams, step int) {
	// LR·(m/bc1)/(√(v/bc2) + ε) = (LR/bc1)·m/(√v·(1/√bc2) + ε): one
	// division and one square root per element instead of three divisions.
	bc1 := 1 - math.Pow(o.Beta1, float64(step))
	bc2 := 1 - math.Pow(o.Beta2, float64(step))
	lr, rs := o.LR/bc1, 1/math.Sqrt(bc2)
	// AdamW scales the parameter by decay and adds no L2 term (wd = 0);
	// Adam scales by 1, which changes nothing.
	decay, wd := 1.0, o.WeightDecay
	if o.Decoupled {
		decay, wd = 1-o.LR*o.WeightDecay, 0
	}
	t := getTask[optTask[T], T](&optTasks)
	defer putTask[optTask[T], T](&optTasks, t)
	t.adam, t.param, t.grad, t.m, t.v, t.adamP = true, param, grad, m, v, o
	t.lr, t.rs, t.decay, t.wd = lr, rs, decay, wd
	b.parallelTask(len(param), elemGrain, t)
}

// adamRange is adamStep on the elements [lo, hi).
func (t *optTask[T]) adamRange(lo, hi int) {
	param, grad, m, v, o := t.param[lo:hi], t.grad[lo:hi], t.m[lo:hi], t.v[lo:hi], &t.adamP
	lr, rs, decay, wd := t.lr, t.rs, t.decay, t.wd
	if p32 := vec32(param); p32 != nil {
		// The same operations, 8 elements at a time (AVX-512).
		vec.Adam(p32, vec32(grad), vec32(m), vec32(v), decay, wd, o.Beta1, 1-o.Beta1, o.Beta2, 1-o.Beta2, lr, rs, o.Eps)
		return
	}
	for i := range param {
		p := decay * float64(param[i])
		g := float64(grad[i]) + wd*p
		mi := o.Beta1*float64(m[i]) + (1-o.Beta1)*g
		vi := o.Beta2*float64(v[i]) + (1-o.Beta2)*g*g
		m[i], v[i] = T(mi), T(vi)
		param[i] = T(p - lr*mi/(math.Sqrt(vi)*rs+o.Eps))
	}
}
