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
//
// Non-differentiable points: an element whose relative error exceeds
// GradCheckSuspect is checked again at v+GradCheckAway and, failing that, at
// v−GradCheckAway (that element moved, the others as they were): the
// analytic gradient from a new backward pass there against central
// differences there. Moving the element by a hundred steps takes it off a
// kink that it sits on (ReLU at exactly 0, max-pool windows whose values tie)
// while keeping the rest of the point, so a correct backward pass checks
// there to the usual precision and a wrong one fails there too.
const (
	GradCheckStep    = 1e-5
	GradCheckFloor   = 1e-6
	GradCheckSuspect = 1e-4
	GradCheckAway    = 1e-3
)

// GradCheckResult reports the worst disagreement GradCheck found.
type GradCheckResult struct {
	// MaxRelErr is the largest relative error over every element checked:
	// at the given point, or for NonSmooth elements at the nearby point
	// where they were checked instead.
	MaxRelErr float64
	// Worst names the element with that error: "2.weight[7]" or "input[3]".
	Worst string
	// Analytic and Numeric are the two gradients at Worst.
	Analytic, Numeric float64
	// Checked counts the elements compared, NonSmooth included.
	Checked int
	// NonSmooth counts the elements at which the given point is not
	// differentiable along that element, as far as the check can tell: the
	// central difference there disagreed with Backward by more than
	// GradCheckSuspect, but both agreed at the element moved by
	// ±GradCheckAway. It is 0 on random inputs and large on real images
	// (see GradCheck).
	NonSmooth int
	// FirstNonSmooth names the first such element, with the analytic and
	// numeric gradients that disagreed at the given point.
	FirstNonSmooth                      string
	NonSmoothAnalytic, NonSmoothNumeric float64
}

// GradCheck compares the gradients of Backward with central differences of
// the loss, for every element of every parameter that is not frozen and of
// the input x. The model must be built in float64 (tensor.ErrDType
// otherwise). x is a batch [N]+InShape() and target holds as many elements as
// the output, in the shape the loss needs (for CrossEntropyLoss [N, C]). The
// check runs in the model's current mode; in training mode every evaluation
// uses the same dropout masks. Parameters and x are restored afterwards (and
// the parameters' gradients are those of the given point). It costs two
// forward passes per element, and a backward and up to four more forward
// passes per element that sits on a non-differentiable point: meant for small
// models.
//
// Non-differentiable points, and when to use random inputs: ReLU has no
// derivative at 0 and max pooling none where the largest values of a window
// tie; Backward then takes one branch (ReLU's slope 0, the window's first
// maximum, as PyTorch does), while a central difference across the point
// averages the slopes of both sides, and with many such kinks at once (one
// pixel feeds nine convolution outputs per channel) the two can even have
// opposite signs. Real images sit on such points everywhere: the blank
// border of an MNIST digit is exactly 0, so with zero-initialized biases the
// convolution outputs over it are exactly 0 and every pooling window there
// ties. GradCheck detects the elements concerned (an error above
// GradCheckSuspect), checks them at a nearby point instead (see
// GradCheckAway) and counts them in NonSmooth; on a conv–relu–maxpool model
// and two MNIST digits that was 1,221 of 9,458 elements, and the check
// gave a maximum relative error of 3e-6 (1.99 before it moved them), as on
// random inputs. To test the implementation of a
// layer, use random inputs (normal values kept a little away from 0) and
// random parameters: then NonSmooth is 0 and every element is checked where
// it is. Real data checks the gradients at the data, at the price of the
// moved points.
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
		grad      *tensor.Tensor // nil for the input: Backward's result
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
		if value == x {
			grad = nil
		}
		checks = append(checks, check{name, value, grad, a.Data.([]float64), v.Data.([]float64)})
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
	// central returns the central difference of the loss in element j of c
	// around value v, leaving the element at v.
	central := func(c check, j int, v float64) (float64, error) {
		var f [2]float64
		for k, sign := range [2]float64{1, -1} {
			c.perturbed[j] = v + sign*GradCheckStep
			err := m.b.Upload(c.value, c.perturbed)
			if err == nil {
				f[k], err = run(nil)
			}
			c.perturbed[j] = v
			if err != nil {
				return 0, err
			}
		}
		return (f[0] - f[1]) / (2 * GradCheckStep), m.b.Upload(c.value, c.perturbed)
	}
	// away checks element j of c at orig ± GradCheckAway and returns the
	// smallest error with its gradients.
	away := func(c check, j int, orig float64) (e, a, num float64, err error) {
		e = math.Inf(1)
		for _, d := range [2]float64{GradCheckAway, -GradCheckAway} {
			c.perturbed[j] = orig + d
			if err := m.b.Upload(c.value, c.perturbed); err != nil {
				return 0, 0, 0, err
			}
			if _, err := run(gradT); err != nil {
				return 0, 0, 0, err
			}
			g, err := m.Backward(dy)
			if err != nil {
				return 0, 0, 0, err
			}
			if c.grad != nil {
				g = c.grad
			}
			h, err := ToHost(g)
			if err != nil {
				return 0, 0, 0, err
			}
			ad := h.Data.([]float64)[j]
			n, err := central(c, j, orig+d)
			if err != nil {
				return 0, 0, 0, err
			}
			if ed := relErr(ad, n); ed < e {
				e, a, num = ed, ad, n
			}
			if e <= GradCheckSuspect {
				break
			}
		}
		c.perturbed[j] = orig
		return e, a, num, m.b.Upload(c.value, c.perturbed)
	}
	moved := false
	for _, c := range checks {
		for j, orig := range c.perturbed {
			num, err := central(c, j, orig)
			if err != nil {
				return res, err
			}
			a := c.analytic[j]
			e := relErr(a, num)
			if e > GradCheckSuspect {
				moved = true
				ea, aa, na, err := away(c, j, orig)
				if err != nil {
					return res, err
				}
				if ea <= GradCheckSuspect {
					if res.NonSmooth == 0 {
						res.FirstNonSmooth, res.NonSmoothAnalytic, res.NonSmoothNumeric = fmt.Sprintf("%s[%d]", c.name, j), a, num
					}
					res.NonSmooth++
					e, a, num = ea, aa, na
				}
			}
			if e > res.MaxRelErr || math.IsNaN(e) || res.Checked == 0 {
				res.MaxRelErr, res.Worst, res.Analytic, res.Numeric = e, fmt.Sprintf("%s[%d]", c.name, j), a, num
			}
			res.Checked++
		}
	}
	if moved { // leave the gradients of the given point, as without moves
		if _, err := run(gradT); err != nil {
			return res, err
		}
		if _, err := m.Backward(dy); err != nil {
			return res, err
		}
	}
	return res, nil
}

// relErr is the relative error of GradCheck: |a − n| / max(|a|, |n|,
// GradCheckFloor).
func relErr(a, n float64) float64 {
	return math.Abs(a-n) / max(math.Abs(a), math.Abs(n), GradCheckFloor)
}
