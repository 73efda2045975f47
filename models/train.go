package models

import (
	"fmt"
	"math"
	"slices"

	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// TrainConfig configures Train: nn.Fit's settings plus a per-epoch
// learning-rate decay and shift and flip augmentation, which Train turns
// into Fit's Schedule and Transforms.
type TrainConfig struct {
	nn.FitConfig
	// LRDecay multiplies the optimizer's learning rate after every epoch
	// (nn.ExponentialLR from the optimizer's rate); 0 and 1 keep it
	// constant. It must be ≥ 0, and other than 0 or 1 only without a
	// Schedule and with an *nn.SGD or *nn.Adam optimizer.
	LRDecay float64
	// Shift, when positive, translates every training image by a random
	// whole-pixel offset in [−Shift, Shift] along each axis, drawn anew for
	// every image and batch from Fit's generator (Seed), filling the
	// uncovered border with zeros (nn.RandomShift, appended to
	// FitConfig.Transforms): a cheap augmentation that makes a small
	// training set go further. It needs images [C, H, W] with Shift below H
	// and W.
	Shift int
	// Flip, when true, mirrors each training image left to right with
	// probability 1/2 (nn.HorizontalFlip, appended after the shift) when the
	// training set is data.Dataset.FlipInvariant, and does nothing on other
	// datasets, so that one preset serves clothes and digits alike.
	Flip bool
}

// Train trains m on train with one nn.Sequential.Fit call: LRDecay becomes
// an nn.ExponentialLR schedule and Shift and Flip Fit's transforms, so
// FitConfig.Checkpoint and Resume work for every preset and a run repeats
// bit-identically from its Seed on the CPU. The caller closes the optimizer,
// whose rate ends at the last epoch's. It returns the epochs completed, and
// Fit's errors or a tensor.ErrParam error for bad Epochs, LRDecay or Shift.
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
	in := m.InShape()
	if cfg.Shift < 0 || cfg.Shift > 0 && (len(in) != 3 || cfg.Shift >= in[1] || cfg.Shift >= in[2]) {
		return nil, fmt.Errorf("train: shift %d for input %v, expected 0, or fewer pixels than the height and width of images [C H W]: %w",
			cfg.Shift, in, tensor.ErrParam)
	}
	fc := cfg.FitConfig
	if decay != 1 {
		if cfg.Schedule != nil {
			return nil, fmt.Errorf("train: learning-rate decay %v with a schedule, expected 1 (the schedule sets the rate): %w", cfg.LRDecay, tensor.ErrParam)
		}
		lr, err := optimizerLR(cfg.Optimizer)
		if err != nil {
			return nil, fmt.Errorf("train: %w", err)
		}
		fc.Schedule = nn.ExponentialLR{LR: lr, Gamma: decay}
	}
	// Appending to a clipped slice never writes into the caller's array.
	fc.Transforms = append(slices.Clip(fc.Transforms), Augmentations(cfg.Shift, cfg.Flip, train)...)
	h, err := m.Fit(train, fc)
	if err != nil {
		return h, fmt.Errorf("train: %w", err)
	}
	return h, nil
}

// optimizerLR returns the learning rate of an SGD or Adam optimizer.
func optimizerLR(o nn.Optimizer) (float64, error) {
	switch o := o.(type) {
	case *nn.SGD:
		return o.LR, nil
	case *nn.Adam:
		return o.LR, nil
	}
	return 0, fmt.Errorf("learning-rate decay needs an *nn.SGD or *nn.Adam optimizer, got %T: %w", o, tensor.ErrParam)
}

// Augmentations returns the per-batch training transforms of TrainConfig's
// Shift and Flip, in the order Train applies them: nn.RandomShift(shift)
// when shift is positive, then nn.HorizontalFlip(0.5) when flip is set and
// train is data.Dataset.FlipInvariant. vkcnn train uses it too, so that the
// CLI augments as the presets' quality tests do. It returns nil for none.
func Augmentations(shift int, flip bool, train *data.Dataset) []nn.Transform {
	var ts []nn.Transform
	if shift > 0 {
		ts = append(ts, nn.RandomShift(shift))
	}
	if flip && train.FlipInvariant {
		ts = append(ts, nn.HorizontalFlip(0.5))
	}
	return ts
}
