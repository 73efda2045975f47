package bench

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/internal/bench/shapes"
	"github.com/vkcnn/vkcnn/models"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// metric is what a case's throughput counts.
type metric int

const (
	metricFLOPs  metric = iota // floating-point operations → GFLOP/s
	metricBytes                // bytes read and written → GB/s
	metricImages               // training or predicted samples → images/s
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

// buildCases returns the cases for the given shapes and models, in order:
// for each convolution shape its forward and training cases, for each pooling
// shape max and average pooling forward and training, then each model's
// training step, then each model's concurrent prediction with each goroutine
// count (batches of predictBatch images).
func buildCases(convs, pools, presets []string, batch, predictBatch int, goroutines []int) ([]benchCase, error) {
	var cases []benchCase
	for _, s := range convs {
		g, err := shapes.ParseConv(s)
		if err != nil {
			return nil, err
		}
		cases = append(cases, convCase(s, g, false), convCase(s, g, true))
	}
	for _, s := range pools {
		g, err := shapes.ParsePool(s)
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
	for _, name := range presets {
		p, err := models.Get(name)
		if err != nil {
			return nil, err
		}
		for _, g := range goroutines {
			cases = append(cases, predictCase(p, predictBatch, g))
		}
	}
	return cases, nil
}

// tensors allocates float32 tensors of the given shapes on b, filling those
// with random[i] set with uniform values in [-1, 1) from a fixed seed. On
// error it frees what it allocated.
func tensors(b tensor.Backend, dims []tensor.Shape, random []bool) ([]*tensor.Tensor, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	ts := make([]*tensor.Tensor, 0, len(dims))
	for i, s := range dims {
		var t *tensor.Tensor
		var err error
		if random[i] {
			t, err = shapes.RandomTensor(b, rng, s)
		} else {
			t, err = b.Alloc(tensor.Float32, s)
		}
		if err != nil {
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
	p := g.Params()
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
	p := g.Params()
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
		ds := &data.Dataset{Images: make([]float32, batch*p.Input.Len()), Labels: make([]int, batch)}
		for i := range ds.Images {
			ds.Images[i] = rng.Float32()
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

// predictCalls is how many Predict calls each goroutine makes in one
// repetition of a predict/ case.
const predictCalls = 4

// predictCase benchmarks concurrent inference: g goroutines share one model
// of a preset, built once on the backend, and in each repetition every
// goroutine makes predictCalls nn.Sequential.Predict calls on a batch of
// its own (batch random images, one batch per call). The work counts the
// images of all goroutines, so that the figures for 1, 2, 4 and 8 goroutines
// show what running many inferences at once gains or what serializing them
// on the backend costs. Predict's finiteness checks are off: they read back
// every parameter per call, which would measure the check, not the model.
func predictCase(p models.Preset, batch, g int) benchCase {
	c := benchCase{name: fmt.Sprintf("predict/%s_b%d_g%d", p.Name, batch, g), metric: metricImages,
		work: float64(g * predictCalls * batch)}
	c.setup = func(b tensor.Backend) (func() error, func() error, error) {
		model, err := p.Model()
		if err != nil {
			return nil, nil, err
		}
		if err := model.Build(b, p.Input, 1); err != nil {
			return nil, nil, fmt.Errorf("preset %s: %w", p.Name, err)
		}
		model.SetFiniteChecks(false)
		rng := rand.New(rand.NewPCG(5, 6))
		xs := make([][]float32, g)
		for i := range xs {
			xs[i] = make([]float32, batch*p.Input.Len())
			for j := range xs[i] {
				xs[i][j] = rng.Float32()
			}
		}
		step := func() error {
			errs := make([]error, g)
			var wg sync.WaitGroup
			for i := range g {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range predictCalls {
						if _, err := model.Predict(xs[i], batch); err != nil {
							errs[i] = fmt.Errorf("goroutine %d: %w", i, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			return errors.Join(errs...)
		}
		return step, model.Free, nil
	}
	return c
}
