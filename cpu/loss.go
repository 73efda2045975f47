package cpu

import (
	"math"

	"github.com/vkcnn/vkcnn/tensor"
)

// The losses accumulate in float64 whatever the dtype, with one partial sum
// per worker added in worker order, and write the gradient (when asked for)
// in the same pass. grad may alias pred: each element is read before it is
// written.

// lossOp is the shape of a loss kernel: it returns the loss and fills grad
// when grad is not nil; cols is the row length of pred (softmax
// cross-entropy) or 1.
type lossOp[T scalar] func(b *Backend, cols int, grad, pred, target []T) float64

// runLoss validates MSELoss or BCELoss and runs k32 or k64 on the data.
func (b *Backend) runLoss(op string, loss, grad, pred, target *tensor.Tensor, k32 lossOp[float32], k64 lossOp[float64]) error {
	if err := b.open(op); err != nil {
		return err
	}
	if _, err := tensor.CheckLoss(b, op, loss, grad, pred, target); err != nil {
		return err
	}
	computeLoss(b, 1, loss, grad, pred, target, k32, k64)
	return nil
}

// computeLoss runs k32 or k64, by dtype, on validated tensors and stores the
// loss; cols is the row length passed on to the kernel.
func computeLoss(b *Backend, cols int, loss, grad, pred, target *tensor.Tensor, k32 lossOp[float32], k64 lossOp[float64]) {
	if pred.DType() == tensor.Float32 {
		data[float32](loss)[0] = float32(k32(b, cols, optData[float32](grad), data[float32](pred), data[float32](target)))
	} else {
		data[float64](loss)[0] = k64(b, cols, optData[float64](grad), data[float64](pred), data[float64](target))
	}
}

// MSELoss sets loss (one element) to mean((pred − target)²) over all elements
// and, when grad is not nil, grad = 2(pred − target)/n. target and grad have
// pred's shape. Errors wrap ErrShape, ErrDType, ErrBackend, ErrFreed or
// ErrClosed.
func (b *Backend) MSELoss(loss, grad, pred, target *tensor.Tensor) error {
	return b.runLoss("mse loss", loss, grad, pred, target, mseLoss[float32], mseLoss[float64])
}

func mseLoss[T scalar](b *Backend, _ int, grad, pred, target []T) float64 {
	inv := 1 / float64(len(pred))
	s := b.parallelSum(len(pred), elemGrain, func(lo, hi int) float64 {
		var s float64
		for i := lo; i < hi; i++ {
			d := float64(pred[i]) - float64(target[i])
			s += d * d
			if grad != nil {
				grad[i] = T(2 * d * inv)
			}
		}
		return s
	})
	return s * inv
}

// BCELoss sets loss to the mean binary cross-entropy
// −mean(t·log max(p, ε) + (1−t)·log max(1−p, ε)) with ε = tensor.BCEEpsilon,
// computed in float64, and, when grad is not nil,
// grad = (−t/max(p, ε) + (1−t)/max(1−p, ε))/n. Errors as for MSELoss.
func (b *Backend) BCELoss(loss, grad, pred, target *tensor.Tensor) error {
	return b.runLoss("bce loss", loss, grad, pred, target, bceLoss[float32], bceLoss[float64])
}

func bceLoss[T scalar](b *Backend, _ int, grad, pred, target []T) float64 {
	inv := 1 / float64(len(pred))
	s := b.parallelSum(len(pred), elemGrain, func(lo, hi int) float64 {
		var s float64
		for i := lo; i < hi; i++ {
			p, t := float64(pred[i]), float64(target[i])
			p0, p1 := max(p, tensor.BCEEpsilon), max(1-p, tensor.BCEEpsilon)
			s -= t*math.Log(p0) + (1-t)*math.Log(p1)
			if grad != nil {
				grad[i] = T((-t/p0 + (1-t)/p1) * inv)
			}
		}
		return s
	})
	return s * inv
}

// SoftmaxCrossEntropy takes logits [N, C] and target probabilities [N, C]
// (one-hot rows for class labels) and sets loss to
// −(1/N)·Σ_n Σ_c t[n,c]·log softmax(logits[n])_c and, when grad is not nil,
// grad = (softmax(logits) − t)/N. It uses log-sum-exp in float64, so any
// finite logits are safe, and skips classes whose target is 0. Errors wrap
// ErrShape (also for logits of rank other than 2), ErrDType, ErrBackend,
// ErrFreed or ErrClosed.
func (b *Backend) SoftmaxCrossEntropy(loss, grad, logits, target *tensor.Tensor) error {
	if err := b.open("softmax cross-entropy"); err != nil {
		return err
	}
	_, cols, err := tensor.CheckSoftmaxCrossEntropy(b, loss, grad, logits, target)
	if err != nil {
		return err
	}
	computeLoss(b, cols, loss, grad, logits, target, softmaxCrossEntropy[float32], softmaxCrossEntropy[float64])
	return nil
}

func softmaxCrossEntropy[T scalar](b *Backend, cols int, grad, logits, target []T) float64 {
	rows := len(logits) / cols
	inv := 1 / float64(rows)
	s := b.parallelSum(rows, rowGrainFor(cols), func(lo, hi int) float64 {
		var s float64
		for r := lo; r < hi; r++ {
			x, t := logits[r*cols:][:cols], target[r*cols:][:cols]
			m := float64(x[0])
			for _, v := range x[1:] {
				m = max(m, float64(v))
			}
			var e float64
			for _, v := range x {
				e += math.Exp(float64(v) - m)
			}
			lse := m + math.Log(e)
			for c, v := range x {
				tc := float64(t[c])
				if tc != 0 {
					s += tc * (lse - float64(v))
				}
				if grad != nil {
					grad[r*cols+c] = T((math.Exp(float64(v)-lse) - tc) * inv)
				}
			}
		}
		return s
	})
	return s * inv
}
