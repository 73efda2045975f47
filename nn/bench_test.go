package nn_test

import (
	"testing"

	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// BenchmarkTrainStep measures one Fit step (upload, forward, loss, backward,
// SGD, two small read-backs) of an MNIST-sized CNN at batch 64, in samples/s.
func BenchmarkTrainStep(b *testing.B) {
	const batch = 64
	d := &data.Dataset{Images: make([]float32, batch*28*28), Labels: make([]int, batch)}
	for i := range d.Images {
		d.Images[i] = float32(i%29) / 29
	}
	for i := range d.Labels {
		d.Labels[i] = i % 10
	}
	for _, tb := range backends() {
		b.Run(tb.name, func(b *testing.B) {
			be := tb.open(b)
			m, err := nn.Parse("conv(1,8,3,p1) relu maxpool(2) conv(8,16,3,p1) relu maxpool(2) flatten dense(784,10)")
			if err != nil {
				b.Fatal(err)
			}
			if err := m.BuildDType(be, tb.dt, tensor.Shape{1, 28, 28}, 1); err != nil {
				b.Fatal(err)
			}
			defer m.Free()
			opt := nn.NewSGD(tensor.SGDParams{LR: 0.01, Momentum: 0.9})
			defer opt.Close()
			cfg := nn.FitConfig{Epochs: 1, BatchSize: batch, Loss: nn.CrossEntropyLoss(), Optimizer: opt}
			if _, err := m.Fit(d, cfg); err != nil { // allocate the buffers
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, err := m.Fit(d, cfg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}
