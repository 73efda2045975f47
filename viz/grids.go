package viz

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot/palette/moreland"

	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// divergingColors is the blue–white–red map of FilterGrid: 255 colours, from
// blue at index 0 (−m) through a light neutral at 127 (0) to red at 254 (+m).
var divergingColors = func() []color.Color {
	m := moreland.SmoothBlueRed()
	m.SetMin(-1)
	m.SetMax(1)
	return m.Palette(255).Colors()
}()

// divergingPaint colours v/m on divergingColors; m ≤ 0 or NaN gives the
// neutral middle colour.
func divergingPaint(v, m float64) color.Color {
	t := v / m
	if !(m > 0) || math.IsNaN(t) {
		t = 0
	}
	t = min(max(t, -1), 1)
	return divergingColors[int(math.Round((t+1)*127))]
}

// FilterGrid draws convolution kernels as a grid of tiles, one per filter and
// input channel, and writes it to path as PNG. weights holds the kernels in
// the layout [K, C, KH, KW] given by shape (a rank-3 shape means C = 1). Each
// filter k is scaled symmetrically around zero by its own m = max |w| over its
// C·KH·KW weights: −m is blue, 0 a light neutral, +m red; the caption gives
// "#k ±m" and a colour bar shows the scale. With one input channel the tiles
// form a near-square grid; with several, each row is one filter. It returns a
// tensor.ErrShape error when shape is not rank 3 or 4, has a dimension below
// 1 or does not match len(weights), and the file system's error when writing
// fails.
func FilterGrid(path, title string, weights []float32, shape []int) error {
	g, err := filterGrid(title, weights, shape)
	if err != nil {
		return fmt.Errorf("filter grid %s: %w", path, err)
	}
	return g.save(path)
}

func filterGrid(title string, weights []float32, shape []int) (*grid, error) {
	if len(shape) != 3 && len(shape) != 4 {
		return nil, fmt.Errorf("shape %v, expected [K C KH KW] or [K KH KW]: %w", shape, tensor.ErrShape)
	}
	count, kh, kw, err := planes("weights", len(weights), shape)
	if err != nil {
		return nil, err
	}
	k := shape[0]
	c := count / k
	g := &grid{title: title, note: "each filter scaled to its own ±m, m = max |w|",
		bar: &colorBar{colors: divergingColors, labels: [3]string{"−m", "0", "+m"}, heading: "weight"}}
	if c > 1 {
		g.cols = c
	}
	cols := g.cols
	if cols == 0 {
		cols = int(math.Ceil(math.Sqrt(float64(count))))
	}
	zoom := zoomFor(max(kh, kw), tileTarget(cols))
	size := c * kh * kw
	for f := range k {
		filter := weights[f*size : (f+1)*size]
		m := 0.0
		for _, v := range filter {
			if a := math.Abs(float64(v)); !math.IsInf(a, 0) && a > m {
				m = a
			}
		}
		for ch := range c {
			plane := filter[ch*kh*kw : (ch+1)*kh*kw]
			caption := fmt.Sprintf("#%d ±%s", f, fmtNum(m))
			if c > 1 {
				caption = fmt.Sprintf("#%d.%d ±%s", f, ch, fmtNum(m))
			}
			g.tiles = append(g.tiles, tile{
				img:     zoomTile(kh, kw, zoom, func(i int) color.Color { return divergingPaint(float64(plane[i]), m) }),
				caption: caption,
			})
		}
	}
	return g, nil
}

// FeatureMaps draws the activations of one input as a grid of grayscale
// tiles and writes it to path as PNG. maps holds the planes of shape (the last
// two axes are height and width, the others are flattened into planes, so
// [1, C, H, W] gives C tiles). Each map is scaled from its own minimum (black)
// to its maximum (white), shown in its caption as "#c lo…hi". When input is
// not nil, its planes (shape inShape, same rules) are drawn first, captioned
// "input". Tiles keep their relative sizes. It returns a tensor.ErrShape
// error when a shape does not match its data or has a dimension below 1, and
// the file system's error when writing fails.
func FeatureMaps(path, title string, input []float32, inShape []int, maps []float32, shape []int) error {
	g, err := featureMaps(title, input, inShape, maps, shape)
	if err != nil {
		return fmt.Errorf("feature maps %s: %w", path, err)
	}
	return g.save(path)
}

func featureMaps(title string, input []float32, inShape []int, maps []float32, shape []int) (*grid, error) {
	n, h, w, err := planes("maps", len(maps), shape)
	if err != nil {
		return nil, err
	}
	var inN, inH, inW int
	if input != nil {
		if inN, inH, inW, err = planes("input", len(input), inShape); err != nil {
			return nil, err
		}
	}
	g := &grid{title: title, note: "each map scaled from its minimum (black) to its maximum (white)",
		bar: &colorBar{colors: grayRamp(), labels: [3]string{"min", "", "max"}, heading: "activation"}}
	cols := int(math.Ceil(math.Sqrt(float64(n + inN))))
	zoom := zoomFor(max(h, w, inH, inW), tileTarget(cols))
	add := func(pix []float32, h, w int, caption string) {
		lo, hi := finiteRange(pix)
		g.tiles = append(g.tiles, tile{img: zoomTile(h, w, zoom, grayPaint(pix, lo, hi)),
			caption: caption + " " + fmtNum(lo) + "…" + fmtNum(hi)})
	}
	for i := range inN {
		caption := "input"
		if inN > 1 {
			caption += " " + strconv.Itoa(i)
		}
		add(input[i*inH*inW:(i+1)*inH*inW], inH, inW, caption)
	}
	for i := range n {
		add(maps[i*h*w:(i+1)*h*w], h, w, "#"+strconv.Itoa(i))
	}
	return g, nil
}

// misclassified is the frame and caption colour of wrong predictions.
var misclassified = color.RGBA{0xd0, 0x10, 0x10, 0xff}

// PredictionGrid draws images with the model's predictions and writes the
// grid to path as PNG. preds are the model's answers (nn.Sequential.Predict;
// only Class and Confidence are used) and labels the true classes, one per
// image (−1 where unknown), or nil when none are known. images holds
// len(preds) single-channel images in the
// layout given by shape ([N, 1, H, W], [N, H, W] or any shape whose leading
// axes multiply to N); each is scaled from its own minimum (black) to its
// maximum (white). The caption reads "predicted (confidence %)" using
// classNames when not nil (else the class number); a wrong prediction is
// framed and captioned in red with " true <label>" added. It returns a
// tensor.ErrShape error when the shape does not match the data or does not
// hold one image per prediction or labels of another length, a
// tensor.ErrParam error for a confidence
// outside [0, 1], and the file system's error when writing fails.
func PredictionGrid(path, title string, images []float32, shape []int, preds []nn.Prediction, labels []int, classNames []string) error {
	g, err := predictionGrid(title, images, shape, preds, labels, classNames)
	if err != nil {
		return fmt.Errorf("prediction grid %s: %w", path, err)
	}
	return g.save(path)
}

func predictionGrid(title string, images []float32, shape []int, preds []nn.Prediction, labels []int, classNames []string) (*grid, error) {
	n, h, w, err := planes("images", len(images), shape)
	if err != nil {
		return nil, err
	}
	if n != len(preds) {
		return nil, fmt.Errorf("%d images of %d×%d, expected one per prediction (%d): %w", n, h, w, len(preds), tensor.ErrShape)
	}
	if labels != nil && len(labels) != n {
		return nil, fmt.Errorf("%d labels for %d predictions, expected one per prediction or none: %w", len(labels), n, tensor.ErrShape)
	}
	name := func(c int) string {
		if c >= 0 && c < len(classNames) {
			return classNames[c]
		}
		return strconv.Itoa(c)
	}
	wrong := 0
	g := &grid{title: title}
	cols := int(math.Ceil(math.Sqrt(float64(n))))
	zoom := zoomFor(max(h, w), min(tileTarget(cols), 84))
	for i, p := range preds {
		if !(p.Confidence >= 0 && p.Confidence <= 1) {
			return nil, fmt.Errorf("confidence %v of image %d, expected in [0, 1]: %w", p.Confidence, i, tensor.ErrParam)
		}
		pix := images[i*h*w : (i+1)*h*w]
		lo, hi := finiteRange(pix)
		t := tile{img: zoomTile(h, w, zoom, grayPaint(pix, lo, hi)),
			caption: fmt.Sprintf("%s (%.0f%%)", name(p.Class), 100*p.Confidence)}
		if labels != nil && labels[i] >= 0 && labels[i] != p.Class {
			wrong++
			t.caption += " true " + name(labels[i])
			t.ink, t.frame = misclassified, misclassified
		}
		g.tiles = append(g.tiles, t)
	}
	g.note = fmt.Sprintf("predicted class (confidence); %d of %d wrong, framed in red with the true class", wrong, n)
	return g, nil
}
