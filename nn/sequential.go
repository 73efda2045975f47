package nn

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/vkcnn/vkcnn/tensor"
)

// maxPlans bounds how many batch sizes keep the buffers of Forward and Fit's
// training steps at once (Fit uses two: full and last training batch).
const maxPlans = 4

// Sequential is a model that applies its layers one after the other, like
// PyTorch's nn.Sequential. Create it with NewSequential or Parse, then Build it
// for a backend and a per-sample input shape.
//
// Predict and Evaluate may be called from many goroutines at once on one
// built model: each call takes its own buffers (a small pool keeps them
// between calls), runs in evaluation mode whatever SetTraining says, and
// only reads the parameters. The methods that change the model are for one
// goroutine at a time: Fit, Build and Free return an error wrapping ErrBusy
// instead of running while another of them, Predict or Evaluate runs, and
// Predict and Evaluate return one while Fit, Build or Free runs (but not
// while Fit runs its OnStep or OnEpoch callback). Forward,
// Backward, SetTraining, optimizer steps and loading parameters
// (LoadStateDict, Param.Set) are not checked: calling them while another
// goroutine uses the model is the caller's race.
type Sequential struct {
	layers []Layer
	b      tensor.Backend
	dt     tensor.DType
	shapes []tensor.Shape // shapes[i] is layer i's per-sample input, the last the output
	seed   uint64
	train  bool
	iter   uint64  // training forwards so far: varies the dropout seed
	plans  []*plan // buffers per batch size, most recently used first
	last   *plan   // the plan of the last Forward, read by Backward
	// absorbed[i]: layer i-1 applies layer i's activation (fuse.go).
	absorbed []bool
	// withParams[i]: layer i has parameters (hasParams).
	withParams []bool
	// unchecked turns off the finiteness checks of Predict and Evaluate
	// (finite.go).
	unchecked bool

	// mu guards the fields below (concurrent.go).
	mu        sync.Mutex
	idle      []*plan    // inference plans not in use, most recently used first
	changing  string     // the running Fit, Build or Free, or ""
	between   bool       // Fit runs a callback: Predict and Evaluate may run
	inferring int        // running Predict and Evaluate calls
	idleCond  *sync.Cond // signaled when inferring drops to 0, on m.mu
}

// plan holds the device buffers of one batch size.
type plan struct {
	n       int
	train   bool   // the mode of the last Forward, for Backward
	seed    uint64 // the seed base of that Forward's dropout seeds
	iter    uint64 // the model's training forward count at that Forward
	b       tensor.Backend
	dt      tensor.DType
	input   *tensor.Tensor            // the last Forward's input (not owned)
	acts    []*tensor.Tensor          // acts[i]: output of layer i (a view for reshaping layers)
	grads   []*tensor.Tensor          // grads[i]: gradient w.r.t. the input of layer i, allocated by Backward
	views   []view                    // views[i]: reshaping layer i's view of its input (acts[i])
	dviews  []view                    // dviews[i]: reshaping layer i's view of its output gradient
	passes  []Pass                    // passes[i]: layer i's pass state, rewritten by every pass
	scratch map[[2]int]*tensor.Tensor // by layer and slot
	io      *batchIO                  // Fit, Evaluate and Predict buffers
	owned   []*tensor.Tensor
	subs    map[[2]int]*plan // plans of nested models, by layer and path (residual.go)
}

// NewSequential returns a model made of layers, in order. It checks nothing:
// Build reports bad layers and shapes.
func NewSequential(layers ...Layer) *Sequential {
	return &Sequential{layers: append([]Layer(nil), layers...)}
}

// Layers returns the layers in order (a copy of the slice; the layers are
// shared).
func (m *Sequential) Layers() []Layer { return append([]Layer(nil), m.layers...) }

// Build checks every layer's input shape and allocates the parameters on b,
// initialized from seed (the same seed gives the same weights). in is the
// shape of one sample, without the batch axis: [C, H, W] for images. The dtype
// is float32 when b supports it, else b's first dtype; BuildDType chooses.
// Errors name the layer by index and kind and the mismatch, e.g.
// "layer 4 (dense): input [8 7 7], expected [1568] …", wrapping
// tensor.ErrShape or tensor.ErrParam. Building again frees the old parameters.
// It returns an ErrBusy error while Fit, Predict or Evaluate runs.
func (m *Sequential) Build(b tensor.Backend, in tensor.Shape, seed uint64) error {
	if b == nil {
		return fmt.Errorf("build: nil backend: %w", tensor.ErrNoDevice)
	}
	dt := tensor.Float32
	if caps := b.Caps(); !caps.Supports(dt) && len(caps.DTypes) > 0 {
		dt = caps.DTypes[0]
	}
	return m.BuildDType(b, dt, in, seed)
}

// BuildDType is Build with the dtype of parameters and activations given. It
// returns a tensor.ErrDType error when b does not support dt.
func (m *Sequential) BuildDType(b tensor.Backend, dt tensor.DType, in tensor.Shape, seed uint64) error {
	if b == nil {
		return fmt.Errorf("build: nil backend: %w", tensor.ErrNoDevice)
	}
	release, err := m.exclusive("build")
	if err != nil {
		return err
	}
	defer release()
	if !b.Caps().Supports(dt) {
		return fmt.Errorf("build: backend %s does not support %v, expected one of %v: %w", b.Name(), dt, b.Caps().DTypes, tensor.ErrDType)
	}
	shapes, err := m.inferShapes(in)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	if err := m.free(); err != nil {
		return fmt.Errorf("build: freeing the previous parameters: %w", err)
	}
	if err := m.buildLayers(b, dt, shapes, newRand(seed)); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	m.built(b, dt, shapes, seed)
	return nil
}

// built records what Build settled once the layers are built: the backend,
// dtype, shapes and seed, the fused activations, and which layers have
// parameters.
func (m *Sequential) built(b tensor.Backend, dt tensor.DType, shapes []tensor.Shape, seed uint64) {
	m.b, m.dt, m.shapes, m.seed, m.iter = b, dt, shapes, seed, 0
	m.absorbed = fuseLayers(m.layers)
	m.withParams = make([]bool, len(m.layers))
	for i, l := range m.layers {
		m.withParams[i] = len(l.Params()) > 0
	}
}

// hasParams reports whether layer i has parameters (without asking it for
// them, which may allocate).
func (m *Sequential) hasParams(i int) bool { return m.withParams[i] }

// buildLayers builds every layer for the shapes inferShapes gave, drawing
// initial values from rng, and prefixes parameter and buffer names with the
// layer's index. On error it frees what it built.
func (m *Sequential) buildLayers(b tensor.Backend, dt tensor.DType, shapes []tensor.Shape, rng *rand.Rand) error {
	for i, l := range m.layers {
		if err := l.Build(b, dt, shapes[i], rng); err != nil {
			for _, done := range m.layers[:i] {
				freeParams(done.Params())
				freeBuffers(layerBuffers(done))
				if r, ok := done.(releaser); ok {
					r.release()
				}
			}
			return m.layerErr(i, err)
		}
		for _, p := range l.Params() {
			p.Name = strconv.Itoa(i) + "." + p.Name
		}
		for _, bf := range layerBuffers(l) {
			bf.Name = strconv.Itoa(i) + "." + bf.Name
		}
	}
	return nil
}

// inferShapes runs OutShape through the layers.
func (m *Sequential) inferShapes(in tensor.Shape) ([]tensor.Shape, error) {
	if len(m.layers) == 0 {
		return nil, fmt.Errorf("model has no layers, expected at least one: %w", tensor.ErrParam)
	}
	if len(in) == 0 {
		return nil, fmt.Errorf("input shape is empty, expected the shape of one sample such as [C H W]: %w", tensor.ErrShape)
	}
	if err := in.Validate(); err != nil {
		return nil, fmt.Errorf("input: %w", err)
	}
	seen := map[Layer]int{}
	shapes := []tensor.Shape{in.Clone()}
	for i, l := range m.layers {
		if l == nil {
			return nil, fmt.Errorf("layer %d is nil: %w", i, tensor.ErrParam)
		}
		if v := reflect.ValueOf(l); v.Kind() == reflect.Pointer {
			if j, ok := seen[l]; ok {
				return nil, fmt.Errorf("layer %d (%s) is the same value as layer %d, expected a new layer at each position: %w", i, l.Kind(), j, tensor.ErrParam)
			}
			seen[l] = i
		}
		out, err := l.OutShape(shapes[i])
		if err == nil {
			err = out.Validate()
		}
		if err != nil {
			return nil, m.layerErr(i, err)
		}
		shapes = append(shapes, out)
	}
	return shapes, nil
}

// layerErr prefixes err with the layer's index and kind.
func (m *Sequential) layerErr(i int, err error) error {
	return fmt.Errorf("layer %d (%s): %w", i, m.layers[i].Kind(), err)
}

// Built reports whether Build succeeded and Free has not been called since.
func (m *Sequential) Built() bool { return m.b != nil }

// ready returns ErrNotBuilt unless the model is built.
func (m *Sequential) ready(op string) error {
	if m.b == nil {
		return fmt.Errorf("%s: %w", op, ErrNotBuilt)
	}
	return nil
}

// Backend returns the backend the model was built on, or nil.
func (m *Sequential) Backend() tensor.Backend { return m.b }

// DType returns the dtype of parameters and activations, or 0 before Build.
func (m *Sequential) DType() tensor.DType { return m.dt }

// InShape returns the per-sample input shape given to Build, or nil.
func (m *Sequential) InShape() tensor.Shape {
	if m.shapes == nil {
		return nil
	}
	return m.shapes[0].Clone()
}

// OutShape returns the per-sample output shape, or nil before Build.
func (m *Sequential) OutShape() tensor.Shape {
	if m.shapes == nil {
		return nil
	}
	return m.shapes[len(m.shapes)-1].Clone()
}

// SetTraining switches between training mode (true: dropout active) and
// evaluation mode (false, the default), like PyTorch's train() and eval().
func (m *Sequential) SetTraining(on bool) { m.train = on }

// Training reports whether the model is in training mode.
func (m *Sequential) Training() bool { return m.train }

// Params returns every parameter in state_dict order, named "0.weight",
// "0.bias", "3.weight", … (nil before Build).
func (m *Sequential) Params() []*Param {
	if m.b == nil {
		return nil
	}
	var ps []*Param
	for _, l := range m.layers {
		ps = append(ps, l.Params()...)
	}
	return ps
}

// Buffers returns every buffer (BatchNorm's running statistics) in
// state_dict order, named like parameters: "1.running_mean", … (nil before
// Build or without buffers).
func (m *Sequential) Buffers() []*Buffer {
	if m.b == nil {
		return nil
	}
	var bs []*Buffer
	for _, l := range m.layers {
		bs = append(bs, layerBuffers(l)...)
	}
	return bs
}

// Param returns the parameter with the given state_dict name, or nil.
func (m *Sequential) Param(name string) *Param {
	for _, p := range m.Params() {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// NumParams returns the number of parameter elements.
func (m *Sequential) NumParams() int {
	n := 0
	for _, p := range m.Params() {
		n += p.Value.Len()
	}
	return n
}

// String returns the model spec, e.g. "conv(1,8,3,p1) relu maxpool(2)"; Parse
// reads it back.
func (m *Sequential) String() string {
	parts := make([]string, len(m.layers))
	for i, l := range m.layers {
		parts[i] = l.String()
	}
	return strings.Join(parts, " ")
}

// Summary returns one line per layer: index, spec, per-sample output shape and
// parameter count, then the total. Before Build it lists the layers only.
func (m *Sequential) Summary() string {
	var sb strings.Builder
	for i, l := range m.layers {
		fmt.Fprintf(&sb, "%3d  %-28s", i, l.String())
		if m.b != nil {
			n := 0
			for _, p := range l.Params() {
				n += p.Value.Len()
			}
			fmt.Fprintf(&sb, " %-16v %d params", m.shapes[i+1], n)
		}
		sb.WriteString("\n")
	}
	if m.b != nil {
		fmt.Fprintf(&sb, "input %v, %d parameters, %v on %s\n", m.shapes[0], m.NumParams(), m.dt, m.b.Name())
	}
	return sb.String()
}

// MarshalText returns the model spec, so that a Sequential encodes as a JSON
// string.
func (m *Sequential) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses a model spec into m, replacing its layers. It fails on
// a built model (Free it first) and on a bad spec (wrapping ErrFormat).
func (m *Sequential) UnmarshalText(text []byte) error {
	if m.b != nil {
		return fmt.Errorf("unmarshal model spec into a built model: %w", tensor.ErrParam)
	}
	p, err := Parse(string(text))
	if err != nil {
		return err
	}
	m.layers, m.train, m.iter, m.seed = p.layers, p.train, p.iter, p.seed
	return nil
}

// Free releases the parameters and every buffer on the backend. The model can
// be built again afterwards. It returns the first error the backend reports
// while freeing, or an ErrBusy error (freeing nothing) while Fit, Predict or
// Evaluate runs.
func (m *Sequential) Free() error {
	release, err := m.exclusive("free")
	if err != nil {
		return err
	}
	defer release()
	return m.free()
}

// free is Free for a caller that holds the model (exclusive).
func (m *Sequential) free() error {
	if m.b == nil {
		return nil
	}
	var first error
	for _, pl := range append(m.plans, m.idle...) {
		if err := pl.free(); err != nil && first == nil {
			first = err
		}
	}
	for _, l := range m.layers {
		if err := freeParams(l.Params()); err != nil && first == nil {
			first = err
		}
		if err := freeBuffers(layerBuffers(l)); err != nil && first == nil {
			first = err
		}
		if r, ok := l.(releaser); ok {
			if err := r.release(); err != nil && first == nil {
				first = err
			}
		}
	}
	m.plans, m.idle, m.last, m.b, m.shapes = nil, nil, nil, nil, nil
	return first
}

// releaser is a layer that owns more than its parameters and buffers (a
// composite layer's activations): Free calls release.
type releaser interface{ release() error }

// batchShape returns [n]+sample.
func batchShape(n int, sample tensor.Shape) tensor.Shape {
	return append(tensor.Shape{n}, sample...)
}

// batchSize checks that t is [N]+sample and returns N.
func batchSize(op, name string, t *tensor.Tensor, sample tensor.Shape) (int, error) {
	if t == nil {
		return 0, fmt.Errorf("%s: %s is nil, expected a tensor [N %v]: %w", op, name, sample, tensor.ErrShape)
	}
	ok := t.Rank() == len(sample)+1
	for i := 0; ok && i < len(sample); i++ {
		ok = t.Dim(i+1) == sample[i]
	}
	if !ok {
		return 0, fmt.Errorf("%s: %s has shape %v, expected [N %s: %w", op, name, t.Shape(), strings.TrimPrefix(sample.String(), "["), tensor.ErrShape)
	}
	return t.Dim(0), nil
}

// reshapes reports whether layer i's output is a view of its input.
func (m *Sequential) reshapes(i int) bool {
	_, ok := m.layers[i].(interface{ reshapes() })
	return ok
}

// planFor returns the buffers for batch size n, allocating them on first use
// and dropping the least recently used plan beyond maxPlans.
func (m *Sequential) planFor(n int) (*plan, error) {
	for i, pl := range m.plans {
		if pl.n == n {
			copy(m.plans[1:i+1], m.plans[:i])
			m.plans[0] = pl
			return pl, nil
		}
	}
	pl, err := m.newPlan(n)
	if err != nil {
		return nil, err
	}
	m.plans = append([]*plan{pl}, m.plans...)
	if len(m.plans) > maxPlans {
		old := m.plans[maxPlans]
		m.plans = m.plans[:maxPlans]
		if m.last == old {
			m.last = nil
		}
		if err := old.free(); err != nil {
			return nil, err
		}
	}
	return pl, nil
}

// newPlan allocates the activations of batch size n.
func (m *Sequential) newPlan(n int) (*plan, error) {
	k := len(m.layers)
	pl := &plan{n: n, b: m.b, dt: m.dt, acts: make([]*tensor.Tensor, k), grads: make([]*tensor.Tensor, k),
		views: make([]view, k), dviews: make([]view, k), passes: make([]Pass, k)}
	for i := range m.layers {
		if m.reshapes(i) || m.isAbsorbed(i) {
			continue
		}
		t, err := pl.alloc(batchShape(n, m.shapes[i+1]))
		if err != nil {
			pl.free()
			return nil, m.layerErr(i, err)
		}
		pl.acts[i] = t
	}
	return pl, nil
}

// alloc allocates a tensor that the plan owns.
func (pl *plan) alloc(shape tensor.Shape) (*tensor.Tensor, error) {
	t, err := pl.b.Alloc(pl.dt, shape)
	if err != nil {
		return nil, err
	}
	pl.owned = append(pl.owned, t)
	return t, nil
}

// scratchFor returns scratch tensor slot of layer i, allocating it on first
// use. It keeps no reference to shape (so that a caller's literal stays on
// its stack).
func (pl *plan) scratchFor(i, slot int, shape tensor.Shape) (*tensor.Tensor, error) {
	return pl.scratchOf(i, slot, len(shape), func(d int) int { return shape[d] })
}

// scratchOf is scratchFor for the shape of rank dims whose dimension d is
// dim(d), so that a caller can ask for the shape of a tensor without copying
// it.
func (pl *plan) scratchOf(i, slot, rank int, dim func(d int) int) (*tensor.Tensor, error) {
	key := [2]int{i, slot}
	if t, ok := pl.scratch[key]; ok {
		same := t.Rank() == rank
		for d := 0; same && d < rank; d++ {
			same = t.Dim(d) == dim(d)
		}
		if !same {
			return nil, fmt.Errorf("scratch tensor %d of layer %d is %v, asked for %v: %w", slot, i, t.Shape(), shapeOf(rank, dim), tensor.ErrShape)
		}
		return t, nil
	}
	t, err := pl.alloc(shapeOf(rank, dim))
	if err != nil {
		return nil, err
	}
	if pl.scratch == nil {
		pl.scratch = map[[2]int]*tensor.Tensor{}
	}
	pl.scratch[key] = t
	return t, nil
}

// shapeOf returns the shape of rank dims whose dimension d is dim(d).
func shapeOf(rank int, dim func(d int) int) tensor.Shape {
	s := make(tensor.Shape, rank)
	for d := range s {
		s[d] = dim(d)
	}
	return s
}

// free releases every tensor the plan owns.
func (pl *plan) free() error {
	var first error
	for _, t := range pl.owned {
		if err := t.Free(); err != nil && first == nil {
			first = err
		}
	}
	pl.owned = nil
	for _, s := range pl.subs {
		if err := s.free(); err != nil && first == nil {
			first = err
		}
	}
	pl.subs = nil
	return first
}

// subPlan returns the plan of path k of the pass's layer (a nested model
// s, such as a residual block's body) for batch size n, allocating it on
// first use. It belongs to the pass's plan, so that concurrent evaluation
// passes, each with a plan of its own, share no nested buffers. It returns
// nil outside a Sequential pass.
func (p *Pass) subPlan(k int, s *Sequential, n int) (*plan, error) {
	if p == nil || p.plan == nil {
		return nil, nil
	}
	key := [2]int{p.layer, k}
	if sp := p.plan.subs[key]; sp != nil && sp.n == n {
		return sp, nil
	}
	sp, err := s.newPlan(n)
	if err != nil {
		return nil, err
	}
	if old := p.plan.subs[key]; old != nil {
		if err := old.free(); err != nil {
			sp.free()
			return nil, err
		}
	}
	if p.plan.subs == nil {
		p.plan.subs = map[[2]int]*plan{}
	}
	p.plan.subs[key] = sp
	return sp, nil
}

// pass returns the pass state for layer i of the plan's last forward (the
// plan's own Pass for layer i, rewritten, so that a pass allocates nothing).
func (m *Sequential) pass(pl *plan, i int) *Pass {
	p := &pl.passes[i]
	*p = Pass{Train: pl.train, Seed: mix64(pl.seed ^ mix64(pl.iter) ^ mix64(uint64(i)+0x51ed27)), plan: pl, layer: i}
	return p
}

// view is a reshaped view of a tensor kept between passes: the view of src
// that the last call of get made.
type view struct{ src, v *tensor.Tensor }

// get returns src as a tensor [n]+sample, reusing the last view when src is
// the same tensor (its shape is then the one asked for: a plan asks one slot
// for one shape).
func (c *view) get(src *tensor.Tensor, n int, sample tensor.Shape) (*tensor.Tensor, error) {
	if c.src == src && c.v != nil {
		return c.v, nil
	}
	v, err := src.Reshape(batchShape(n, sample))
	if err != nil {
		return nil, err
	}
	c.src, c.v = src, v
	return v, nil
}

// Forward runs the model on x, a batch [N]+InShape(), and returns the output
// [N]+OutShape(). The output tensor belongs to the model: it stays valid until
// the next Forward with the same batch size or Free. Buffers are allocated on
// the first Forward of each batch size and reused. In training mode each call
// draws new dropout masks. Errors: ErrNotBuilt, a tensor.ErrShape error for
// an input of the wrong shape, and the backend's errors.
func (m *Sequential) Forward(x *tensor.Tensor) (*tensor.Tensor, error) {
	if err := m.ready("forward"); err != nil {
		return nil, err
	}
	n, err := batchSize("forward", "input", x, m.shapes[0])
	if err != nil {
		return nil, err
	}
	pl, err := m.planFor(n)
	if err != nil {
		return nil, fmt.Errorf("forward: %w", err)
	}
	if m.train {
		m.iter++
	}
	m.last = nil
	out, err := m.forward(pl, x, m.train)
	if err == nil {
		m.last = pl
	}
	return out, err
}

// forward runs the layers with the plan's buffers, in training mode when
// train is set. It reads the model's iteration count only in training mode,
// so that evaluation forwards on other goroutines share nothing mutable.
func (m *Sequential) forward(pl *plan, x *tensor.Tensor, train bool) (*tensor.Tensor, error) {
	iter := uint64(0)
	if train {
		iter = m.iter
	}
	return m.forwardSeeded(pl, x, train, m.seed, iter)
}

// forwardSeeded is forward with the dropout seeds derived from seed and
// iter; it writes only the plan.
func (m *Sequential) forwardSeeded(pl *plan, x *tensor.Tensor, train bool, seed, iter uint64) (*tensor.Tensor, error) {
	pl.input, pl.train, pl.seed, pl.iter = x, train, seed, iter
	cur := x
	for i, l := range m.layers {
		if m.reshapes(i) {
			v, err := pl.views[i].get(cur, pl.n, m.shapes[i+1])
			if err != nil {
				return nil, fmt.Errorf("forward: %w", m.layerErr(i, err))
			}
			pl.acts[i], cur = v, v
			continue
		}
		if m.isAbsorbed(i) {
			pl.acts[i] = cur // the layer before applied this activation
			continue
		}
		if err := l.Forward(m.pass(pl, i), pl.acts[i], cur); err != nil {
			return nil, fmt.Errorf("forward: %w", m.layerErr(i, err))
		}
		cur = pl.acts[i]
	}
	return cur, nil
}

// Backward propagates dy, the gradient of the loss with respect to the last
// Forward's output ([N]+OutShape()), back through the model. It overwrites
// every parameter's Grad (frozen ones excepted) and returns the gradient with
// respect to the input, a tensor that belongs to the model. It differentiates
// the last Forward, in that Forward's mode (dropout masks included), and fails
// if there was none.
func (m *Sequential) Backward(dy *tensor.Tensor) (*tensor.Tensor, error) {
	return m.backward(dy, true)
}

// backward is Backward; with needDX false it skips the input gradient of
// layer 0, which training does not use.
func (m *Sequential) backward(dy *tensor.Tensor, needDX bool) (*tensor.Tensor, error) {
	return m.backwardPlan(m.last, dy, needDX)
}

// backwardPlan is backward through the forward pass that used plan pl.
func (m *Sequential) backwardPlan(pl *plan, dy *tensor.Tensor, needDX bool) (*tensor.Tensor, error) {
	if err := m.ready("backward"); err != nil {
		return nil, err
	}
	if pl == nil {
		return nil, fmt.Errorf("backward: no successful forward pass to differentiate: %w", tensor.ErrParam)
	}
	if _, err := batchSize("backward", "output gradient", dy, m.shapes[len(m.shapes)-1]); err != nil {
		return nil, err
	}
	if dy.Dim(0) != pl.n {
		return nil, fmt.Errorf("backward: output gradient has batch %d, expected %d like the last forward: %w", dy.Dim(0), pl.n, tensor.ErrShape)
	}
	cur := dy
	for i := len(m.layers) - 1; i >= 0; i-- {
		in := pl.input
		if i > 0 {
			in = pl.acts[i-1]
		}
		wantDX := i > 0 || needDX
		if m.reshapes(i) {
			if !wantDX {
				break
			}
			v, err := pl.dviews[i].get(cur, pl.n, m.shapes[i])
			if err != nil {
				return nil, fmt.Errorf("backward: %w", m.layerErr(i, err))
			}
			cur = v
			continue
		}
		var dx *tensor.Tensor
		if wantDX {
			if pl.grads[i] == nil {
				t, err := pl.alloc(in.Shape())
				if err != nil {
					return nil, fmt.Errorf("backward: %w", m.layerErr(i, err))
				}
				pl.grads[i] = t
			}
			dx = pl.grads[i]
		} else if !m.hasParams(i) {
			break
		}
		if err := m.layers[i].Backward(m.pass(pl, i), dx, cur, in, pl.acts[i]); err != nil {
			return nil, fmt.Errorf("backward: %w", m.layerErr(i, err))
		}
		cur = dx
	}
	if !needDX {
		return nil, nil
	}
	return cur, nil
}

// mix64 is the SplitMix64 finalizer: a bijection with good avalanche, used to
// derive independent seeds.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
