package nn

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/vkcnn/vkcnn/tensor"
)

// Sentinel errors of package nn, for errors.Is. Shape, dtype and parameter
// errors wrap the tensor package's sentinels instead.
var (
	// ErrNotBuilt reports use of a model (Forward, Fit, files) before Build.
	ErrNotBuilt = errors.New("model not built")
	// ErrFormat reports a malformed, truncated or unsupported file or spec.
	ErrFormat = errors.New("bad format")
	// ErrStop, returned by a Fit callback, ends training early without error.
	ErrStop = errors.New("stop training")
)

// Layer is one stage of a Sequential. The built-in layers come from the
// constructors of this package (Conv2D, Dense, ReLU, …); a custom layer
// implements this interface. Shapes passed to OutShape and Build are per sample
// (no batch axis); tensors passed to Forward and Backward carry the batch as
// axis 0.
type Layer interface {
	// Kind names the layer type as written in a model spec: "conv", "relu".
	Kind() string
	// String returns the layer in model-spec form, e.g. "conv(1,8,3,p1)".
	String() string
	// OutShape returns the per-sample output shape for a per-sample input
	// shape, or an error (wrapping tensor.ErrShape or tensor.ErrParam) saying
	// what input the layer expected.
	OutShape(in tensor.Shape) (tensor.Shape, error)
	// Build allocates the layer's parameters on b with dtype dt for the
	// per-sample input shape in, and initializes them from rng. Building again
	// replaces the parameters (the caller frees the old ones).
	Build(b tensor.Backend, dt tensor.DType, in tensor.Shape, rng *rand.Rand) error
	// Params returns the parameters in PyTorch state_dict order (weight, then
	// bias), or nil for a parameterless layer.
	Params() []*Param
	// Forward writes the layer's output for input x into y, which the caller
	// allocated with shape [N]+OutShape.
	Forward(p *Pass, y, x *tensor.Tensor) error
	// Backward takes the output gradient dy and the forward's input x and
	// output y, writes the parameter gradients (overwriting them; frozen
	// parameters are skipped) and, when dx is not nil, the input gradient.
	Backward(p *Pass, dx, dy, x, y *tensor.Tensor) error
}

// Param is one learnable tensor of a layer and its gradient, both on the
// backend the model was built on.
type Param struct {
	// Name is the PyTorch state_dict key: "weight" or "bias" inside a layer,
	// "3.weight" once the layer sits at index 3 of a built Sequential.
	Name string
	// Value holds the parameter, in PyTorch's layout.
	Value *tensor.Tensor
	// Grad has Value's shape and holds the gradient of the last Backward.
	Grad *tensor.Tensor
	// Frozen parameters get no gradient and are left alone by optimizers.
	Frozen bool
}

// Buffer is non-learnable state of a layer that files and checkpoints save
// with the parameters, under PyTorch's state_dict names: BatchNorm's
// running_mean and running_var (Value, on the backend) and
// num_batches_tracked (Count, an integer kept on the host and stored as an
// int64 scalar).
type Buffer struct {
	// Name is the state_dict key, prefixed like Param.Name once built.
	Name string
	// Value holds a floating-point buffer; nil for a counter.
	Value *tensor.Tensor
	// Count holds an integer buffer when Value is nil.
	Count *int64
}

// BufferLayer is a Layer with buffers (BatchNorm, and composite layers that
// hold one). Sequential saves, loads and frees them with the parameters.
type BufferLayer interface {
	Layer
	// Buffers returns the buffers in state_dict order, or nil before Build.
	Buffers() []*Buffer
}

// layerBuffers returns l's buffers, or nil for a layer without any.
func layerBuffers(l Layer) []*Buffer {
	if bl, ok := l.(BufferLayer); ok {
		return bl.Buffers()
	}
	return nil
}

// freeBuffers releases the tensors of bufs, ignoring those already freed, and
// returns the first other error.
func freeBuffers(bufs []*Buffer) error {
	var first error
	for _, b := range bufs {
		if b.Value != nil && !b.Value.Freed() {
			if err := b.Value.Free(); err != nil && first == nil {
				first = err
			}
		}
	}
	return first
}

// Set uploads data, a []float32 or []float64 with one value per element in
// row-major order, into the parameter (converting to its dtype). It returns
// ErrNotBuilt before Build and a tensor.ErrShape error for a wrong length.
func (p *Param) Set(data any) error {
	if p == nil || p.Value == nil {
		return fmt.Errorf("set parameter: %w", ErrNotBuilt)
	}
	d, err := convertHost(data, p.Value.DType(), p.Value.Len(), "parameter "+p.Name)
	if err != nil {
		return err
	}
	return p.Value.Backend().Upload(p.Value, d)
}

// Get downloads the parameter's values as float64, in row-major order. It
// returns the backend's Download errors.
func (p *Param) Get() ([]float64, error) {
	if p == nil || p.Value == nil {
		return nil, fmt.Errorf("get parameter: %w", ErrNotBuilt)
	}
	h, err := ToHost(p.Value)
	if err != nil {
		return nil, fmt.Errorf("get parameter %s: %w", p.Name, err)
	}
	return h.Float64s(), nil
}

// newParam allocates a parameter and its gradient and fills the value from
// init. fanIn and fanOut feed the initializer.
func newParam(b tensor.Backend, dt tensor.DType, name string, shape tensor.Shape, init Init, fanIn, fanOut int, rng *rand.Rand, frozen bool) (*Param, error) {
	v, err := b.Alloc(dt, shape)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	g, err := b.Alloc(dt, shape)
	if err != nil {
		v.Free()
		return nil, fmt.Errorf("%s gradient: %w", name, err)
	}
	vals := make([]float64, shape.Len())
	init(vals, fanIn, fanOut, rng)
	p := &Param{Name: name, Value: v, Grad: g, Frozen: frozen}
	if err := p.Set(vals); err != nil {
		freeParams([]*Param{p})
		return nil, err
	}
	return p, nil
}

// freeParams releases the value and gradient of each parameter, ignoring
// tensors already freed, and returns the first other error.
func freeParams(ps []*Param) error {
	var first error
	for _, p := range ps {
		for _, t := range []*tensor.Tensor{p.Value, p.Grad} {
			if t != nil && !t.Freed() {
				if err := t.Free(); err != nil && first == nil {
					first = err
				}
			}
		}
	}
	return first
}

// Pass carries the state of one forward or backward pass to the layers.
type Pass struct {
	// Train is true in training mode (dropout active).
	Train bool
	// Seed differs for every layer and every training forward: the dropout
	// seed. Backward sees the same value as the matching Forward.
	Seed uint64

	plan  *plan
	layer int
}

// Scratch returns a tensor of the given shape that belongs to the model's
// buffers for the current batch size and layer: allocated on first use,
// returned again to later passes of the same layer and batch size (contents
// kept), freed with the model. Forward and Backward of one pass get the same
// tensor. It fails outside a Sequential pass or when shape changes.
func (p *Pass) Scratch(shape tensor.Shape) (*tensor.Tensor, error) {
	return p.ScratchSlot(0, shape)
}

// ScratchSlot is Scratch for a layer that needs several scratch tensors:
// each slot (0, 1, …) is a tensor of its own; Scratch is slot 0.
func (p *Pass) ScratchSlot(slot int, shape tensor.Shape) (*tensor.Tensor, error) {
	if p == nil || p.plan == nil {
		return nil, fmt.Errorf("scratch tensor outside a model pass: %w", ErrNotBuilt)
	}
	return p.plan.scratchFor(p.layer, slot, shape)
}

// scratchLike is Scratch with x's shape (without copying it).
func (p *Pass) scratchLike(x *tensor.Tensor) (*tensor.Tensor, error) {
	if p == nil || p.plan == nil {
		return nil, fmt.Errorf("scratch tensor outside a model pass: %w", ErrNotBuilt)
	}
	return p.plan.scratchOf(p.layer, 0, x.Rank(), x.Dim)
}

// Init fills w with the initial values of a parameter whose layer has fanIn
// inputs and fanOut outputs per unit (for a convolution, channels times
// kernel area), drawing from r. The initializers of this package follow
// PyTorch's torch.nn.init definitions.
type Init func(w []float64, fanIn, fanOut int, r *rand.Rand)

// optBit marks which option a config received, to reject options a layer does
// not take.
type optBit uint16

const (
	optKernel optBit = 1 << iota
	optStride
	optPad
	optDilation
	optGroups
	optNoBias
	optExcludePad
	optWeightInit
	optBiasInit
	optFrozen
)

// config collects the options of a layer constructor.
type config struct {
	set        optBit
	kernel     [2]int
	stride     [2]int
	pad        [2]int
	dilation   [2]int
	groups     int
	noBias     bool
	excludePad bool
	frozen     bool
	weightInit Init
	biasInit   Init
}

// Option configures a layer constructor: Stride, Pad, NoBias, WeightInit, …
// A layer given an option it does not take fails to build with an error
// naming the option.
type Option struct {
	name  string
	bit   optBit
	apply func(*config)
}

func pairOpt(name string, bit optBit, h, w int, field func(*config) *[2]int) Option {
	return Option{name, bit, func(c *config) { *field(c) = [2]int{h, w} }}
}

// KernelHW sets a rectangular kernel or pooling window of kh rows and kw
// columns, replacing the square size given to the constructor.
func KernelHW(kh, kw int) Option {
	return pairOpt("KernelHW", optKernel, kh, kw, func(c *config) *[2]int { return &c.kernel })
}

// Stride sets the step of a convolution or pooling window in both directions
// (convolution default 1, pooling default the window size).
func Stride(s int) Option { return StrideHW(s, s) }

// StrideHW sets the vertical and horizontal steps separately.
func StrideHW(sh, sw int) Option {
	return pairOpt("Stride", optStride, sh, sw, func(c *config) *[2]int { return &c.stride })
}

// Pad sets zero padding (convolution, average pooling) or −∞ padding (max
// pooling) of p pixels on every side (default 0).
func Pad(p int) Option { return PadHW(p, p) }

// PadHW sets the padding of the top and bottom (ph) and of the left and right
// (pw) edges separately.
func PadHW(ph, pw int) Option {
	return pairOpt("Pad", optPad, ph, pw, func(c *config) *[2]int { return &c.pad })
}

// Dilation spaces the kernel taps of a convolution d pixels apart (default 1).
func Dilation(d int) Option { return DilationHW(d, d) }

// DilationHW sets the vertical and horizontal dilation separately.
func DilationHW(dh, dw int) Option {
	return pairOpt("Dilation", optDilation, dh, dw, func(c *config) *[2]int { return &c.dilation })
}

// Groups splits a convolution's channels into g independent groups (default
// 1); g must divide both channel counts.
func Groups(g int) Option {
	return Option{"Groups", optGroups, func(c *config) { c.groups = g }}
}

// NoBias leaves out the bias of a convolution or dense layer.
func NoBias() Option { return Option{"NoBias", optNoBias, func(c *config) { c.noBias = true }} }

// ExcludePad makes average pooling divide by the number of input pixels in
// each window instead of the full window size (PyTorch's
// count_include_pad=False).
func ExcludePad() Option {
	return Option{"ExcludePad", optExcludePad, func(c *config) { c.excludePad = true }}
}

// WeightInit sets the initializer of a convolution or dense weight (default
// HeUniform).
func WeightInit(f Init) Option {
	return Option{"WeightInit", optWeightInit, func(c *config) { c.weightInit = f }}
}

// BiasInit sets the initializer of a convolution or dense bias (default Zeros).
func BiasInit(f Init) Option {
	return Option{"BiasInit", optBiasInit, func(c *config) { c.biasInit = f }}
}

// Frozen marks the parameters of a convolution or dense layer frozen: Backward
// computes no gradient for them and optimizers skip them. Set their values
// with Param.Set after Build.
func Frozen() Option { return Option{"Frozen", optFrozen, func(c *config) { c.frozen = true }} }

// newConfig applies opts over the defaults and returns an error naming any
// option outside allowed.
func newConfig(kind string, allowed optBit, opts []Option) (config, error) {
	c := config{stride: [2]int{1, 1}, dilation: [2]int{1, 1}, groups: 1, weightInit: HeUniform, biasInit: Zeros}
	var bad []string
	for _, o := range opts {
		if o.apply == nil {
			bad = append(bad, "zero Option")
			continue
		}
		if o.bit&allowed == 0 {
			bad = append(bad, o.name)
			continue
		}
		c.set |= o.bit
		o.apply(&c)
	}
	if len(bad) > 0 {
		return c, fmt.Errorf("%s does not take option %s: %w", kind, strings.Join(bad, ", "), tensor.ErrParam)
	}
	if c.weightInit == nil || c.biasInit == nil {
		return c, fmt.Errorf("%s: nil initializer: %w", kind, tensor.ErrParam)
	}
	return c, nil
}

// wantRank returns an ErrShape error unless the per-sample shape in has the
// given rank.
func wantRank(in tensor.Shape, rank int, layout string) error {
	if len(in) != rank {
		return fmt.Errorf("input %v has rank %d, expected rank %d %s: %w", in, len(in), rank, layout, tensor.ErrShape)
	}
	return nil
}

// backendOf returns the backend that owns t, or an ErrShape error naming
// the nil tensor as "kind what" (two words, joined only for the error, so
// that a pass builds no string).
func backendOf(t *tensor.Tensor, kind, what string) (tensor.Backend, error) {
	if t == nil {
		return nil, fmt.Errorf("%s %s is nil, expected a tensor: %w", kind, what, tensor.ErrShape)
	}
	return t.Backend(), nil
}

// stateless provides Build and Params for layers without parameters.
type stateless struct{}

// Build does nothing: the layer has no parameters.
func (stateless) Build(tensor.Backend, tensor.DType, tensor.Shape, *rand.Rand) error { return nil }

// Params returns nil: the layer has no parameters.
func (stateless) Params() []*Param { return nil }
