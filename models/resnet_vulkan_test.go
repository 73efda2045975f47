//go:build !race

package models

import (
	"math"
	"testing"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/internal/testreq"
	"github.com/vkcnn/vkcnn/internal/vktest"
	"github.com/vkcnn/vkcnn/tensor"
)

// resnetParitySamples is the size of the MNIST subset of
// TestQualityResNetVulkanFirstEpoch: a full epoch of 60,000 images takes too long
// on lavapipe.
const resnetParitySamples = 512

// TestQualityResNetVulkanFirstEpoch trains the resnet preset, with its settings,
// for one epoch on the first 512 MNIST training images on the CPU and on
// Vulkan from the same seed, and checks that the epoch's mean training loss
// agrees within 1e-3 relative.
func TestQualityResNetVulkanFirstEpoch(t *testing.T) {
	p, err := Get("resnet")
	if err != nil {
		t.Fatal(err)
	}
	train, _, err := data.Load(p.Dataset, data.Options{})
	if err != nil {
		testreq.Unavailable(t, testreq.MNIST, "no %s: %v", p.Dataset, err)
	}
	n := resnetParitySamples
	sub := &data.Dataset{Images: train.Images[:n*train.ItemLen()], Labels: train.Labels[:n]}
	epoch := func(b tensor.Backend) float64 {
		m, err := p.Model()
		if err != nil {
			t.Fatal(err)
		}
		if err := m.BuildDType(b, tensor.Float32, p.Input, 1); err != nil {
			t.Fatal(err)
		}
		defer m.Free()
		cfg, err := p.TrainConfig(1)
		if err != nil {
			t.Fatal(err)
		}
		defer cfg.Optimizer.Close()
		cfg.Epochs = 1
		hist, err := Train(m, sub, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return hist[0].Loss
	}
	c := cpu.New()
	defer c.Close()
	want := epoch(c)
	got := epoch(vktest.Open(t))
	t.Logf("resnet, one epoch of %d MNIST images: mean training loss %.7g on the CPU, %.7g on Vulkan (relative difference %.2g)", n, want, got, math.Abs(got-want)/want)
	if !(math.Abs(got-want) <= 1e-3*want) {
		t.Errorf("Vulkan's first-epoch loss %.7g, the CPU's %.7g: relative difference above 1e-3", got, want)
	}
}
