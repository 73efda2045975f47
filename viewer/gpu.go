//go:build cgo

package viewer

import (
	"fmt"

	"github.com/vkcnn/vkcnn/gpu"
	"github.com/vkcnn/vkcnn/tensor"
)

// gpuCanvas composes pictures on a Vulkan backend with the view_compose
// shader: the ops read the watched layer's tensors where they are, and draw
// into an image tensor that a gpu.Presenter copies to the window.
type gpuCanvas struct {
	b    *gpu.Backend
	img  *tensor.Tensor // width×height packed pixels
	font *tensor.Tensor
	loss *tensor.Tensor // the loss series, padded to its length
	host []float32      // staging for loss
}

// draw records the ops of one width×height picture and returns the image
// tensor holding it; srcs are the watched layer's tensors by source (nil
// where missing) and series the loss series.
func (g *gpuCanvas) draw(width, height int, bgra bool, ops []op, srcs [numSources]*tensor.Tensor, series []float32) (*tensor.Tensor, error) {
	var err error
	if g.img == nil || g.img.Len() != width*height {
		if g.img != nil {
			if err := g.img.Free(); err != nil {
				return nil, err
			}
			g.img = nil
		}
		if g.img, err = g.b.Alloc(tensor.Float32, tensor.Shape{width * height}); err != nil {
			return nil, fmt.Errorf("viewer: the %d×%d picture: %w", width, height, err)
		}
	}
	if g.font == nil {
		if g.font, err = g.b.Alloc(tensor.Float32, tensor.Shape{len(fontRows)}); err != nil {
			return nil, err
		}
		if err := g.b.Upload(g.font, fontRows); err != nil {
			return nil, err
		}
	}
	srcs[srcFont] = g.font
	if len(series) > 0 {
		if g.loss == nil || g.loss.Len() < len(series) {
			if g.loss != nil {
				if err := g.loss.Free(); err != nil {
					return nil, err
				}
			}
			if g.loss, err = g.b.Alloc(tensor.Float32, tensor.Shape{max(2*len(series), 256)}); err != nil {
				return nil, err
			}
			g.host = make([]float32, g.loss.Len())
		}
		copy(g.host, series)
		if err := g.b.Upload(g.loss, g.host); err != nil {
			return nil, err
		}
		srcs[srcLoss] = g.loss
	}
	for i := range ops {
		o := &ops[i]
		src := srcs[o.src]
		if src == nil {
			if o.src != srcNone {
				continue // nothing to read: the layout left it out already
			}
			src = g.font
		}
		if err := g.b.Compose(o.words(width, height, bgra), o.groups(), g.img, src); err != nil {
			return nil, fmt.Errorf("viewer: composing the picture: %w", err)
		}
	}
	return g.img, nil
}

// free releases the canvas's tensors.
func (g *gpuCanvas) free() error {
	var first error
	for _, t := range []**tensor.Tensor{&g.img, &g.font, &g.loss} {
		if *t != nil && !(*t).Freed() {
			if err := (*t).Free(); err != nil && first == nil {
				first = err
			}
		}
		*t = nil
	}
	return first
}

// frameGPU composes the picture of s on g's backend, which must be the
// model's, and returns the image tensor.
func (s *state) frameGPU(g *gpuCanvas, width, height int, bgra bool) (*tensor.Tensor, error) {
	series := s.series()
	c := s.content(series)
	var srcs [numSources]*tensor.Tensor
	srcs[srcInputs], srcs[srcFilters], srcs[srcMaps] = s.tensors()
	return g.draw(width, height, bgra, layout(width, height, &c), srcs, series)
}
