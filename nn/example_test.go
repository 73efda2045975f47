package nn_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// Build a small CNN for 28×28 grey images, run a batch through it and
// backpropagate.
func ExampleNewSequential() {
	b := cpu.New()
	defer b.Close()
	m := nn.NewSequential(
		nn.Conv2D(1, 8, 3, nn.Pad(1)), nn.ReLU(), nn.MaxPool2D(2),
		nn.Flatten(), nn.Dense(8*14*14, 10))
	if err := m.Build(b, tensor.Shape{1, 28, 28}, 1); err != nil {
		log.Fatal(err)
	}
	defer m.Free()
	x, _ := b.Alloc(m.DType(), tensor.Shape{4, 1, 28, 28}) // a batch of 4 black images
	y, err := m.Forward(x)
	if err != nil {
		log.Fatal(err)
	}
	dx, err := m.Backward(y) // as if the loss were ½‖y‖²
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m)
	fmt.Println("output", y.Shape(), "input gradient", dx.Shape())
	for _, p := range m.Params() {
		fmt.Println(p.Name, p.Value.Shape())
	}
	// Output:
	// conv(1,8,3,p1) relu maxpool(2) flatten dense(1568,10)
	// output [4 10] input gradient [4 1 28 28]
	// 0.weight [8 1 3 3]
	// 0.bias [8]
	// 4.weight [10 1568]
	// 4.bias [10]
}

// Shape errors name the layer and the mismatch.
func ExampleSequential_Build() {
	b := cpu.New()
	defer b.Close()
	m, _ := nn.Parse("conv(1,8,3,p1) relu maxpool(2) dense(1568,10)")
	err := m.Build(b, tensor.Shape{1, 28, 28}, 1)
	fmt.Println(err)
	// Output:
	// build: layer 3 (dense): input [8 14 14], expected [1568] (a flat vector: add flatten before dense): shape mismatch
}

// Parse a one-line model spec and print it back in canonical form.
func ExampleParse() {
	m, err := nn.Parse("conv(3, 16, 3, s1, p1) relu maxpool(2, s2) conv(16,32,3x3,p1,g2,nobias) gap dense(32,10) softmax")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m)
	// Output:
	// conv(3,16,3,p1) relu maxpool(2) conv(16,32,3,p1,g2,nobias) gap dense(32,10) softmax
}

// Train a classifier of which half of a 1×4 "image" is brighter.
func ExampleSequential_Fit() {
	b := cpu.New()
	defer b.Close()
	train := &data.Dataset{}
	for i := range 64 {
		v := float32(i%8) / 8
		if i%2 == 0 {
			train.Images = append(train.Images, 1, 1-v, 0, v/2)
			train.Labels = append(train.Labels, 0)
		} else {
			train.Images = append(train.Images, v/2, 0, 1-v, 1)
			train.Labels = append(train.Labels, 1)
		}
	}
	m := nn.NewSequential(nn.Flatten(), nn.Dense(4, 8), nn.Tanh(), nn.Dense(8, 2))
	if err := m.Build(b, tensor.Shape{1, 1, 4}, 7); err != nil {
		log.Fatal(err)
	}
	defer m.Free()
	opt := nn.NewAdam(tensor.AdamParams{LR: 0.05, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
	defer opt.Close()
	hist, err := m.Fit(train, nn.FitConfig{Epochs: 20, BatchSize: 16, Loss: nn.CrossEntropyLoss(),
		Optimizer: opt, Shuffle: true, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	last := hist[len(hist)-1]
	fmt.Printf("loss fell: %v, accuracy %.0f%%\n", last.Loss < hist[0].Loss/4, 100*last.Accuracy)
	preds, err := m.Predict([]float32{1, 0.9, 0, 0, 0, 0.2, 1, 0.8}, 8)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range preds {
		fmt.Printf("class %d, confident: %v\n", p.Class, p.Confidence > 0.9)
	}
	// Output:
	// loss fell: true, accuracy 100%
	// class 0, confident: true
	// class 1, confident: true
}

// Check the gradients of a whole model against finite differences.
func ExampleGradCheck() {
	b := cpu.New()
	defer b.Close()
	m, _ := nn.Parse("conv(1,2,3,p1) tanh maxpool(2) flatten dense(8,3) softmax")
	if err := m.BuildDType(b, tensor.Float64, tensor.Shape{1, 4, 4}, 1); err != nil {
		log.Fatal(err)
	}
	defer m.Free()
	x, _ := nn.FromHost(b, tensor.Float64, nn.HostTensor{Shape: tensor.Shape{2, 1, 4, 4}, Data: randn(1, 32)})
	target, _ := nn.FromHost(b, tensor.Float64, nn.HostTensor{Shape: tensor.Shape{2, 3}, Data: []float64{1, 0, 0, 0, 0.5, 0.5}})
	res, err := nn.GradCheck(m, nn.MSELoss(), x, target)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d gradients checked, all within 1e-6: %v\n", res.Checked, res.MaxRelErr < 1e-6)
	// Output:
	// 79 gradients checked, all within 1e-6: true
}

// Save weights in PyTorch's layout and rebuild the model from the file.
func ExampleSequential_SaveSafetensors() {
	b := cpu.New()
	defer b.Close()
	dir, _ := os.MkdirTemp("", "vkcnn")
	defer os.RemoveAll(dir)
	m, _ := nn.Parse("conv(1,4,3) relu gap dense(4,2)")
	if err := m.Build(b, tensor.Shape{1, 8, 8}, 1); err != nil {
		log.Fatal(err)
	}
	defer m.Free()
	path := filepath.Join(dir, "model.safetensors")
	if err := m.SaveSafetensors(path); err != nil {
		log.Fatal(err)
	}
	tensors, meta, _ := nn.ReadSafetensors(path)
	for _, name := range []string{"0.weight", "0.bias", "3.weight", "3.bias"} {
		fmt.Println(name, tensors[name].Shape)
	}
	fmt.Println(meta[nn.MetaSpec])
	back, err := nn.LoadModel(path, b)
	if err != nil {
		log.Fatal(err)
	}
	defer back.Free()
	w, _ := back.Param("3.weight").Get()
	orig, _ := m.Param("3.weight").Get()
	fmt.Println("same weights:", w[5] == orig[5])
	// Output:
	// 0.weight [4 1 3 3]
	// 0.bias [4]
	// 3.weight [2 4]
	// 3.bias [2]
	// conv(1,4,3) relu gap dense(4,2)
	// same weights: true
}

// Write and read a NumPy array.
func ExampleSaveNpy() {
	dir, _ := os.MkdirTemp("", "vkcnn")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "a.npy")
	err := nn.SaveNpy(path, nn.HostTensor{Shape: tensor.Shape{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}})
	if err != nil {
		log.Fatal(err)
	}
	a, err := nn.LoadNpy(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(a.Shape, a.DType(), a.Data)
	// Output:
	// [2 3] float32 [1 2 3 4 5 6]
}
