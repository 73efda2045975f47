package viewer

import (
	"fmt"
	"math"
	"strings"

	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// Limits of what a picture shows.
const (
	// DefaultInputs is how many inputs of the batch the view shows unless
	// Options.Inputs says otherwise.
	DefaultInputs = 16
	// maxPlanes bounds the filter and feature-map cells.
	maxPlanes = 64
	// maxSeries bounds the loss points drawn; longer histories are averaged
	// down to it.
	maxSeries = 2048
)

// tap wraps the layer the view watches and remembers the input and output
// tensors of its last forward pass, which belong to the model and stay valid
// until the next forward pass with the same batch size.
type tap struct {
	nn.Layer
	x, y *tensor.Tensor
}

// Forward records x and y and runs the wrapped layer.
func (t *tap) Forward(p *nn.Pass, y, x *tensor.Tensor) error {
	t.x, t.y = x, y
	return t.Layer.Forward(p, y, x)
}

// live returns t if it is non-nil and t.Freed() is false.
func live(t *tensor.Tensor) *tensor.Tensor {
	if t == nil || t.Freed() {
		return nil
	}
	return t
}

// watch returns a copy of the model m, not yet built, whose first
// convolution is wrapped in a tap, with the tap and the layer's index (nil
// and -1 for a model without a convolution). It returns a tensor.ErrParam
// error for a built model: the layers must be wrapped before Build allocates
// their parameters.
func watch(m *nn.Sequential) (*nn.Sequential, *tap, int, error) {
	if m == nil {
		return nil, nil, -1, fmt.Errorf("viewer: watch: model is nil, expected an unbuilt *nn.Sequential: %w", tensor.ErrParam)
	}
	if m.Built() {
		return nil, nil, -1, fmt.Errorf("viewer: watch: the model is built; call Watch before Build so that the view can see its first convolution: %w", tensor.ErrParam)
	}
	layers := m.Layers()
	for i, l := range layers {
		if l != nil && l.Kind() == "conv" {
			t := &tap{Layer: l}
			layers[i] = t
			return nn.NewSequential(layers...), t, i, nil
		}
	}
	return nn.NewSequential(layers...), nil, -1, nil
}

// state is what the view knows of the training: the model, the watched
// layer and the losses so far. It is used on the training goroutine only.
type state struct {
	model  *nn.Sequential
	tap    *tap
	layer  int
	inputs int // how many inputs to show
	losses []float32
	info   nn.StepInfo
	steps  int
}

// record notes a finished training step.
func (s *state) record(info nn.StepInfo) {
	s.info = info
	s.steps++
	s.losses = append(s.losses, float32(info.Loss))
}

// tensors returns the watched layer's input, weights and output, each nil
// when not available (no convolution, no forward pass yet, freed, or not of
// rank 4).
func (s *state) tensors() (x, w, y *tensor.Tensor) {
	if s.tap == nil {
		return nil, nil, nil
	}
	rank4 := func(t *tensor.Tensor) *tensor.Tensor {
		if t = live(t); t != nil && t.Rank() == 4 {
			return t
		}
		return nil
	}
	if ps := s.tap.Params(); len(ps) > 0 {
		w = rank4(ps[0].Value)
	}
	return rank4(s.tap.x), w, rank4(s.tap.y)
}

// series returns the loss history, averaged down to at most maxSeries
// points.
func (s *state) series() []float32 {
	n := len(s.losses)
	if n <= maxSeries {
		return s.losses
	}
	group := (n + maxSeries - 1) / maxSeries
	out := make([]float32, 0, maxSeries)
	for i := 0; i < n; i += group {
		var sum float64
		part := s.losses[i:min(i+group, n)]
		for _, v := range part {
			sum += float64(v)
		}
		out = append(out, float32(sum/float64(len(part))))
	}
	return out
}

// content describes the picture of the current state; series is the loss
// series the picture plots (see series).
func (s *state) content(series []float32) content {
	var c content
	x, w, y := s.tensors()
	c.captions = [4]string{"no input yet", "no convolution to show", "no convolution to show", "loss"}
	if x != nil {
		n, ch, h, wd := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
		c.inputs = planes{stride: ch * h * wd, count: min(n, max(s.inputs, 1)), h: h, w: wd}
		c.captions[0] = fmt.Sprintf("inputs: %d of batch %d", c.inputs.count, n)
		if s.layer > 0 {
			c.captions[0] = fmt.Sprintf("input of layer %d: %d of batch %d", s.layer, c.inputs.count, n)
		}
	}
	if w != nil {
		sh := w.Shape()
		c.filters = planes{stride: sh[2] * sh[3], count: min(sh[0]*sh[1], maxPlanes), h: sh[2], w: sh[3]}
		c.captions[1] = fmt.Sprintf("layer %d filters %s", s.layer, dims(sh))
	}
	if y != nil {
		sh := y.Shape()
		c.maps = planes{stride: sh[2] * sh[3], count: min(sh[1], maxPlanes), h: sh[2], w: sh[3]}
		c.captions[2] = fmt.Sprintf("feature maps of input 1: %s", dims(sh[1:]))
	}
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range series {
		if !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	if lo <= hi {
		c.loss.n, c.loss.lo, c.loss.hi = len(series), lo, hi
		c.lossLabels = [2]string{fmt.Sprintf("%.3g", hi), fmt.Sprintf("%.3g", lo)}
	}
	if s.steps > 0 {
		i := s.info
		c.captions[3] = fmt.Sprintf("loss %.4f  epoch %d/%d  step %d/%d", i.Loss, i.Epoch, i.Epochs, i.Step, i.Steps)
	}
	return c
}

// dims formats a shape as "8×1×3×3".
func dims(s tensor.Shape) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = fmt.Sprint(d)
	}
	return strings.Join(parts, "×")
}

// hostData downloads what the picture of s reads, for the CPU renderer.
func (s *state) hostData(series []float32) (*[numSources][]float32, error) {
	var data [numSources][]float32
	x, w, y := s.tensors()
	for _, t := range []struct {
		src source
		t   *tensor.Tensor
	}{{srcInputs, x}, {srcFilters, w}, {srcMaps, y}} {
		if t.t == nil {
			continue
		}
		h, err := nn.ToHost(t.t)
		if err != nil {
			return nil, fmt.Errorf("viewer: reading the watched layer: %w", err)
		}
		data[t.src] = float32s(h)
	}
	data[srcLoss] = series
	data[srcFont] = fontRows
	return &data, nil
}

// float32s returns the values of h as float32.
func float32s(h nn.HostTensor) []float32 {
	if d, ok := h.Data.([]float32); ok {
		return d
	}
	f := h.Float64s()
	out := make([]float32, len(f))
	for i, v := range f {
		out[i] = float32(v)
	}
	return out
}

// frameCPU composes the picture of s on the CPU into pix (width×height).
func (s *state) frameCPU(pix []uint32, width, height int, bgra bool) error {
	series := s.series()
	data, err := s.hostData(series)
	if err != nil {
		return err
	}
	c := s.content(series)
	render(pix, width, height, bgra, layout(width, height, &c), data)
	return nil
}
