package tensor

// Conv2DParams configures a 2-D convolution over NCHW tensors. Index 0 of each
// pair is the height axis, index 1 the width axis. Stride and Dilation must be
// at least 1, Pad at least 0 (zero padding on both sides), and Groups at least 1
// and a divisor of both the input and the output channel counts. Groups equal to
// the input channel count is a depthwise convolution.
type Conv2DParams struct {
	Stride   [2]int
	Pad      [2]int
	Dilation [2]int
	Groups   int
}

// DefaultConv2D returns stride 1, no padding, dilation 1, one group.
func DefaultConv2D() Conv2DParams {
	return Conv2DParams{Stride: [2]int{1, 1}, Dilation: [2]int{1, 1}, Groups: 1}
}

// Pool2DParams configures max and average pooling over NCHW tensors. Window and
// Stride must be at least 1; Pad at least 0 and at most half the window. Max
// pooling treats padding as −∞. Average pooling divides by the full window size
// (padding counts as zeros, PyTorch's count_include_pad=True) unless ExcludePad
// is set, in which case it divides by the number of input elements inside the
// window.
type Pool2DParams struct {
	Window     [2]int
	Stride     [2]int
	Pad        [2]int
	ExcludePad bool
}

// SGDParams configures a stochastic gradient descent step with PyTorch's
// semantics (torch.optim.SGD with dampening 0): g = grad + WeightDecay·param;
// v = Momentum·v + g (v starts at zero); param −= LR·v, or param −= LR·g when
// Momentum is 0. With Nesterov, param −= LR·(g + Momentum·v) instead, using
// the updated v (torch.optim.SGD with nesterov=True). LR, Momentum and
// WeightDecay are finite and ≥ 0; Nesterov needs Momentum > 0.
type SGDParams struct {
	LR          float64
	Momentum    float64
	WeightDecay float64
	// Nesterov selects Nesterov momentum: the step is g + Momentum·v.
	Nesterov bool
}

// AdamParams configures an Adam step with PyTorch's semantics (L2 weight decay
// added to the gradient, bias-corrected moments):
// g = grad + WeightDecay·param; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
// param −= LR · (m/(1−β1^t)) / (√(v/(1−β2^t)) + Eps), where t is the 1-based step.
// With Decoupled it is AdamW (torch.optim.AdamW): param ·= 1 − LR·WeightDecay
// first, and g = grad gets no L2 term. LR, Eps and WeightDecay are finite and
// ≥ 0; Beta1 and Beta2 are in [0, 1).
type AdamParams struct {
	LR          float64
	Beta1       float64
	Beta2       float64
	Eps         float64
	WeightDecay float64
	// Decoupled selects AdamW's decoupled weight decay.
	Decoupled bool
}

// DefaultAdam returns PyTorch's defaults: LR 1e-3, β1 0.9, β2 0.999, ε 1e-8.
func DefaultAdam() AdamParams {
	return AdamParams{LR: 1e-3, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8}
}

// DefaultAdamW returns torch.optim.AdamW's defaults: DefaultAdam with
// WeightDecay 0.01 and Decoupled set.
func DefaultAdamW() AdamParams {
	o := DefaultAdam()
	o.WeightDecay, o.Decoupled = 0.01, true
	return o
}

// BatchNormParams configures batch normalization with PyTorch's semantics
// (torch.nn.BatchNorm1d/2d, torch.nn.functional.batch_norm). Eps, added to
// the variance before the square root, must be finite and > 0; Momentum, the
// weight of the batch statistics in the running statistics, must be in
// [0, 1]. PyTorch's momentum=None (a cumulative average) is Momentum = 1/t at
// the t-th training step.
type BatchNormParams struct {
	Eps      float64
	Momentum float64
}

// DefaultBatchNorm returns PyTorch's defaults: Eps 1e-5, Momentum 0.1.
func DefaultBatchNorm() BatchNormParams {
	return BatchNormParams{Eps: 1e-5, Momentum: 0.1}
}

// BCEEpsilon clamps probabilities in binary cross-entropy: log(p) is taken of
// max(p, 1e-15) and log(1−p) of max(1−p, 1e-15). In float64 this is the
// classic clip of p to [1e-15, 1−1e-15]; in float32, where 1−1e-15 rounds to 1,
// clamping 1−p keeps the loss finite too.
const BCEEpsilon = 1e-15
