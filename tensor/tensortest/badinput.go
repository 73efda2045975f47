package tensortest

import (
	"errors"
	"math"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// badCase is one invalid call and the sentinel its error must wrap.
type badCase struct {
	name string
	want error
	call func() error
}

// runBad makes every call, requiring an error that wraps the case's sentinel
// and no panic. Then it checks that the backend still works.
func runBad(t *testing.T, h *harness, cases []badCase) {
	t.Helper()
	for _, c := range cases {
		panicked, err := callSafely(c.call)
		switch {
		case panicked != nil:
			t.Errorf("%s: panicked: %v", c.name, panicked)
		case err == nil:
			t.Errorf("%s: returned nil, expected an error wrapping %q", c.name, c.want)
		case !errors.Is(err, c.want):
			t.Errorf("%s: returned %q, expected an error wrapping %q", c.name, err, c.want)
		}
	}
	// Rejected calls leave the backend usable.
	a := h.from([]float64{1, 2, 3}, 3)
	if h.ok("add after bad input", h.b.Add(a, a, a)) {
		compare(t, "add after bad input", h.read(a), []float64{2, 4, 6}, nil, exact)
	}
	if err := h.b.Sync(); err != nil {
		t.Errorf("Sync after bad input: %v", err)
	}
}

// callSafely calls f and returns its error, or what it panicked with.
func callSafely(f func() error) (panicked any, err error) {
	defer func() {
		if r := recover(); r != nil {
			panicked = r
		}
	}()
	return nil, f()
}

// BadInput checks that invalid arguments to every op return an error wrapping
// the documented sentinel (errors.Is) and never panic: wrong ranks and shapes,
// kernels larger than the padded input, non-positive strides and dilations,
// groups that do not divide the channels, invalid pooling windows, bad host
// slices, out-of-range sum axes, bad optimizer and dropout rates, nil, freed
// and foreign tensors (from an Unsupported backend), and mixed dtypes when the
// backend supports both.
func BadInput(t *testing.T, b tensor.Backend, dt tensor.DType) {
	h := newHarness(t, b, dt)
	z := h.zeros
	def := tensor.DefaultConv2D()
	conv := func(mod func(*tensor.Conv2DParams)) tensor.Conv2DParams {
		p := def
		mod(&p)
		return p
	}
	pool := func(win, stride, pad [2]int) tensor.Pool2DParams {
		return tensor.Pool2DParams{Window: win, Stride: stride, Pad: pad}
	}
	two, one := [2]int{2, 2}, [2]int{1, 1}

	x, w, y := z(1, 3, 5, 5), z(2, 3, 3, 3), z(1, 2, 3, 3)
	cases := []badCase{
		// Convolution.
		{"conv2d kernel channels differ from input", tensor.ErrShape, func() error { return b.Conv2D(y, x, z(2, 2, 3, 3), nil, def) }},
		{"conv2d input of rank 3", tensor.ErrShape, func() error { return b.Conv2D(y, z(3, 5, 5), w, nil, def) }},
		{"conv2d kernel of rank 2", tensor.ErrShape, func() error { return b.Conv2D(y, x, z(2, 27), nil, def) }},
		{"conv2d output of rank 2", tensor.ErrShape, func() error { return b.Conv2D(z(2, 9), x, w, nil, def) }},
		{"conv2d wrong output shape", tensor.ErrShape, func() error { return b.Conv2D(z(1, 2, 4, 4), x, w, nil, def) }},
		{"conv2d wrong output channels", tensor.ErrShape, func() error { return b.Conv2D(z(1, 3, 3, 3), x, w, nil, def) }},
		{"conv2d bias of the wrong length", tensor.ErrShape, func() error { return b.Conv2D(y, x, w, z(3), def) }},
		{"conv2d kernel larger than the padded input", tensor.ErrShape, func() error {
			return b.Conv2D(z(1, 1, 1, 1), z(1, 1, 3, 3), z(1, 1, 5, 5), nil, def)
		}},
		{"conv2d dilated kernel larger than the padded input", tensor.ErrShape, func() error {
			return b.Conv2D(z(1, 1, 1, 1), z(1, 1, 4, 4), z(1, 1, 3, 3), nil, conv(func(p *tensor.Conv2DParams) { p.Dilation = two }))
		}},
		{"conv2d zero parameters", tensor.ErrParam, func() error { return b.Conv2D(y, x, w, nil, tensor.Conv2DParams{}) }},
		{"conv2d stride 0", tensor.ErrParam, func() error {
			return b.Conv2D(y, x, w, nil, conv(func(p *tensor.Conv2DParams) { p.Stride[0] = 0 }))
		}},
		{"conv2d stride -1", tensor.ErrParam, func() error {
			return b.Conv2D(y, x, w, nil, conv(func(p *tensor.Conv2DParams) { p.Stride[1] = -1 }))
		}},
		{"conv2d dilation 0", tensor.ErrParam, func() error {
			return b.Conv2D(y, x, w, nil, conv(func(p *tensor.Conv2DParams) { p.Dilation[1] = 0 }))
		}},
		{"conv2d dilation -2", tensor.ErrParam, func() error {
			return b.Conv2D(y, x, w, nil, conv(func(p *tensor.Conv2DParams) { p.Dilation[0] = -2 }))
		}},
		{"conv2d negative padding", tensor.ErrParam, func() error {
			return b.Conv2D(y, x, w, nil, conv(func(p *tensor.Conv2DParams) { p.Pad[0] = -1 }))
		}},
		{"conv2d groups 0", tensor.ErrParam, func() error {
			return b.Conv2D(y, x, w, nil, conv(func(p *tensor.Conv2DParams) { p.Groups = 0 }))
		}},
		{"conv2d groups 2 with 3 input channels", tensor.ErrParam, func() error {
			return b.Conv2D(y, x, z(2, 1, 3, 3), nil, conv(func(p *tensor.Conv2DParams) { p.Groups = 2 }))
		}},
		{"conv2d groups 2 with 3 output channels", tensor.ErrParam, func() error {
			return b.Conv2D(z(1, 3, 3, 3), z(1, 4, 5, 5), z(3, 2, 3, 3), nil, conv(func(p *tensor.Conv2DParams) { p.Groups = 2 }))
		}},
		{"conv2d input gradient of the wrong shape", tensor.ErrShape, func() error { return b.Conv2DInputGrad(z(1, 3, 5, 4), y, w, def) }},
		{"conv2d input gradient with the wrong output gradient", tensor.ErrShape, func() error { return b.Conv2DInputGrad(x, z(1, 2, 2, 3), w, def) }},
		{"conv2d input gradient with stride 0", tensor.ErrParam, func() error {
			return b.Conv2DInputGrad(x, y, w, conv(func(p *tensor.Conv2DParams) { p.Stride = [2]int{0, 0} }))
		}},
		{"conv2d input gradient with a kernel larger than the padded input", tensor.ErrShape, func() error {
			return b.Conv2DInputGrad(z(1, 1, 3, 3), z(1, 1, 1, 1), z(1, 1, 4, 4), def)
		}},
		{"conv2d kernel gradient of the wrong channels", tensor.ErrShape, func() error { return b.Conv2DKernelGrad(z(2, 1, 3, 3), x, y, def) }},
		{"conv2d kernel gradient with the wrong output gradient", tensor.ErrShape, func() error { return b.Conv2DKernelGrad(w, x, z(1, 2, 3, 4), def) }},
		{"conv2d kernel gradient with groups not dividing", tensor.ErrParam, func() error {
			return b.Conv2DKernelGrad(z(2, 1, 3, 3), x, y, conv(func(p *tensor.Conv2DParams) { p.Groups = 2 }))
		}},
		{"conv2d kernel gradient with dilation -1", tensor.ErrParam, func() error {
			return b.Conv2DKernelGrad(w, x, y, conv(func(p *tensor.Conv2DParams) { p.Dilation = [2]int{-1, 1} }))
		}},
		{"bias gradient of rank-1 output gradient", tensor.ErrShape, func() error { return b.BiasGrad(z(1), z(6)) }},
		{"bias gradient of the wrong length", tensor.ErrShape, func() error { return b.BiasGrad(z(3), y) }},

		// Pooling.
		{"max pool window 0", tensor.ErrParam, func() error { return b.MaxPool2D(y, x, pool([2]int{0, 2}, two, [2]int{})) }},
		{"average pool stride 0", tensor.ErrParam, func() error { return b.AvgPool2D(y, x, pool(two, [2]int{2, 0}, [2]int{})) }},
		{"max pool padding more than half the window", tensor.ErrParam, func() error { return b.MaxPool2D(z(1, 3, 4, 4), x, pool(two, two, [2]int{2, 0})) }},
		{"average pool negative padding", tensor.ErrParam, func() error { return b.AvgPool2D(y, x, pool(two, two, [2]int{0, -1})) }},
		{"max pool window larger than the padded input", tensor.ErrShape, func() error { return b.MaxPool2D(z(1, 3, 1, 1), x, pool([2]int{8, 8}, one, one)) }},
		{"max pool wrong output shape", tensor.ErrShape, func() error { return b.MaxPool2D(z(1, 3, 3, 3), x, pool(two, two, [2]int{})) }},
		{"average pool input of rank 3", tensor.ErrShape, func() error { return b.AvgPool2D(z(3, 2, 2), z(3, 5, 5), pool(two, two, [2]int{})) }},
		{"max pool backward with input of another shape", tensor.ErrShape, func() error {
			return b.MaxPool2DBackward(x, z(1, 3, 2, 2), z(1, 3, 4, 5), pool(two, two, [2]int{}))
		}},
		{"average pool backward with the wrong output gradient", tensor.ErrShape, func() error {
			return b.AvgPool2DBackward(x, z(1, 3, 3, 2), pool(two, two, [2]int{}))
		}},
		{"global average pool wrong output", tensor.ErrShape, func() error { return b.GlobalAvgPool2D(z(1, 4), x) }},
		{"global average pool input of rank 2", tensor.ErrShape, func() error { return b.GlobalAvgPool2D(z(1, 3), z(1, 3)) }},
		{"global average pool backward wrong output gradient", tensor.ErrShape, func() error {
			return b.GlobalAvgPool2DBackward(x, z(1, 3, 2, 1))
		}},

		// Dense ops.
		{"matmul inner dimensions differ", tensor.ErrShape, func() error { return b.MatMul(z(2, 4), z(2, 3), z(4, 4), false, false) }},
		{"matmul inner dimensions differ after transposing", tensor.ErrShape, func() error { return b.MatMul(z(2, 4), z(2, 3), z(3, 4), true, false) }},
		{"matmul wrong output", tensor.ErrShape, func() error { return b.MatMul(z(4, 2), z(2, 3), z(3, 4), false, false) }},
		{"matmul operand of rank 3", tensor.ErrShape, func() error { return b.MatMul(z(2, 4), z(1, 2, 3), z(3, 4), false, false) }},
		{"add bias of the wrong length", tensor.ErrShape, func() error { return b.AddBias(z(2, 3), z(2, 3), z(2)) }},
		{"add bias wrong output", tensor.ErrShape, func() error { return b.AddBias(z(3, 2), z(2, 3), z(3)) }},
		{"add bias input of rank 1", tensor.ErrShape, func() error { return b.AddBias(z(3), z(3), z(3)) }},
		{"sum axis out of range", tensor.ErrParam, func() error { return b.Sum(z(1), z(2, 3), 2) }},
		{"sum negative axis", tensor.ErrParam, func() error { return b.Sum(z(3), z(2, 3), -1) }},
		{"sum axis listed twice", tensor.ErrParam, func() error { return b.Sum(z(3), z(2, 3), 0, 0) }},
		{"sum wrong output", tensor.ErrShape, func() error { return b.Sum(z(2), z(2, 3), 0) }},
		{"sum of everything into two elements", tensor.ErrShape, func() error { return b.Sum(z(2), z(2, 3)) }},

		// Elementwise and row-wise ops.
		{"add operands of other lengths", tensor.ErrShape, func() error { return b.Add(z(6), z(6), z(5)) }},
		{"mul output of another length", tensor.ErrShape, func() error { return b.Mul(z(7), z(6), z(6)) }},
		{"scale output of another length", tensor.ErrShape, func() error { return b.Scale(z(2), z(3), 2) }},
		{"relu output of another length", tensor.ErrShape, func() error { return b.ReLU(z(2), z(3)) }},
		{"relu backward input of another length", tensor.ErrShape, func() error { return b.ReLUBackward(z(3), z(3), z(4)) }},
		{"sigmoid output of another length", tensor.ErrShape, func() error { return b.Sigmoid(z(4), z(3)) }},
		{"sigmoid backward output gradient of another length", tensor.ErrShape, func() error { return b.SigmoidBackward(z(3), z(2), z(3)) }},
		{"tanh output of another length", tensor.ErrShape, func() error { return b.Tanh(z(1), z(3)) }},
		{"tanh backward output of another length", tensor.ErrShape, func() error { return b.TanhBackward(z(3), z(3), z(9)) }},
		{"leaky relu output of another length", tensor.ErrShape, func() error { return b.LeakyReLU(z(2), z(3), 0.01) }},
		{"leaky relu NaN slope", tensor.ErrParam, func() error { return b.LeakyReLU(z(3), z(3), math.NaN()) }},
		{"leaky relu infinite slope", tensor.ErrParam, func() error { return b.LeakyReLU(z(3), z(3), math.Inf(-1)) }},
		{"leaky relu backward input of another length", tensor.ErrShape, func() error { return b.LeakyReLUBackward(z(3), z(3), z(4), 0.01) }},
		{"leaky relu backward NaN slope", tensor.ErrParam, func() error { return b.LeakyReLUBackward(z(3), z(3), z(3), math.NaN()) }},
		{"silu output of another length", tensor.ErrShape, func() error { return b.SiLU(z(4), z(3)) }},
		{"silu backward output gradient of another length", tensor.ErrShape, func() error { return b.SiLUBackward(z(3), z(2), z(3)) }},
		{"softmax output of another shape", tensor.ErrShape, func() error { return b.Softmax(z(6), z(2, 3)) }},
		{"softmax backward output of another shape", tensor.ErrShape, func() error { return b.SoftmaxBackward(z(2, 3), z(3, 2), z(2, 3)) }},
		{"argmax output of the wrong length", tensor.ErrShape, func() error { return b.ArgMax(z(3), z(2, 3)) }},

		// Batch normalization.
		{"batch norm train one value per channel", tensor.ErrParam, func() error {
			return b.BatchNormTrain(z(1, 3), z(3), z(3), nil, nil, z(1, 3), nil, nil, tensor.DefaultBatchNorm())
		}},
		{"batch norm train one value per channel of an image", tensor.ErrParam, func() error {
			return b.BatchNormTrain(z(1, 2, 1, 1), z(2), z(2), nil, nil, z(1, 2, 1, 1), nil, nil, tensor.DefaultBatchNorm())
		}},
		{"batch norm train input of rank 1", tensor.ErrShape, func() error {
			return b.BatchNormTrain(z(6), z(6), z(6), nil, nil, z(6), nil, nil, tensor.DefaultBatchNorm())
		}},
		{"batch norm train output of another shape", tensor.ErrShape, func() error {
			return b.BatchNormTrain(z(3, 2), z(2), z(2), nil, nil, z(2, 3), nil, nil, tensor.DefaultBatchNorm())
		}},
		{"batch norm train mean of the wrong length", tensor.ErrShape, func() error {
			return b.BatchNormTrain(z(2, 3), z(2), z(3), nil, nil, z(2, 3), nil, nil, tensor.DefaultBatchNorm())
		}},
		{"batch norm train gamma of the wrong length", tensor.ErrShape, func() error {
			return b.BatchNormTrain(z(2, 3, 2, 2), z(3), z(3), nil, nil, z(2, 3, 2, 2), z(2), z(3), tensor.DefaultBatchNorm())
		}},
		{"batch norm train running variance of the wrong length", tensor.ErrShape, func() error {
			return b.BatchNormTrain(z(2, 3), z(3), z(3), z(3), z(1, 3), z(2, 3), nil, nil, tensor.DefaultBatchNorm())
		}},
		{"batch norm train running mean without running variance", tensor.ErrShape, func() error {
			return b.BatchNormTrain(z(2, 3), z(3), z(3), z(3), nil, z(2, 3), nil, nil, tensor.DefaultBatchNorm())
		}},
		{"batch norm train nil inverse std", tensor.ErrShape, func() error {
			return b.BatchNormTrain(z(2, 3), z(3), nil, nil, nil, z(2, 3), nil, nil, tensor.DefaultBatchNorm())
		}},
		{"batch norm train eps 0", tensor.ErrParam, func() error {
			return b.BatchNormTrain(z(2, 3), z(3), z(3), nil, nil, z(2, 3), nil, nil, tensor.BatchNormParams{Momentum: 0.1})
		}},
		{"batch norm train NaN eps", tensor.ErrParam, func() error {
			return b.BatchNormTrain(z(2, 3), z(3), z(3), nil, nil, z(2, 3), nil, nil, tensor.BatchNormParams{Eps: math.NaN(), Momentum: 0.1})
		}},
		{"batch norm train momentum 1.5", tensor.ErrParam, func() error {
			return b.BatchNormTrain(z(2, 3), z(3), z(3), z(3), z(3), z(2, 3), nil, nil, tensor.BatchNormParams{Eps: 1e-5, Momentum: 1.5})
		}},
		{"batch norm eval running mean of the wrong length", tensor.ErrShape, func() error {
			return b.BatchNormEval(z(2, 3), z(2, 3), nil, nil, z(2), z(3), tensor.DefaultBatchNorm())
		}},
		{"batch norm eval nil running variance", tensor.ErrShape, func() error {
			return b.BatchNormEval(z(2, 3), z(2, 3), nil, nil, z(3), nil, tensor.DefaultBatchNorm())
		}},
		{"batch norm eval negative eps", tensor.ErrParam, func() error {
			return b.BatchNormEval(z(2, 3), z(2, 3), nil, nil, z(3), z(3), tensor.BatchNormParams{Eps: -1})
		}},
		{"batch norm eval beta of the wrong length", tensor.ErrShape, func() error {
			return b.BatchNormEval(z(2, 3), z(2, 3), z(3), z(4), z(3), z(3), tensor.DefaultBatchNorm())
		}},
		{"batch norm backward input gradient of another shape", tensor.ErrShape, func() error {
			return b.BatchNormBackward(z(3, 2), nil, nil, z(2, 3), z(2, 3), nil, z(3), z(3))
		}},
		{"batch norm backward output gradient of another shape", tensor.ErrShape, func() error {
			return b.BatchNormBackward(z(2, 3), nil, nil, z(2, 4), z(2, 3), nil, z(3), z(3))
		}},
		{"batch norm backward gamma gradient of the wrong length", tensor.ErrShape, func() error {
			return b.BatchNormBackward(nil, z(2), z(3), z(2, 3), z(2, 3), z(3), z(3), z(3))
		}},
		{"batch norm backward nil mean", tensor.ErrShape, func() error {
			return b.BatchNormBackward(z(2, 3), nil, nil, z(2, 3), z(2, 3), nil, nil, z(3))
		}},

		// Losses.
		{"mse loss of two elements", tensor.ErrShape, func() error { return b.MSELoss(z(2), nil, z(4), z(4)) }},
		{"mse loss target of another shape", tensor.ErrShape, func() error { return b.MSELoss(z(1), nil, z(2, 2), z(4)) }},
		{"bce loss gradient of another shape", tensor.ErrShape, func() error { return b.BCELoss(z(1), z(4), z(2, 2), z(2, 2)) }},
		{"softmax cross entropy target of another shape", tensor.ErrShape, func() error {
			return b.SoftmaxCrossEntropy(z(1), nil, z(2, 3), z(3, 2))
		}},
		{"softmax cross entropy logits of rank 1", tensor.ErrShape, func() error { return b.SoftmaxCrossEntropy(z(1), nil, z(3), z(3)) }},

		// Optimizers and dropout.
		{"sgd negative learning rate", tensor.ErrParam, func() error { return b.SGDStep(z(3), z(3), nil, tensor.SGDParams{LR: -0.1}) }},
		{"sgd NaN learning rate", tensor.ErrParam, func() error { return b.SGDStep(z(3), z(3), nil, tensor.SGDParams{LR: math.NaN()}) }},
		{"sgd negative momentum", tensor.ErrParam, func() error { return b.SGDStep(z(3), z(3), z(3), tensor.SGDParams{LR: 0.1, Momentum: -0.5}) }},
		{"sgd infinite weight decay", tensor.ErrParam, func() error {
			return b.SGDStep(z(3), z(3), nil, tensor.SGDParams{LR: 0.1, WeightDecay: math.Inf(1)})
		}},
		{"sgd momentum without velocity", tensor.ErrShape, func() error { return b.SGDStep(z(3), z(3), nil, tensor.SGDParams{LR: 0.1, Momentum: 0.9}) }},
		{"sgd velocity of another shape", tensor.ErrShape, func() error {
			return b.SGDStep(z(3), z(3), z(4), tensor.SGDParams{LR: 0.1, Momentum: 0.9})
		}},
		{"sgd Nesterov without momentum", tensor.ErrParam, func() error {
			return b.SGDStep(z(3), z(3), nil, tensor.SGDParams{LR: 0.1, Nesterov: true})
		}},
		{"sgd Nesterov with a velocity but no momentum", tensor.ErrParam, func() error {
			return b.SGDStep(z(3), z(3), z(3), tensor.SGDParams{LR: 0.1, Nesterov: true})
		}},
		{"sgd gradient of another shape", tensor.ErrShape, func() error { return b.SGDStep(z(3), z(1, 3), nil, tensor.SGDParams{LR: 0.1}) }},
		{"adam step 0", tensor.ErrParam, func() error { return b.AdamStep(z(3), z(3), z(3), z(3), tensor.DefaultAdam(), 0) }},
		{"adam beta1 1", tensor.ErrParam, func() error {
			o := tensor.DefaultAdam()
			o.Beta1 = 1
			return b.AdamStep(z(3), z(3), z(3), z(3), o, 1)
		}},
		{"adam beta2 1.5", tensor.ErrParam, func() error {
			o := tensor.DefaultAdam()
			o.Beta2 = 1.5
			return b.AdamStep(z(3), z(3), z(3), z(3), o, 1)
		}},
		{"adam negative epsilon", tensor.ErrParam, func() error {
			o := tensor.DefaultAdam()
			o.Eps = -1e-8
			return b.AdamStep(z(3), z(3), z(3), z(3), o, 1)
		}},
		{"adam NaN learning rate", tensor.ErrParam, func() error {
			o := tensor.DefaultAdam()
			o.LR = math.NaN()
			return b.AdamStep(z(3), z(3), z(3), z(3), o, 1)
		}},
		{"adam second moment of another shape", tensor.ErrShape, func() error {
			return b.AdamStep(z(3), z(3), z(3), z(2), tensor.DefaultAdam(), 1)
		}},
		{"dropout rate 1", tensor.ErrParam, func() error { return b.DropoutMask(z(4), 1, 0) }},
		{"dropout rate -0.1", tensor.ErrParam, func() error { return b.DropoutMask(z(4), -0.1, 0) }},
		{"dropout rate NaN", tensor.ErrParam, func() error { return b.DropoutMask(z(4), math.NaN(), 0) }},

		// Memory and host data.
		{"alloc dimension 0", tensor.ErrShape, func() error { return allocErr(b, dt, tensor.Shape{2, 0}) }},
		{"alloc negative dimension", tensor.ErrShape, func() error { return allocErr(b, dt, tensor.Shape{-3}) }},
		{"alloc more than 2^40 elements", tensor.ErrShape, func() error { return allocErr(b, dt, tensor.Shape{1 << 21, 1 << 20}) }},
		{"alloc dtype 0", tensor.ErrDType, func() error { return allocErr(b, 0, tensor.Shape{2}) }},
		{"alloc dtype 9", tensor.ErrDType, func() error { return allocErr(b, 9, tensor.Shape{2}) }},
		{"upload an []int", tensor.ErrDType, func() error { return b.Upload(z(2), []int{1, 2}) }},
		{"upload nil", tensor.ErrDType, func() error { return b.Upload(z(2), nil) }},
		{"upload the other float type", tensor.ErrDType, func() error { return b.Upload(z(2), otherHost(dt, 2)) }},
		{"upload too few elements", tensor.ErrShape, func() error { return b.Upload(z(3), host(dt, 2)) }},
		{"upload too many elements", tensor.ErrShape, func() error { return b.Upload(z(3), host(dt, 4)) }},
		{"upload to a nil tensor", tensor.ErrShape, func() error { return b.Upload(nil, host(dt, 2)) }},
		{"download into a []string", tensor.ErrDType, func() error { return b.Download([]string{"a"}, z(1)) }},
		{"download into the other float type", tensor.ErrDType, func() error { return b.Download(otherHost(dt, 2), z(2)) }},
		{"download into too short a slice", tensor.ErrShape, func() error { return b.Download(host(dt, 1), z(2)) }},
		{"download a nil tensor", tensor.ErrShape, func() error { return b.Download(host(dt, 1), nil) }},
		{"copy between lengths", tensor.ErrShape, func() error { return b.Copy(z(3), z(4)) }},

		// Nil tensors.
		{"conv2d nil input", tensor.ErrShape, func() error { return b.Conv2D(y, nil, w, nil, def) }},
		{"add nil operand", tensor.ErrShape, func() error { return b.Add(z(2), z(2), nil) }},
		{"fill nil", tensor.ErrShape, func() error { return b.Fill(nil, 1) }},
		{"mse loss nil prediction", tensor.ErrShape, func() error { return b.MSELoss(z(1), nil, nil, z(2)) }},
	}
	if !b.Caps().Supports(tensor.Float64) {
		cases = append(cases, badCase{"alloc float64 on a backend without it", tensor.ErrDType, func() error { return allocErr(b, tensor.Float64, tensor.Shape{2}) }})
	}
	if !b.Caps().Supports(tensor.Float32) {
		cases = append(cases, badCase{"alloc float32 on a backend without it", tensor.ErrDType, func() error { return allocErr(b, tensor.Float32, tensor.Shape{2}) }})
	}
	cases = append(cases, freedCases(h)...)
	cases = append(cases, mixedCases(h)...)
	cases = append(cases, foreignCases(h, func(s ...int) *tensor.Tensor {
		return NewUnsupported("unsupported").NewTensor(dt, tensor.Shape(s))
	})...)
	runBad(t, h, cases)
}

// Foreign checks that b rejects tensors owned by other, a second backend that
// supports dt, with errors wrapping tensor.ErrBackend, and never panics.
func Foreign(t *testing.T, b, other tensor.Backend, dt tensor.DType) {
	h, oh := newHarness(t, b, dt), newHarness(t, other, dt)
	runBad(t, h, foreignCases(h, oh.zeros))
}

// foreignCases passes tensors made by foreign, which b does not own, to b.
func foreignCases(h *harness, foreign func(s ...int) *tensor.Tensor) []badCase {
	b, z, dt := h.b, h.zeros, h.dt
	def := tensor.DefaultConv2D()
	return []badCase{
		{"conv2d foreign kernel", tensor.ErrBackend, func() error { return b.Conv2D(z(1, 1, 3, 3), z(1, 1, 3, 3), foreign(1, 1, 1, 1), nil, def) }},
		{"conv2d foreign bias", tensor.ErrBackend, func() error { return b.Conv2D(z(1, 1, 3, 3), z(1, 1, 3, 3), z(1, 1, 1, 1), foreign(1), def) }},
		{"conv2d input gradient foreign output gradient", tensor.ErrBackend, func() error {
			return b.Conv2DInputGrad(z(1, 1, 3, 3), foreign(1, 1, 3, 3), z(1, 1, 1, 1), def)
		}},
		{"conv2d kernel gradient into a foreign tensor", tensor.ErrBackend, func() error {
			return b.Conv2DKernelGrad(foreign(1, 1, 1, 1), z(1, 1, 3, 3), z(1, 1, 3, 3), def)
		}},
		{"bias gradient foreign", tensor.ErrBackend, func() error { return b.BiasGrad(z(2), foreign(3, 2)) }},
		{"max pool foreign input", tensor.ErrBackend, func() error {
			return b.MaxPool2D(z(1, 1, 1, 1), foreign(1, 1, 2, 2), tensor.Pool2DParams{Window: [2]int{2, 2}, Stride: [2]int{2, 2}})
		}},
		{"matmul foreign operand", tensor.ErrBackend, func() error { return b.MatMul(z(2, 2), z(2, 2), foreign(2, 2), false, false) }},
		{"add into a foreign tensor", tensor.ErrBackend, func() error { return b.Add(foreign(3), z(3), z(3)) }},
		{"leaky relu foreign input", tensor.ErrBackend, func() error { return b.LeakyReLU(z(3), foreign(3), 0.01) }},
		{"silu backward foreign input", tensor.ErrBackend, func() error { return b.SiLUBackward(z(3), z(3), foreign(3)) }},
		{"softmax foreign input", tensor.ErrBackend, func() error { return b.Softmax(z(2, 3), foreign(2, 3)) }},
		{"mse loss foreign target", tensor.ErrBackend, func() error { return b.MSELoss(z(1), nil, z(4), foreign(4)) }},
		{"sgd foreign velocity", tensor.ErrBackend, func() error {
			return b.SGDStep(z(3), z(3), foreign(3), tensor.SGDParams{LR: 0.1, Momentum: 0.9})
		}},
		{"adam foreign moment", tensor.ErrBackend, func() error { return b.AdamStep(z(3), z(3), foreign(3), z(3), tensor.DefaultAdam(), 1) }},
		{"batch norm train foreign running mean", tensor.ErrBackend, func() error {
			return b.BatchNormTrain(z(2, 3), z(3), z(3), foreign(3), z(3), z(2, 3), nil, nil, tensor.DefaultBatchNorm())
		}},
		{"batch norm eval foreign gamma", tensor.ErrBackend, func() error {
			return b.BatchNormEval(z(2, 3), z(2, 3), foreign(3), nil, z(3), z(3), tensor.DefaultBatchNorm())
		}},
		{"batch norm backward foreign beta gradient", tensor.ErrBackend, func() error {
			return b.BatchNormBackward(nil, nil, foreign(3), z(2, 3), z(2, 3), nil, z(3), z(3))
		}},
		{"dropout into a foreign tensor", tensor.ErrBackend, func() error { return b.DropoutMask(foreign(3), 0.5, 1) }},
		{"upload to a foreign tensor", tensor.ErrBackend, func() error { return b.Upload(foreign(2), host(dt, 2)) }},
		{"download a foreign tensor", tensor.ErrBackend, func() error { return b.Download(host(dt, 2), foreign(2)) }},
		{"copy from a foreign tensor", tensor.ErrBackend, func() error { return b.Copy(z(2), foreign(2)) }},
		{"fill a foreign tensor", tensor.ErrBackend, func() error { return b.Fill(foreign(2), 1) }},
	}
}

// freedCases passes freed tensors and views of freed tensors to h's backend.
func freedCases(h *harness) []badCase {
	b, z, dt := h.b, h.zeros, h.dt
	freed := func(s ...int) *tensor.Tensor {
		x := z(s...)
		if err := x.Free(); err != nil {
			h.t.Errorf("free %v: %v", x, err)
		}
		return x
	}
	viewOfFreed := func(s ...int) *tensor.Tensor {
		x := z(s...)
		v, err := x.Reshape(tensor.Shape{x.Len()})
		if err != nil {
			h.t.Fatalf("reshape %v: %v", x, err)
		}
		if err := x.Free(); err != nil {
			h.t.Errorf("free %v: %v", x, err)
		}
		return v
	}
	def := tensor.DefaultConv2D()
	return []badCase{
		{"conv2d freed input", tensor.ErrFreed, func() error { return b.Conv2D(z(1, 1, 3, 3), freed(1, 1, 3, 3), z(1, 1, 1, 1), nil, def) }},
		{"conv2d into a freed output", tensor.ErrFreed, func() error { return b.Conv2D(freed(1, 1, 3, 3), z(1, 1, 3, 3), z(1, 1, 1, 1), nil, def) }},
		{"add a view of a freed tensor", tensor.ErrFreed, func() error { return b.Add(z(6), z(6), viewOfFreed(2, 3)) }},
		{"matmul freed operand", tensor.ErrFreed, func() error { return b.MatMul(z(2, 2), freed(2, 2), z(2, 2), false, false) }},
		{"batch norm backward freed inverse std", tensor.ErrFreed, func() error {
			return b.BatchNormBackward(z(2, 3), nil, nil, z(2, 3), z(2, 3), nil, z(3), freed(3))
		}},
		{"sgd freed parameter", tensor.ErrFreed, func() error { return b.SGDStep(freed(3), z(3), nil, tensor.SGDParams{LR: 0.1}) }},
		{"upload to a freed tensor", tensor.ErrFreed, func() error { return b.Upload(freed(2), host(dt, 2)) }},
		{"download a freed tensor", tensor.ErrFreed, func() error { return b.Download(host(dt, 2), freed(2)) }},
		{"fill a freed tensor", tensor.ErrFreed, func() error { return b.Fill(freed(2), 1) }},
		{"copy from a freed tensor", tensor.ErrFreed, func() error { return b.Copy(z(2), freed(2)) }},
		{"free twice", tensor.ErrFreed, func() error { return freed(2).Free() }},
		{"reshape a freed tensor", tensor.ErrFreed, func() error {
			_, err := freed(2, 2).Reshape(tensor.Shape{4})
			return err
		}},
	}
}

// mixedCases mixes dtypes in one call, when h's backend supports both.
func mixedCases(h *harness) []badCase {
	b := h.b
	if !b.Caps().Supports(tensor.Float32) || !b.Caps().Supports(tensor.Float64) {
		return nil
	}
	other := tensor.Float64
	if h.dt == tensor.Float64 {
		other = tensor.Float32
	}
	z := h.zeros
	o := func(s ...int) *tensor.Tensor {
		x, err := b.Alloc(other, tensor.Shape(s))
		if err != nil {
			h.t.Fatalf("alloc %v %v: %v", other, s, err)
		}
		h.live = append(h.live, x)
		return x
	}
	def := tensor.DefaultConv2D()
	return []badCase{
		{"conv2d kernel of another dtype", tensor.ErrDType, func() error { return b.Conv2D(z(1, 1, 3, 3), z(1, 1, 3, 3), o(1, 1, 1, 1), nil, def) }},
		{"conv2d bias of another dtype", tensor.ErrDType, func() error { return b.Conv2D(z(1, 1, 3, 3), z(1, 1, 3, 3), z(1, 1, 1, 1), o(1), def) }},
		{"add operand of another dtype", tensor.ErrDType, func() error { return b.Add(z(3), o(3), z(3)) }},
		{"matmul output of another dtype", tensor.ErrDType, func() error { return b.MatMul(o(2, 2), z(2, 2), z(2, 2), false, false) }},
		{"copy between dtypes", tensor.ErrDType, func() error { return b.Copy(z(3), o(3)) }},
		{"softmax cross entropy target of another dtype", tensor.ErrDType, func() error {
			return b.SoftmaxCrossEntropy(z(1), nil, z(2, 3), o(2, 3))
		}},
		{"batch norm train gamma of another dtype", tensor.ErrDType, func() error {
			return b.BatchNormTrain(z(2, 3), z(3), z(3), nil, nil, z(2, 3), o(3), nil, tensor.DefaultBatchNorm())
		}},
		{"adam moment of another dtype", tensor.ErrDType, func() error { return b.AdamStep(z(3), z(3), z(3), o(3), tensor.DefaultAdam(), 1) }},
	}
}

// allocErr allocates and frees a tensor, returning Alloc's error.
func allocErr(b tensor.Backend, dt tensor.DType, s tensor.Shape) error {
	x, err := b.Alloc(dt, s)
	if err == nil {
		return x.Free()
	}
	return err
}

// host returns a zeroed host slice of dt with n elements.
func host(dt tensor.DType, n int) any {
	if dt == tensor.Float64 {
		return make([]float64, n)
	}
	return make([]float32, n)
}

// otherHost returns a host slice of the float type that is not dt.
func otherHost(dt tensor.DType, n int) any {
	if dt == tensor.Float64 {
		return make([]float32, n)
	}
	return make([]float64, n)
}

// Closed closes b, which the caller must not use afterwards, and checks that
// closing again returns nil, that Alloc, Upload, Download, Sync and every op
// family then return errors wrapping tensor.ErrClosed, and that freeing a
// tensor of the closed backend does not panic.
func Closed(t *testing.T, b tensor.Backend, dt tensor.DType) {
	h := newHarness(t, b, dt)
	x, y := h.zeros(2, 3), h.zeros(2, 3)
	w, img, out := h.zeros(1, 1, 1, 1), h.zeros(1, 1, 2, 2), h.zeros(1, 1, 2, 2)
	one, c, bt := h.zeros(1), h.zeros(2, 2), h.zeros(3, 2)
	h.live = nil // the backend frees its memory on Close
	if err := b.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Errorf("second Close: %v, expected nil", err)
	}
	pool := tensor.Pool2DParams{Window: [2]int{1, 1}, Stride: [2]int{1, 1}}
	cases := []badCase{
		{"alloc", tensor.ErrClosed, func() error { return allocErr(b, dt, tensor.Shape{2}) }},
		{"upload", tensor.ErrClosed, func() error { return b.Upload(x, host(dt, 6)) }},
		{"download", tensor.ErrClosed, func() error { return b.Download(host(dt, 6), x) }},
		{"sync", tensor.ErrClosed, b.Sync},
		{"copy", tensor.ErrClosed, func() error { return b.Copy(y, x) }},
		{"fill", tensor.ErrClosed, func() error { return b.Fill(x, 1) }},
		{"conv2d", tensor.ErrClosed, func() error { return b.Conv2D(out, img, w, nil, tensor.DefaultConv2D()) }},
		{"max pool", tensor.ErrClosed, func() error { return b.MaxPool2D(out, img, pool) }},
		{"matmul", tensor.ErrClosed, func() error { return b.MatMul(c, x, bt, false, false) }},
		{"add", tensor.ErrClosed, func() error { return b.Add(y, x, x) }},
		{"softmax", tensor.ErrClosed, func() error { return b.Softmax(y, x) }},
		{"mse loss", tensor.ErrClosed, func() error { return b.MSELoss(one, nil, x, y) }},
		{"sgd step", tensor.ErrClosed, func() error { return b.SGDStep(x, y, nil, tensor.SGDParams{LR: 0.1}) }},
		{"dropout mask", tensor.ErrClosed, func() error { return b.DropoutMask(x, 0.5, 1) }},
		{"batch norm train", tensor.ErrClosed, func() error {
			return b.BatchNormTrain(y, one, one, nil, nil, x, nil, nil, tensor.DefaultBatchNorm())
		}},
	}
	for _, c := range cases {
		panicked, err := callSafely(c.call)
		switch {
		case panicked != nil:
			t.Errorf("%s after Close panicked: %v", c.name, panicked)
		case !errors.Is(err, c.want):
			t.Errorf("%s after Close returned %v, expected an error wrapping %q", c.name, err, c.want)
		}
	}
	if _, panicked := callSafely(x.Free); panicked != nil {
		t.Errorf("Free after Close panicked: %v", panicked)
	}
}
