package nn

import (
	"fmt"
	"math"

	"github.com/vkcnn/vkcnn/tensor"
)

// clipper scales the gradients of a model's trainable parameters so that
// their global L2 norm is at most maxNorm, as torch.nn.utils.clip_grad_norm_
// does: with total = ‖all gradients‖₂, every gradient is multiplied by
// maxNorm/(total+1e-6) when that factor is below 1. It runs on the backend
// with existing ops (Mul, Sum, Add, Scale) and reads back one scalar per step.
type clipper struct {
	maxNorm float64
	b       tensor.Backend
	params  []*Param
	sq      []*tensor.Tensor // sq[i]: params[i].Grad squared elementwise
	sums    []*tensor.Tensor // sums[i]: Σ sq[i], one element
	acc     [2]*tensor.Tensor
	cur     int // index of acc holding the total after sumSquares
	host    any
	owned   []*tensor.Tensor
}

// newClipper allocates the buffers for the trainable parameters of m.
func newClipper(m *Sequential, maxNorm float64) (*clipper, error) {
	ps, err := trainable(m.Params())
	if err != nil {
		return nil, err
	}
	c := &clipper{maxNorm: maxNorm, b: m.b, params: ps, host: newHost(m.dt, 1)}
	alloc := func(s tensor.Shape) (*tensor.Tensor, error) {
		t, err := m.b.Alloc(m.dt, s)
		if err == nil {
			c.owned = append(c.owned, t)
		}
		return t, err
	}
	for _, p := range ps {
		sq, err := alloc(p.Value.Shape())
		if err != nil {
			c.free()
			return nil, fmt.Errorf("gradient clipping buffers: %w", err)
		}
		sum, err := alloc(tensor.Shape{1})
		if err != nil {
			c.free()
			return nil, fmt.Errorf("gradient clipping buffers: %w", err)
		}
		c.sq, c.sums = append(c.sq, sq), append(c.sums, sum)
	}
	for i := range c.acc {
		if c.acc[i], err = alloc(tensor.Shape{1}); err != nil {
			c.free()
			return nil, fmt.Errorf("gradient clipping buffers: %w", err)
		}
	}
	return c, nil
}

// sumSquares records the sum of the squared gradients into an accumulator,
// without waiting.
func (c *clipper) sumSquares() error {
	if err := c.b.Fill(c.acc[0], 0); err != nil {
		return err
	}
	c.cur = 0
	for i, p := range c.params {
		if err := c.b.Mul(c.sq[i], p.Grad, p.Grad); err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		if err := c.b.Sum(c.sums[i], c.sq[i]); err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		if err := c.b.Add(c.acc[1-c.cur], c.acc[c.cur], c.sums[i]); err != nil {
			return fmt.Errorf("%s: %w", p.Name, err)
		}
		c.cur = 1 - c.cur
	}
	return nil
}

// apply reads back the norm recorded by sumSquares, scales the gradients when
// it exceeds maxNorm and returns it. A norm that is not finite is an
// ErrDiverged error and leaves the gradients alone.
func (c *clipper) apply() (float64, error) {
	if err := c.b.Download(c.host, c.acc[c.cur]); err != nil {
		return math.NaN(), fmt.Errorf("gradient norm: %w", err)
	}
	norm := math.Sqrt(hostAt(c.host, 0))
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return norm, fmt.Errorf("gradient norm is %v: %w", norm, ErrDiverged)
	}
	coef := c.maxNorm / (norm + 1e-6)
	if coef >= 1 {
		return norm, nil
	}
	for _, p := range c.params {
		if err := c.b.Scale(p.Grad, p.Grad, coef); err != nil {
			return norm, fmt.Errorf("clip %s: %w", p.Name, err)
		}
	}
	return norm, nil
}

// free releases the buffers.
func (c *clipper) free() error {
	var first error
	for _, t := range c.owned {
		if err := t.Free(); err != nil && first == nil {
			first = err
		}
	}
	c.owned = nil
	return first
}
