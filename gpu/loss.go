//go:build cgo

package gpu

import "github.com/vkcnn/vkcnn/tensor"

// The losses never leave the device: a first pass (shaders/loss.comp, or
// shaders/rows.comp for softmax cross-entropy) writes one term per element or
// row into a scratch tensor and, when asked, the gradient; a second,
// deterministic reduction (shaders/sum.comp) sums the terms into the
// one-element loss tensor and divides by the count. The gradient may alias
// the prediction: each element is read before it is written.

// Modes of shaders/loss.comp.
const (
	lossMSE uint32 = iota
	lossBCE
)

// elementLoss validates an elementwise loss and records its two passes.
func (b *Backend) elementLoss(op string, mode uint32, loss, grad, pred, target *tensor.Tensor) error {
	if err := b.usable(op); err != nil {
		return err
	}
	n, err := tensor.CheckLoss(b, op, loss, grad, pred, target)
	if err != nil {
		return err
	}
	terms, err := b.scratch(n)
	if err != nil {
		return err
	}
	g := grad
	if g == nil {
		g = terms // bound but not written
	}
	push := []uint32{u32(n), f32(float64(n)), f32(tensor.BCEEpsilon)}
	err = b.dispatch("loss", []uint32{mode, flag(grad != nil)}, push, b.groups1D(n, 256), terms, g, pred, target)
	if err == nil {
		err = b.reduce(loss, terms, 1, n, 1, float32(n))
	}
	return freeAfter(terms, err)
}

// MSELoss sets loss (one element) to mean((pred − target)²) over all elements
// and, when grad is not nil, grad = 2(pred − target)/n; target and grad have
// pred's shape. The mean is summed in float32 by a deterministic tree on the
// device. Errors wrap ErrShape, ErrDType, ErrBackend or ErrFreed for bad
// arguments (see tensor.CheckLoss) and ErrClosed, ErrOutOfMemory or
// ErrDeviceLost from the device.
func (b *Backend) MSELoss(loss, grad, pred, target *tensor.Tensor) error {
	return b.elementLoss("mse loss", lossMSE, loss, grad, pred, target)
}

// BCELoss sets loss to the mean binary cross-entropy
// −mean(t·log max(p, ε) + (1−t)·log max(1−p, ε)) with ε = tensor.BCEEpsilon
// and, when grad is not nil, grad = (−t/max(p, ε) + (1−t)/max(1−p, ε))/n.
// Errors as for MSELoss.
func (b *Backend) BCELoss(loss, grad, pred, target *tensor.Tensor) error {
	return b.elementLoss("bce loss", lossBCE, loss, grad, pred, target)
}

// SoftmaxCrossEntropy takes logits [N, C] and target probabilities [N, C]
// (one-hot rows for class labels) and sets loss to
// −(1/N)·Σ_n Σ_c t[n,c]·log softmax(logits[n])_c, skipping classes whose
// target is 0, and, when grad is not nil, grad = (softmax(logits) − t)/N. One
// invocation per row computes the max-subtracted log-sum-exp, so any finite
// logits are safe. Errors wrap ErrShape (also for logits of rank other than
// 2), ErrDType, ErrBackend or ErrFreed for bad arguments (see
// tensor.CheckSoftmaxCrossEntropy) and ErrClosed, ErrOutOfMemory or
// ErrDeviceLost from the device.
func (b *Backend) SoftmaxCrossEntropy(loss, grad, logits, target *tensor.Tensor) error {
	if err := b.usable("softmax cross-entropy"); err != nil {
		return err
	}
	rows, cols, err := tensor.CheckSoftmaxCrossEntropy(b, loss, grad, logits, target)
	if err != nil {
		return err
	}
	terms, err := b.scratch(rows)
	if err != nil {
		return err
	}
	g := grad
	if g == nil {
		g = terms // bound but not written
	}
	err = b.rows(rowSoftmaxCrossEntropy, grad != nil, rows, cols, float64(rows), terms, g, logits, target)
	if err == nil {
		err = b.reduce(loss, terms, 1, rows, 1, float32(rows))
	}
	return freeAfter(terms, err)
}
