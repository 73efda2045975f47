package nn

import (
	"fmt"
	"math"

	"github.com/vkcnn/vkcnn/tensor"
)

// Gradient check settings: central differences (f(v+h) − f(v−h))/2h with
// h = GradCheckStep, and the relative error |a − n| / max(|a|, |n|,
// GradCheckFloor) between the analytic gradient a and the numeric one n. The
// floor keeps gradients that are zero or nearly so from dividing the float64
// rounding noise of the differences (about 1e-11 for a loss of order 1) by
// zero: below it the error is absolute, scaled by 1/GradCheckFloor. With
// h = 1e-5 truncation and rounding errors balance (1e-4 and 1e-6 each gave
// ten times larger errors on the package's test models).
const (
	GradCheckStep  = 1e-5
	GradCheckFloor = 1e-6
)

// GradCheckResult reports the worst disagreement GradCheck found.
type GradCheckResult struct {
	// MaxRelErr is the largest relative error over every element checked.
	MaxRelErr float64
	// Worst names the element with that error: "2.weight[7]" or "input[3]".
	Worst string
	// Analytic and Numeric are the two gradients at Worst.
	Analytic, Numeric float64
	// Checked counts the elements compared.
	Checked int
}

// GradCheck compares the gradients of Backward with central differences of
// the loss, for every element of every parameter that is not frozen and of
// the input x. The model must be built in float64 (tensor.ErrDType
// otherwise). x is a batch [N]+InShape() and target holds as many elements as
// the output, in the shape the loss needs (for CrossEntropyLoss [N, C]). The
// check runs in the model's current mode; in training mode every evaluation
// uses the same dropout masks. Parameters and x are restored afterwards. It
// costs two forward passes per element: meant for small models.
func GradCheck(m *Sequential, loss Loss, x, target *tensor.Tensor) (GradCheckResult, error) {
	var res GradCheckResult
	if err := m.ready("gradient check"); err != nil {
		return res, err
	}
	if m.dt != tensor.Float64 {
		return res, fmt.Errorf("gradient check: model is %v, expected float64: %w", m.dt, tensor.ErrDType)
	}
	if loss == nil || target == nil {
		return res, fmt.Errorf("gradient check: loss and target are required: %w", tensor.ErrParam)
	}
	if _, err := batchSize("gradient check", "input", x, m.shapes[0]); err != nil {
		return res, err
	}
	lossT, err := m.b.Alloc(tensor.Float64, tensor.Shape{1})
	if err != nil {
		return res, err
	}
	defer lossT.Free()
	gradT, err := m.b.Alloc(tensor.Float64, target.Shape())
	if err != nil {
		return res, err
	}
	defer gradT.Free()
	iter := m.iter
	defer func() { m.iter = iter + 1 }()

	// run evaluates the loss, and its gradient when grad is not nil.
	run := func(grad *tensor.Tensor) (float64, error) {
		m.iter = iter
		out, err := m.Forward(x)
		if err != nil {
			return 0, err
		}
		if out, err = out.Reshape(target.Shape()); err != nil {
			return 0, fmt.Errorf("gradient check: target: %w", err)
		}
		if err := loss.Compute(lossT, grad, out, target); err != nil {
			return 0, err
		}
		v := []float64{0}
		err = m.b.Download(v, lossT)
		return v[0], err
	}
	if _, err := run(gradT); err != nil {
		return res, err
	}
	dy, err := gradT.Reshape(batchShape(x.Dim(0), m.shapes[len(m.shapes)-1]))
	if err != nil {
		return res, err
	}
	dx, err := m.Backward(dy)
	if err != nil {
		return res, err
	}

	type check struct {
		name      string
		value     *tensor.Tensor
		analytic  []float64
		perturbed []float64
	}
	var checks []check
	add := func(name string, value, grad *tensor.Tensor) error {
		a, err := ToHost(grad)
		if err != nil {
			return err
		}
		v, err := ToHost(value)
		if err != nil {
			return err
		}
		checks = append(checks, check{name, value, a.Data.([]float64), v.Data.([]float64)})
		return nil
	}
	for _, p := range m.Params() {
		if !p.Frozen {
			if err := add(p.Name, p.Value, p.Grad); err != nil {
				return res, err
			}
		}
	}
	if err := add("input", x, dx); err != nil {
		return res, err
	}
	for _, c := range checks {
		for j, orig := range c.perturbed {
			var f [2]float64
			for k, sign := range [2]float64{1, -1} {
				c.perturbed[j] = orig + sign*GradCheckStep
				err := m.b.Upload(c.value, c.perturbed)
				if err == nil {
					f[k], err = run(nil)
				}
				c.perturbed[j] = orig
				if err != nil {
					m.b.Upload(c.value, c.perturbed)
					return res, err
				}
			}
			num := (f[0] - f[1]) / (2 * GradCheckStep)
			a := c.analytic[j]
			e := math.Abs(a-num) / max(math.Abs(a), math.Abs(num), GradCheckFloor)
			if e > res.MaxRelErr || math.IsNaN(e) || res.Checked == 0 {
				res.MaxRelErr, res.Worst, res.Analytic, res.Numeric = e, fmt.Sprintf("%s[%d]", c.name, j), a, num
			}
			res.Checked++
		}
		if err := m.b.Upload(c.value, c.perturbed); err != nil {
			return res, err
		}
	}
	return res, nil
}
