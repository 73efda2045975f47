package nn

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"github.com/vkcnn/vkcnn/tensor"
)

// residualLayer is the layer made by Residual.
type residualLayer struct {
	body, shortcut *Sequential // shortcut nil: identity
	built          bool
}

// Residual returns a residual block y = body(x) + shortcut(x), the building
// block of ResNets. body and shortcut are layer chains applied to the same
// input; an empty shortcut is the identity (then body must keep the input
// shape), else it is typically a projection such as
// Conv2D(in, out, 1, Stride(2), NoBias()), BatchNorm2D(out). Both paths must
// give the same output shape. Backward sends the output gradient through both
// paths and sums their input gradients.
//
// The parameters and buffers are named like those of a PyTorch module with
// two nn.Sequential submodules called body and shortcut: "body.0.weight",
// "shortcut.1.running_mean" (prefixed by the block's index in the model), so
// such a module loads vkcnn's files strictly and the reverse. In a model spec
// the block is written residual[body layers] or residual[body layers |
// shortcut layers].
func Residual(body []Layer, shortcut ...Layer) Layer {
	r := &residualLayer{body: NewSequential(body...)}
	if len(shortcut) > 0 {
		r.shortcut = NewSequential(shortcut...)
	}
	return r
}

// Kind returns "residual".
func (r *residualLayer) Kind() string { return "residual" }

// String returns "residual[body]" or "residual[body | shortcut]".
func (r *residualLayer) String() string {
	if r.shortcut == nil {
		return "residual[" + r.body.String() + "]"
	}
	return "residual[" + r.body.String() + " | " + r.shortcut.String() + "]"
}

// paths returns the body and, when present, the shortcut with their names.
func (r *residualLayer) paths() ([]*Sequential, []string) {
	if r.shortcut == nil {
		return []*Sequential{r.body}, []string{"body"}
	}
	return []*Sequential{r.body, r.shortcut}, []string{"body", "shortcut"}
}

// shapes infers both paths' shapes and checks that the outputs agree.
func (r *residualLayer) shapes(in tensor.Shape) (body, short []tensor.Shape, err error) {
	body, err = r.body.inferShapes(in)
	if err != nil {
		return nil, nil, fmt.Errorf("body: %w", err)
	}
	out := body[len(body)-1]
	if r.shortcut == nil {
		if !out.Equal(in) {
			return nil, nil, fmt.Errorf("body maps %v to %v, expected the input shape for an identity shortcut (add a projection shortcut): %w", in, out, tensor.ErrShape)
		}
		return body, nil, nil
	}
	short, err = r.shortcut.inferShapes(in)
	if err != nil {
		return nil, nil, fmt.Errorf("shortcut: %w", err)
	}
	if s := short[len(short)-1]; !s.Equal(out) {
		return nil, nil, fmt.Errorf("body gives %v but shortcut gives %v, expected the same shape: %w", out, s, tensor.ErrShape)
	}
	return body, short, nil
}

// OutShape returns the body's output shape after checking both paths.
func (r *residualLayer) OutShape(in tensor.Shape) (tensor.Shape, error) {
	body, _, err := r.shapes(in)
	if err != nil {
		return nil, err
	}
	return body[len(body)-1].Clone(), nil
}

// Build builds both paths from rng (body first) and names their parameters
// and buffers "body.…" and "shortcut.…".
func (r *residualLayer) Build(b tensor.Backend, dt tensor.DType, in tensor.Shape, rng *rand.Rand) error {
	body, short, err := r.shapes(in)
	if err != nil {
		return err
	}
	r.release()
	seqs, names := r.paths()
	for k, s := range seqs {
		shapes := body
		if k == 1 {
			shapes = short
		}
		if err := s.buildLayers(b, dt, shapes, rng); err != nil {
			if k == 1 {
				r.body.Free()
			}
			return fmt.Errorf("%s: %w", names[k], err)
		}
		s.built(b, dt, shapes, 0)
		for _, p := range s.Params() {
			p.Name = names[k] + "." + p.Name
		}
		for _, bf := range s.Buffers() {
			bf.Name = names[k] + "." + bf.Name
		}
	}
	r.built = true
	return nil
}

// release frees both paths' parameters, buffers and activations.
func (r *residualLayer) release() error {
	var first error
	seqs, _ := r.paths()
	for _, s := range seqs {
		if err := s.Free(); err != nil && first == nil {
			first = err
		}
	}
	r.built = false
	return first
}

// Params returns the body's parameters, then the shortcut's.
func (r *residualLayer) Params() []*Param {
	if !r.built {
		return nil
	}
	var ps []*Param
	seqs, _ := r.paths()
	for _, s := range seqs {
		ps = append(ps, s.Params()...)
	}
	return ps
}

// Buffers returns the body's buffers, then the shortcut's.
func (r *residualLayer) Buffers() []*Buffer {
	if !r.built {
		return nil
	}
	var bs []*Buffer
	seqs, _ := r.paths()
	for _, s := range seqs {
		bs = append(bs, s.Buffers()...)
	}
	return bs
}

// run runs path s (path k of the block) on x in the pass's mode, with
// dropout seeds derived from the pass's seed, and returns its output. Inside
// a Sequential pass the path's buffers belong to the pass's plan (so that
// concurrent Predict calls share none); outside one, to s.
func (r *residualLayer) run(p *Pass, s *Sequential, k int, salt uint64, x *tensor.Tensor) (*tensor.Tensor, error) {
	train, seed := false, s.seed
	if p != nil {
		train, seed = p.Train, mix64(p.Seed^salt)
	}
	pl, err := p.subPlan(k, s, x.Dim(0))
	if err != nil {
		return nil, err
	}
	if pl != nil {
		return s.forwardSeeded(pl, x, train, seed, 0)
	}
	if pl, err = s.planFor(x.Dim(0)); err != nil {
		return nil, err
	}
	s.last = nil
	out, err := s.forwardSeeded(pl, x, train, seed, 0)
	if err == nil {
		s.last = pl
	}
	return out, err
}

// planOf returns the plan path k (s) used in the pass's forward.
func (r *residualLayer) planOf(p *Pass, s *Sequential, k int) *plan {
	if p != nil && p.plan != nil {
		return p.plan.subs[[2]int{p.layer, k}]
	}
	return s.last
}

// Forward computes body(x) + shortcut(x) into y.
func (r *residualLayer) Forward(p *Pass, y, x *tensor.Tensor) error {
	if !r.built {
		return fmt.Errorf("residual forward: %w", ErrNotBuilt)
	}
	b, err := backendOf(x, "residual", "input")
	if err != nil {
		return err
	}
	yb, err := r.run(p, r.body, 0, 1, x)
	if err != nil {
		return fmt.Errorf("body: %w", err)
	}
	ys := x
	if r.shortcut != nil {
		if ys, err = r.run(p, r.shortcut, 1, 2, x); err != nil {
			return fmt.Errorf("shortcut: %w", err)
		}
	}
	return b.Add(y, yb, ys)
}

// Backward sends dy through both paths, writing their parameter gradients,
// and sets dx to the sum of their input gradients.
func (r *residualLayer) Backward(p *Pass, dx, dy, x, y *tensor.Tensor) error {
	if !r.built {
		return fmt.Errorf("residual backward: %w", ErrNotBuilt)
	}
	b, err := backendOf(dy, "residual", "output gradient")
	if err != nil {
		return err
	}
	need := dx != nil
	gb, err := r.body.backwardPlan(r.planOf(p, r.body, 0), dy, need)
	if err != nil {
		return fmt.Errorf("body: %w", err)
	}
	gs := dy
	if r.shortcut != nil {
		if gs, err = r.shortcut.backwardPlan(r.planOf(p, r.shortcut, 1), dy, need); err != nil {
			return fmt.Errorf("shortcut: %w", err)
		}
	}
	if !need {
		return nil
	}
	return b.Add(dx, gb, gs)
}

// stateShapes returns the names and shapes of the parameters and buffers the
// block will have once built, without allocating them.
func (r *residualLayer) stateShapes() []namedShape {
	var out []namedShape
	seqs, names := r.paths()
	for k, s := range seqs {
		for i, l := range s.layers {
			for _, ns := range paramShapes(l) {
				out = append(out, namedShape{fmt.Sprintf("%s.%d.%s", names[k], i, ns.name), ns.shape})
			}
		}
	}
	return out
}

// splitTop splits s at every sep that is outside brackets and parentheses.
func splitTop(s string, sep byte) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(', '[':
			depth++
		case ')', ']':
			depth--
		case sep:
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

// parseResidual builds a residual block from the text between its brackets.
func parseResidual(inner string) (Layer, error) {
	parts := splitTop(inner, '|')
	if len(parts) > 2 {
		return nil, fmt.Errorf("residual has %d parts, expected body or body | shortcut", len(parts))
	}
	body, err := Parse(parts[0])
	if err != nil {
		return nil, fmt.Errorf("body: %s", strings.TrimSuffix(err.Error(), ": "+ErrFormat.Error()))
	}
	var short []Layer
	if len(parts) == 2 {
		s, err := Parse(parts[1])
		if err != nil {
			return nil, fmt.Errorf("shortcut: %s", strings.TrimSuffix(err.Error(), ": "+ErrFormat.Error()))
		}
		short = s.layers
	}
	return Residual(body.layers, short...), nil
}
