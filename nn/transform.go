package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/tensor"
)

// Batch is one training batch as a Transform sees it (FitConfig.Transforms).
type Batch struct {
	// X holds the batch's inputs on the host, [N]+Sample back to back, for a
	// host transform to rewrite in place before they are uploaded; nil for a
	// DeviceTransform.
	X []float32
	// Tensor is the uploaded batch [N]+Sample on the model's backend (in its
	// dtype), for a DeviceTransform to rewrite in place with backend ops
	// before the forward pass; nil for a host transform.
	Tensor *tensor.Tensor
	// Sample is the per-sample input shape, such as [C H W].
	Sample tensor.Shape
	// Labels are the labels of the batch's samples, or nil when the dataset
	// has none. Read only.
	Labels []int
	// Rand is the run's seeded generator (FitConfig.Seed, the one that
	// shuffles; its state is saved in checkpoints), so that transforms drawn
	// from it are reproducible and resume bit-identically.
	Rand *rand.Rand
	// Epoch and Step count from 1.
	Epoch, Step int

	tmp *[]float32 // the transformer's scratch, for RandomShift's copy
}

// copyX returns a copy of b.X, in scratch memory of the batch's when it has
// some (so that a step allocates nothing).
func (b *Batch) copyX() []float32 {
	if b.tmp == nil {
		return append([]float32(nil), b.X...)
	}
	*b.tmp = append((*b.tmp)[:0], b.X...)
	return *b.tmp
}

// Transform changes every training batch before the forward pass: data
// augmentation (RandomShift, RandomCrop, HorizontalFlip) or input
// normalization (Normalize). Fit applies the transforms of
// FitConfig.Transforms in order to the training batches only, never to
// validation, Evaluate or Predict inputs. A Transform runs on the host
// (on Batch.X) unless it is a DeviceTransform.
type Transform interface {
	// Apply rewrites the batch in place, drawing any randomness from
	// b.Rand. It returns a tensor.ErrShape or tensor.ErrParam error for
	// samples it cannot work on; Fit stops with it.
	Apply(b *Batch) error
}

// DeviceTransform is a Transform that runs on the backend, on Batch.Tensor
// after the upload, so that a GPU does the work: Apply then gets a nil
// Batch.X.
type DeviceTransform interface {
	Transform
	// OnDevice reports true.
	OnDevice() bool
}

// onDevice reports whether t is a DeviceTransform that asks for the device.
func onDevice(t Transform) bool {
	d, ok := t.(DeviceTransform)
	return ok && d.OnDevice()
}

// Apply shifts each image of the host batch by its own random offset
// (RandomShift as a per-batch Transform).
func (s Shift) Apply(b *Batch) error {
	if b.X == nil {
		return fmt.Errorf("random shift: no host batch, expected Batch.X: %w", tensor.ErrParam)
	}
	return s.Augment(b.X, b.copyX(), b.Sample, b.Rand)
}

// RandomCrop returns torchvision's RandomCrop(size=(H, W), padding=padding):
// every image [C, H, W] is padded with padding zeros on each side and an
// H×W window is cut at a random position, drawn anew per image and batch.
// That is RandomShift(padding), which it returns; as a Transform it works
// per batch.
func RandomCrop(padding int) Shift { return Shift(padding) }

// flip is the Transform made by HorizontalFlip.
type flip float64

// HorizontalFlip returns a Transform that mirrors every image [C, H, W]
// left to right with probability p, drawn per image (torchvision's
// RandomHorizontalFlip(p)). Use it only where a mirrored image keeps its
// label: photos of objects, not digits or letters.
func HorizontalFlip(p float64) Transform { return flip(p) }

// Apply mirrors the images of the host batch.
func (f flip) Apply(b *Batch) error {
	p := float64(f)
	if !(p >= 0 && p <= 1) {
		return fmt.Errorf("horizontal flip probability %g, expected in [0, 1]: %w", p, tensor.ErrParam)
	}
	in := b.Sample
	if len(in) != 3 || b.X == nil || in.Len() == 0 || len(b.X)%in.Len() != 0 {
		return fmt.Errorf("horizontal flip of %d host values with samples %v, expected whole images [C H W]: %w", len(b.X), in, tensor.ErrShape)
	}
	w := in[2]
	for lo := 0; lo < len(b.X); lo += in.Len() {
		if b.Rand.Float64() >= p {
			continue
		}
		for r := lo; r < lo+in.Len(); r += w {
			row := b.X[r : r+w]
			for i, j := 0, w-1; i < j; i, j = i+1, j-1 {
				row[i], row[j] = row[j], row[i]
			}
		}
	}
	return nil
}

// normalize is the Transform made by Normalize.
type normalize struct{ mean, std []float32 }

// Normalize returns a Transform that maps every image [C, H, W] to
// (v − mean[c]) / std[c] per channel c (torchvision's Normalize); mean and
// std have one value per channel or one for all. Fit normalizes training
// batches only: give validation, test and inference inputs the same map
// (data.Normalization.Apply, data.ImageOptions.Normalize), or normalize the
// datasets once beforehand instead of using this transform.
func Normalize(mean, std []float32) Transform {
	return normalize{append([]float32(nil), mean...), append([]float32(nil), std...)}
}

// Apply normalizes the host batch.
func (n normalize) Apply(b *Batch) error {
	in := b.Sample
	if len(in) != 3 || b.X == nil || in.Len() == 0 || len(b.X)%in.Len() != 0 {
		return fmt.Errorf("normalize %d host values with samples %v, expected whole images [C H W]: %w", len(b.X), in, tensor.ErrShape)
	}
	c, plane := in[0], in[1]*in[2]
	if len(n.mean) != len(n.std) || (len(n.mean) != 1 && len(n.mean) != c) {
		return fmt.Errorf("normalize: %d means and %d standard deviations, expected 1 or %d each: %w", len(n.mean), len(n.std), c, tensor.ErrParam)
	}
	for i, s := range n.std {
		if !(s > 0) || math.IsInf(float64(s), 0) || math.IsNaN(float64(n.mean[i])) || math.IsInf(float64(n.mean[i]), 0) {
			return fmt.Errorf("normalize: channel %d mean %g std %g, expected a finite mean and a positive finite std: %w", i, n.mean[i], s, tensor.ErrParam)
		}
	}
	for lo := 0; lo < len(b.X); lo += plane {
		ch := 0
		if len(n.mean) > 1 {
			ch = (lo / plane) % c
		}
		m, s := n.mean[ch], n.std[ch]
		for i := lo; i < lo+plane; i++ {
			b.X[i] = (b.X[i] - m) / s
		}
	}
	return nil
}

// transformer applies FitConfig.Transforms to training batches.
type transformer struct {
	host, device []Transform
	ident        []int     // 0, 1, … for the gathered batch
	x            []float32 // gathered host inputs
	labels       []int
	targets      []float32
	rng          *rand.Rand
	epoch, step  int
	out          data.Dataset // hostBatch's result
	batch        Batch        // the Batch the transforms get
	tmp          []float32    // Batch.copyX's scratch
}

// hostBatch gathers samples idx of d, applies the host transforms and
// returns the batch as a dataset of len(idx) samples in order.
func (t *transformer) hostBatch(d *data.Dataset, idx []int, sample tensor.Shape, cols int) (*data.Dataset, error) {
	row := sample.Len()
	t.x = append(t.x[:0], make([]float32, len(idx)*row)...)
	if err := data.Gather(t.x, d.Images, idx, row); err != nil {
		return nil, err
	}
	t.out = data.Dataset{Images: t.x}
	out := &t.out
	if d.Labels != nil {
		t.labels = t.labels[:0]
		for _, i := range idx {
			t.labels = append(t.labels, d.Labels[i])
		}
		out.Labels = t.labels
	}
	if d.Targets != nil {
		t.targets = append(t.targets[:0], make([]float32, len(idx)*cols)...)
		if err := data.Gather(t.targets, d.Targets, idx, cols); err != nil {
			return nil, err
		}
		out.Targets = t.targets
	}
	t.batch = Batch{X: t.x, Sample: sample, Labels: out.Labels, Rand: t.rng, Epoch: t.epoch, Step: t.step, tmp: &t.tmp}
	b := &t.batch
	for _, tr := range t.host {
		if err := tr.Apply(b); err != nil {
			return nil, fmt.Errorf("transform %T: %w", tr, err)
		}
	}
	for len(t.ident) < len(idx) {
		t.ident = append(t.ident, len(t.ident))
	}
	return out, nil
}

// deviceBatch applies the device transforms to the uploaded batch x.
func (t *transformer) deviceBatch(x *tensor.Tensor, sample tensor.Shape, labels []int) error {
	t.batch = Batch{Tensor: x, Sample: sample, Labels: labels, Rand: t.rng, Epoch: t.epoch, Step: t.step}
	b := &t.batch
	for _, tr := range t.device {
		if err := tr.Apply(b); err != nil {
			return fmt.Errorf("device transform %T: %w", tr, err)
		}
	}
	return nil
}
