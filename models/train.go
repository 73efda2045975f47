package models

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// TrainConfig configures Train: nn.Fit's settings plus a learning-rate
// schedule and data augmentation.
type TrainConfig struct {
	nn.FitConfig
	// LRDecay multiplies the optimizer's learning rate after every epoch
	// (exponential decay); 0 and 1 keep it constant. It must be ≥ 0, and
	// other than 0 or 1 only for *nn.SGD and *nn.Adam optimizers.
	LRDecay float64
	// Shift, when positive, translates every training image by a random
	// whole-pixel offset in [−Shift, Shift] along each axis, drawn anew for
	// every image and epoch from Seed, filling the uncovered border with
	// zeros: a cheap augmentation that makes a small training set go further.
	// It needs images [C, H, W] with Shift below H and W.
	Shift int
}

// Train trains m on train like nn.Sequential.Fit. With a Schedule it runs
// Fit once, with the shift as Fit's augmentation (so FitConfig.Checkpoint
// and Resume work). Without one it runs Fit once per epoch so that it can
// decay the learning rate and draw new shifted images between epochs. Epoch and step numbers seen by the callbacks and in the returned
// history count over the whole run (Epoch 3 of Epochs 8). Optimizer state
// carries over from epoch to epoch; the caller closes the optimizer. A
// callback error ends training as in Fit (nn.ErrStop without an error). It
// returns the epochs completed, and Fit's errors or a tensor.ErrParam error
// for bad Epochs, LRDecay or Shift.
func Train(m *nn.Sequential, train *data.Dataset, cfg TrainConfig) ([]nn.EpochInfo, error) {
	if !m.Built() {
		return nil, fmt.Errorf("train: %w", nn.ErrNotBuilt)
	}
	if cfg.Epochs < 1 {
		return nil, fmt.Errorf("train: %d epochs, expected ≥ 1: %w", cfg.Epochs, tensor.ErrParam)
	}
	decay := cfg.LRDecay
	if decay == 0 {
		decay = 1
	}
	if !(decay > 0 && decay < math.Inf(1)) {
		return nil, fmt.Errorf("train: learning-rate decay %v, expected a positive factor (1 for none): %w", cfg.LRDecay, tensor.ErrParam)
	}
	if decay != 1 {
		if err := scaleLR(cfg.Optimizer, 1); err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
	}
	in := m.InShape()
	if cfg.Shift < 0 || cfg.Shift > 0 && (len(in) != 3 || cfg.Shift >= in[1] || cfg.Shift >= in[2]) {
		return nil, fmt.Errorf("train: shift %d for input %v, expected 0, or fewer pixels than the height and width of images [C H W]: %w",
			cfg.Shift, in, tensor.ErrParam)
	}
	if cfg.Schedule != nil {
		// One Fit call: the schedule runs per step over the whole run, the
		// shift is Fit's augmentation, and checkpoints can resume the run.
		if decay != 1 {
			return nil, fmt.Errorf("train: learning-rate decay %v with a schedule, expected 1 (the schedule sets the rate): %w", cfg.LRDecay, tensor.ErrParam)
		}
		fc := cfg.FitConfig
		if cfg.Shift > 0 {
			fc.Augment = nn.RandomShift(cfg.Shift)
		}
		h, err := m.Fit(train, fc)
		if err != nil {
			return h, fmt.Errorf("train: %w", err)
		}
		return h, nil
	}
	var rng *rand.Rand
	epochData := *train // the caller's images stay as they are
	if cfg.Shift > 0 {
		if len(train.Images)%in.Len() != 0 {
			return nil, fmt.Errorf("train: Images has %d values, expected a multiple of %d (input %v): %w", len(train.Images), in.Len(), in, tensor.ErrShape)
		}
		rng = rand.New(rand.NewPCG(cfg.Seed, 0x7368696674)) // "shift"
		epochData.Images = make([]float32, len(train.Images))
	}
	epochs := cfg.Epochs
	var history []nn.EpochInfo
	for e := 1; e <= epochs; e++ {
		stopped := false
		fc := cfg.FitConfig
		fc.Epochs = 1
		fc.Seed = cfg.Seed ^ uint64(e)*0x9e3779b97f4a7c15
		if cfg.OnStep != nil {
			fc.OnStep = func(s nn.StepInfo) error {
				s.Epoch, s.Epochs = e, epochs
				err := cfg.OnStep(s)
				stopped = stopped || err != nil
				return err
			}
		}
		if cfg.OnEpoch != nil {
			fc.OnEpoch = func(info nn.EpochInfo) error {
				info.Epoch, info.Epochs = e, epochs
				err := cfg.OnEpoch(info)
				stopped = stopped || err != nil
				return err
			}
		}
		if rng != nil {
			if err := nn.RandomShift(cfg.Shift).Augment(epochData.Images, train.Images, in, rng); err != nil {
				return history, fmt.Errorf("train: %w", err)
			}
		}
		h, err := m.Fit(&epochData, fc)
		for _, info := range h {
			info.Epoch, info.Epochs = e, epochs
			history = append(history, info)
		}
		if err != nil {
			return history, fmt.Errorf("train: epoch %d: %w", e, err)
		}
		if stopped {
			return history, nil
		}
		if decay != 1 {
			scaleLR(cfg.Optimizer, decay)
		}
	}
	return history, nil
}

// scaleLR multiplies the learning rate of an SGD or Adam optimizer by f.
func scaleLR(o nn.Optimizer, f float64) error {
	switch o := o.(type) {
	case *nn.SGD:
		o.LR *= f
	case *nn.Adam:
		o.LR *= f
	default:
		return fmt.Errorf("learning-rate decay needs an *nn.SGD or *nn.Adam optimizer, got %T: %w", o, tensor.ErrParam)
	}
	return nil
}
