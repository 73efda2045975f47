package models_test

import (
	"math/rand/v2"
	"testing"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/models"
	"github.com/vkcnn/vkcnn/nn"
)

// BenchmarkTrainStep measures one full training step (nn.Sequential.Fit over
// one batch of random images: upload, forward, loss, backward, the preset's
// optimizer update, read-backs) of each preset on the CPU backend at batch
// 128, in images per second of wall time and per second of the process's
// CPU time (images/cpu-s, the figure that other jobs on a shared machine
// distort least). Run one preset with -bench 'TrainStep/resnet'; profile
// with -cpuprofile.
func BenchmarkTrainStep(b *testing.B) {
	const batch = 128
	for _, p := range models.All() {
		b.Run(p.Name, func(b *testing.B) {
			be := cpu.New()
			m, err := p.Model()
			if err != nil {
				b.Fatal(err)
			}
			if err := m.Build(be, p.Input, 1); err != nil {
				b.Fatal(err)
			}
			defer m.Free()
			loss, err := p.NewLoss()
			if err != nil {
				b.Fatal(err)
			}
			opt, err := p.NewOptimizer()
			if err != nil {
				b.Fatal(err)
			}
			defer opt.Close()
			r := rand.New(rand.NewPCG(3, 4))
			classes := max(m.OutShape().Len(), 2)
			d := &data.Dataset{Images: make([]float32, batch*p.Input.Len()), Labels: make([]int, batch)}
			for i := range d.Images {
				d.Images[i] = r.Float32()
			}
			for i := range d.Labels {
				d.Labels[i] = r.IntN(classes)
			}
			cfg := nn.FitConfig{Epochs: 1, BatchSize: batch, Loss: loss, Optimizer: opt}
			if _, err := m.Fit(d, cfg); err != nil { // allocate the buffers
				b.Fatal(err)
			}
			b.ResetTimer()
			cpu := processCPU()
			for range b.N {
				if _, err := m.Fit(d, cfg); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
			if cpu := processCPU() - cpu; cpu > 0 {
				b.ReportMetric(float64(b.N*batch)/cpu, "images/cpu-s")
			}
		})
	}
}
