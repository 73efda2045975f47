package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

func TestMaxPool(t *testing.T) { both(t, testMaxPool[float32], testMaxPool[float64]) }

func testMaxPool[T scalar](t *testing.T) {
	b := New()
	p := tensor.Pool2DParams{Window: [2]int{2, 2}, Stride: [2]int{2, 2}}
	// Two 2×2 windows over a 2×4 plane: the left one has a tie (3 at
	// positions 1 and 4), the right one its maximum last.
	x := put[T](t, b, tensor.Shape{1, 1, 2, 4}, 1, 3, -5, -6, 3, 2, -7, -1)
	y := put[T](t, b, tensor.Shape{1, 1, 1, 2})
	must(t, b.MaxPool2D(y, x, p))
	near(t, "forward", get[T](t, b, y), []float64{3, -1}, 0)

	dy := put[T](t, b, tensor.Shape{1, 1, 1, 2}, 10, 20)
	dx := put[T](t, b, tensor.Shape{1, 1, 2, 4})
	must(t, b.Fill(dx, 5))
	must(t, b.MaxPool2DBackward(dx, dy, x, p))
	// The tie goes to the first maximum in row-major order: position 1.
	near(t, "backward", get[T](t, b, dx), []float64{0, 10, 0, 0, 0, 0, 0, 20}, 0)

	// Overlapping 2×2 windows with stride 1 and padding 1 on an all-negative
	// plane: padding never wins, and gradients add where windows share a max.
	p = tensor.Pool2DParams{Window: [2]int{2, 2}, Stride: [2]int{1, 1}, Pad: [2]int{1, 1}}
	x = put[T](t, b, tensor.Shape{1, 1, 2, 2}, -4, -3, -2, -1)
	y = put[T](t, b, tensor.Shape{1, 1, 3, 3})
	must(t, b.MaxPool2D(y, x, p))
	near(t, "padded forward", get[T](t, b, y), []float64{-4, -3, -3, -2, -1, -1, -2, -1, -1}, 0)
	dy = put[T](t, b, tensor.Shape{1, 1, 3, 3}, 1, 1, 1, 1, 1, 1, 1, 1, 1)
	dx = put[T](t, b, tensor.Shape{1, 1, 2, 2})
	must(t, b.MaxPool2DBackward(dx, dy, x, p))
	near(t, "padded backward", get[T](t, b, dx), []float64{1, 2, 2, 4}, 0)
}

func TestAvgPool(t *testing.T) { both(t, testAvgPool[float32], testAvgPool[float64]) }

func testAvgPool[T scalar](t *testing.T) {
	b := New()
	// Window 2, stride 2, padding 1 on a 2×2 plane: each window holds one
	// input element and three padding positions.
	x := put[T](t, b, tensor.Shape{1, 1, 2, 2}, 1, 2, 3, 4)
	y := put[T](t, b, tensor.Shape{1, 1, 2, 2})
	dy := put[T](t, b, tensor.Shape{1, 1, 2, 2}, 4, 8, 12, 16)
	dx := put[T](t, b, tensor.Shape{1, 1, 2, 2})
	p := tensor.Pool2DParams{Window: [2]int{2, 2}, Stride: [2]int{2, 2}, Pad: [2]int{1, 1}}
	must(t, b.AvgPool2D(y, x, p))
	near(t, "padding counted", get[T](t, b, y), []float64{0.25, 0.5, 0.75, 1}, 0)
	must(t, b.AvgPool2DBackward(dx, dy, p))
	near(t, "padding counted backward", get[T](t, b, dx), []float64{1, 2, 3, 4}, 0)
	p.ExcludePad = true
	must(t, b.AvgPool2D(y, x, p))
	near(t, "padding excluded", get[T](t, b, y), []float64{1, 2, 3, 4}, 0)
	must(t, b.AvgPool2DBackward(dx, dy, p))
	near(t, "padding excluded backward", get[T](t, b, dx), []float64{4, 8, 12, 16}, 0)

	// Overlapping 2×2 windows with stride 1 on a 3×3 plane.
	x = put[T](t, b, tensor.Shape{1, 1, 3, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	y = put[T](t, b, tensor.Shape{1, 1, 2, 2})
	p = tensor.Pool2DParams{Window: [2]int{2, 2}, Stride: [2]int{1, 1}}
	must(t, b.AvgPool2D(y, x, p))
	near(t, "overlapping", get[T](t, b, y), []float64{3, 4, 6, 7}, tol[T]())
	dy = put[T](t, b, tensor.Shape{1, 1, 2, 2}, 4, 4, 4, 4)
	dx = put[T](t, b, tensor.Shape{1, 1, 3, 3})
	must(t, b.AvgPool2DBackward(dx, dy, p))
	near(t, "overlapping backward", get[T](t, b, dx), []float64{1, 2, 1, 2, 4, 2, 1, 2, 1}, 0)
}

func TestGlobalAvgPool(t *testing.T) {
	both(t, testGlobalAvgPool[float32], testGlobalAvgPool[float64])
}

func testGlobalAvgPool[T scalar](t *testing.T) {
	b := New()
	x := put[T](t, b, tensor.Shape{2, 1, 2, 2}, 1, 2, 3, 4, -1, -1, -1, 7)
	y := put[T](t, b, tensor.Shape{2, 1, 1, 1})
	must(t, b.GlobalAvgPool2D(y, x))
	near(t, "forward", get[T](t, b, y), []float64{2.5, 1}, 0)
	dy := put[T](t, b, tensor.Shape{2, 1}, 4, -8)
	must(t, b.GlobalAvgPool2DBackward(x, dy))
	near(t, "backward", get[T](t, b, x), []float64{1, 1, 1, 1, -2, -2, -2, -2}, 0)
}

// naivePool computes max pooling (with argmax routing of dy) and average
// pooling window by window, straight from the definitions.
func naivePool(g tensor.PoolGeom, x, dy []float64) (maxY, maxDX, avgY, avgDX []float64) {
	maxY, avgY = make([]float64, len(dy)), make([]float64, len(dy))
	maxDX, avgDX = make([]float64, len(x)), make([]float64, len(x))
	for pl := 0; pl < g.N*g.C; pl++ {
		for oh := 0; oh < g.OH; oh++ {
			for ow := 0; ow < g.OW; ow++ {
				yi := (pl*g.OH+oh)*g.OW + ow
				best, sum, count := -1, 0.0, 0
				var inside []int
				for i := 0; i < g.Window[0]; i++ {
					for j := 0; j < g.Window[1]; j++ {
						h, w := oh*g.Stride[0]-g.Pad[0]+i, ow*g.Stride[1]-g.Pad[1]+j
						if h < 0 || h >= g.H || w < 0 || w >= g.W {
							continue
						}
						xi := (pl*g.H+h)*g.W + w
						if best < 0 || x[xi] > x[best] {
							best = xi
						}
						sum += x[xi]
						count++
						inside = append(inside, xi)
					}
				}
				div := float64(g.Window[0] * g.Window[1])
				if g.ExcludePad {
					div = float64(count)
				}
				maxY[yi], avgY[yi] = x[best], sum/div
				maxDX[best] += dy[yi]
				for _, xi := range inside {
					avgDX[xi] += dy[yi] / div
				}
			}
		}
	}
	return maxY, maxDX, avgY, avgDX
}

// Pooling against naivePool on window, stride and padding combinations, with
// small integer inputs so that max-pool ties are common.
func TestPoolReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	cases := []struct{ n, c, h, w, kh, kw, sh, sw, ph, pw int }{
		{2, 3, 8, 8, 2, 2, 2, 2, 0, 0},
		{1, 2, 7, 9, 2, 2, 2, 2, 0, 0}, // odd sizes: a last row and column in no window
		{1, 2, 7, 9, 3, 3, 2, 2, 1, 1},
		{2, 1, 5, 6, 3, 2, 1, 1, 1, 1},
		{1, 3, 9, 7, 2, 3, 3, 1, 1, 0},
		{3, 2, 4, 4, 4, 4, 1, 1, 2, 2},
		{1, 1, 6, 5, 1, 1, 2, 3, 0, 0},
	}
	for ci, c := range cases {
		for _, exclude := range []bool{false, true} {
			p := tensor.Pool2DParams{Window: [2]int{c.kh, c.kw}, Stride: [2]int{c.sh, c.sw}, Pad: [2]int{c.ph, c.pw}, ExcludePad: exclude}
			g, err := tensor.PoolGeometry(tensor.Shape{c.n, c.c, c.h, c.w}, p)
			must(t, err)
			xv := make([]float64, g.XShape().Len())
			for i := range xv {
				xv[i] = float64(r.IntN(4) - 2)
			}
			dyv := randVals(r, g.YShape().Len())
			maxY, maxDX, avgY, avgDX := naivePool(g, xv, dyv)
			b := New(Threads(2))
			x, dy := put[float64](t, b, g.XShape(), xv...), put[float64](t, b, g.YShape(), dyv...)
			y, dx := put[float64](t, b, g.YShape()), put[float64](t, b, g.XShape())
			name := fmt.Sprintf("case %d exclude %v", ci, exclude)
			must(t, b.MaxPool2D(y, x, p))
			near(t, name+" max", get[float64](t, b, y), maxY, 0)
			must(t, b.MaxPool2DBackward(dx, dy, x, p))
			near(t, name+" max backward", get[float64](t, b, dx), maxDX, 1e-14)
			must(t, b.AvgPool2D(y, x, p))
			near(t, name+" avg", get[float64](t, b, y), avgY, 1e-14)
			must(t, b.AvgPool2DBackward(dx, dy, p))
			near(t, name+" avg backward", get[float64](t, b, dx), avgDX, 1e-14)
		}
	}
}

// A NaN wins the window in both directions; the first NaN takes the
// gradient, and an infinite gradient goes to one element only. Each window
// position is tried, on the 2×2 stride-2 loops and on the general ones
// (stride 1 over a 2×3 plane: the same first window, and a second).
func TestMaxPoolNaN(t *testing.T) {
	b := New()
	nan, inf := math.NaN(), math.Inf(1)
	for _, stride := range []int{2, 1} {
		p := tensor.Pool2DParams{Window: [2]int{2, 2}, Stride: [2]int{stride, stride}}
		for first := range 4 {
			// The window (columns 0 and 1) holds NaN at first and at 3.
			win := []float64{1, 2, 5, 4}
			win[first], win[3] = nan, nan
			xv := []float64{win[0], win[1], 0, win[2], win[3], 0}
			x := put[float32](t, b, tensor.Shape{1, 1, 2, 3}, xv...)
			ow := (3-2)/stride + 1
			y := put[float32](t, b, tensor.Shape{1, 1, 1, ow})
			must(t, b.MaxPool2D(y, x, p))
			if v := get[float32](t, b, y)[0]; !math.IsNaN(v) {
				t.Errorf("stride %d: max of a window with NaN is %v, want NaN", stride, v)
			}
			dyv := make([]float64, ow)
			dyv[0] = inf
			dy := put[float32](t, b, tensor.Shape{1, 1, 1, ow}, dyv...)
			dx := put[float32](t, b, tensor.Shape{1, 1, 2, 3})
			must(t, b.MaxPool2DBackward(dx, dy, x, p))
			want := make([]float64, 6)
			want[[]int{0, 1, 3, 4}[first]] = inf
			if got := get[float32](t, b, dx); !slices.Equal(got, want) {
				t.Errorf("stride %d, NaN at %d and 3: backward gives %v, want %v", stride, first, got, want)
			}
		}
	}
}
