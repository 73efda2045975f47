package tensortest

import (
	"fmt"

	"github.com/vkcnn/vkcnn/tensor"
)

// Unsupported is a Backend that owns tensors but computes nothing: every
// method but Name, Caps, Close and NewTensor returns an error wrapping
// tensor.ErrUnsupported. Its tensors have no memory behind them. The suite
// passes them to real backends to check that those reject tensors they do not
// own; tests of code above the contract can use it the same way.
type Unsupported struct {
	name string
}

// NewUnsupported returns an Unsupported backend called name.
func NewUnsupported(name string) *Unsupported { return &Unsupported{name: name} }

// NewTensor returns a tensor of dtype dt and shape s owned by u. The shape is
// not validated.
func (u *Unsupported) NewTensor(dt tensor.DType, s tensor.Shape) *tensor.Tensor {
	return tensor.NewTensor(u, dt, s, noStorage{})
}

// noStorage is the memory of an Unsupported tensor: none.
type noStorage struct{}

func (noStorage) Release() error { return nil }

func (u *Unsupported) err(op string) error {
	return fmt.Errorf("%s backend: %s: %w", u.name, op, tensor.ErrUnsupported)
}

// Name returns the name given to NewUnsupported.
func (u *Unsupported) Name() string { return u.name }

// Caps reports no dtypes.
func (u *Unsupported) Caps() tensor.Caps { return tensor.Caps{Device: "none"} }

// Close does nothing and returns nil.
func (u *Unsupported) Close() error { return nil }

// Alloc returns an ErrUnsupported error; use NewTensor.
func (u *Unsupported) Alloc(tensor.DType, tensor.Shape) (*tensor.Tensor, error) {
	return nil, u.err("alloc")
}

// Upload returns an ErrUnsupported error.
func (u *Unsupported) Upload(*tensor.Tensor, any) error { return u.err("upload") }

// Download returns an ErrUnsupported error.
func (u *Unsupported) Download(any, *tensor.Tensor) error { return u.err("download") }

// Sync returns an ErrUnsupported error.
func (u *Unsupported) Sync() error { return u.err("sync") }

// Copy returns an ErrUnsupported error.
func (u *Unsupported) Copy(_, _ *tensor.Tensor) error { return u.err("copy") }

// Fill returns an ErrUnsupported error.
func (u *Unsupported) Fill(*tensor.Tensor, float64) error { return u.err("fill") }

// Conv2D returns an ErrUnsupported error.
func (u *Unsupported) Conv2D(_, _, _, _ *tensor.Tensor, _ tensor.Conv2DParams) error {
	return u.err("conv2d")
}

// Conv2DInputGrad returns an ErrUnsupported error.
func (u *Unsupported) Conv2DInputGrad(_, _, _ *tensor.Tensor, _ tensor.Conv2DParams) error {
	return u.err("conv2d input gradient")
}

// Conv2DKernelGrad returns an ErrUnsupported error.
func (u *Unsupported) Conv2DKernelGrad(_, _, _ *tensor.Tensor, _ tensor.Conv2DParams) error {
	return u.err("conv2d kernel gradient")
}

// BiasGrad returns an ErrUnsupported error.
func (u *Unsupported) BiasGrad(_, _ *tensor.Tensor) error { return u.err("bias gradient") }

// MaxPool2D returns an ErrUnsupported error.
func (u *Unsupported) MaxPool2D(_, _ *tensor.Tensor, _ tensor.Pool2DParams) error {
	return u.err("max pool")
}

// MaxPool2DBackward returns an ErrUnsupported error.
func (u *Unsupported) MaxPool2DBackward(_, _, _ *tensor.Tensor, _ tensor.Pool2DParams) error {
	return u.err("max pool backward")
}

// AvgPool2D returns an ErrUnsupported error.
func (u *Unsupported) AvgPool2D(_, _ *tensor.Tensor, _ tensor.Pool2DParams) error {
	return u.err("average pool")
}

// AvgPool2DBackward returns an ErrUnsupported error.
func (u *Unsupported) AvgPool2DBackward(_, _ *tensor.Tensor, _ tensor.Pool2DParams) error {
	return u.err("average pool backward")
}

// GlobalAvgPool2D returns an ErrUnsupported error.
func (u *Unsupported) GlobalAvgPool2D(_, _ *tensor.Tensor) error {
	return u.err("global average pool")
}

// GlobalAvgPool2DBackward returns an ErrUnsupported error.
func (u *Unsupported) GlobalAvgPool2DBackward(_, _ *tensor.Tensor) error {
	return u.err("global average pool backward")
}

// MatMul returns an ErrUnsupported error.
func (u *Unsupported) MatMul(_, _, _ *tensor.Tensor, _, _ bool) error { return u.err("matmul") }

// AddBias returns an ErrUnsupported error.
func (u *Unsupported) AddBias(_, _, _ *tensor.Tensor) error { return u.err("add bias") }

// Sum returns an ErrUnsupported error.
func (u *Unsupported) Sum(_, _ *tensor.Tensor, _ ...int) error { return u.err("sum") }

// Add returns an ErrUnsupported error.
func (u *Unsupported) Add(_, _, _ *tensor.Tensor) error { return u.err("add") }

// Mul returns an ErrUnsupported error.
func (u *Unsupported) Mul(_, _, _ *tensor.Tensor) error { return u.err("mul") }

// Scale returns an ErrUnsupported error.
func (u *Unsupported) Scale(_, _ *tensor.Tensor, _ float64) error { return u.err("scale") }

// ReLU returns an ErrUnsupported error.
func (u *Unsupported) ReLU(_, _ *tensor.Tensor) error { return u.err("relu") }

// ReLUBackward returns an ErrUnsupported error.
func (u *Unsupported) ReLUBackward(_, _, _ *tensor.Tensor) error { return u.err("relu backward") }

// Sigmoid returns an ErrUnsupported error.
func (u *Unsupported) Sigmoid(_, _ *tensor.Tensor) error { return u.err("sigmoid") }

// SigmoidBackward returns an ErrUnsupported error.
func (u *Unsupported) SigmoidBackward(_, _, _ *tensor.Tensor) error {
	return u.err("sigmoid backward")
}

// Tanh returns an ErrUnsupported error.
func (u *Unsupported) Tanh(_, _ *tensor.Tensor) error { return u.err("tanh") }

// TanhBackward returns an ErrUnsupported error.
func (u *Unsupported) TanhBackward(_, _, _ *tensor.Tensor) error { return u.err("tanh backward") }

// Softmax returns an ErrUnsupported error.
func (u *Unsupported) Softmax(_, _ *tensor.Tensor) error { return u.err("softmax") }

// SoftmaxBackward returns an ErrUnsupported error.
func (u *Unsupported) SoftmaxBackward(_, _, _ *tensor.Tensor) error {
	return u.err("softmax backward")
}

// DropoutMask returns an ErrUnsupported error.
func (u *Unsupported) DropoutMask(*tensor.Tensor, float64, uint64) error {
	return u.err("dropout mask")
}

// ArgMax returns an ErrUnsupported error.
func (u *Unsupported) ArgMax(_, _ *tensor.Tensor) error { return u.err("argmax") }

// MSELoss returns an ErrUnsupported error.
func (u *Unsupported) MSELoss(_, _, _, _ *tensor.Tensor) error { return u.err("mse loss") }

// BCELoss returns an ErrUnsupported error.
func (u *Unsupported) BCELoss(_, _, _, _ *tensor.Tensor) error { return u.err("bce loss") }

// SoftmaxCrossEntropy returns an ErrUnsupported error.
func (u *Unsupported) SoftmaxCrossEntropy(_, _, _, _ *tensor.Tensor) error {
	return u.err("softmax cross entropy")
}

// SGDStep returns an ErrUnsupported error.
func (u *Unsupported) SGDStep(_, _, _ *tensor.Tensor, _ tensor.SGDParams) error {
	return u.err("sgd step")
}

// AdamStep returns an ErrUnsupported error.
func (u *Unsupported) AdamStep(_, _, _, _ *tensor.Tensor, _ tensor.AdamParams, _ int) error {
	return u.err("adam step")
}

// LeakyReLU returns an ErrUnsupported error.
func (u *Unsupported) LeakyReLU(_, _ *tensor.Tensor, _ float64) error { return u.err("leaky relu") }

// LeakyReLUBackward returns an ErrUnsupported error.
func (u *Unsupported) LeakyReLUBackward(_, _, _ *tensor.Tensor, _ float64) error {
	return u.err("leaky relu backward")
}

// SiLU returns an ErrUnsupported error.
func (u *Unsupported) SiLU(_, _ *tensor.Tensor) error { return u.err("silu") }

// SiLUBackward returns an ErrUnsupported error.
func (u *Unsupported) SiLUBackward(_, _, _ *tensor.Tensor) error { return u.err("silu backward") }

// BatchNormTrain returns an ErrUnsupported error.
func (u *Unsupported) BatchNormTrain(_, _, _, _, _, _, _, _ *tensor.Tensor, _ tensor.BatchNormParams) error {
	return u.err("batch norm train")
}

// BatchNormEval returns an ErrUnsupported error.
func (u *Unsupported) BatchNormEval(_, _, _, _, _, _ *tensor.Tensor, _ tensor.BatchNormParams) error {
	return u.err("batch norm eval")
}

// BatchNormBackward returns an ErrUnsupported error.
func (u *Unsupported) BatchNormBackward(_, _, _, _, _, _, _, _ *tensor.Tensor) error {
	return u.err("batch norm backward")
}

var _ tensor.Backend = (*Unsupported)(nil)
