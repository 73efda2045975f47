package nn_test

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// TestConcurrentPredict runs Predict and Evaluate on one built model from
// many goroutines at once, with several batch sizes and the model left in
// training mode, and checks every result bit for bit against a serial run.
func TestConcurrentPredict(t *testing.T) {
	specs := []string{
		"conv(1,4,3,p1) relu dropout(0.5) maxpool(2) flatten dense(36,3) softmax",
		// Residual blocks keep nested buffers of their own.
		"conv(1,4,3,p1) residual[conv(4,4,3,p1) relu dropout(0.3) residual[conv(4,4,1) tanh]] relu residual[conv(4,4,3,s2,p1) | conv(4,4,1,s2)] flatten dense(36,3)",
	}
	for _, tb := range backends() {
		for si, spec := range specs {
			t.Run(fmt.Sprintf("%s/model%d", tb.name, si), func(t *testing.T) { concurrentPredict(t, tb.open(t), tb.dt, spec) })
		}
	}
}

// concurrentPredict builds spec on b and runs the concurrent check.
func concurrentPredict(t *testing.T, b tensor.Backend, dt tensor.DType, spec string) {
	m := buildModel(t, b, dt, spec, tensor.Shape{1, 6, 6}, 5)
	// Training mode must not leak into Predict and Evaluate, and
	// they must leave it alone.
	m.SetTraining(true)
	d := blobs(37, 4)
	batches := []int{1, 5, 8, 37}
	wantPred := make([][]nn.Prediction, len(batches))
	wantEval := make([]nn.EvalResult, len(batches))
	for i, bs := range batches {
		var err error
		if wantPred[i], err = m.Predict(d.Images, bs); err != nil {
			t.Fatal(err)
		}
		if wantEval[i], err = m.Evaluate(d, nn.CrossEntropyLoss(), bs); err != nil {
			t.Fatal(err)
		}
	}
	const goroutines, rounds = 8, 6
	var wg sync.WaitGroup
	errs := make([]error, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				i := (g + r) % len(batches)
				if (g+r)%3 == 0 {
					ev, err := m.Evaluate(d, nn.CrossEntropyLoss(), batches[i])
					if err == nil && (math.Float64bits(ev.Loss) != math.Float64bits(wantEval[i].Loss) || ev.Accuracy != wantEval[i].Accuracy) {
						err = fmt.Errorf("evaluate with batch %d: %+v, the serial run %+v", batches[i], ev, wantEval[i])
					}
					if err != nil {
						errs[g] = err
						return
					}
					continue
				}
				got, err := m.Predict(d.Images, batches[i])
				if err == nil {
					err = samePredictions(got, wantPred[i])
				}
				if err != nil {
					errs[g] = fmt.Errorf("predict with batch %d: %w", batches[i], err)
					return
				}
			}
		}()
	}
	wg.Wait()
	for g, err := range errs {
		if err != nil {
			t.Errorf("goroutine %d: %v", g, err)
		}
	}
	if !m.Training() {
		t.Error("Predict or Evaluate changed the model's mode")
	}
}

// samePredictions compares predictions bit for bit.
func samePredictions(got, want []nn.Prediction) error {
	if len(got) != len(want) {
		return fmt.Errorf("%d predictions, the serial run %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Class != w.Class || g.Confidence != w.Confidence || len(g.Probs) != len(w.Probs) {
			return fmt.Errorf("sample %d: %+v, the serial run %+v", i, g, w)
		}
		for j := range w.Probs {
			if math.Float64bits(g.Probs[j]) != math.Float64bits(w.Probs[j]) {
				return fmt.Errorf("sample %d: probabilities %v, the serial run %v", i, g.Probs, w.Probs)
			}
		}
	}
	return nil
}

// gate is a layer that passes its input through and, once armed, signals
// entered and blocks in Forward until released: it holds a Predict in the
// middle of its run.
type gate struct {
	nn.Layer
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	release chan struct{}
}

func (g *gate) Forward(p *nn.Pass, y, x *tensor.Tensor) error {
	g.mu.Lock()
	armed := g.armed
	g.armed = false
	g.mu.Unlock()
	if armed {
		g.entered <- struct{}{}
		<-g.release
	}
	return g.Layer.Forward(p, y, x)
}

// TestFitCollisions checks that Fit, Build and Free fail with ErrBusy,
// doing nothing, while a Predict runs, that Predict, Evaluate, a second Fit
// and Free fail with ErrBusy while Fit runs, and that Fit's callbacks may
// call Predict and Evaluate.
func TestFitCollisions(t *testing.T) {
	b := cpu64(t)
	g := &gate{Layer: nn.ReLU(), entered: make(chan struct{}), release: make(chan struct{})}
	m := nn.NewSequential(nn.Conv2D(1, 4, 3, nn.Pad(1)), g, nn.MaxPool2D(2), nn.Flatten(), nn.Dense(36, 3))
	if err := m.Build(b, tensor.Shape{1, 6, 6}, 5); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Free() })
	d := blobs(24, 6)
	opt := nn.NewSGD(tensor.SGDParams{LR: 0.05})
	defer opt.Close()
	cfg := nn.FitConfig{Epochs: 1, BatchSize: 8, Loss: nn.CrossEntropyLoss(), Optimizer: opt}
	busy := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, nn.ErrBusy) {
			t.Errorf("%s: error %v, expected one wrapping ErrBusy", what, err)
		}
	}

	// A Predict held inside the gate: changes to the model must fail.
	g.armed = true
	done := make(chan error)
	go func() {
		_, err := m.Predict(d.Images, 8)
		done <- err
	}()
	<-g.entered
	_, err := m.Fit(d, cfg)
	busy("fit during predict", err)
	busy("free during predict", m.Free())
	busy("build during predict", m.Build(b, tensor.Shape{1, 6, 6}, 5))
	if _, err := m.Evaluate(d, nil, 5); err != nil {
		t.Errorf("evaluate beside a predict: %v", err)
	}
	close(g.release)
	if err := <-done; err != nil {
		t.Fatalf("predict: %v", err)
	}
	if !m.Built() {
		t.Fatal("the model was freed")
	}

	// Fit held in its step callback... calls from the callback itself work,
	// and other goroutines' Predicts too; held elsewhere (inside a step),
	// they fail.
	g.release = make(chan struct{})
	steps := 0
	cfg.OnStep = func(s nn.StepInfo) error {
		steps++
		if _, err := m.Predict(d.Images[:36], 1); err != nil {
			return fmt.Errorf("predict from OnStep: %w", err)
		}
		if _, err := m.Evaluate(d, nn.CrossEntropyLoss(), 8); err != nil {
			return fmt.Errorf("evaluate from OnStep: %w", err)
		}
		if s.Step == 1 {
			g.mu.Lock()
			g.armed = true // the next training forward blocks
			g.mu.Unlock()
		}
		return nil
	}
	go func() {
		_, err := m.Fit(d, cfg)
		done <- err
	}()
	<-g.entered // Fit is inside step 2's forward
	_, err = m.Predict(d.Images, 8)
	busy("predict during fit", err)
	_, err = m.Evaluate(d, nil, 8)
	busy("evaluate during fit", err)
	_, err = m.Fit(d, cfg)
	busy("second fit", err)
	busy("free during fit", m.Free())
	close(g.release)
	if err := <-done; err != nil {
		t.Fatalf("fit: %v", err)
	}
	if steps != 3 {
		t.Errorf("%d steps, expected 3", steps)
	}
	if _, err := m.Predict(d.Images, 8); err != nil {
		t.Errorf("predict after fit: %v", err)
	}
}
