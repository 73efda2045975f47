package cpu

import (
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

func TestAdamFirstSteps(t *testing.T) {
	both(t, testAdamFirstSteps[float32], testAdamFirstSteps[float64])
}

func testAdamFirstSteps[T scalar](t *testing.T) {
	b := New()
	o := tensor.DefaultAdam()
	param := put[T](t, b, tensor.Shape{2}, 1, -1)
	grad := put[T](t, b, tensor.Shape{2}, 0.5, -4)
	m, v := put[T](t, b, tensor.Shape{2}), put[T](t, b, tensor.Shape{2})
	must(t, b.AdamStep(param, grad, m, v, o, 1))
	// Step 1: m = 0.1g, v = 0.001g², and the bias-corrected step is
	// lr·g/(|g| + ε): about lr in the direction of −g.
	near(t, "m", get[T](t, b, m), []float64{0.05, -0.4}, tol[T]())
	near(t, "v", get[T](t, b, v), []float64{0.00025, 0.016}, tol[T]())
	near(t, "param", get[T](t, b, param), []float64{1 - 1e-3*0.5/(0.5+1e-8), -1 + 1e-3*4/(4+1e-8)}, tol[T]())

	// Step 2 with the same gradient: the moments still average to g and g².
	must(t, b.AdamStep(param, grad, m, v, o, 2))
	near(t, "param after 2 steps", get[T](t, b, param), []float64{1 - 2e-3*0.5/(0.5+1e-8), -1 + 2e-3*4/(4+1e-8)}, tol[T]())

	// Weight decay adds wd·param to the gradient.
	o.WeightDecay = 0.5
	param = put[T](t, b, tensor.Shape{1}, 2)
	grad = put[T](t, b, tensor.Shape{1}, 0)
	m, v = put[T](t, b, tensor.Shape{1}), put[T](t, b, tensor.Shape{1})
	must(t, b.AdamStep(param, grad, m, v, o, 1))
	near(t, "weight decay m", get[T](t, b, m), []float64{0.1}, tol[T]())
}

func TestSGD(t *testing.T) { both(t, testSGD[float32], testSGD[float64]) }

func testSGD[T scalar](t *testing.T) {
	b := New()
	param := put[T](t, b, tensor.Shape{2}, 1, 2)
	grad := put[T](t, b, tensor.Shape{2}, 1, -1)
	must(t, b.SGDStep(param, grad, nil, tensor.SGDParams{LR: 0.5}))
	near(t, "plain", get[T](t, b, param), []float64{0.5, 2.5}, 0)

	// Momentum 0.9, weight decay 0.1, lr 0.1, from param 1 and grad 1:
	// g1 = 1.1, v1 = 1.1, p1 = 0.89; g2 = 1.089, v2 = 0.99 + 1.089 = 2.079,
	// p2 = 0.89 − 0.2079 = 0.6821.
	o := tensor.SGDParams{LR: 0.1, Momentum: 0.9, WeightDecay: 0.1}
	param = put[T](t, b, tensor.Shape{1}, 1)
	grad = put[T](t, b, tensor.Shape{1}, 1)
	vel := put[T](t, b, tensor.Shape{1})
	must(t, b.SGDStep(param, grad, vel, o))
	near(t, "momentum step 1", get[T](t, b, param), []float64{0.89}, tol[T]())
	must(t, b.SGDStep(param, grad, vel, o))
	near(t, "momentum step 2", get[T](t, b, param), []float64{0.6821}, tol[T]())
	near(t, "velocity", get[T](t, b, vel), []float64{2.079}, tol[T]())
}
