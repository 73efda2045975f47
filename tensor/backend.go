package tensor

// Caps describes what a backend offers.
type Caps struct {
	// DTypes lists the element types the backend computes in.
	DTypes []DType
	// Device names the hardware: "cpu (8 threads)", or the Vulkan device name.
	Device string
	// Software is true for a CPU-emulated GPU such as lavapipe or SwiftShader.
	Software bool
}

// Supports reports whether dt is in c.DTypes.
func (c Caps) Supports(dt DType) bool {
	for _, d := range c.DTypes {
		if d == dt {
			return true
		}
	}
	return false
}

// Backend is the contract every compute backend implements: memory, data
// movement, and the ops of a CNN training step.
//
// Conventions shared by every op:
//   - The destination comes first and must be allocated by the caller with the
//     shape the op documents; ops overwrite it. Elementwise ops allow the
//     destination to alias an input; other ops do not.
//   - All tensors of one call belong to this backend, are not freed and share
//     one dtype. Violations return errors wrapping ErrBackend, ErrFreed,
//     ErrDType or ErrShape that name the tensor and the expected value; invalid
//     parameters return ErrParam errors. No op panics on user input.
//   - Ops may run asynchronously: an error from the device can surface at the
//     next Download or Sync. Download and Sync wait for all earlier ops.
//   - Reductions (losses, sums, gradients summed over a batch) accumulate in
//     at least the tensor's precision; results agree with the naive reference
//     within the tolerances stated in tensortest.
//   - Every method may be called from many goroutines at once. A backend
//     serializes internally what must be serialized (on Vulkan: recording,
//     submission, fence waits, the staging buffer, the allocator, the
//     pipeline cache and descriptor pools; Free and Close included), and each
//     op gives exactly the result it gives in a serial run. Tensors are like
//     any Go value: goroutines may read one tensor at once (as an op input
//     or by Download), but writing a tensor (as an op's destination, by
//     Upload or Fill) or freeing it while another goroutine uses it is the
//     caller's race, and its result is undefined.
//     Download and Sync wait for every earlier op of every goroutine; order
//     between goroutines is the caller's to set (channels, sync.WaitGroup).
type Backend interface {
	// Name returns a short name such as "cpu" or "vulkan".
	Name() string
	// Caps describes the device and the dtypes it supports.
	Caps() Caps
	// Close releases every resource of the backend. Tensors allocated by it
	// become unusable. Closing twice is a no-op.
	Close() error

	// Alloc returns a zero-filled tensor. It returns ErrShape for an invalid
	// shape, ErrDType for an unsupported dtype and ErrOutOfMemory when the
	// memory cannot be allocated.
	Alloc(dt DType, shape Shape) (*Tensor, error)
	// Upload copies src, a []float32 or []float64 matching dst's dtype and
	// element count, into dst.
	Upload(dst *Tensor, src any) error
	// Download copies src into dst, a []float32 or []float64 matching src's
	// dtype and element count, after waiting for the ops that write src.
	Download(dst any, src *Tensor) error
	// Sync waits until every op issued so far has finished and returns the
	// first device error among them.
	Sync() error
	// Copy copies src into dst; both have the same element count (shapes may
	// differ).
	Copy(dst, src *Tensor) error
	// Fill sets every element of dst to v.
	Fill(dst *Tensor, v float64) error

	// Conv2D computes the cross-correlation y = b + Σ x ⋆ w.
	// x is [N, C, H, W], w is [K, C/groups, KH, KW], b is [K] or nil, y is
	// [N, K, OH, OW] with OH = OutSize(H, KH, stride, pad, dilation) and OW
	// likewise.
	Conv2D(y, x, w, b *Tensor, p Conv2DParams) error
	// Conv2DInputGrad computes dx = Σ dy ∗ w, the full convolution of the
	// output gradient with the flipped kernel: the gradient of Conv2D with
	// respect to x. dx is [N, C, H, W], dy is [N, K, OH, OW], w as in Conv2D.
	// Input positions that no window reaches (stride > kernel) get 0.
	Conv2DInputGrad(dx, dy, w *Tensor, p Conv2DParams) error
	// Conv2DKernelGrad computes dw = x ⋆ dy summed over the batch: the
	// gradient of Conv2D with respect to w. Shapes as in Conv2D.
	Conv2DKernelGrad(dw, x, dy *Tensor, p Conv2DParams) error
	// BiasGrad sums dy over every axis but axis 1 into db ([dy.Dim(1)]): the
	// bias gradient of Conv2D (dy [N, K, OH, OW]) and of AddBias (dy [N, F]).
	BiasGrad(db, dy *Tensor) error

	// MaxPool2D sets y [N, C, OH, OW] to the maximum of each window of x
	// [N, C, H, W]; padding never wins.
	MaxPool2D(y, x *Tensor, p Pool2DParams) error
	// MaxPool2DBackward routes each dy element to the position of its window's
	// maximum in x (the first in row-major window order on ties), summing
	// where windows overlap. dx and x are [N, C, H, W], dy is [N, C, OH, OW].
	MaxPool2DBackward(dx, dy, x *Tensor, p Pool2DParams) error
	// AvgPool2D sets y to the mean of each window of x (see Pool2DParams for
	// the divisor).
	AvgPool2D(y, x *Tensor, p Pool2DParams) error
	// AvgPool2DBackward spreads each dy element evenly over its window.
	AvgPool2DBackward(dx, dy *Tensor, p Pool2DParams) error
	// GlobalAvgPool2D sets y ([N, C] or [N, C, 1, 1]) to the mean of each
	// channel of x [N, C, H, W].
	GlobalAvgPool2D(y, x *Tensor) error
	// GlobalAvgPool2DBackward sets every element of channel c of dx
	// [N, C, H, W] to dy[n, c]/(H·W).
	GlobalAvgPool2DBackward(dx, dy *Tensor) error

	// MatMul computes c = op(a)·op(b) for 2-D tensors, where op transposes its
	// argument when the flag is set: c is [M, N], op(a) is [M, K], op(b) is
	// [K, N].
	MatMul(c, a, b *Tensor, transA, transB bool) error
	// AddBias sets y = x + b with b [x.Dim(1)] broadcast along axis 1 of x
	// (rank ≥ 2: [N, F] or [N, C, H, W]). y may alias x.
	AddBias(y, x, b *Tensor) error
	// Sum sums src over the listed axes (each once, in range, in any order)
	// into dst, whose shape is src's with those axes removed or set to 1. No
	// axes sums all elements into a one-element dst.
	Sum(dst, src *Tensor, axes ...int) error

	// Add sets dst = a + b elementwise; all three have the same element count.
	Add(dst, a, b *Tensor) error
	// Mul sets dst = a ⊙ b elementwise.
	Mul(dst, a, b *Tensor) error
	// Scale sets dst = alpha·x.
	Scale(dst, x *Tensor, alpha float64) error
	// ReLU sets dst = max(x, 0).
	ReLU(dst, x *Tensor) error
	// ReLUBackward sets dx = dy where x > 0, else 0.
	ReLUBackward(dx, dy, x *Tensor) error
	// Sigmoid sets dst = 1/(1+e^−x), computed without overflow for any x.
	Sigmoid(dst, x *Tensor) error
	// SigmoidBackward sets dx = dy·y·(1−y), where y is Sigmoid's output.
	SigmoidBackward(dx, dy, y *Tensor) error
	// Tanh sets dst = tanh(x).
	Tanh(dst, x *Tensor) error
	// TanhBackward sets dx = dy·(1−y²), where y is Tanh's output.
	TanhBackward(dx, dy, y *Tensor) error
	// LeakyReLU sets dst = x where x > 0, else slope·x (PyTorch's LeakyReLU
	// with negative_slope = slope, any finite value). dst may alias x.
	LeakyReLU(dst, x *Tensor, slope float64) error
	// LeakyReLUBackward sets dx = dy where x > 0, else slope·dy, where x is
	// LeakyReLU's input.
	LeakyReLUBackward(dx, dy, x *Tensor, slope float64) error
	// SiLU sets dst = x·sigmoid(x) (PyTorch's SiLU), computed without
	// overflow for any x.
	SiLU(dst, x *Tensor) error
	// SiLUBackward sets dx = dy·s·(1 + x·(1−s)), s = sigmoid(x), where x is
	// SiLU's input.
	SiLUBackward(dx, dy, x *Tensor) error
	// Softmax sets dst to the softmax of x along its last axis (rank ≥ 1),
	// subtracting the row maximum first so that no exponential overflows.
	Softmax(dst, x *Tensor) error
	// SoftmaxBackward sets dx = y ⊙ (dy − Σ_last(dy ⊙ y)), row by row, where y
	// is Softmax's output.
	SoftmaxBackward(dx, dy, y *Tensor) error
	// DropoutMask fills mask with 0 (probability rate) or 1/(1−rate): element
	// i is 0 when float64(DropoutUniform(seed, i)) < rate, else 1/(1−rate)
	// rounded to the mask's dtype, so every backend makes the same mask. rate
	// must be in [0, 1).
	DropoutMask(mask *Tensor, rate float64, seed uint64) error
	// ArgMax sets dst [rows] to the index (as a float) of the largest element
	// of each row of x along its last axis; the first one on ties.
	ArgMax(dst, x *Tensor) error

	// MSELoss sets loss (one element) to mean((pred − target)²) over all
	// elements and, when grad is not nil, grad = 2(pred − target)/n.
	MSELoss(loss, grad, pred, target *Tensor) error
	// BCELoss sets loss to the mean binary cross-entropy
	// −mean(t·log max(p, ε) + (1−t)·log max(1−p, ε)), ε = BCEEpsilon, and,
	// when grad is not nil, grad = (−t/max(p, ε) + (1−t)/max(1−p, ε))/n.
	BCELoss(loss, grad, pred, target *Tensor) error
	// SoftmaxCrossEntropy takes logits [N, C] and target probabilities [N, C]
	// (one-hot rows for class labels) and sets loss to
	// −(1/N)·Σ_n Σ_c t[n,c]·log softmax(logits[n])_c and, when grad is not nil,
	// grad = (softmax(logits) − t)/N. It uses log-sum-exp, so any logits are
	// safe.
	SoftmaxCrossEntropy(loss, grad, logits, target *Tensor) error

	// BatchNormTrain normalizes x with its batch statistics per channel
	// (axis 1), as torch.nn.BatchNorm1d/2d do in training: x is [N, C] or
	// [N, C, H, W] (any rank ≥ 2), y has x's shape and may alias x; gamma,
	// beta, mean, invStd, runningMean and runningVar are [C].
	// y = gamma·(x − μ)·invStd + beta, with μ and σ² the batch mean and
	// biased variance over every axis but 1 and invStd = 1/√(σ² + Eps). It
	// writes mean = μ and invStd for BatchNormBackward and, when runningMean
	// and runningVar are not nil (both or neither), updates them in place:
	// runningMean = (1−Momentum)·runningMean + Momentum·μ and
	// runningVar = (1−Momentum)·runningVar + Momentum·σ²·n/(n−1), where n is
	// the number of elements per channel. gamma nil means 1 and beta nil
	// means 0 (affine=False). n = 1 is an ErrParam error, as in PyTorch.
	BatchNormTrain(y, mean, invStd, runningMean, runningVar, x, gamma, beta *Tensor, p BatchNormParams) error
	// BatchNormEval normalizes x with the running statistics, as
	// torch.nn.BatchNorm1d/2d do in evaluation:
	// y = gamma·(x − runningMean)/√(runningVar + Eps) + beta. Shapes as in
	// BatchNormTrain; y may alias x; gamma and beta may be nil (1 and 0).
	BatchNormEval(y, x, gamma, beta, runningMean, runningVar *Tensor, p BatchNormParams) error
	// BatchNormBackward sets the gradients of BatchNormTrain from the input
	// x, the output gradient dy and the saved mean and invStd:
	// dgamma = Σ dy·x̂, dbeta = Σ dy (sums over every axis but 1) and
	// dx = gamma·invStd/n·(n·dy − dbeta − x̂·dgamma), with
	// x̂ = (x − mean)·invStd. dx, dgamma and dbeta may each be nil (not
	// wanted); gamma may be nil (1). dx may alias dy.
	BatchNormBackward(dx, dgamma, dbeta, dy, x, gamma, mean, invStd *Tensor) error

	// SGDStep updates param in place (see SGDParams). velocity has param's
	// shape and is required when Momentum ≠ 0, else it may be nil.
	SGDStep(param, grad, velocity *Tensor, o SGDParams) error
	// AdamStep updates param, m and v in place (see AdamParams); step is the
	// 1-based step count used for bias correction.
	AdamStep(param, grad, m, v *Tensor, o AdamParams, step int) error
}

// DropoutUniform returns the uniform number in [0, 1) that DropoutMask draws
// for element index i under seed: a counter-based hash, so that masks are the
// same on every backend and independent of scheduling. The value has 24 bits of
// precision, exact in float32.
func DropoutUniform(seed uint64, i uint32) float32 {
	h := uint32(seed) ^ hash32(uint32(seed>>32)^0x9e3779b9)
	h = hash32(h ^ hash32(i))
	return float32(h>>8) * (1.0 / (1 << 24))
}

// hash32 is the "lowbias32" integer hash (Chris Wellons, public domain): a
// bijection on 32-bit integers with good avalanche.
func hash32(x uint32) uint32 {
	x ^= x >> 16
	x *= 0x7feb352d
	x ^= x >> 15
	x *= 0x846ca68b
	x ^= x >> 16
	return x
}
