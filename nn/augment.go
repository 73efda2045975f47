package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/vkcnn/vkcnn/tensor"
)

// Augmenter makes each epoch's version of the training inputs (data
// augmentation), for FitConfig.Augment.
type Augmenter interface {
	// Augment writes into dst the epoch's version of the samples in src (same
	// length; each sample laid out as the per-sample shape), drawing from
	// rng. It returns a tensor.ErrParam or ErrShape error when it cannot work
	// on samples of that shape.
	Augment(dst, src []float32, sample tensor.Shape, rng *rand.Rand) error
}

// Shift is the augmentation made by RandomShift and RandomCrop: an
// Augmenter for FitConfig.Augment (per epoch) and a Transform for
// FitConfig.Transforms (per batch).
type Shift int

// RandomShift returns an Augmenter that translates every image [C, H, W] by
// a random whole-pixel offset in [−pixels, pixels] along each axis, drawn
// anew for every image and epoch, filling the uncovered border with zeros.
// pixels must be ≥ 0 and below the height and width.
func RandomShift(pixels int) Shift { return Shift(pixels) }

// Augment shifts each image of src into dst; offsets are drawn per image,
// row offset first.
func (s Shift) Augment(dst, src []float32, in tensor.Shape, rng *rand.Rand) error {
	if s < 0 || len(in) != 3 || int(s) >= in[1] || int(s) >= in[2] {
		return fmt.Errorf("shift %d for input %v, expected ≥ 0 and fewer pixels than the height and width of images [C H W]: %w", int(s), in, tensor.ErrParam)
	}
	if len(dst) != len(src) || len(src)%in.Len() != 0 {
		return fmt.Errorf("shift: %d and %d values, expected equal multiples of %d (input %v): %w", len(dst), len(src), in.Len(), in, tensor.ErrShape)
	}
	c, h, w := in[0], in[1], in[2]
	clear(dst)
	for lo := 0; lo < len(src); lo += c * h * w {
		dy, dx := rng.IntN(2*int(s)+1)-int(s), rng.IntN(2*int(s)+1)-int(s)
		for p := lo; p < lo+c*h*w; p += h * w {
			for y := max(0, dy); y < min(h, h+dy); y++ {
				row := p + y*w
				from := p + (y-dy)*w
				copy(dst[row+max(0, dx):row+min(w, w+dx)], src[from+max(0, -dx):from+min(w, w-dx)])
			}
		}
	}
	return nil
}
