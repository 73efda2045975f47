package data

import (
	"fmt"
	"math/rand/v2"

	"github.com/vkcnn/vkcnn/tensor"
)

// The geometry of the lines dataset.
const (
	LinesSize  = 16  // image height and width in pixels
	LineWidth  = 3   // thickness of the line in pixels
	LinesNoise = 0.1 // standard deviation of the Gaussian pixel noise
	// LinesDefaultN is the number of images Load makes for "lines" when
	// Options.N is 0.
	LinesDefaultN = 200
	// LinesMax bounds the number of images Lines makes (1 GiB of pixels).
	LinesMax = 1 << 20
)

// The labels of the lines dataset.
const (
	Vertical   = 0 // a vertical line (constant column band)
	Horizontal = 1 // a horizontal line (constant row band)
)

// Lines returns n synthetic LinesSize×LinesSize grayscale images, each with
// one vertical or horizontal line LineWidth pixels thick running across the
// whole image at a random position, plus Gaussian noise of standard deviation
// LinesNoise, clamped to [0, 1] (line pixels are 1 and background 0 before
// the noise). Image i has label i%2 (Vertical, then Horizontal), so every
// prefix is balanced. The same seed gives the same images. It returns a
// tensor.ErrParam error when n is not in [1, LinesMax].
func Lines(n int, seed uint64) (*Dataset, error) {
	if n < 1 || n > LinesMax {
		return nil, fmt.Errorf("lines: %d images, expected 1 to %d: %w", n, LinesMax, tensor.ErrParam)
	}
	const s = LinesSize
	r := rand.New(rand.NewPCG(seed, 0x6c_69_6e_65_73)) // "lines"
	d := &Dataset{Name: "lines", Images: make([]float32, n*s*s), Labels: make([]int, n),
		Shape: tensor.Shape{1, s, s}, Classes: 2, ClassNames: []string{"vertical", "horizontal"}}
	for i := range n {
		label := i % 2
		at := r.IntN(s - LineWidth + 1)
		img := d.Image(i)
		for y := range s {
			for x := range s {
				along := x // the coordinate across a vertical line
				if label == Horizontal {
					along = y
				}
				v := LinesNoise * r.NormFloat64()
				if along >= at && along < at+LineWidth {
					v++
				}
				img[y*s+x] = float32(min(max(v, 0), 1))
			}
		}
		d.Labels[i] = label
	}
	return d, nil
}
