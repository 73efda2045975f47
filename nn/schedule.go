package nn

import (
	"fmt"
	"math"

	"github.com/vkcnn/vkcnn/tensor"
)

// Schedule gives the learning rate of every optimizer step of a training run.
// Fit asks it before each step and sets the rate on the optimizer (which must
// implement LRSetter). The position is the global step count, which a
// checkpoint saves (TrainState.Step), so a resumed run continues on the same
// curve.
type Schedule interface {
	// Rate returns the learning rate of step (0-based) of a run of total
	// steps (Fit: epochs × batches per epoch).
	Rate(step, total int) float64
	// Validate returns a tensor.ErrParam error naming a bad setting for a run
	// of total steps.
	Validate(total int) error
}

// LRSetter is implemented by optimizers whose learning rate a Schedule can
// set: SGD and Adam.
type LRSetter interface {
	// SetLR sets the learning rate of the next steps.
	SetLR(lr float64)
}

// StepLR multiplies the rate by Gamma every Every steps:
// lr = LR·Gamma^⌊step/Every⌋ (PyTorch's StepLR, stepped per batch; to decay
// every k epochs use Every = k × batches per epoch).
type StepLR struct {
	// LR is the initial learning rate.
	LR float64
	// Every is the number of steps between decays, ≥ 1.
	Every int
	// Gamma is the decay factor, in (0, 1] for a decay.
	Gamma float64
}

// Rate returns LR·Gamma^⌊step/Every⌋.
func (s StepLR) Rate(step, total int) float64 {
	return s.LR * math.Pow(s.Gamma, float64(step/max(s.Every, 1)))
}

// Validate checks LR > 0, Every ≥ 1 and Gamma > 0.
func (s StepLR) Validate(int) error {
	if !(s.LR > 0) || s.Every < 1 || !(s.Gamma > 0) || math.IsInf(s.LR, 0) || math.IsInf(s.Gamma, 0) {
		return fmt.Errorf("step schedule LR %g every %d gamma %g, expected LR > 0, every ≥ 1, gamma > 0: %w", s.LR, s.Every, s.Gamma, tensor.ErrParam)
	}
	return nil
}

// EpochSchedule is a Schedule that steps once per epoch, as PyTorch's
// schedulers do when scheduler.step() is called after each epoch. Before
// training, Fit calls PerEpoch with its number of steps (batches) per epoch
// and uses the schedule it returns.
type EpochSchedule interface {
	Schedule
	// PerEpoch returns the schedule for epochs of steps optimizer steps.
	PerEpoch(steps int) Schedule
}

// ExponentialLR multiplies the rate by Gamma once per epoch:
// lr = LR·Gamma^epoch for every step of epoch (0-based), PyTorch's
// ExponentialLR stepped after each epoch. It is an EpochSchedule: Fit sets
// EpochSteps to its batches per epoch when it is 0; outside Fit, 0 counts
// as 1 (a decay every step).
type ExponentialLR struct {
	// LR is the rate of the first epoch.
	LR float64
	// Gamma is the factor per epoch, > 0 (below 1 for a decay).
	Gamma float64
	// EpochSteps is the number of steps per epoch, ≥ 0 (0: Fit's).
	EpochSteps int
}

// Rate returns LR·Gamma^⌊step/EpochSteps⌋ (StepLR's rate with a step per
// epoch).
func (s ExponentialLR) Rate(step, total int) float64 {
	return StepLR{LR: s.LR, Every: max(s.EpochSteps, 1), Gamma: s.Gamma}.Rate(step, total)
}

// PerEpoch returns s with EpochSteps set to steps when it is 0.
func (s ExponentialLR) PerEpoch(steps int) Schedule {
	if s.EpochSteps == 0 {
		s.EpochSteps = steps
	}
	return s
}

// Validate checks LR > 0, Gamma > 0 (both finite) and EpochSteps ≥ 0.
func (s ExponentialLR) Validate(int) error {
	if !(s.LR > 0) || math.IsInf(s.LR, 0) || !(s.Gamma > 0) || math.IsInf(s.Gamma, 0) || s.EpochSteps < 0 {
		return fmt.Errorf("exponential schedule LR %g gamma %g per %d steps, expected LR > 0, gamma > 0 (finite) and steps ≥ 0: %w", s.LR, s.Gamma, s.EpochSteps, tensor.ErrParam)
	}
	return nil
}

// CosineLR warms up linearly for Warmup steps, then follows a half cosine
// from LR down to MinLR at the last step:
// step < Warmup: lr = LR·(step+1)/Warmup;
// else lr = MinLR + (LR−MinLR)·(1+cos(π·(step−Warmup)/(total−Warmup)))/2.
// Without warmup it is PyTorch's CosineAnnealingLR with T_max = total steps
// and eta_min = MinLR, stepped per batch.
type CosineLR struct {
	// LR is the peak learning rate, reached at the end of the warmup.
	LR float64
	// MinLR is the final learning rate, ≥ 0 (default 0).
	MinLR float64
	// Warmup is the number of linear warmup steps, ≥ 0, fewer than the run's.
	Warmup int
}

// Rate returns the rate of step as documented on CosineLR.
func (s CosineLR) Rate(step, total int) float64 {
	if step < s.Warmup {
		return s.LR * float64(step+1) / float64(s.Warmup)
	}
	span := max(total-s.Warmup, 1)
	t := min(float64(step-s.Warmup)/float64(span), 1)
	return s.MinLR + (s.LR-s.MinLR)*(1+math.Cos(math.Pi*t))/2
}

// Validate checks LR > 0, 0 ≤ MinLR ≤ LR and 0 ≤ Warmup < total.
func (s CosineLR) Validate(total int) error {
	if !(s.LR > 0) || math.IsInf(s.LR, 0) || !(s.MinLR >= 0) || s.MinLR > s.LR || s.Warmup < 0 || s.Warmup >= total {
		return fmt.Errorf("cosine schedule LR %g min %g warmup %d for %d steps, expected LR > 0, 0 ≤ min ≤ LR, 0 ≤ warmup < steps: %w", s.LR, s.MinLR, s.Warmup, total, tensor.ErrParam)
	}
	return nil
}

// OneCycleLR is PyTorch's OneCycleLR with cosine annealing, two phases and
// no momentum cycling: the rate rises from MaxLR/DivFactor to MaxLR over the
// first PctStart of the steps, then falls to MaxLR/(DivFactor·FinalDivFactor)
// at the last step, each phase a half cosine. Zero fields take PyTorch's
// defaults: PctStart 0.3, DivFactor 25, FinalDivFactor 1e4.
type OneCycleLR struct {
	// MaxLR is the peak learning rate.
	MaxLR float64
	// PctStart is the fraction of the steps spent rising, in (0, 1).
	PctStart float64
	// DivFactor sets the initial rate MaxLR/DivFactor.
	DivFactor float64
	// FinalDivFactor sets the final rate MaxLR/(DivFactor·FinalDivFactor).
	FinalDivFactor float64
}

// defaults returns s with zero fields set to PyTorch's defaults.
func (s OneCycleLR) defaults() OneCycleLR {
	if s.PctStart == 0 {
		s.PctStart = 0.3
	}
	if s.DivFactor == 0 {
		s.DivFactor = 25
	}
	if s.FinalDivFactor == 0 {
		s.FinalDivFactor = 1e4
	}
	return s
}

// Rate returns the rate of step, computed as torch.optim.lr_scheduler.OneCycleLR
// does.
func (s OneCycleLR) Rate(step, total int) float64 {
	s = s.defaults()
	initial := s.MaxLR / s.DivFactor
	final := initial / s.FinalDivFactor
	peak := s.PctStart*float64(total) - 1
	anneal := func(from, to, pct float64) float64 { return to + (from-to)/2*(math.Cos(math.Pi*pct)+1) }
	if float64(step) <= peak {
		return anneal(initial, s.MaxLR, float64(step)/peak)
	}
	return anneal(s.MaxLR, final, (float64(step)-peak)/(float64(total-1)-peak))
}

// Validate checks MaxLR > 0, PctStart in (0, 1), positive factors, and that
// both phases have at least one step.
func (s OneCycleLR) Validate(total int) error {
	s = s.defaults()
	peak := s.PctStart*float64(total) - 1
	if !(s.MaxLR > 0) || math.IsInf(s.MaxLR, 0) || !(s.PctStart > 0 && s.PctStart < 1) || !(s.DivFactor > 0) || !(s.FinalDivFactor > 0) || !(peak > 0) || !(float64(total-1) > peak) {
		return fmt.Errorf("one-cycle schedule max LR %g pct_start %g div %g final div %g for %d steps, expected max LR > 0, pct_start in (0, 1), positive factors and at least one step in each phase: %w",
			s.MaxLR, s.PctStart, s.DivFactor, s.FinalDivFactor, total, tensor.ErrParam)
	}
	return nil
}
