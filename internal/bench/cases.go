package bench

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"

	"github.com/vkcnn/vkcnn/models"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// DefaultConv lists the convolution shapes benchmarked by default.
var DefaultConv = []string{
	"N64_C1_K8_28x28_k3p1",
	"N32_C16_K32_14x14_k3p1",
	"N32_C64_K64_56x56_k3p1",
	"N64_C32_K64_14x14_k3p1",
	"N32_C64_K128_28x28_k3s2p1",
	"N32_C256_K64_14x14_k1",
}

// DefaultPool lists the pooling shapes benchmarked by default.
var DefaultPool = []string{"N32_C64_56x56_w2s2"}

// metric is what a case's throughput counts.
type metric int

const (
	metricFLOPs  metric = iota // floating-point operations → GFLOP/s
	metricBytes                // bytes read and written → GB/s
	metricImages               // training samples → images/s
)

// benchCase is one benchmark: a named workload that can be set up on any
// backend.
type benchCase struct {
	name   string  // "conv_fwd/N64_C1_K8_28x28_k3p1"
	metric metric  // what work counts
	work   float64 // per repetition, in the metric's unit (FLOPs, bytes, images)
	// setup allocates and fills the case's tensors on b and returns one
	// repetition's work (issued, not necessarily finished) and a function that
	// frees everything.
	setup func(b tensor.Backend) (step func() error, free func() error, err error)
}

var (
	convRe = regexp.MustCompile(`^N(\d+)_C(\d+)_K(\d+)_(\d+)x(\d+)_k(\d+)(?:x(\d+))?(?:s(\d+))?(?:p(\d+))?(?:d(\d+))?(?:g(\d+))?$`)
	poolRe = regexp.MustCompile(`^N(\d+)_C(\d+)_(\d+)x(\d+)_w(\d+)(?:x(\d+))?(?:s(\d+))?(?:p(\d+))?$`)
)

// atoiOr parses a decimal field of a shape name, or returns def when the
// optional field is absent. The regular expressions admit only digits, so the
// only failure is overflow.
func atoiOr(s string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("number %s is too large: %w", s, tensor.ErrParam)
	}
	return v, nil
}

// fields parses the submatches of a shape name; defs gives each field's
// default (used when an optional field is absent).
func fields(m []string, defs ...int) ([]int, error) {
	out := make([]int, len(defs))
	for i, d := range defs {
		v, err := atoiOr(m[i+1], d)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// parseConv parses a convolution shape such as "N32_C64_K128_28x28_k3s2p1":
// batch N, input channels C, output channels K, input height×width, then the
// kernel size (k3 or k3x5) with optional stride s, padding p, dilation d and
// groups g. It returns the geometry, or an error wrapping tensor.ErrParam or
// tensor.ErrShape.
func parseConv(name string) (tensor.ConvGeom, error) {
	m := convRe.FindStringSubmatch(name)
	if m == nil {
		return tensor.ConvGeom{}, fmt.Errorf("convolution shape %q, expected N<batch>_C<in>_K<out>_<H>x<W>_k<size>[x<width>][s<stride>][p<pad>][d<dilation>][g<groups>], e.g. N32_C64_K128_28x28_k3s2p1: %w", name, tensor.ErrParam)
	}
	// The kernel width defaults to its height: filled in below.
	f, err := fields(m, 0, 0, 0, 0, 0, 0, -1, 1, 0, 1, 1)
	if err != nil {
		return tensor.ConvGeom{}, fmt.Errorf("convolution shape %q: %w", name, err)
	}
	n, c, k, h, w, kh, kw, s, p, d, g := f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8], f[9], f[10]
	if kw < 0 {
		kw = kh
	}
	cin := c
	if g > 0 {
		cin = c / g
	}
	prm := tensor.Conv2DParams{Stride: [2]int{s, s}, Pad: [2]int{p, p}, Dilation: [2]int{d, d}, Groups: g}
	geom, err := tensor.ConvGeometry(tensor.Shape{n, c, h, w}, tensor.Shape{k, max(cin, 1), kh, kw}, prm)
	if err != nil {
		return geom, fmt.Errorf("convolution shape %q: %w", name, err)
	}
	return geom, nil
}

// parsePool parses a pooling shape such as "N32_C64_56x56_w2s2": batch N,
// channels C, input height×width, then the window (w2 or w2x3) with optional
// stride s (default: the window) and padding p.
func parsePool(name string) (tensor.PoolGeom, error) {
	m := poolRe.FindStringSubmatch(name)
	if m == nil {
		return tensor.PoolGeom{}, fmt.Errorf("pooling shape %q, expected N<batch>_C<channels>_<H>x<W>_w<window>[x<width>][s<stride>][p<pad>], e.g. N32_C64_56x56_w2s2: %w", name, tensor.ErrParam)
	}
	f, err := fields(m, 0, 0, 0, 0, 0, -1, -1, 0)
	if err != nil {
		return tensor.PoolGeom{}, fmt.Errorf("pooling shape %q: %w", name, err)
	}
	n, c, h, w, wh, ww, s, p := f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7]
	if ww < 0 {
		ww = wh
	}
	stride := [2]int{s, s}
	if s < 0 {
		stride = [2]int{wh, ww}
	}
	prm := tensor.Pool2DParams{Window: [2]int{wh, ww}, Stride: stride, Pad: [2]int{p, p}}
	geom, err := tensor.PoolGeometry(tensor.Shape{n, c, h, w}, prm)
	if err != nil {
		return geom, fmt.Errorf("pooling shape %q: %w", name, err)
	}
	return geom, nil
}

// buildCases returns the cases for the given shapes and models, in order:
// for each convolution shape its forward and training cases, for each pooling
// shape max and average pooling forward and training, then each model's
// training step.
func buildCases(convs, pools, presets []string, batch int) ([]benchCase, error) {
	var cases []benchCase
	for _, s := range convs {
		g, err := parseConv(s)
		if err != nil {
			return nil, err
		}
		cases = append(cases, convCase(s, g, false), convCase(s, g, true))
	}
	for _, s := range pools {
		g, err := parsePool(s)
		if err != nil {
			return nil, err
		}
		for _, max := range []bool{true, false} {
			cases = append(cases, poolCase(s, g, max, false), poolCase(s, g, max, true))
		}
	}
	for _, name := range presets {
		p, err := models.Get(name)
		if err != nil {
			return nil, err
		}
		cases = append(cases, trainCase(p, batch))
	}
	return cases, nil
}

// tensors allocates float32 tensors of the given shapes on b, filling those
// with random[i] set with uniform values in [-1, 1) from a fixed seed. On
// error it frees what it allocated.
func tensors(b tensor.Backend, shapes []tensor.Shape, random []bool) ([]*tensor.Tensor, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	ts := make([]*tensor.Tensor, 0, len(shapes))
	for i, s := range shapes {
		t, err := b.Alloc(tensor.Float32, s)
		if err == nil && random[i] {
			data := make([]float32, s.Len())
			for j := range data {
				data[j] = 2*rng.Float32() - 1
			}
			err = b.Upload(t, data)
		}
		if err != nil {
			if t != nil {
				t.Free()
			}
			freeAll(ts)
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, nil
}

// freeAll frees every tensor and returns the first error.
func freeAll(ts []*tensor.Tensor) error {
	var first error
	for _, t := range ts {
		if err := t.Free(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// convCase benchmarks Conv2D (forward) or, with train, Conv2D followed by
// both gradients and the bias gradient: 3 passes of FLOPs (the bias gradient
// is not counted).
func convCase(shape string, g tensor.ConvGeom, train bool) benchCase {
	c := benchCase{name: "conv_fwd/" + shape, metric: metricFLOPs, work: g.FLOPs()}
	if train {
		c.name, c.work = "conv_train/"+shape, 3*g.FLOPs()
	}
	p := tensor.Conv2DParams{Stride: g.Stride, Pad: g.Pad, Dilation: g.Dilation, Groups: g.Groups}
	c.setup = func(b tensor.Backend) (func() error, func() error, error) {
		// x, w, bias, dy are random; y, dx, dw, db are outputs.
		ts, err := tensors(b,
			[]tensor.Shape{g.XShape(), g.WShape(), {g.K}, g.YShape(), g.YShape(), g.XShape(), g.WShape(), {g.K}},
			[]bool{true, true, true, true, false, false, false, false})
		if err != nil {
			return nil, nil, err
		}
		x, w, bias, dy, y, dx, dw, db := ts[0], ts[1], ts[2], ts[3], ts[4], ts[5], ts[6], ts[7]
		step := func() error {
			if err := b.Conv2D(y, x, w, bias, p); err != nil || !train {
				return err
			}
			if err := b.Conv2DInputGrad(dx, dy, w, p); err != nil {
				return err
			}
			if err := b.Conv2DKernelGrad(dw, x, dy, p); err != nil {
				return err
			}
			return b.BiasGrad(db, dy)
		}
		return step, func() error { return freeAll(ts) }, nil
	}
	return c
}

// poolCase benchmarks max or average pooling, forward or, with train, forward
// and backward. The work is the nominal traffic: every tensor an op reads or
// writes, counted once per op (4 bytes per element).
func poolCase(shape string, g tensor.PoolGeom, isMax, train bool) benchCase {
	op := "avgpool"
	if isMax {
		op = "maxpool"
	}
	mode := "_fwd/"
	if train {
		mode = "_train/"
	}
	nx, ny := float64(g.XShape().Len()), float64(g.YShape().Len())
	elems := nx + ny
	if train {
		elems += ny + nx // dy read, dx written
		if isMax {
			elems += nx // x read to find each window's maximum
		}
	}
	p := tensor.Pool2DParams{Window: g.Window, Stride: g.Stride, Pad: g.Pad, ExcludePad: g.ExcludePad}
	c := benchCase{name: op + mode + shape, metric: metricBytes, work: 4 * elems}
	c.setup = func(b tensor.Backend) (func() error, func() error, error) {
		ts, err := tensors(b, []tensor.Shape{g.XShape(), g.YShape(), g.YShape(), g.XShape()},
			[]bool{true, true, false, false})
		if err != nil {
			return nil, nil, err
		}
		x, dy, y, dx := ts[0], ts[1], ts[2], ts[3]
		step := func() error {
			if isMax {
				if err := b.MaxPool2D(y, x, p); err != nil || !train {
					return err
				}
				return b.MaxPool2DBackward(dx, dy, x, p)
			}
			if err := b.AvgPool2D(y, x, p); err != nil || !train {
				return err
			}
			return b.AvgPool2DBackward(dx, dy, p)
		}
		return step, func() error { return freeAll(ts) }, nil
	}
	return c
}

// trainCase benchmarks one full training step of a model preset on a random
// batch of the given size: nn.Sequential.Fit over exactly one batch (upload,
// forward, loss, backward, the preset's optimizer step, read-back of the loss
// and the predicted classes).
func trainCase(p models.Preset, batch int) benchCase {
	c := benchCase{name: "train/" + p.Name, metric: metricImages, work: float64(batch)}
	c.setup = func(b tensor.Backend) (func() error, func() error, error) {
		model, err := p.Model()
		if err != nil {
			return nil, nil, err
		}
		loss, err := p.NewLoss()
		if err != nil {
			return nil, nil, err
		}
		if err := model.Build(b, p.Input, 1); err != nil {
			return nil, nil, fmt.Errorf("preset %s: %w", p.Name, err)
		}
		opt, err := p.NewOptimizer()
		if err != nil {
			model.Free()
			return nil, nil, err
		}
		rng := rand.New(rand.NewPCG(3, 4))
		classes := max(model.OutShape().Len(), 2)
		ds := nn.Dataset{X: make([]float32, batch*p.Input.Len()), Labels: make([]int, batch)}
		for i := range ds.X {
			ds.X[i] = rng.Float32()
		}
		for i := range ds.Labels {
			ds.Labels[i] = rng.IntN(classes)
		}
		cfg := nn.FitConfig{Epochs: 1, BatchSize: batch, Loss: loss, Optimizer: opt}
		step := func() error {
			_, err := model.Fit(ds, cfg)
			return err
		}
		free := func() error {
			err := opt.Close()
			if err2 := model.Free(); err == nil {
				err = err2
			}
			return err
		}
		return step, free, nil
	}
	return c
}
