package main

import (
	"math"
	"testing"

	"github.com/vkcnn/vkcnn/cpu"
)

// TestEdgeResponses checks the four maps at pixels whose responses follow from
// the kernels by hand.
func TestEdgeResponses(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	r, err := run(b)
	if err != nil {
		t.Fatal(err)
	}
	const lap, sharp = 2, 3
	for _, c := range []struct {
		what       string
		y, x       int
		want       [4]float64 // Sobel-x, Sobel-y, Laplacian, sharpen
		wantMagnit float64
	}{
		{"flat background", 28, 28, [4]float64{0, 0, 0, 0}, 0},
		{"flat background", 2, 25, [4]float64{0, 0, 0, 0}, 0},
		{"inside the vertical band", 10, 7, [4]float64{0, 0, 0, 1}, 0},
		{"inside the horizontal band", 21, 28, [4]float64{0, 0, 0, 1}, 0},
		{"left of the vertical band", 10, 5, [4]float64{4, 0, 1, -1}, 4},
		{"first column of the vertical band", 10, 6, [4]float64{4, 0, -1, 2}, 4},
		{"last column of the vertical band", 10, 9, [4]float64{-4, 0, -1, 2}, 4},
		{"right of the vertical band", 10, 10, [4]float64{-4, 0, 1, -1}, 4},
		{"above the horizontal band", 19, 28, [4]float64{0, 4, 1, -1}, 4},
		{"below the horizontal band", 24, 28, [4]float64{0, -4, 1, -1}, 4},
		{"above-right of the diagonal", 5, 20, [4]float64{-3, 3, 2, -2}, math.Sqrt(18)},
		{"below-left of the diagonal", 8, 19, [4]float64{3, -3, 2, -2}, math.Sqrt(18)},
	} {
		for ch, w := range c.want {
			if got := r.at(ch, c.y, c.x); math.Abs(got-w) > 1e-6 {
				t.Errorf("%s (%d,%d): %s = %v, expected %v", c.what, c.y, c.x, kernelNames[ch], got, w)
			}
		}
		if got := r.magnitude[c.y*size+c.x]; math.Abs(got-c.wantMagnit) > 1e-6 {
			t.Errorf("%s (%d,%d): magnitude %v, expected %v", c.what, c.y, c.x, got, c.wantMagnit)
		}
	}
	// Flat regions give no edge anywhere; every band edge is strong.
	for y := 1; y < size-1; y++ {
		for x := 1; x < size-1; x++ {
			flat, edge := true, false
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					if bright(y+dy, x+dx) != bright(y, x) {
						flat = false
						if dy == 0 || dx == 0 {
							edge = true
						}
					}
				}
			}
			m := r.magnitude[y*size+x]
			if flat && (m != 0 || r.at(lap, y, x) != 0 || r.at(sharp, y, x) != b2f(bright(y, x))) {
				t.Errorf("flat pixel (%d,%d): magnitude %v, laplacian %v, sharpen %v", y, x, m, r.at(lap, y, x), r.at(sharp, y, x))
			}
			if edge && m < 2 {
				t.Errorf("edge pixel (%d,%d): magnitude %v, expected ≥ 2", y, x, m)
			}
		}
	}
	if p := picture(r.magnitude); len(p) != size*(size+1) {
		t.Errorf("picture has %d bytes, expected %d", len(p), size*(size+1))
	}
}

// b2f returns 1 for true, 0 for false.
func b2f(v bool) float64 {
	if v {
		return 1
	}
	return 0
}
