package nn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/tensor"
)

// checkData validates a dataset against the model and returns the sample
// count. With needTarget, Labels or Targets must be present.
func checkData(d *data.Dataset, what string, m *Sequential, needTarget bool) (int, error) {
	in, out := m.shapes[0], m.shapes[len(m.shapes)-1].Len()
	if d == nil {
		return 0, fmt.Errorf("%s: nil dataset, expected a *data.Dataset: %w", what, tensor.ErrParam)
	}
	if d.Shape != nil && d.Shape.Len() != in.Len() {
		return 0, fmt.Errorf("%s: samples of shape %v, expected %d values each (input %v): %w", what, d.Shape, in.Len(), in, tensor.ErrShape)
	}
	if len(d.Images) == 0 || len(d.Images)%in.Len() != 0 {
		return 0, fmt.Errorf("%s: Images has %d values, expected a positive multiple of %d (input %v): %w", what, len(d.Images), in.Len(), in, tensor.ErrShape)
	}
	n := len(d.Images) / in.Len()
	if needTarget && d.Labels == nil && d.Targets == nil {
		return 0, fmt.Errorf("%s: no Labels and no Targets, expected one of them: %w", what, tensor.ErrShape)
	}
	if d.Labels != nil {
		if len(d.Labels) != n {
			return 0, fmt.Errorf("%s: %d labels, expected %d (one per sample): %w", what, len(d.Labels), n, tensor.ErrShape)
		}
		classes := max(out, 2)
		if d.Classes > classes {
			return 0, fmt.Errorf("%s: the dataset has %d classes, the model %d outputs; expected at most %d classes: %w", what, d.Classes, out, classes, tensor.ErrShape)
		}
		for i, l := range d.Labels {
			if l < 0 || l >= classes {
				return 0, fmt.Errorf("%s: label %d is %d, expected in [0, %d) for output size %d: %w", what, i, l, classes, out, tensor.ErrParam)
			}
		}
	}
	if d.Targets != nil && len(d.Targets) != n*out {
		return 0, fmt.Errorf("%s: %d target values, expected %d (%d samples × output size %d): %w", what, len(d.Targets), n*out, n, out, tensor.ErrShape)
	}
	return n, nil
}

// trueClass returns the class of sample i of d for accuracy, or -1 without
// labels or targets.
func trueClass(d *data.Dataset, i, cols int) int {
	switch {
	case d.Labels != nil:
		return d.Labels[i]
	case d.Targets != nil:
		return rowClass(d.Targets[i*cols : (i+1)*cols])
	}
	return -1
}

// rowClass returns the argmax of a row, or for a single value 1 when it is
// ≥ 0.5, else 0.
func rowClass[T float32 | float64](row []T) int {
	if len(row) == 1 {
		if row[0] >= 0.5 {
			return 1
		}
		return 0
	}
	best := 0
	for j, v := range row {
		if v > row[best] {
			best = j
		}
	}
	return best
}

// batchIO holds the device and host buffers Fit, Evaluate and Predict use
// for one batch size.
type batchIO struct {
	x, target, loss, grad, classes *tensor.Tensor // classes: [N]
	hx, htarget, hloss, hclasses   any            // host []float32 or []float64
	hout                           any            // Predict's outputs
	labels                         []int          // scratch of targetRows
	flat, dy                       view           // the output as rows [N, cols]; grad as [N]+output
}

// ioFor returns the training plan and the batch buffers for batch size n,
// allocating them on first use.
func (m *Sequential) ioFor(n int) (*plan, *batchIO, error) {
	pl, err := m.planFor(n)
	if err != nil {
		return nil, nil, err
	}
	if pl.io != nil {
		return pl, pl.io, nil
	}
	bio, err := m.newIO(pl)
	if err != nil {
		return nil, nil, err
	}
	return pl, bio, nil
}

// newIO allocates the batch buffers of a plan, which owns them.
func (m *Sequential) newIO(pl *plan) (*batchIO, error) {
	n := pl.n
	var err error
	out := m.shapes[len(m.shapes)-1].Len()
	bio := &batchIO{}
	for _, a := range []struct {
		t     **tensor.Tensor
		h     *any
		shape tensor.Shape
	}{
		{&bio.x, &bio.hx, batchShape(n, m.shapes[0])},
		{&bio.target, &bio.htarget, tensor.Shape{n, out}},
		{&bio.loss, &bio.hloss, tensor.Shape{1}},
		{&bio.grad, nil, tensor.Shape{n, out}},
		{&bio.classes, &bio.hclasses, tensor.Shape{n}},
	} {
		if *a.t, err = pl.alloc(a.shape); err != nil {
			return nil, err
		}
		if a.h != nil {
			*a.h = newHost(m.dt, a.shape.Len())
		}
	}
	bio.hout = newHost(m.dt, n*out)
	pl.io = bio
	return bio, nil
}

// newHost returns a zeroed host slice of dtype dt.
func newHost(dt tensor.DType, n int) any {
	if dt == tensor.Float64 {
		return make([]float64, n)
	}
	return make([]float32, n)
}

// hostAt returns element i of a []float32 or []float64.
func hostAt(h any, i int) float64 {
	if d, ok := h.([]float64); ok {
		return d[i]
	}
	return float64(h.([]float32)[i])
}

// targetRows writes the target rows of samples idx into dst: their Targets,
// or their labels as one-hot rows (data.OneHot; labels is scratch of
// len(idx)), or for a single output the label itself. With smoothing ε > 0
// (and cols > 1) each row t becomes (1−ε)·t + ε/cols, the targets of
// PyTorch's CrossEntropyLoss(label_smoothing=ε).
func targetRows[T float32 | float64](dst []T, d *data.Dataset, idx, labels []int, cols int, smoothing float64) error {
	switch {
	case d.Targets != nil:
		if err := data.Gather(dst, d.Targets, idx, cols); err != nil {
			return err
		}
	case cols == 1:
		for k, i := range idx {
			dst[k] = T(d.Labels[i])
		}
	default:
		for k, i := range idx {
			labels[k] = d.Labels[i]
		}
		if err := data.OneHot(dst, labels, cols); err != nil {
			return err
		}
	}
	if smoothing > 0 && cols > 1 {
		for j, v := range dst {
			dst[j] = T((1-smoothing)*float64(v) + smoothing/float64(cols))
		}
	}
	return nil
}

// upload copies the samples idx (and, with targets, their target rows,
// label-smoothed by smoothing) to the batch buffers.
func (bio *batchIO) upload(b tensor.Backend, d *data.Dataset, idx []int, row, cols int, targets bool, smoothing float64) error {
	if len(bio.labels) < len(idx) {
		bio.labels = make([]int, len(idx))
	}
	var err error
	switch hx := bio.hx.(type) {
	case []float32:
		err = data.Gather(hx, d.Images, idx, row)
		if err == nil && targets {
			err = targetRows(bio.htarget.([]float32), d, idx, bio.labels[:len(idx)], cols, smoothing)
		}
	case []float64:
		err = data.Gather(hx, d.Images, idx, row)
		if err == nil && targets {
			err = targetRows(bio.htarget.([]float64), d, idx, bio.labels[:len(idx)], cols, smoothing)
		}
	}
	if err != nil {
		return err
	}
	if err := b.Upload(bio.x, bio.hx); err != nil {
		return err
	}
	if targets {
		return b.Upload(bio.target, bio.htarget)
	}
	return nil
}

// batchResult is what one step reads back.
type batchResult struct {
	loss     float64 // mean over the batch; NaN without a loss
	correct  int     // -1 without targets
	gradNorm float64 // global gradient norm before clipping; NaN unless clipping
}

// trainStep is what a training batch needs beyond an evaluation batch.
type trainStep struct {
	opt       Optimizer
	params    []*Param     // the model's parameters, for opt
	smoothing float64      // label smoothing ε
	clip      *clipper     // nil without clipping
	tf        *transformer // nil without transforms
	diverge   float64      // FitConfig.DivergeRatio
	first     *float64     // the run's first loss, NaN before it
}

// runBatch uploads samples idx, runs the forward pass and, with a loss, the
// loss; with tr (training) also the backward pass and the update. It reads
// back the loss value and the predicted classes (two small downloads after one
// wait). A training step reads them before the update and returns an
// ErrDiverged error instead of updating when the loss (or the gradient norm)
// is not finite, so diverged values never reach the parameters.
//
// A training step uses the model's training plans and Forward; an
// evaluation batch (tr nil) takes its own plan from the inference pool and
// runs in evaluation mode without touching the model, so that evaluations
// may run on many goroutines at once.
func (m *Sequential) runBatch(d *data.Dataset, idx []int, loss Loss, tr *trainStep) (res batchResult, err error) {
	res = batchResult{loss: math.NaN(), correct: -1, gradNorm: math.NaN()}
	n, row, cols := len(idx), m.shapes[0].Len(), m.shapes[len(m.shapes)-1].Len()
	var pl *plan
	var bio *batchIO
	if tr != nil {
		pl, bio, err = m.ioFor(n)
	} else if pl, bio, err = m.takePlan(n); err == nil {
		defer func() {
			if perr := m.putPlan(pl); err == nil {
				err = perr
			}
		}()
	}
	if err != nil {
		return res, err
	}
	hasTarget := d.Labels != nil || d.Targets != nil
	smoothing := 0.0
	if tr != nil {
		smoothing = tr.smoothing
	}
	if tr != nil && tr.tf != nil {
		if d, err = tr.tf.hostBatch(d, idx, m.shapes[0], cols); err != nil {
			return res, err
		}
		idx = tr.tf.ident[:n]
	}
	if err := bio.upload(m.b, d, idx, row, cols, hasTarget && loss != nil, smoothing); err != nil {
		return res, err
	}
	if tr != nil && tr.tf != nil && len(tr.tf.device) > 0 {
		if err := tr.tf.deviceBatch(bio.x, m.shapes[0], d.Labels); err != nil {
			return res, err
		}
	}
	var out *tensor.Tensor
	if tr != nil {
		out, err = m.Forward(bio.x)
	} else {
		out, err = m.forward(pl, bio.x, false)
	}
	if err != nil {
		return res, err
	}
	flat, err := bio.flat.get(out, n, tensor.Shape{cols})
	if err != nil {
		return res, err
	}
	if loss != nil && hasTarget {
		var grad *tensor.Tensor
		if tr != nil {
			grad = bio.grad
		}
		if err := loss.Compute(bio.loss, grad, flat, bio.target); err != nil {
			return res, fmt.Errorf("%s loss: %w", loss.Name(), err)
		}
	}
	if cols > 1 {
		if err := m.b.ArgMax(bio.classes, flat); err != nil {
			return res, err
		}
	}
	if tr != nil {
		dy, err := bio.dy.get(bio.grad, n, m.shapes[len(m.shapes)-1])
		if err != nil {
			return res, err
		}
		if _, err := m.backward(dy, false); err != nil {
			return res, err
		}
		if tr.clip != nil {
			if err := tr.clip.sumSquares(); err != nil {
				return res, fmt.Errorf("gradient norm: %w", err)
			}
		}
	}
	if loss != nil && hasTarget {
		if err := m.b.Download(bio.hloss, bio.loss); err != nil {
			return res, err
		}
		res.loss = hostAt(bio.hloss, 0)
	}
	src := bio.classes
	if cols == 1 {
		src = flat
	}
	if err := m.b.Download(bio.hclasses, src); err != nil {
		return res, err
	}
	if hasTarget {
		res.correct = 0
		for k, i := range idx {
			var pred int
			if cols == 1 {
				pred = rowClass([]float64{hostAt(bio.hclasses, k)})
			} else {
				pred = int(hostAt(bio.hclasses, k))
			}
			if pred == trueClass(d, i, cols) {
				res.correct++
			}
		}
	}
	if tr == nil {
		// An evaluation batch checks its loss or outputs while its plan is
		// still its own.
		return res, m.checkEvalBatch(d, idx, loss, res.loss, out)
	}
	if math.IsNaN(res.loss) || math.IsInf(res.loss, 0) {
		return res, fmt.Errorf("training loss is %v: %w", res.loss, ErrDiverged)
	}
	if ref := *tr.first; math.IsNaN(ref) {
		*tr.first = res.loss
	} else if limit := tr.diverge * max(ref, 1); tr.diverge > 0 && res.loss > limit {
		return res, fmt.Errorf("training loss %.4g is over %g (DivergeRatio %g times the first step's loss %.4g, or 1 if larger): %w",
			res.loss, limit, tr.diverge, ref, ErrDiverged)
	}
	if tr.clip != nil {
		if res.gradNorm, err = tr.clip.apply(); err != nil {
			return res, err
		}
	}
	if err := tr.opt.Step(tr.params); err != nil {
		return res, err
	}
	return res, nil
}

// FitConfig configures Fit. Epochs, BatchSize, Loss and Optimizer are
// required; the other fields are optional and off when zero.
type FitConfig struct {
	// Epochs is the number of passes over the training set (counting the
	// epochs of a resumed run: a run resumed after epoch 3 of 10 trains 7).
	Epochs int
	// BatchSize is the number of samples per step; the last batch of an
	// epoch may be smaller.
	BatchSize int
	// Loss is the objective, e.g. CrossEntropyLoss().
	Loss Loss
	// Optimizer updates the parameters after each batch, e.g. NewSGD(…).
	Optimizer Optimizer
	// Shuffle reorders the samples every epoch, drawing from Seed.
	Shuffle bool
	// Seed seeds the shuffling (math/rand/v2 PCG): the same seed gives the
	// same order.
	Seed uint64
	// Validation, when not nil, is evaluated after every epoch.
	Validation *data.Dataset
	// OnStep, when not nil, is called after every step. Returning ErrStop
	// ends training early (Fit returns no error); another error ends it and
	// is returned.
	OnStep func(StepInfo) error
	// OnEpoch, when not nil, is called after every epoch (after the
	// checkpoint is written), with the same convention as OnStep.
	OnEpoch func(EpochInfo) error

	// Schedule, when not nil, sets the optimizer's learning rate before every
	// step from the global step count (see Schedule; an EpochSchedule such as
	// ExponentialLR is told the steps per epoch first); the optimizer must
	// implement LRSetter (SGD and Adam do).
	Schedule Schedule
	// ClipNorm, when > 0, scales the gradients after every backward pass so
	// that their global L2 norm over all trainable parameters is at most
	// ClipNorm (torch.nn.utils.clip_grad_norm_ with the 2-norm). It costs
	// three small ops per parameter and one scalar read back per step.
	ClipNorm float64
	// LabelSmoothing ε in [0, 1) replaces every training target row t by
	// (1−ε)·t + ε/C for C outputs, which with CrossEntropyLoss is PyTorch's
	// CrossEntropyLoss(label_smoothing=ε). Validation uses plain targets. It
	// needs a model with more than one output.
	LabelSmoothing float64
	// DivergeRatio, when > 0, also stops training on a loss that explodes
	// while staying finite: a step whose training loss is above
	// DivergeRatio × max(L₁, 1), L₁ the run's first step's loss (saved in
	// checkpoints), is an ErrDiverged error before its update, like a NaN
	// loss. 0 (the default) checks only for NaN and ±Inf; 1e4 catches a
	// blow-up long before it overflows.
	DivergeRatio float64
	// Patience, when > 0, stops training once the validation loss has not
	// improved for Patience epochs in a row (early stopping; needs
	// Validation) and, when training ends either way, restores the
	// parameters and buffers of the epoch with the lowest validation loss.
	Patience int
	// Checkpoint, when not empty, is a file that Fit writes the training
	// state to after every epoch (WriteCheckpoint: atomic, so a killed run
	// leaves the previous checkpoint intact).
	Checkpoint string
	// Augment, when not nil, makes each epoch's training inputs from
	// train.Images before the epoch (e.g. RandomShift), drawing from the same
	// generator as the shuffling (seeded by Seed, saved in checkpoints).
	Augment Augmenter
	// Transforms, when not empty, rewrite every training batch before its
	// forward pass, in order: host transforms on the gathered inputs before
	// the upload, DeviceTransforms on the uploaded batch (RandomShift,
	// RandomCrop, HorizontalFlip, Normalize, or your own). They draw from the
	// shuffling generator (seeded by Seed, saved in checkpoints), so runs
	// repeat and resume bit-identically. Validation is not transformed.
	Transforms []Transform
	// Resume, when not nil, continues the run a checkpoint saved (read it
	// with ReadCheckpoint): Fit loads the parameters, buffers and optimizer
	// state, the schedule position, the shuffling and dropout state and the
	// history, then trains the remaining epochs. With the same
	// configuration, a run resumed after epoch k ends bit-identical to an
	// uninterrupted one on a deterministic backend (the CPU). The model must
	// have the checkpoint's spec and input shape.
	Resume *TrainState
}

// StepInfo describes one training step, for FitConfig.OnStep.
type StepInfo struct {
	// Epoch (1-based) of Epochs.
	Epoch, Epochs int
	// Step (1-based) of Steps in this epoch.
	Step, Steps int
	// Samples in this batch.
	Samples int
	// Loss is the batch's mean loss, before the update.
	Loss float64
	// Accuracy is the fraction of the batch classified right, before the
	// update.
	Accuracy float64
	// LR is the learning rate the Schedule set for this step; NaN without a
	// Schedule.
	LR float64
	// GradNorm is the global gradient norm before clipping; NaN without
	// ClipNorm.
	GradNorm float64
}

// EpochInfo summarizes one epoch, for FitConfig.OnEpoch and Fit's history.
type EpochInfo struct {
	// Epoch (1-based) of Epochs.
	Epoch, Epochs int
	// Loss and Accuracy are the training batches' values (each measured
	// before its update) averaged over the epoch's samples.
	Loss, Accuracy float64
	// ValLoss and ValAccuracy are measured on the validation set after the
	// epoch; NaN without one.
	ValLoss, ValAccuracy float64
	// Duration is the epoch's wall time, validation included.
	Duration time.Duration
}

// ErrDiverged reports a training run whose loss (or gradient norm) became
// NaN or ±Inf, or with FitConfig.DivergeRatio exploded past that many times
// the first step's loss. Fit's error names the epoch, the step and the
// learning rate.
var ErrDiverged = errors.New("training diverged")

// Fit trains the model on train with cfg and returns one EpochInfo per epoch
// completed (with Resume, the checkpoint's epochs first). Every step stays on
// the backend: upload the batch (labels become one-hot rows on the host),
// forward, loss, backward, optimizer step; before the step it reads back the
// loss value and the predicted classes of the batch (ArgMax on the backend,
// or the outputs themselves for a single-output model), which give the
// training accuracy. Batch buffers are allocated once per batch size and
// reused. The model is in training mode during the epochs and returns to its
// previous mode afterwards.
//
// A loss (or, with ClipNorm, a gradient norm) that is NaN or ±Inf, or with
// DivergeRatio a loss above DivergeRatio times the first step's, stops
// training before that step's update with an error wrapping ErrDiverged that
// names the epoch and step and suggests a lower learning rate; the parameters
// keep the values of the step before.
//
// Fit is for one goroutine: it returns an error wrapping ErrBusy, doing
// nothing, when another Fit, a Predict, an Evaluate, a Build or a Free runs
// on the model, and those return ErrBusy errors while it runs, except that
// Predict and Evaluate may run (from the callback or any goroutine) while
// OnStep or OnEpoch runs; Fit waits for them before it goes on. Other errors:
// ErrNotBuilt, tensor.ErrParam
// or tensor.ErrShape errors naming a bad setting, dataset or checkpoint, the
// backend's errors and the checkpoint file's errors.
func (m *Sequential) Fit(train *data.Dataset, cfg FitConfig) ([]EpochInfo, error) {
	release, err := m.exclusive("fit")
	if err != nil {
		return nil, err
	}
	defer release()
	if err := m.ready("fit"); err != nil {
		return nil, err
	}
	setter, _ := cfg.Optimizer.(LRSetter)
	switch {
	case cfg.Epochs < 1:
		return nil, fmt.Errorf("fit: %d epochs, expected ≥ 1: %w", cfg.Epochs, tensor.ErrParam)
	case cfg.BatchSize < 1:
		return nil, fmt.Errorf("fit: batch size %d, expected ≥ 1: %w", cfg.BatchSize, tensor.ErrParam)
	case cfg.Loss == nil:
		return nil, fmt.Errorf("fit: no loss, expected e.g. nn.CrossEntropyLoss(): %w", tensor.ErrParam)
	case cfg.Optimizer == nil:
		return nil, fmt.Errorf("fit: no optimizer, expected e.g. nn.NewSGD(…): %w", tensor.ErrParam)
	case cfg.Schedule != nil && setter == nil:
		return nil, fmt.Errorf("fit: optimizer %T has no SetLR, expected an LRSetter (SGD, Adam) with a Schedule: %w", cfg.Optimizer, tensor.ErrParam)
	case !(cfg.ClipNorm >= 0) || math.IsInf(cfg.ClipNorm, 0):
		return nil, fmt.Errorf("fit: ClipNorm %g, expected a finite value ≥ 0: %w", cfg.ClipNorm, tensor.ErrParam)
	case !(cfg.LabelSmoothing >= 0 && cfg.LabelSmoothing < 1):
		return nil, fmt.Errorf("fit: LabelSmoothing %g, expected in [0, 1): %w", cfg.LabelSmoothing, tensor.ErrParam)
	case cfg.LabelSmoothing > 0 && m.shapes[len(m.shapes)-1].Len() < 2:
		return nil, fmt.Errorf("fit: LabelSmoothing needs a model with several outputs, this one has %d: %w", m.shapes[len(m.shapes)-1].Len(), tensor.ErrParam)
	case !(cfg.DivergeRatio >= 0) || math.IsInf(cfg.DivergeRatio, 0):
		return nil, fmt.Errorf("fit: DivergeRatio %g, expected a finite value ≥ 0 (0: off): %w", cfg.DivergeRatio, tensor.ErrParam)
	case cfg.Patience < 0:
		return nil, fmt.Errorf("fit: Patience %d, expected ≥ 0: %w", cfg.Patience, tensor.ErrParam)
	case cfg.Patience > 0 && cfg.Validation == nil:
		return nil, fmt.Errorf("fit: Patience %d needs a Validation set: %w", cfg.Patience, tensor.ErrParam)
	}
	n, err := checkData(train, "fit: training set", m, true)
	if err != nil {
		return nil, err
	}
	if cfg.Validation != nil {
		if _, err := checkData(cfg.Validation, "fit: validation set", m, true); err != nil {
			return nil, err
		}
	}
	cfg.BatchSize = min(cfg.BatchSize, n) // a batch never exceeds the data
	steps := n / cfg.BatchSize
	if n%cfg.BatchSize != 0 {
		steps++
	}
	total := cfg.Epochs * steps
	if es, ok := cfg.Schedule.(EpochSchedule); ok {
		cfg.Schedule = es.PerEpoch(steps)
	}
	if cfg.Schedule != nil {
		if err := cfg.Schedule.Validate(total); err != nil {
			return nil, fmt.Errorf("fit: %w", err)
		}
	}
	run := &fitRun{m: m, cfg: &cfg, pcg: rand.NewPCG(cfg.Seed, 0x73687566666c65), best: math.Inf(1), firstLoss: math.NaN()}
	if cfg.Resume != nil {
		if err := run.resume(cfg.Resume); err != nil {
			return nil, fmt.Errorf("fit: resume: %w", err)
		}
		if run.step != run.epoch*steps {
			return nil, fmt.Errorf("fit: resume: checkpoint after %d steps in %d epochs, expected %d steps per epoch as this configuration gives: %w", run.step, run.epoch, steps, tensor.ErrParam)
		}
	}
	tr := &trainStep{opt: cfg.Optimizer, params: m.Params(), smoothing: cfg.LabelSmoothing, diverge: cfg.DivergeRatio, first: &run.firstLoss}
	if cfg.ClipNorm > 0 {
		if tr.clip, err = newClipper(m, cfg.ClipNorm); err != nil {
			return nil, fmt.Errorf("fit: %w", err)
		}
		defer tr.clip.free()
	}
	defer m.SetTraining(m.train)
	order := make([]int, n)
	rng := rand.New(run.pcg)
	if len(cfg.Transforms) > 0 {
		tr.tf = &transformer{rng: rng}
		for i, t := range cfg.Transforms {
			switch {
			case t == nil:
				return nil, fmt.Errorf("fit: transform %d is nil, expected a Transform: %w", i, tensor.ErrParam)
			case onDevice(t):
				tr.tf.device = append(tr.tf.device, t)
			default:
				tr.tf.host = append(tr.tf.host, t)
			}
		}
	}
	epochData := train
	if cfg.Augment != nil {
		aug := *train
		aug.Images = make([]float32, len(train.Images))
		epochData = &aug
	}
	batches, err := data.Batches(order, cfg.BatchSize) // sub-slices of order
	if err != nil {
		return nil, fmt.Errorf("fit: %w", err)
	}
epochs:
	for epoch := run.epoch + 1; epoch <= cfg.Epochs; epoch++ {
		start := time.Now()
		m.SetTraining(true)
		if cfg.Augment != nil {
			if err := cfg.Augment.Augment(epochData.Images, train.Images, m.shapes[0], rng); err != nil {
				return run.history, fmt.Errorf("fit: epoch %d: augment: %w", epoch, err)
			}
		}
		for i := range order {
			order[i] = i
		}
		if cfg.Shuffle {
			data.Shuffle(order, rng)
		}
		var lossSum float64
		correct := 0
		for s, idx := range batches {
			lr := math.NaN()
			if cfg.Schedule != nil {
				lr = cfg.Schedule.Rate(run.step, total)
				setter.SetLR(lr)
			}
			if tr.tf != nil {
				tr.tf.epoch, tr.tf.step = epoch, s+1
			}
			r, err := m.runBatch(epochData, idx, cfg.Loss, tr)
			if errors.Is(err, ErrDiverged) {
				return run.history, fmt.Errorf("fit: epoch %d step %d: %w; the parameters keep the values of the step before; try a lower learning rate%s", epoch, s+1, err, lrNote(lr, cfg.Optimizer))
			}
			if err != nil {
				return run.history, fmt.Errorf("fit: epoch %d step %d: %w", epoch, s+1, err)
			}
			run.step++
			lossSum += r.loss * float64(len(idx))
			correct += r.correct
			if cfg.OnStep != nil {
				info := StepInfo{Epoch: epoch, Epochs: cfg.Epochs, Step: s + 1, Steps: steps, Samples: len(idx),
					Loss: r.loss, Accuracy: float64(r.correct) / float64(len(idx)), LR: lr, GradNorm: r.gradNorm}
				if stop, err := callback(m.betweenSteps(func() error { return cfg.OnStep(info) })); err != nil {
					return run.history, err
				} else if stop {
					break epochs
				}
			}
		}
		info := EpochInfo{Epoch: epoch, Epochs: cfg.Epochs, Loss: lossSum / float64(n),
			Accuracy: float64(correct) / float64(n), ValLoss: math.NaN(), ValAccuracy: math.NaN()}
		if cfg.Validation != nil {
			v, err := m.evaluate(cfg.Validation, cfg.Loss, cfg.BatchSize)
			if err != nil {
				return run.history, fmt.Errorf("fit: epoch %d validation: %w", epoch, err)
			}
			info.ValLoss, info.ValAccuracy = v.Loss, v.Accuracy
		}
		info.Duration = time.Since(start)
		run.history = append(run.history, info)
		run.epoch = epoch
		stop := false
		if cfg.Patience > 0 {
			if info.ValLoss < run.best {
				run.best, run.bestEpoch = info.ValLoss, epoch
				if run.bestState, err = m.StateDict(); err != nil {
					return run.history, fmt.Errorf("fit: epoch %d: keeping the best weights: %w", epoch, err)
				}
			}
			stop = epoch-run.bestEpoch >= cfg.Patience
		}
		if cfg.Checkpoint != "" {
			st, err := run.state()
			if err == nil {
				err = WriteCheckpoint(cfg.Checkpoint, st)
			}
			if err != nil {
				return run.history, fmt.Errorf("fit: epoch %d: checkpoint: %w", epoch, err)
			}
		}
		if cfg.OnEpoch != nil {
			if halt, err := callback(m.betweenSteps(func() error { return cfg.OnEpoch(info) })); err != nil {
				return run.history, err
			} else if halt {
				break
			}
		}
		if stop {
			break
		}
	}
	if cfg.Patience > 0 && run.bestState != nil {
		if err := m.LoadStateDict(run.bestState); err != nil {
			return run.history, fmt.Errorf("fit: restoring the best weights (epoch %d): %w", run.bestEpoch, err)
		}
	}
	return run.history, nil
}

// lrNote returns ", now 0.1" with the learning rate of the diverged step.
func lrNote(lr float64, opt Optimizer) string {
	if math.IsNaN(lr) {
		switch o := opt.(type) {
		case *SGD:
			lr = o.LR
		case *Adam:
			lr = o.LR
		default:
			return ""
		}
	}
	return fmt.Sprintf(" (this step's was %g)", lr)
}

// callback interprets a callback's result: stop on any error, and report it
// unless it is ErrStop.
func callback(err error) (stop bool, _ error) {
	if err == nil {
		return false, nil
	}
	if errors.Is(err, ErrStop) {
		return true, nil
	}
	return true, err
}

// EvalResult is what Evaluate measures.
type EvalResult struct {
	// Loss is the mean loss over the samples (NaN without a loss or targets).
	Loss float64
	// Accuracy is the fraction of samples classified right (NaN without
	// labels or targets).
	Accuracy float64
	// Samples is the number of samples evaluated.
	Samples int
}

// evalBatches checks batchSize and d and calls f with the indices of
// consecutive batches of up to batchSize samples. It returns the sample
// count. It leaves the model's mode alone: the batches run in evaluation
// mode by themselves (runBatch, forward).
func (m *Sequential) evalBatches(op string, d *data.Dataset, batchSize int, f func(idx []int) error) (int, error) {
	if err := m.ready(op); err != nil {
		return 0, err
	}
	if batchSize < 1 {
		return 0, fmt.Errorf("%s: batch size %d, expected ≥ 1: %w", op, batchSize, tensor.ErrParam)
	}
	n, err := checkData(d, op, m, false)
	if err != nil {
		return 0, err
	}
	if err := m.checkEvalStart(d); err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	batches, err := data.Batches(order, batchSize) // a batch never exceeds the data
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	for _, idx := range batches {
		if err := f(idx); err != nil {
			return 0, fmt.Errorf("%s: samples %d–%d: %w", op, idx[0], idx[len(idx)-1], err)
		}
	}
	return n, nil
}

// Evaluate runs the model in evaluation mode over d in batches of batchSize
// and returns the mean loss (loss may be nil) and the accuracy. It reads back
// one loss value and the predicted classes per batch. Errors: ErrNotBuilt, a
// tensor.ErrParam error for batchSize < 1, tensor.ErrShape errors naming a
// dataset that does not fit the model, an ErrNonFinite error naming the
// first NaN or ±Inf in the inputs, targets, parameters, buffers or outputs
// (a non-finite loss; see SetFiniteChecks), an ErrBusy error while Fit, Build or
// Free runs, and the backend's errors.
//
// Evaluate may run on many goroutines at once, and alongside Predict: each
// call uses buffers of its own and leaves the model's mode unchanged.
func (m *Sequential) Evaluate(d *data.Dataset, loss Loss, batchSize int) (EvalResult, error) {
	release, err := m.shared("evaluate")
	if err != nil {
		return EvalResult{Loss: math.NaN(), Accuracy: math.NaN()}, err
	}
	defer release()
	return m.evaluate(d, loss, batchSize)
}

// evaluate is Evaluate for a caller that holds the model (Fit's validation).
func (m *Sequential) evaluate(d *data.Dataset, loss Loss, batchSize int) (EvalResult, error) {
	res := EvalResult{Loss: math.NaN(), Accuracy: math.NaN()}
	var lossSum float64
	correct := 0
	n, err := m.evalBatches("evaluate", d, batchSize, func(idx []int) error {
		r, err := m.runBatch(d, idx, loss, nil)
		lossSum += r.loss * float64(len(idx))
		correct += r.correct
		return err
	})
	if err != nil {
		return res, err
	}
	res.Samples = n
	res.Loss = lossSum / float64(n)
	if correct >= 0 {
		res.Accuracy = float64(correct) / float64(n)
	}
	return res, nil
}

// Prediction is the model's answer for one sample.
type Prediction struct {
	// Class is the predicted class index.
	Class int
	// Confidence is the probability of Class, in [0, 1].
	Confidence float64
	// Probs lists the probability of every class.
	Probs []float64
}

// Predict runs the model in evaluation mode over the samples in x (laid out
// as data.Dataset.Images) in batches of batchSize and returns one Prediction per sample,
// each output row turned into probabilities by Interpret. Errors as for
// Evaluate (the outputs themselves are checked for NaN and ±Inf).
//
// Predict may run on many goroutines at once on one model (an HTTP handler
// per request), and alongside Evaluate: each call takes buffers of its own
// from a small pool, runs in evaluation mode whatever SetTraining says, and
// gives the results a lone call gives.
func (m *Sequential) Predict(x []float32, batchSize int) ([]Prediction, error) {
	rows, cols, err := m.outputRows("predict", x, batchSize, true)
	if err != nil {
		return nil, err
	}
	preds := make([]Prediction, len(rows)/cols)
	for i := range preds {
		// Each Probs is the sample's own row (capacity cut at its end).
		preds[i] = m.Interpret(rows[i*cols : (i+1)*cols : (i+1)*cols])
	}
	return preds, nil
}

// Outputs runs the model like Predict and returns its raw outputs, one row of
// OutShape().Len() values per sample (logits, feature maps), as float64
// whatever the model's dtype. Unlike Predict it does not check them for NaN
// and ±Inf (FirstNonFinite finds one); the inputs and parameters are
// checked as for Predict. Errors as for Predict.
func (m *Sequential) Outputs(x []float32, batchSize int) ([]float64, error) {
	rows, _, err := m.outputRows("outputs", x, batchSize, false)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

// outputRows is Predict and Outputs: it runs the model in evaluation mode
// over x in batches of batchSize and returns the output rows of all samples
// back to back in one new slice (cols values each), checking the outputs for
// NaN and ±Inf when check is set.
func (m *Sequential) outputRows(what string, x []float32, batchSize int, check bool) (rows []float64, cols int, err error) {
	release, err := m.shared(what)
	if err != nil {
		return nil, 0, err
	}
	defer release()
	d := &data.Dataset{Images: x}
	_, err = m.evalBatches(what, d, batchSize, func(idx []int) (err error) {
		pl, bio, err := m.takePlan(len(idx))
		if err != nil {
			return err
		}
		defer func() {
			if perr := m.putPlan(pl); err == nil {
				err = perr
			}
		}()
		cols = m.shapes[len(m.shapes)-1].Len()
		if err := bio.upload(m.b, d, idx, m.shapes[0].Len(), cols, false, 0); err != nil {
			return err
		}
		out, err := m.forward(pl, bio.x, false)
		if err != nil {
			return err
		}
		if err := m.b.Download(bio.hout, out); err != nil {
			return err
		}
		if check {
			if err := m.checkOutputs(bio.hout, idx[0]); err != nil {
				return err
			}
		}
		if rows == nil {
			rows = make([]float64, len(x)/m.shapes[0].Len()*cols)
		}
		for k, i := range idx {
			row := rows[i*cols:][:cols]
			for j := range row {
				row[j] = hostAt(bio.hout, k*cols+j)
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return rows, cols, nil
}

// Interpret turns one raw output row of the model (of m.OutShape().Len()
// values; row is reused for Probs) into a Prediction. The last layer says what
// the outputs are: a Softmax gives probabilities; a single output is the
// probability p of class 1, clamped to [0, 1], with Probs [1−p, p]; several
// Sigmoid outputs are independent probabilities, clamped at 0 and normalized
// to sum to 1 (uniform when all are 0); anything else gives logits, turned
// into probabilities by a softmax.
func (m *Sequential) Interpret(row []float64) Prediction {
	last := ""
	if len(m.layers) > 0 {
		last = m.layers[len(m.layers)-1].Kind()
	}
	return prediction(row, last)
}

// prediction is Interpret for a model whose last layer has kind last.
func prediction(row []float64, last string) Prediction {
	if len(row) == 1 {
		p := min(max(row[0], 0), 1)
		c := rowClass([]float64{p})
		probs := []float64{1 - p, p}
		return Prediction{Class: c, Confidence: probs[c], Probs: probs}
	}
	probs := row
	switch last {
	case "softmax":
	case "sigmoid":
		sum := 0.0
		for j, v := range row {
			probs[j] = max(v, 0)
			sum += probs[j]
		}
		for j := range probs {
			if sum == 0 {
				probs[j] = 1 / float64(len(probs))
			} else {
				probs[j] /= sum
			}
		}
	default:
		hi := math.Inf(-1)
		for _, v := range row {
			hi = max(hi, v)
		}
		sum := 0.0
		for j, v := range row {
			probs[j] = math.Exp(v - hi)
			sum += probs[j]
		}
		for j := range probs {
			probs[j] /= sum
		}
	}
	c := rowClass(probs)
	return Prediction{Class: c, Confidence: probs[c], Probs: probs}
}
