package nn

import (
	"fmt"
	"strings"

	"github.com/vkcnn/vkcnn/tensor"
)

// Loss is a training objective computed on the backend.
type Loss interface {
	// Name returns the loss's name: "mse", "bce" or "cross_entropy".
	Name() string
	// Compute sets loss (one element) from the predictions pred and the
	// targets target (same shape) and, when grad is not nil, the gradient of
	// the loss with respect to pred (pred's shape). Errors come from the
	// backend's validation (tensor.ErrShape, tensor.ErrDType, …).
	Compute(loss, grad, pred, target *tensor.Tensor) error
}

// backendLoss is a Loss implemented by one backend op.
type backendLoss struct {
	name string
	op   func(b tensor.Backend, loss, grad, pred, target *tensor.Tensor) error
}

// Name returns the loss's name.
func (l backendLoss) Name() string { return l.name }

// Compute runs the backend op of pred's backend.
func (l backendLoss) Compute(loss, grad, pred, target *tensor.Tensor) error {
	if pred == nil {
		return fmt.Errorf("%s loss: prediction is nil, expected a tensor: %w", l.name, tensor.ErrShape)
	}
	return l.op(pred.Backend(), loss, grad, pred, target)
}

// MSELoss returns the mean squared error mean((pred − target)²) over all
// elements (PyTorch's nn.MSELoss).
func MSELoss() Loss { return backendLoss{"mse", tensor.Backend.MSELoss} }

// BCELoss returns the mean binary cross-entropy of probabilities pred in
// [0, 1] against targets in [0, 1] (PyTorch's nn.BCELoss); log arguments are
// clamped at tensor.BCEEpsilon.
func BCELoss() Loss { return backendLoss{"bce", tensor.Backend.BCELoss} }

// CrossEntropyLoss returns the softmax cross-entropy of logits [N, C] against
// target probability rows (PyTorch's nn.CrossEntropyLoss). Fit and Evaluate
// turn integer class labels into one-hot rows when they upload a batch.
func CrossEntropyLoss() Loss {
	return backendLoss{"cross_entropy", tensor.Backend.SoftmaxCrossEntropy}
}

// LossByName returns the loss called name: "mse", "bce", or "cross_entropy"
// (also "crossentropy", "ce"). Unknown names give a tensor.ErrParam error
// listing the known ones.
func LossByName(name string) (Loss, error) {
	switch strings.ToLower(name) {
	case "mse":
		return MSELoss(), nil
	case "bce":
		return BCELoss(), nil
	case "cross_entropy", "crossentropy", "ce":
		return CrossEntropyLoss(), nil
	}
	return nil, fmt.Errorf("loss %q unknown, expected mse, bce or cross_entropy: %w", name, tensor.ErrParam)
}
