package cpu

import (
	"math"

	"github.com/vkcnn/vkcnn/tensor"
)

// The losses accumulate in float64 whatever the dtype, with one partial sum
// per worker added in worker order, and write the gradient (when asked for)
// in the same pass. grad may alias pred: each element is read before it is
// written.

// lossOp is a loss kernel over the items [lo, hi) of t (elements, or rows
// of t.cols > 0 for softmax cross-entropy): it returns their share of the
// summed loss and fills their gradient when t.grad is not nil.
type lossOp[T scalar] func(t *lossTask[T], lo, hi int) float64

// lossTask is a loss as a par.Task (pooled: see task.go): the kernel, its
// operands, and one partial sum per range.
type lossTask[T scalar] struct {
	k                  lossOp[T]
	cols               int     // row length, 0 for an elementwise loss
	inv                float64 // 1/(elements) or 1/(rows)
	grad, pred, target []T
	part               []float64
}

// Run stores the sum of range w.
func (t *lossTask[T]) Run(w, lo, hi int) { t.part[w] = t.k(t, lo, hi) }

// runLoss validates MSELoss or BCELoss and runs k32 or k64 on the data.
func (b *Backend) runLoss(op string, loss, grad, pred, target *tensor.Tensor, k32 lossOp[float32], k64 lossOp[float64]) error {
	if err := b.open(op); err != nil {
		return err
	}
	if _, err := tensor.CheckLoss(b, op, loss, grad, pred, target); err != nil {
		return err
	}
	computeLoss(b, 0, loss, grad, pred, target, k32, k64)
	return nil
}

// computeLoss runs k32 or k64, by dtype, on validated tensors and stores the
// loss; cols is the row length of a row-wise kernel (softmax
// cross-entropy), 0 for an elementwise one.
func computeLoss(b *Backend, cols int, loss, grad, pred, target *tensor.Tensor, k32 lossOp[float32], k64 lossOp[float64]) {
	if pred.DType() == tensor.Float32 {
		data[float32](loss)[0] = float32(sumLoss(b, cols, k32, optData[float32](grad), data[float32](pred), data[float32](target)))
	} else {
		data[float64](loss)[0] = sumLoss(b, cols, k64, optData[float64](grad), data[float64](pred), data[float64](target))
	}
}

// sumLoss runs k over the elements (cols 0) or rows of pred split as
// parallel splits them and returns the mean: the per-range sums added in
// range order, so that the result depends only on the sizes and the thread
// count, never on scheduling.
func sumLoss[T scalar](b *Backend, cols int, k lossOp[T], grad, pred, target []T) float64 {
	n, grain := len(pred), elemGrain
	if cols > 0 {
		n, grain = len(pred)/cols, rowGrainFor(cols)
	}
	t := getTask[lossTask[T], T](&lossTasks)
	defer putTask[lossTask[T], T](&lossTasks, t)
	part := getScratch[float64](max(b.workers(n, grain), 1))
	defer putScratch(part)
	clear(*part)
	t.k, t.cols, t.inv, t.grad, t.pred, t.target, t.part = k, cols, 1/float64(n), grad, pred, target, *part
	b.parallelTask(n, grain, t)
	var s float64
	for _, p := range t.part {
		s += p
	}
	return s * t.inv
}

// MSELoss sets loss (one element) to mean((pred − target)²) over all elements
// and, when grad is not nil, grad = 2(pred − target)/n. target and grad have
// pred's shape. Errors wrap ErrShape, ErrDType, ErrBackend, ErrFreed or
// ErrClosed.
func (b *Backend) MSELoss(loss, grad, pred, target *tensor.Tensor) error {
	return b.runLoss("mse loss", loss, grad, pred, target, mseLoss[float32], mseLoss[float64])
}

func mseLoss[T scalar](t *lossTask[T], lo, hi int) float64 {
	grad, pred, target, inv := t.grad, t.pred, t.target, t.inv
	var s float64
	for i := lo; i < hi; i++ {
		d := float64(pred[i]) - float64(target[i])
		s += d * d
		if grad != nil {
			grad[i] = T(2 * d * inv)
		}
	}
	return s
}

// BCELoss sets loss to the mean binary cross-entropy
// −mean(t·log max(p, ε) + (1−t)·log max(1−p, ε)) with ε = tensor.BCEEpsilon,
// computed in float64, and, when grad is not nil,
// grad = (−t/max(p, ε) + (1−t)/max(1−p, ε))/n. Errors as for MSELoss.
func (b *Backend) BCELoss(loss, grad, pred, target *tensor.Tensor) error {
	return b.runLoss("bce loss", loss, grad, pred, target, bceLoss[float32], bceLoss[float64])
}

func bceLoss[T scalar](t *lossTask[T], lo, hi int) float64 {
	grad, pred, target, inv := t.grad, t.pred, t.target, t.inv
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

func softmaxCrossEntropy[T scalar](t *lossTask[T], lo, hi int) float64 {
	grad, logits, target, inv, cols := t.grad, t.pred, t.target, t.inv, t.cols
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
}
