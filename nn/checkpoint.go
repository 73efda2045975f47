package nn

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/vkcnn/vkcnn/tensor"
)

// TrainState is everything a training run needs to continue where it
// stopped: Fit writes one after every epoch (FitConfig.Checkpoint) and
// continues from one (FitConfig.Resume).
type TrainState struct {
	// Spec and Input identify the model (Sequential.String, InShape).
	Spec  string
	Input tensor.Shape
	// Epoch is the number of epochs completed.
	Epoch int
	// Step is the number of optimizer steps taken: the Schedule position.
	Step int
	// History holds one EpochInfo per completed epoch.
	History []EpochInfo
	// Model holds the parameters and buffers by state_dict name.
	Model map[string]HostTensor
	// Optimizer holds the optimizer's moments and step count.
	Optimizer OptimizerState
	// Shuffle is the shuffling generator's state (math/rand/v2 PCG,
	// MarshalBinary).
	Shuffle []byte
	// Forwards counts the model's training forwards, which seed dropout.
	Forwards uint64
	// BestLoss and BestEpoch are the lowest validation loss so far and its
	// epoch, for early stopping (+Inf and 0 before any).
	BestLoss  float64
	BestEpoch int
	// Best holds the parameters and buffers of BestEpoch (early stopping
	// only, else nil).
	Best map[string]HostTensor
	// FirstLoss is the training loss of the run's first step, the reference
	// of FitConfig.DivergeRatio; NaN when unknown (no step yet, or a
	// checkpoint from before it was saved: the resumed run's first step
	// becomes the reference).
	FirstLoss float64
}

// fitRun is the state of one Fit call.
type fitRun struct {
	m         *Sequential
	cfg       *FitConfig
	pcg       *rand.PCG
	epoch     int // epochs completed
	step      int // optimizer steps taken
	history   []EpochInfo
	best      float64
	bestEpoch int
	bestState map[string]HostTensor
	firstLoss float64 // the first step's training loss; NaN before it
}

// state captures the run after an epoch.
func (r *fitRun) state() (*TrainState, error) {
	model, err := r.m.StateDict()
	if err != nil {
		return nil, err
	}
	so, ok := r.cfg.Optimizer.(StatefulOptimizer)
	if !ok {
		return nil, fmt.Errorf("optimizer %T cannot save its state, expected a StatefulOptimizer (SGD, Adam): %w", r.cfg.Optimizer, tensor.ErrParam)
	}
	ost, err := so.State(r.m.Params())
	if err != nil {
		return nil, err
	}
	shuffle, err := r.pcg.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return &TrainState{Spec: r.m.String(), Input: r.m.InShape(), Epoch: r.epoch, Step: r.step,
		History: append([]EpochInfo(nil), r.history...), Model: model, Optimizer: ost, Shuffle: shuffle,
		Forwards: r.m.iter, BestLoss: r.best, BestEpoch: r.bestEpoch, Best: r.bestState, FirstLoss: r.firstLoss}, nil
}

// resume loads st into the model, the optimizer and the run.
func (r *fitRun) resume(st *TrainState) error {
	m := r.m
	if st.Spec != m.String() || !st.Input.Equal(m.InShape()) {
		return fmt.Errorf("checkpoint is for model %q with input %v, this model is %q with input %v: %w", st.Spec, st.Input, m.String(), m.InShape(), tensor.ErrParam)
	}
	if st.Epoch < 0 || st.Step < 0 || len(st.History) != st.Epoch {
		return fmt.Errorf("checkpoint after epoch %d, step %d with %d history entries, expected one entry per epoch: %w", st.Epoch, st.Step, len(st.History), ErrFormat)
	}
	so, ok := r.cfg.Optimizer.(StatefulOptimizer)
	if !ok {
		return fmt.Errorf("optimizer %T cannot load a state, expected a StatefulOptimizer (SGD, Adam): %w", r.cfg.Optimizer, tensor.ErrParam)
	}
	if err := r.pcg.UnmarshalBinary(st.Shuffle); err != nil {
		return fmt.Errorf("shuffle state: %v: %w", err, ErrFormat)
	}
	if err := m.LoadStateDict(st.Model); err != nil {
		return err
	}
	if err := so.SetState(m.Params(), st.Optimizer); err != nil {
		return err
	}
	m.iter = st.Forwards
	r.epoch, r.step = st.Epoch, st.Step
	r.history = append([]EpochInfo(nil), st.History...)
	r.best, r.bestEpoch, r.bestState = st.BestLoss, st.BestEpoch, st.Best
	r.firstLoss = st.FirstLoss
	return nil
}

// Checkpoint file layout: a safetensors file whose tensors are the model's
// ("model.0.weight"), the optimizer's ("optim.0.weight.exp_avg") and the best
// epoch's ("best.0.weight"); the metadata key MetaCheckpoint holds the rest
// as JSON, floats as strings that round-trip exactly.

// MetaCheckpoint is the metadata key of a checkpoint's scalar state.
const MetaCheckpoint = "vkcnn.checkpoint"

// exactFloat is a float64 that JSON-encodes as a string that parses back to
// the same bits (NaN and ±Inf included).
type exactFloat float64

func (f exactFloat) MarshalJSON() ([]byte, error) {
	return json.Marshal(strconv.FormatFloat(float64(f), 'g', -1, 64))
}

func (f *exactFloat) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := strconv.ParseFloat(s, 64)
	*f = exactFloat(v)
	return err
}

type epochJSON struct {
	Epoch, Epochs                        int
	Loss, Accuracy, ValLoss, ValAccuracy exactFloat
	DurationNS                           int64
}

type checkpointJSON struct {
	Version        int
	Spec           string
	Input          []int
	Epoch, Step    int
	History        []epochJSON
	OptimizerKind  string
	OptimizerSteps int
	Shuffle        []byte
	Forwards       uint64
	BestLoss       exactFloat
	BestEpoch      int
	FirstLoss      *exactFloat `json:",omitempty"` // absent in older checkpoints
}

// WriteCheckpoint writes st to path atomically (a temporary file, then a
// rename): a safetensors file with the model's tensors under "model.", the
// optimizer's under "optim." and the best epoch's under "best.", and the
// scalars in the MetaCheckpoint metadata. Errors: as for WriteSafetensors.
func WriteCheckpoint(path string, st *TrainState) error {
	if st == nil {
		return fmt.Errorf("write checkpoint %s: nil state: %w", path, tensor.ErrParam)
	}
	ts := map[string]HostTensor{}
	for prefix, src := range map[string]map[string]HostTensor{"model.": st.Model, "optim.": st.Optimizer.Tensors, "best.": st.Best} {
		for name, h := range src {
			ts[prefix+name] = h
		}
	}
	cj := checkpointJSON{Version: 1, Spec: st.Spec, Input: st.Input, Epoch: st.Epoch, Step: st.Step,
		OptimizerKind: st.Optimizer.Kind, OptimizerSteps: st.Optimizer.Steps, Shuffle: st.Shuffle,
		Forwards: st.Forwards, BestLoss: exactFloat(st.BestLoss), BestEpoch: st.BestEpoch}
	if !math.IsNaN(st.FirstLoss) {
		first := exactFloat(st.FirstLoss)
		cj.FirstLoss = &first
	}
	for _, e := range st.History {
		cj.History = append(cj.History, epochJSON{e.Epoch, e.Epochs, exactFloat(e.Loss), exactFloat(e.Accuracy),
			exactFloat(e.ValLoss), exactFloat(e.ValAccuracy), int64(e.Duration)})
	}
	js, err := json.Marshal(cj)
	if err != nil {
		return fmt.Errorf("write checkpoint %s: %w", path, err)
	}
	return WriteSafetensors(path, ts, map[string]string{"format": "vkcnn-checkpoint", MetaCheckpoint: string(js)})
}

// ReadCheckpoint reads a checkpoint written by WriteCheckpoint (or by Fit).
// Errors: file errors naming path, and ErrFormat errors for a file that is
// not a vkcnn checkpoint or is corrupt.
func ReadCheckpoint(path string) (*TrainState, error) {
	ts, meta, err := ReadSafetensors(path)
	if err != nil {
		return nil, err
	}
	text, ok := meta[MetaCheckpoint]
	if !ok {
		return nil, fmt.Errorf("%s: no %q metadata, expected a checkpoint written by vkcnn: %w", path, MetaCheckpoint, ErrFormat)
	}
	var cj checkpointJSON
	if err := json.Unmarshal([]byte(text), &cj); err != nil {
		return nil, fmt.Errorf("%s: checkpoint metadata: %v: %w", path, err, ErrFormat)
	}
	if cj.Version != 1 {
		return nil, fmt.Errorf("%s: checkpoint version %d, expected 1: %w", path, cj.Version, ErrFormat)
	}
	st := &TrainState{Spec: cj.Spec, Input: cj.Input, Epoch: cj.Epoch, Step: cj.Step, Shuffle: cj.Shuffle,
		Forwards: cj.Forwards, BestLoss: float64(cj.BestLoss), BestEpoch: cj.BestEpoch, FirstLoss: math.NaN(),
		Model:     map[string]HostTensor{},
		Optimizer: OptimizerState{Kind: cj.OptimizerKind, Steps: cj.OptimizerSteps, Tensors: map[string]HostTensor{}}}
	if cj.FirstLoss != nil {
		st.FirstLoss = float64(*cj.FirstLoss)
	}
	for _, e := range cj.History {
		st.History = append(st.History, EpochInfo{Epoch: e.Epoch, Epochs: e.Epochs, Loss: float64(e.Loss), Accuracy: float64(e.Accuracy),
			ValLoss: float64(e.ValLoss), ValAccuracy: float64(e.ValAccuracy), Duration: time.Duration(e.DurationNS)})
	}
	for name, h := range ts {
		switch {
		case strings.HasPrefix(name, "model."):
			st.Model[strings.TrimPrefix(name, "model.")] = h
		case strings.HasPrefix(name, "optim."):
			st.Optimizer.Tensors[strings.TrimPrefix(name, "optim.")] = h
		case strings.HasPrefix(name, "best."):
			if st.Best == nil {
				st.Best = map[string]HostTensor{}
			}
			st.Best[strings.TrimPrefix(name, "best.")] = h
		default:
			return nil, fmt.Errorf("%s: tensor %q, expected names starting with model., optim. or best.: %w", path, name, ErrFormat)
		}
	}
	if math.IsNaN(st.BestLoss) {
		return nil, fmt.Errorf("%s: best loss is NaN: %w", path, ErrFormat)
	}
	return st, nil
}
