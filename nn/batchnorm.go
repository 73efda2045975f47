package nn

import (
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/vkcnn/vkcnn/tensor"
)

// batchNormLayer is the layer made by BatchNorm2D and BatchNorm1D.
type batchNormLayer struct {
	c     int
	twoD  bool // [C, H, W] inputs; else [C] or [C, L]
	p     tensor.BatchNormParams
	w, b  *Param
	rmean *Buffer
	rvar  *Buffer
	nbt   *Buffer // num_batches_tracked, counting in count
	count int64
	built bool
}

// BatchNorm2D returns batch normalization over the channels of [C, H, W]
// inputs with PyTorch's semantics (nn.BatchNorm2d(c) with its defaults: eps
// 1e-5, momentum 0.1, affine, running statistics). In training mode it
// normalizes with the batch's mean and biased variance per channel and
// updates the running mean and the running (unbiased) variance; in evaluation
// mode it normalizes with the running statistics. The learnable weight
// (initialized to 1) and bias (0) are the parameters; running_mean,
// running_var and num_batches_tracked are buffers, saved under those names.
// Backward differentiates a training-mode Forward only.
func BatchNorm2D(c int) Layer {
	return &batchNormLayer{c: c, twoD: true, p: tensor.DefaultBatchNorm()}
}

// BatchNorm1D is BatchNorm2D for dense features [C] (or [C, L]), PyTorch's
// nn.BatchNorm1d(c).
func BatchNorm1D(c int) Layer {
	return &batchNormLayer{c: c, p: tensor.DefaultBatchNorm()}
}

// Kind returns "batchnorm2d" or "batchnorm1d".
func (l *batchNormLayer) Kind() string {
	if l.twoD {
		return "batchnorm2d"
	}
	return "batchnorm1d"
}

// String returns "batchnorm2d(C)" or "batchnorm1d(C)".
func (l *batchNormLayer) String() string { return l.Kind() + "(" + strconv.Itoa(l.c) + ")" }

// OutShape returns in after checking its rank and channel count.
func (l *batchNormLayer) OutShape(in tensor.Shape) (tensor.Shape, error) {
	if l.c < 1 {
		return nil, fmt.Errorf("%d channels, expected ≥ 1: %w", l.c, tensor.ErrParam)
	}
	if l.twoD {
		if err := wantRank(in, 3, "[C H W]"); err != nil {
			return nil, err
		}
	} else if len(in) != 1 && len(in) != 2 {
		return nil, fmt.Errorf("input %v has rank %d, expected rank 1 [C] or 2 [C L]: %w", in, len(in), tensor.ErrShape)
	}
	if in[0] != l.c {
		return nil, fmt.Errorf("input %v has %d channels, expected %d: %w", in, in[0], l.c, tensor.ErrShape)
	}
	return in.Clone(), nil
}

// Build allocates weight 1, bias 0, running mean 0 and running variance 1,
// and resets num_batches_tracked.
func (l *batchNormLayer) Build(b tensor.Backend, dt tensor.DType, in tensor.Shape, rng *rand.Rand) error {
	if _, err := l.OutShape(in); err != nil {
		return err
	}
	shape := tensor.Shape{l.c}
	w, err := newParam(b, dt, "weight", shape, Constant(1), l.c, l.c, rng, false)
	if err != nil {
		return err
	}
	bias, err := newParam(b, dt, "bias", shape, Zeros, l.c, l.c, rng, false)
	if err != nil {
		freeParams([]*Param{w})
		return err
	}
	var bufs [2]*tensor.Tensor
	for i, v := range []float64{0, 1} {
		t, err := b.Alloc(dt, shape)
		if err == nil {
			if err = b.Fill(t, v); err != nil {
				t.Free()
			}
		}
		if err != nil {
			freeParams([]*Param{w, bias})
			if i == 1 {
				bufs[0].Free()
			}
			return fmt.Errorf("running statistics: %w", err)
		}
		bufs[i] = t
	}
	l.w, l.b = w, bias
	l.rmean = &Buffer{Name: "running_mean", Value: bufs[0]}
	l.rvar = &Buffer{Name: "running_var", Value: bufs[1]}
	l.nbt = &Buffer{Name: "num_batches_tracked", Count: &l.count}
	l.count, l.built = 0, true
	return nil
}

// Params returns weight and bias.
func (l *batchNormLayer) Params() []*Param {
	if !l.built {
		return nil
	}
	return []*Param{l.w, l.b}
}

// Buffers returns running_mean, running_var and num_batches_tracked.
func (l *batchNormLayer) Buffers() []*Buffer {
	if !l.built {
		return nil
	}
	return []*Buffer{l.rmean, l.rvar, l.nbt}
}

// stats returns the pass's scratch tensors for the batch mean and inverse
// standard deviation.
func (l *batchNormLayer) stats(p *Pass) (mean, invStd *tensor.Tensor, err error) {
	if mean, err = p.ScratchSlot(0, tensor.Shape{l.c}); err != nil {
		return nil, nil, err
	}
	invStd, err = p.ScratchSlot(1, tensor.Shape{l.c})
	return mean, invStd, err
}

// Forward normalizes with the batch statistics (training, updating the
// running statistics) or the running statistics (evaluation).
func (l *batchNormLayer) Forward(p *Pass, y, x *tensor.Tensor) error {
	if !l.built {
		return fmt.Errorf("%s forward: %w", l.Kind(), ErrNotBuilt)
	}
	b, err := backendOf(x, l.Kind(), "input")
	if err != nil {
		return err
	}
	if p == nil || !p.Train {
		return b.BatchNormEval(y, x, l.w.Value, l.b.Value, l.rmean.Value, l.rvar.Value, l.p)
	}
	mean, invStd, err := l.stats(p)
	if err != nil {
		return err
	}
	if err := b.BatchNormTrain(y, mean, invStd, l.rmean.Value, l.rvar.Value, x, l.w.Value, l.b.Value, l.p); err != nil {
		return err
	}
	l.count++
	return nil
}

// Backward gives the gradients of a training-mode Forward from the batch
// statistics it saved.
func (l *batchNormLayer) Backward(p *Pass, dx, dy, x, y *tensor.Tensor) error {
	if !l.built {
		return fmt.Errorf("%s backward: %w", l.Kind(), ErrNotBuilt)
	}
	if p == nil || !p.Train {
		return fmt.Errorf("%s backward of an evaluation-mode forward is not supported, expected training mode: %w", l.Kind(), tensor.ErrParam)
	}
	b, err := backendOf(dy, l.Kind(), "output gradient")
	if err != nil {
		return err
	}
	mean, invStd, err := l.stats(p)
	if err != nil {
		return err
	}
	var dw, db *tensor.Tensor
	if !l.w.Frozen {
		dw = l.w.Grad
	}
	if !l.b.Frozen {
		db = l.b.Grad
	}
	return b.BatchNormBackward(dx, dw, db, dy, x, l.w.Value, mean, invStd)
}

// stateShapes returns the names and shapes of the parameters and buffers.
func (l *batchNormLayer) stateShapes() []namedShape {
	c := tensor.Shape{l.c}
	return []namedShape{{"weight", c}, {"bias", c}, {"running_mean", c}, {"running_var", c}, {"num_batches_tracked", tensor.Shape{}}}
}
