package data

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// encodePNG encodes an RGB picture whose pixel (x, y) is f(x, y).
func encodePNG(t *testing.T, w, h int, f func(x, y int) color.Color) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, f(x, y))
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDecodeImagePolarity(t *testing.T) {
	// A black vertical bar on white: auto inverts it to white on black.
	raw := encodePNG(t, 8, 8, func(x, _ int) color.Color {
		if x == 3 || x == 4 {
			return color.Black
		}
		return color.White
	})
	for _, c := range []struct {
		pol        Polarity
		bar, paper float32
	}{{PolarityAuto, 1, 0}, {PolarityInvert, 1, 0}, {PolarityKeep, 0, 1}} {
		x, err := DecodeImage(bytes.NewReader(raw), tensor.Shape{1, 8, 8}, ImageOptions{Polarity: c.pol})
		if err != nil {
			t.Fatal(err)
		}
		if x[3] != c.bar || x[0] != c.paper {
			t.Errorf("polarity %d: bar %g paper %g, want %g %g", c.pol, x[3], x[0], c.bar, c.paper)
		}
	}
	// White on black stays as it is under auto.
	x, err := PrepareImage([]float32{0, 0, 0, 0, 1, 0, 0, 0, 0}, tensor.Shape{1, 3, 3}, tensor.Shape{1, 3, 3}, ImageOptions{})
	if err != nil || x[4] != 1 || x[0] != 0 {
		t.Errorf("auto on a dark picture: %v %v", x, err)
	}
	// Resized and normalized.
	x, err = DecodeImage(bytes.NewReader(raw), tensor.Shape{1, 4, 4}, ImageOptions{Normalize: Normalization{Mean: []float32{0.5}, Std: []float32{0.5}}})
	if err != nil || len(x) != 16 {
		t.Fatalf("resize: %v %v", x, err)
	}
	if x[0] != -1 || x[1] < 0 || x[1] != x[2] {
		t.Errorf("resized normalized row %v, want -1 at the border and a bright bar", x[:4])
	}
	for _, s := range []string{"auto", "yes", "no"} {
		if _, err := ParsePolarity(s); err != nil {
			t.Error(err)
		}
	}
	if _, err := ParsePolarity("maybe"); !errors.Is(err, tensor.ErrParam) {
		t.Errorf("ParsePolarity(maybe): %v", err)
	}
}

func TestDecodeImageRGB(t *testing.T) {
	raw := encodePNG(t, 2, 2, func(x, y int) color.Color { return color.RGBA{R: 255, G: uint8(255 * x), B: 0, A: 255} })
	x, err := DecodeImage(bytes.NewReader(raw), tensor.Shape{3, 2, 2}, ImageOptions{Polarity: PolarityKeep})
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1, 1, 1, 1, 0, 1, 0, 1, 0, 0, 0, 0} // R plane, G plane, B plane
	for i := range want {
		if x[i] != want[i] {
			t.Fatalf("RGB planes %v, want %v", x, want)
		}
	}
	g, err := DecodeImage(bytes.NewReader(raw), tensor.Shape{1, 2, 2}, ImageOptions{Polarity: PolarityKeep})
	if err != nil || math.Abs(float64(g[0])-0.299) > 0.01 || math.Abs(float64(g[1])-0.886) > 0.01 {
		t.Errorf("luminance %v (%v), want 0.299 and 0.886", g, err)
	}
}

func TestDecodeImageErrors(t *testing.T) {
	raw := encodePNG(t, 2, 2, func(int, int) color.Color { return color.White })
	for _, shape := range []tensor.Shape{{2, 2, 2}, {4, 4}, {1, 0, 4}} {
		if _, err := DecodeImage(bytes.NewReader(raw), shape, ImageOptions{}); !errors.Is(err, tensor.ErrShape) {
			t.Errorf("shape %v: %v, want ErrShape", shape, err)
		}
	}
	if _, err := DecodeImage(bytes.NewReader([]byte("not a picture")), tensor.Shape{1, 2, 2}, ImageOptions{}); err == nil {
		t.Error("garbage decoded")
	}
	for _, n := range []Normalization{{Mean: []float32{0}}, {Mean: []float32{0, 0}, Std: []float32{1, 1}}, {Mean: []float32{0}, Std: []float32{0}}} {
		if _, err := DecodeImage(bytes.NewReader(raw), tensor.Shape{1, 2, 2}, ImageOptions{Normalize: n}); !errors.Is(err, tensor.ErrParam) {
			t.Errorf("normalization %+v: %v, want ErrParam", n, err)
		}
	}
	if _, err := ReadImage("/nonexistent/x.png", tensor.Shape{1, 2, 2}, ImageOptions{}); err == nil {
		t.Error("missing file read")
	}
}
