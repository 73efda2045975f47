package viz

import (
	"fmt"
	"image"
	"image/png"
	"io"
	"math"

	"github.com/vkcnn/vkcnn/internal/atomicfile"

	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/tensor"
)

// maxPixels bounds the size of a decoded or drawn picture (64 megapixels), so
// that a hostile file header or a huge grid cannot exhaust memory.
const maxPixels = 1 << 26

// WriteGrayPNG saves an h×w image of row-major values as an 8-bit grayscale
// PNG: values at or below lo are black, at or above hi white, linear in
// between. lo == hi (for example both 0) picks the image's own minimum and
// maximum among its finite values; NaN is drawn black. It returns a
// tensor.ErrShape error when len(pix) ≠ h·w or the size is not positive, a
// tensor.ErrParam error for lo > hi or a non-finite bound, and the file
// system's error when writing fails.
func WriteGrayPNG(path string, pix []float32, h, w int, lo, hi float64) error {
	img, err := GrayImage(pix, h, w, lo, hi)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return savePNG(path, img)
}

// GrayImage converts an h×w image of row-major values to an 8-bit grayscale
// image with the scale of WriteGrayPNG. Errors are those of WriteGrayPNG
// without the file ones.
func GrayImage(pix []float32, h, w int, lo, hi float64) (*image.Gray, error) {
	if err := checkSize("gray image", len(pix), h, w); err != nil {
		return nil, err
	}
	if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) || lo > hi {
		return nil, fmt.Errorf("gray image: value range [%v, %v], expected finite lo ≤ hi (lo = hi for automatic): %w", lo, hi, tensor.ErrParam)
	}
	if lo == hi {
		lo, hi = finiteRange(pix)
	}
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i, v := range pix {
		img.Pix[i] = grayLevel(float64(v), lo, hi)
	}
	return img, nil
}

// grayLevel maps v from [lo, hi] to 0…255, clamping; NaN gives 0, and so does
// an empty range.
func grayLevel(v, lo, hi float64) uint8 {
	if !(hi > lo) || math.IsNaN(v) {
		return 0
	}
	t := (v - lo) / (hi - lo)
	return uint8(math.Round(255 * min(max(t, 0), 1)))
}

// finiteRange returns the smallest and largest finite values of pix, or 0, 0
// when there are none.
func finiteRange(pix []float32) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, v := range pix {
		if f := float64(v); !math.IsNaN(f) && !math.IsInf(f, 0) {
			lo, hi = min(lo, f), max(hi, f)
		}
	}
	if lo > hi {
		return 0, 0
	}
	return lo, hi
}

// checkDims verifies that h×w is a positive size of at most maxPixels.
func checkDims(what string, h, w int) error {
	if h < 1 || w < 1 || h > maxPixels/w {
		return fmt.Errorf("%s: size %d×%d, expected positive and at most %d pixels: %w", what, h, w, maxPixels, tensor.ErrShape)
	}
	return nil
}

// checkSize verifies that an h×w image has a sane size and n values.
func checkSize(what string, n, h, w int) error {
	if err := checkDims(what, h, w); err != nil {
		return err
	}
	if n != h*w {
		return fmt.Errorf("%s: %d values, expected %d for %d×%d: %w", what, n, h*w, h, w, tensor.ErrShape)
	}
	return nil
}

// ReadGray decodes a PNG, JPEG or GIF file into row-major gray values in
// [0, 1]; it is data.ReadGray, kept here for pictures drawn by this package.
// To turn a picture into a model input (polarity, resizing, normalization),
// use data.ReadImage.
func ReadGray(path string) (pix []float32, h, w int, err error) { return data.ReadGray(path) }

// DecodeGray decodes a picture from r like ReadGray; it is data.DecodeGray.
func DecodeGray(r io.Reader) (pix []float32, h, w int, err error) { return data.DecodeGray(r) }

// Resize rescales an h×w image of values in [0, 1] to nh×nw with a
// Catmull–Rom filter; it is data.Resize, with its errors.
func Resize(pix []float32, h, w, nh, nw int) ([]float32, error) {
	return data.Resize(pix, h, w, nh, nw)
}

// savePNG encodes img as PNG into path atomically.
func savePNG(path string, img image.Image) error {
	return atomicfile.Write(path, func(w io.Writer) error { return png.Encode(w, img) })
}
