package tensor

import "fmt"

// Fused ops are optional: a backend may implement one of the interfaces below
// to do in one pass what otherwise takes several ops, and callers (package nn)
// detect it with a type assertion, as database/sql/driver's optional
// interfaces are detected, falling back to the plain ops when it is missing.
// A fused op gives the same results as its plain sequence.

// Activation is an activation function that a fused op applies to its
// output.
type Activation int

const (
	// ActNone leaves the output as it is.
	ActNone Activation = iota
	// ActReLU applies max(v, 0), as Backend.ReLU does (NaN becomes 0).
	ActReLU
)

// String returns "none" or "relu".
func (a Activation) String() string {
	switch a {
	case ActNone:
		return "none"
	case ActReLU:
		return "relu"
	}
	return fmt.Sprintf("Activation(%d)", int(a))
}

// CheckActivation returns an ErrParam error naming op unless a is ActNone or
// ActReLU.
func CheckActivation(op string, a Activation) error {
	if a != ActNone && a != ActReLU {
		return fmt.Errorf("%s: activation %v, expected none or relu: %w", op, a, ErrParam)
	}
	return nil
}

// FusedConv2D is implemented by backends that can apply an activation to
// the output of Conv2D in the same pass.
type FusedConv2D interface {
	// Conv2DAct computes y = act(bias + x ⋆ w), the result of Conv2D followed
	// by the activation, with Conv2D's shapes and errors and an ErrParam
	// error for an unknown activation.
	Conv2DAct(y, x, w, bias *Tensor, p Conv2DParams, act Activation) error
}

// FusedLinear is implemented by backends that compute a dense layer's output
// in one pass.
type FusedLinear interface {
	// LinearAct computes y = act(x·wᵀ + bias) for x [N, in], w [out, in],
	// bias [out] or nil and y [N, out]: MatMul(y, x, w, false, true), then
	// AddBias and the activation. Errors: MatMul's (naming c = y, a = x,
	// b = w), an ErrShape error for a bias that is not [out], and an
	// ErrParam error for an unknown activation.
	LinearAct(y, x, w, bias *Tensor, act Activation) error
}

// CheckLinear validates FusedLinear.LinearAct and returns N, out and in.
func CheckLinear(be Backend, y, x, w, bias *Tensor, act Activation) (n, out, in int, err error) {
	const op = "linear"
	if err := CheckActivation(op, act); err != nil {
		return 0, 0, 0, err
	}
	n, out, in, err = CheckMatMul(be, y, x, w, false, true)
	if err != nil || bias == nil {
		return n, out, in, err
	}
	if _, err := CheckArgs(be, op, Arg{"bias", bias}); err != nil {
		return 0, 0, 0, err
	}
	return n, out, in, wantShape(op, "bias", bias, Shape{out})
}

// BatchedOptimizer is implemented by backends that update many parameters in
// one pass. Each call gives the same results as the single steps over i in
// order; parameters and their states must be distinct tensors (sharing one
// between entries is an ErrParam error).
type BatchedOptimizer interface {
	// SGDSteps does SGDStep(params[i], grads[i], velocities[i], o) for
	// every i; velocities may be nil when o.Momentum is 0. Errors: an ErrParam
	// error for slices of different lengths or shared tensors, and SGDStep's
	// errors naming the entry.
	SGDSteps(params, grads, velocities []*Tensor, o SGDParams) error
	// AdamSteps does AdamStep(params[i], grads[i], m[i], v[i], o, step) for
	// every i. Errors as for SGDSteps, with AdamStep's.
	AdamSteps(params, grads, m, v []*Tensor, o AdamParams, step int) error
}
