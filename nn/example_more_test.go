package nn_test

import (
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// offset is a user-defined layer y = x + b with a learnable b [F] on
// features [F], written in the model spec as "offset(F)".
type offset struct {
	f int
	b *nn.Param
}

func (l *offset) Kind() string   { return "offset" }
func (l *offset) String() string { return "offset(" + strconv.Itoa(l.f) + ")" }
func (l *offset) OutShape(in tensor.Shape) (tensor.Shape, error) {
	if len(in) != 1 || in[0] != l.f {
		return nil, fmt.Errorf("%s: input %v, expected [%d]: %w", l, in, l.f, tensor.ErrShape)
	}
	return in.Clone(), nil
}
func (l *offset) Build(b tensor.Backend, dt tensor.DType, _ tensor.Shape, _ *rand.Rand) error {
	v, err := b.Alloc(dt, tensor.Shape{l.f}) // starts at 0
	if err != nil {
		return err
	}
	g, err := b.Alloc(dt, tensor.Shape{l.f})
	if err != nil {
		v.Free()
		return err
	}
	l.b = &nn.Param{Name: "bias", Value: v, Grad: g}
	return nil
}
func (l *offset) Params() []*nn.Param {
	if l.b == nil {
		return nil
	}
	return []*nn.Param{l.b}
}

// Forward adds the bias to every sample.
func (l *offset) Forward(_ *nn.Pass, y, x *tensor.Tensor) error {
	return x.Backend().AddBias(y, x, l.b.Value)
}

// Backward: ∂L/∂b sums dy over the batch; ∂L/∂x is dy itself.
func (l *offset) Backward(_ *nn.Pass, dx, dy, _, _ *tensor.Tensor) error {
	be := dy.Backend()
	if err := be.BiasGrad(l.b.Grad, dy); err != nil {
		return err
	}
	if dx == nil { // the first layer's input gradient is not needed
		return nil
	}
	return be.Copy(dx, dy)
}

// A custom layer with its backward pass, registered so that Parse and
// LoadModel know it: gradient-checked, trained, saved and loaded back.
func ExampleRegister() {
	err := nn.Register("offset", func(args []string) (nn.Layer, error) {
		if len(args) != 1 {
			return nil, fmt.Errorf("offset needs the feature count")
		}
		f, err := strconv.Atoi(args[0])
		if err != nil || f < 1 {
			return nil, fmt.Errorf("offset feature count %q, expected a positive integer", args[0])
		}
		return &offset{f: f}, nil
	})
	if err != nil {
		log.Fatal(err)
	}
	b := cpu.New()
	defer b.Close()
	m, err := nn.Parse("dense(4,3) offset(3) tanh dense(3,2) offset(2)")
	if err != nil {
		log.Fatal(err)
	}
	if err := m.BuildDType(b, tensor.Float64, tensor.Shape{4}, 1); err != nil {
		log.Fatal(err)
	}
	defer m.Free()

	x, _ := nn.FromHost(b, tensor.Float64, nn.HostTensor{Shape: tensor.Shape{3, 4}, Data: randn(2, 12)})
	target, _ := nn.FromHost(b, tensor.Float64, nn.HostTensor{Shape: tensor.Shape{3, 2}, Data: []float64{1, 0, 0, 1, 1, 0}})
	res, err := nn.GradCheck(m, nn.CrossEntropyLoss(), x, target)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d gradients checked, within 1e-6: %v\n", res.Checked, res.MaxRelErr < 1e-6)

	train := &data.Dataset{Images: []float32{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1}, Labels: []int{0, 0, 1, 1}}
	if _, err := m.Fit(train, nn.FitConfig{Epochs: 30, BatchSize: 4, Loss: nn.CrossEntropyLoss(),
		Optimizer: nn.NewSGD(tensor.SGDParams{LR: 0.5})}); err != nil {
		log.Fatal(err)
	}
	dir, _ := os.MkdirTemp("", "offset")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")
	if err := m.SaveSafetensors(path); err != nil {
		log.Fatal(err)
	}
	back, err := nn.LoadModel(path, b)
	if err != nil {
		log.Fatal(err)
	}
	defer back.Free()
	p1, _ := m.Predict(train.Images, 4)
	p2, _ := back.Predict(train.Images, 4)
	fmt.Println("reloaded:", back)
	for i := range p1 {
		fmt.Println("sample", i, "class", p2[i].Class, "as before:", p1[i].Confidence == p2[i].Confidence)
	}
	// Output:
	// 40 gradients checked, within 1e-6: true
	// reloaded: dense(4,3) offset(3) tanh dense(3,2) offset(2)
	// sample 0 class 0 as before: true
	// sample 1 class 0 as before: true
	// sample 2 class 1 as before: true
	// sample 3 class 1 as before: true
}

// A hand-written training loop: upload each batch, forward, loss and its
// gradient, backward, optimizer step. Fit does the same (and more).
func Example_trainingLoop() {
	b := cpu.New()
	defer b.Close()
	m, _ := nn.Parse("dense(2,8) tanh dense(8,2)")
	if err := m.Build(b, tensor.Shape{2}, 3); err != nil {
		log.Fatal(err)
	}
	defer m.Free()
	opt := nn.NewSGD(tensor.SGDParams{LR: 0.5, Momentum: 0.9})
	defer opt.Close()
	loss := nn.CrossEntropyLoss()

	// XOR-like points: class 1 where exactly one coordinate is positive.
	xs := []float32{1, 1, -1, -1, 1, -1, -1, 1}
	targets := []float32{1, 0, 1, 0, 0, 1, 0, 1} // one-hot rows
	const n = 4
	x, _ := b.Alloc(m.DType(), tensor.Shape{n, 2})
	target, _ := b.Alloc(m.DType(), tensor.Shape{n, 2})
	lossT, _ := b.Alloc(m.DType(), tensor.Shape{1})
	grad, _ := b.Alloc(m.DType(), tensor.Shape{n, 2})
	for _, t := range []*tensor.Tensor{x, target, lossT, grad} {
		defer t.Free()
	}
	if err := b.Upload(x, xs); err != nil {
		log.Fatal(err)
	}
	if err := b.Upload(target, targets); err != nil {
		log.Fatal(err)
	}
	m.SetTraining(true)
	var first, last float32
	for step := range 200 {
		y, err := m.Forward(x)
		if err != nil {
			log.Fatal(err)
		}
		if err := loss.Compute(lossT, grad, y, target); err != nil {
			log.Fatal(err)
		}
		if _, err := m.Backward(grad); err != nil {
			log.Fatal(err)
		}
		if err := opt.Step(m.Params()); err != nil {
			log.Fatal(err)
		}
		v := []float32{0}
		if err := b.Download(v, lossT); err != nil {
			log.Fatal(err)
		}
		if step == 0 {
			first = v[0]
		}
		last = v[0]
	}
	m.SetTraining(false)
	preds, err := m.Predict(xs, n)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("loss fell below a tenth:", last < first/10)
	for i, p := range preds {
		fmt.Println(xs[2*i:2*i+2], "class", p.Class)
	}
	// Output:
	// loss fell below a tenth: true
	// [1 1] class 0
	// [-1 -1] class 0
	// [1 -1] class 1
	// [-1 1] class 1
}

// stripes makes n images [1 6 6] of a vertical (class 0) or horizontal
// (class 1) bar at a random place.
func stripes(n int, seed uint64) *data.Dataset {
	r := rand.New(rand.NewPCG(seed, 1))
	d := &data.Dataset{Images: make([]float32, n*36), Labels: make([]int, n)}
	for i := range n {
		c, at := i%2, 1+r.IntN(4)
		d.Labels[i] = c
		for k := range 6 {
			if c == 0 {
				d.Images[i*36+k*6+at] = 1
			} else {
				d.Images[i*36+at*6+k] = 1
			}
		}
	}
	return d
}

// Augmentation through the per-batch transform hook: random crops with
// padding and horizontal flips, drawn from the run's seed, so two runs agree.
func ExampleFitConfig_transforms() {
	b := cpu.New()
	defer b.Close()
	train, test := stripes(64, 1), stripes(32, 2)
	var final []float64
	for range 2 {
		m, _ := nn.Parse("conv(1,4,3,p1) relu maxpool(2) flatten dense(36,2)")
		if err := m.Build(b, tensor.Shape{1, 6, 6}, 5); err != nil {
			log.Fatal(err)
		}
		hist, err := m.Fit(train, nn.FitConfig{Epochs: 8, BatchSize: 16, Loss: nn.CrossEntropyLoss(),
			Optimizer: nn.NewSGD(tensor.SGDParams{LR: 0.1, Momentum: 0.9}), Shuffle: true, Seed: 7,
			Transforms: []nn.Transform{nn.RandomCrop(1), nn.HorizontalFlip(0.5)}})
		if err != nil {
			log.Fatal(err)
		}
		res, err := m.Evaluate(test, nn.CrossEntropyLoss(), 32)
		if err != nil {
			log.Fatal(err)
		}
		final = append(final, hist[len(hist)-1].Loss)
		fmt.Printf("test accuracy above 90%%: %v\n", res.Accuracy > 0.9)
		m.Free()
	}
	fmt.Println("both runs identical:", final[0] == final[1])
	// Output:
	// test accuracy above 90%: true
	// test accuracy above 90%: true
	// both runs identical: true
}

// Resume a run from its checkpoint: the resumed run ends with the same
// weights as one that was never interrupted.
func ExampleReadCheckpoint() {
	b := cpu.New()
	defer b.Close()
	dir, _ := os.MkdirTemp("", "resume")
	defer os.RemoveAll(dir)
	ckpt := filepath.Join(dir, "run.ckpt")
	train := stripes(32, 3)
	fit := func(resume *nn.TrainState, stopAfter int) map[string]nn.HostTensor {
		m, _ := nn.Parse("conv(1,2,3,p1) relu maxpool(2) flatten dense(18,2)")
		if err := m.Build(b, tensor.Shape{1, 6, 6}, 1); err != nil {
			log.Fatal(err)
		}
		defer m.Free()
		opt := nn.NewAdam(tensor.AdamParams{LR: 0.01, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
		defer opt.Close()
		hist, err := m.Fit(train, nn.FitConfig{Epochs: 4, BatchSize: 8, Loss: nn.CrossEntropyLoss(), Optimizer: opt,
			Shuffle: true, Seed: 2, Checkpoint: ckpt, Resume: resume,
			OnEpoch: func(e nn.EpochInfo) error {
				if e.Epoch == stopAfter {
					return nn.ErrStop // as if the run were killed here
				}
				return nil
			}})
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println("epochs in the history:", len(hist))
		sd, _ := m.StateDict()
		return sd
	}
	whole := fit(nil, 0)
	fit(nil, 2) // interrupted after epoch 2; the checkpoint holds epoch 2
	st, err := nn.ReadCheckpoint(ckpt)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("checkpoint after epoch", st.Epoch)
	resumed := fit(st, 0)
	same := true
	for k, v := range whole {
		a, r := v.Float64s(), resumed[k].Float64s()
		for i := range a {
			same = same && a[i] == r[i]
		}
	}
	fmt.Println("resumed weights equal the uninterrupted run's:", same)
	// Output:
	// epochs in the history: 4
	// epochs in the history: 2
	// checkpoint after epoch 2
	// epochs in the history: 4
	// resumed weights equal the uninterrupted run's: true
}
