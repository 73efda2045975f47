package cpu

import (
	"errors"
	"math"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

func TestLosses(t *testing.T) { both(t, testLosses[float32], testLosses[float64]) }

func testLosses[T scalar](t *testing.T) {
	b := New()
	loss := put[T](t, b, tensor.Shape{1})
	s := tensor.Shape{2, 2}
	p := put[T](t, b, s, 1, 2, 3, 4)
	target := put[T](t, b, s, 0, 2, 5, 4)
	grad := put[T](t, b, s)
	must(t, b.MSELoss(loss, grad, p, target))
	// Squared errors 1, 0, 4, 0 over 4 elements; gradient 2(p − t)/4.
	near(t, "mse", get[T](t, b, loss), []float64{1.25}, tol[T]())
	near(t, "mse gradient", get[T](t, b, grad), []float64{0.5, 0, -1, 0}, tol[T]())
	must(t, b.MSELoss(loss, nil, p, target))
	near(t, "mse without gradient", get[T](t, b, loss), []float64{1.25}, tol[T]())

	// BCE: p = 0.5 costs log 2 whatever the target; p = 0 with t = 1 is
	// clamped at ε instead of being infinite.
	p = put[T](t, b, tensor.Shape{2}, 0.5, 0)
	target = put[T](t, b, tensor.Shape{2}, 1, 1)
	grad = put[T](t, b, tensor.Shape{2})
	must(t, b.BCELoss(loss, grad, p, target))
	near(t, "bce", get[T](t, b, loss), []float64{(math.Ln2 - math.Log(tensor.BCEEpsilon)) / 2}, tol[T]())
	near(t, "bce gradient", get[T](t, b, grad), []float64{-1, -0.5 / tensor.BCEEpsilon}, tol[T]())

	// Softmax cross entropy: logits (0, 0) against class 0 cost log 2 and
	// give gradient (½ − 1, ½)/N; logits (1000, 0) against class 0 cost ~0.
	logits := put[T](t, b, tensor.Shape{2, 2}, 0, 0, 1000, 0)
	target = put[T](t, b, tensor.Shape{2, 2}, 1, 0, 1, 0)
	grad = put[T](t, b, tensor.Shape{2, 2})
	must(t, b.SoftmaxCrossEntropy(loss, grad, logits, target))
	near(t, "cross entropy", get[T](t, b, loss), []float64{math.Ln2 / 2}, tol[T]())
	near(t, "cross entropy gradient", get[T](t, b, grad), []float64{-0.25, 0.25, 0, 0}, tol[T]())

	flat := put[T](t, b, tensor.Shape{4})
	if err := b.SoftmaxCrossEntropy(loss, nil, flat, flat); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("rank-1 logits: got %v, want ErrShape", err)
	}
}
