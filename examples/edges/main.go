// Command edges runs classic edge-detection kernels as one convolution layer.
// A 32×32 synthetic image holds a vertical band (columns 6–9), a horizontal
// band (rows 20–23) and a diagonal stripe (the pixels with 12 ≤ x − y ≤ 14),
// bright (1) on a dark (0) background. A 1→4 Conv2D with padding 1 and no bias
// holds four fixed 3×3 kernels — Sobel-x, Sobel-y, Laplacian and sharpen —
// and the program prints the edge magnitude √(Gx² + Gy²) from the two Sobel
// maps as a character picture.
//
// Usage: go run ./examples/edges
package main

import (
	"fmt"
	"log"
	"math"
	"strings"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

const size = 32 // image height and width

// kernels are applied as cross-correlations (no flip), as Conv2D does:
// Sobel-x is positive where brightness grows to the right, Sobel-y where it
// grows downwards.
var kernels = [4][9]float64{
	{-1, 0, 1, -2, 0, 2, -1, 0, 1},  // Sobel-x
	{-1, -2, -1, 0, 0, 0, 1, 2, 1},  // Sobel-y
	{0, 1, 0, 1, -4, 1, 0, 1, 0},    // Laplacian
	{0, -1, 0, -1, 5, -1, 0, -1, 0}, // sharpen
}

// kernelNames name the output channels.
var kernelNames = [4]string{"sobel-x", "sobel-y", "laplacian", "sharpen"}

// bright reports whether pixel (y, x) of the synthetic image is lit.
func bright(y, x int) bool {
	return (x >= 6 && x <= 9) || (y >= 20 && y <= 23) || (x-y >= 12 && x-y <= 14)
}

// image returns the synthetic image, row-major.
func image() []float32 {
	img := make([]float32, size*size)
	for y := range size {
		for x := range size {
			if bright(y, x) {
				img[y*size+x] = 1
			}
		}
	}
	return img
}

// result holds the four response maps and the edge magnitude, row-major.
type result struct {
	maps      [4][]float64
	magnitude []float64
}

// at returns channel c at pixel (y, x).
func (r *result) at(c, y, x int) float64 { return r.maps[c][y*size+x] }

// run filters the image on b.
func run(b tensor.Backend) (*result, error) {
	m := nn.NewSequential(nn.Conv2D(1, 4, 3, nn.Pad(1), nn.NoBias()))
	if err := m.Build(b, tensor.Shape{1, size, size}, 0); err != nil {
		return nil, err
	}
	defer m.Free()
	w := make([]float64, 0, 36)
	for _, k := range kernels {
		w = append(w, k[:]...)
	}
	if err := m.Param("0.weight").Set(w); err != nil {
		return nil, err
	}
	x, err := nn.FromHost(b, m.DType(), nn.HostTensor{Shape: tensor.Shape{1, 1, size, size}, Data: image()})
	if err != nil {
		return nil, err
	}
	defer x.Free()
	y, err := m.Forward(x)
	if err != nil {
		return nil, err
	}
	h, err := nn.ToHost(y)
	if err != nil {
		return nil, err
	}
	all := h.Float64s()
	r := &result{magnitude: make([]float64, size*size)}
	for c := range r.maps {
		r.maps[c] = all[c*size*size : (c+1)*size*size]
	}
	for i := range r.magnitude {
		r.magnitude[i] = math.Hypot(r.maps[0][i], r.maps[1][i])
	}
	return r, nil
}

// picture draws a map as characters, darkest to brightest " .:-=+*#%@",
// scaled to the map's maximum.
func picture(v []float64) string {
	const ramp = " .:-=+*#%@"
	hi := 0.0
	for _, x := range v {
		hi = max(hi, x)
	}
	var sb strings.Builder
	for y := range size {
		for x := range size {
			i := 0
			if hi > 0 {
				i = int(math.Round(v[y*size+x] / hi * float64(len(ramp)-1)))
			}
			sb.WriteByte(ramp[max(i, 0)])
		}
		sb.WriteByte('\n')
	}
	return sb.String()
}

func main() {
	b := cpu.New()
	defer b.Close()
	r, err := run(b)
	if err != nil {
		log.Fatal(err)
	}
	img := make([]float64, size*size)
	for i, v := range image() {
		img[i] = float64(v)
	}
	fmt.Print("image:\n", picture(img), "\nedge magnitude √(Gx²+Gy²):\n", picture(r.magnitude))
	for c, name := range kernelNames {
		fmt.Printf("%-9s left edge of the vertical band (10,5): %5.1f   top edge of the horizontal band (19,28): %5.1f\n",
			name, r.at(c, 10, 5), r.at(c, 19, 28))
	}
}
