package data

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	_ "image/gif"  // register GIF for ReadImage
	_ "image/jpeg" // register JPEG for ReadImage
	_ "image/png"  // register PNG for ReadImage
	"io"
	"math"
	"os"

	xdraw "golang.org/x/image/draw"

	"github.com/vkcnn/vkcnn/tensor"
)

// maxPixels bounds the size of a decoded picture (64 megapixels), so that a
// hostile file header cannot exhaust memory.
const maxPixels = 1 << 26

// Polarity says whether a picture's values are inverted (v → 1−v) before it
// goes to a model, so that its background matches the training set's.
type Polarity int

const (
	// PolarityAuto inverts a picture whose border is mostly light (mean
	// above 0.5), such as a digit drawn in ink on white paper, so that it
	// matches datasets of light strokes on a dark background (MNIST,
	// Fashion-MNIST, lines). It is the zero value.
	PolarityAuto Polarity = iota
	// PolarityKeep never inverts.
	PolarityKeep
	// PolarityInvert always inverts.
	PolarityInvert
)

// ParsePolarity parses the names the vkcnn CLI's --invert flag takes: "auto"
// (PolarityAuto), "no" (PolarityKeep) and "yes" (PolarityInvert). Anything
// else is a tensor.ErrParam error.
func ParsePolarity(s string) (Polarity, error) {
	switch s {
	case "auto":
		return PolarityAuto, nil
	case "no":
		return PolarityKeep, nil
	case "yes":
		return PolarityInvert, nil
	}
	return 0, fmt.Errorf("polarity %q, expected auto, yes or no: %w", s, tensor.ErrParam)
}

// ImageOptions says how ReadImage, DecodeImage and PrepareImage turn a
// picture into a model input. The zero value gives the inputs the datasets of
// this package hold: values in [0, 1], light on dark.
type ImageOptions struct {
	// Polarity says when to invert; the default is PolarityAuto.
	Polarity Polarity
	// Normalize, when it has channels, is applied last, as during training
	// with the same normalization: (v − Mean[c]) / Std[c] per channel c.
	Normalize Normalization
}

// Normalization is a per-channel affine map of images [C, H, W]:
// v → (v − Mean[c]) / Std[c]. Mean and Std have one value per channel, or one
// value for every channel; both nil is the identity.
type Normalization struct {
	Mean, Std []float32
}

// Apply normalizes the images in x (back to back, each of shape [C, H, W])
// in place. It returns a tensor.ErrParam error for a Mean and Std of other
// lengths than 1 or C, or a Std that is not positive and finite, and a
// tensor.ErrShape error when x does not hold whole images.
func (n Normalization) Apply(x []float32, shape tensor.Shape) error {
	if n.Mean == nil && n.Std == nil {
		return nil
	}
	if len(shape) != 3 || shape.Len() <= 0 {
		return fmt.Errorf("normalize images %v, expected [C H W]: %w", shape, tensor.ErrShape)
	}
	c, plane := shape[0], shape[1]*shape[2]
	if len(n.Mean) != len(n.Std) || (len(n.Mean) != 1 && len(n.Mean) != c) {
		return fmt.Errorf("normalize: %d means and %d standard deviations, expected 1 or %d (channels of %v) each: %w",
			len(n.Mean), len(n.Std), c, shape, tensor.ErrParam)
	}
	for i, s := range n.Std {
		if !(s > 0) || math.IsInf(float64(s), 0) || math.IsNaN(float64(n.Mean[i])) || math.IsInf(float64(n.Mean[i]), 0) {
			return fmt.Errorf("normalize: channel %d mean %g std %g, expected a finite mean and a positive finite std: %w", i, n.Mean[i], s, tensor.ErrParam)
		}
	}
	if len(x)%shape.Len() != 0 {
		return fmt.Errorf("normalize: %d values, expected a multiple of %d (images %v): %w", len(x), shape.Len(), shape, tensor.ErrShape)
	}
	for lo := 0; lo < len(x); lo += plane {
		ch := (lo / plane) % c
		if len(n.Mean) == 1 {
			ch = 0
		}
		m, s := n.Mean[ch], n.Std[ch]
		for i := lo; i < lo+plane; i++ {
			x[i] = (x[i] - m) / s
		}
	}
	return nil
}

// ReadImage reads a PNG, JPEG or GIF file as one model input of the given
// per-sample shape [C, H, W] (C is 1 for gray models, 3 for colour ones):
// values in [0, 1] (gray is the luminance 0.299 R + 0.587 G + 0.114 B;
// colours are alpha-premultiplied, so transparent pixels read as black),
// inverted as opt.Polarity says, resized to H×W (Resize) and normalized by
// opt.Normalize. The result is ready for Sequential.Predict of package nn.
// It returns the file system's error, the decoder's error for a file that is
// not a supported picture, and the errors of DecodeImage.
func ReadImage(path string, shape tensor.Shape, opt ImageOptions) ([]float32, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	x, err := DecodeImage(f, shape, opt)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return x, nil
}

// DecodeImage is ReadImage for a picture read from r. It returns r's error,
// the decoder's error, a tensor.ErrShape error for a shape other than [1 H W]
// or [3 H W] or a picture above 64 megapixels (checked from the header before
// decoding), and the errors of Normalization.Apply.
func DecodeImage(r io.Reader, shape tensor.Shape, opt ImageOptions) ([]float32, error) {
	if len(shape) != 3 || (shape[0] != 1 && shape[0] != 3) {
		return nil, fmt.Errorf("picture as input %v, expected [1 H W] (gray) or [3 H W] (colour): %w", shape, tensor.ErrShape)
	}
	pix, h, w, err := decode(r, shape[0])
	if err != nil {
		return nil, err
	}
	return PrepareImage(pix, tensor.Shape{shape[0], h, w}, shape, opt)
}

// PrepareImage turns decoded pixels pix (values in [0, 1], of shape
// from = [C, h, w]) into a model input of shape to = [C, H, W]: inverted as
// opt.Polarity says (PolarityAuto looks at the mean of the border pixels of
// all channels), resized and normalized. pix is not modified. It returns a
// tensor.ErrShape error for shapes that do not fit pix or each other, and the
// errors of Normalization.Apply.
func PrepareImage(pix []float32, from, to tensor.Shape, opt ImageOptions) ([]float32, error) {
	if len(from) != 3 || len(to) != 3 || from[0] != to[0] || from.Len() != len(pix) || from.Validate() != nil || to.Validate() != nil {
		return nil, fmt.Errorf("prepare a picture of %d values as %v for input %v, expected the same channels and %v holding the values: %w",
			len(pix), from, to, from, tensor.ErrShape)
	}
	if err := checkDims("picture", from[1], from[2]); err != nil {
		return nil, err
	}
	c, h, w := from[0], from[1], from[2]
	x := make([]float32, 0, to.Len())
	inv := opt.Polarity == PolarityInvert || opt.Polarity == PolarityAuto && BorderMean(pix, from) > 0.5
	for ch := range c {
		plane := pix[ch*h*w : (ch+1)*h*w]
		if inv {
			p := make([]float32, len(plane))
			for i, v := range plane {
				p[i] = 1 - v
			}
			plane = p
		}
		if h != to[1] || w != to[2] {
			var err error
			if plane, err = Resize(plane, h, w, to[1], to[2]); err != nil {
				return nil, err
			}
		}
		x = append(x, plane...)
	}
	if err := opt.Normalize.Apply(x, to); err != nil {
		return nil, err
	}
	return x, nil
}

// BorderMean returns the mean of the outermost pixels of the image pix of
// shape [C, H, W] over all channels (0 for an empty image): above 0.5 is a
// light background, which PolarityAuto inverts.
func BorderMean(pix []float32, shape tensor.Shape) float64 {
	if len(shape) != 3 || shape.Len() != len(pix) {
		return 0
	}
	var sum float64
	n := 0
	for p := 0; p < len(pix); p += shape[1] * shape[2] {
		h, w := shape[1], shape[2]
		for y := range h {
			for x := range w {
				if y == 0 || x == 0 || y == h-1 || x == w-1 {
					sum += float64(pix[p+y*w+x])
					n++
				}
			}
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// ReadGray decodes a PNG, JPEG or GIF file into row-major gray values in
// [0, 1] (0 black, 1 white; luminance 0.299 R + 0.587 G + 0.114 B; colours
// are alpha-premultiplied, so transparent pixels read as black) and returns
// them with the height and width, at the picture's own size and polarity. It
// returns the file system's error, the decoder's error for a file that is not
// a supported picture, and a tensor.ErrShape error for a picture above 64
// megapixels, checked from the header before decoding.
func ReadGray(path string) (pix []float32, h, w int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, err
	}
	defer f.Close()
	pix, h, w, err = DecodeGray(f)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("read %s: %w", path, err)
	}
	return pix, h, w, nil
}

// DecodeGray decodes a PNG, JPEG or GIF picture from r into gray values like
// ReadGray, with the same errors except the file ones, plus r's read error.
func DecodeGray(r io.Reader) (pix []float32, h, w int, err error) {
	return decode(r, 1)
}

// decode decodes a picture into c planes (1: luminance; 3: R, G, B) of values
// in [0, 1].
func decode(r io.Reader, c int) (pix []float32, h, w int, err error) {
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, 0, 0, err
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return nil, 0, 0, fmt.Errorf("decoding the picture header (PNG, JPEG or GIF expected): %w", err)
	}
	if err := checkDims(format+" picture", cfg.Height, cfg.Width); err != nil {
		return nil, 0, 0, err
	}
	img, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return nil, 0, 0, fmt.Errorf("decoding %s: %w", format, err)
	}
	b := img.Bounds()
	h, w = b.Dy(), b.Dx()
	pix = make([]float32, c*h*w)
	for y := range h {
		for x := range w {
			px := img.At(b.Min.X+x, b.Min.Y+y)
			if c == 1 {
				g := color.Gray16Model.Convert(px).(color.Gray16)
				pix[y*w+x] = float32(g.Y) / 0xffff
				continue
			}
			cr, cg, cb, _ := px.RGBA()
			for ch, v := range [3]uint32{cr, cg, cb} {
				pix[ch*h*w+y*w+x] = float32(v) / 0xffff
			}
		}
	}
	return pix, h, w, nil
}

// Resize rescales an h×w image of values in [0, 1] to nh×nw with a
// Catmull–Rom filter (widened when shrinking, so that a large photo averages
// down instead of aliasing), for example a photo of a digit to MNIST's 28×28.
// Results are clamped to [0, 1] with 16-bit precision. It returns a
// tensor.ErrShape error for a size that is not positive or does not match
// len(pix).
func Resize(pix []float32, h, w, nh, nw int) ([]float32, error) {
	if err := checkDims("resize source", h, w); err != nil {
		return nil, err
	}
	if len(pix) != h*w {
		return nil, fmt.Errorf("resize source: %d values, expected %d for %d×%d: %w", len(pix), h*w, h, w, tensor.ErrShape)
	}
	if err := checkDims("resize target", nh, nw); err != nil {
		return nil, err
	}
	src := image.NewGray16(image.Rect(0, 0, w, h))
	for i, v := range pix {
		g := uint16(math.Round(0xffff * min(max(float64(v), 0), 1)))
		src.Pix[2*i], src.Pix[2*i+1] = uint8(g>>8), uint8(g)
	}
	dst := image.NewGray16(image.Rect(0, 0, nw, nh))
	xdraw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), xdraw.Src, nil)
	out := make([]float32, nh*nw)
	for i := range out {
		out[i] = float32(uint16(dst.Pix[2*i])<<8|uint16(dst.Pix[2*i+1])) / 0xffff
	}
	return out, nil
}

// checkDims verifies that h×w is a positive size of at most maxPixels.
func checkDims(what string, h, w int) error {
	if h < 1 || w < 1 || h > maxPixels/w {
		return fmt.Errorf("%s: size %d×%d, expected positive and at most %d pixels: %w", what, h, w, maxPixels, tensor.ErrShape)
	}
	return nil
}
