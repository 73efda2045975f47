package cpu

import (
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// TestConvNoAllocs checks that, once their pools and caches are warm, the
// convolutions and MatMul allocate nothing: every input-gradient method,
// strided, padded, pointwise, grouped and biased shapes, one thread and
// several, in both dtypes. (Their scratch memory, job state and parallel
// loops come from pools; see parallel.go, scratch.go and conv.go.) The
// average over 100 calls is taken, rounded down: internal/par starts its
// helper goroutines, up to a fixed number in the life of the process, when
// a loop finds none idle, which a loaded machine or qemu can delay past the
// first calls.
func TestConvNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops items at random")
	}
	type convCase struct {
		name       string
		x, w       tensor.Shape
		p          tensor.Conv2DParams
		bias       bool
		inputGrads []int
	}
	one := [2]int{1, 1}
	cases := []convCase{
		{"3x3p1", tensor.Shape{4, 8, 14, 14}, tensor.Shape{16, 8, 3, 3}, tensor.Conv2DParams{Stride: one, Pad: one, Dilation: one, Groups: 1}, true, []int{igForward, igCol2im}},
		{"3x3s2p1", tensor.Shape{4, 8, 15, 15}, tensor.Shape{8, 8, 3, 3}, tensor.Conv2DParams{Stride: [2]int{2, 2}, Pad: one, Dilation: one, Groups: 1}, false, []int{igAuto}},
		{"5x5s3", tensor.Shape{2, 3, 17, 17}, tensor.Shape{4, 3, 5, 5}, tensor.Conv2DParams{Stride: [2]int{3, 3}, Dilation: one, Groups: 1}, true, []int{igAuto}},
		{"1x1", tensor.Shape{4, 16, 7, 7}, tensor.Shape{8, 16, 1, 1}, tensor.Conv2DParams{Stride: one, Dilation: one, Groups: 1}, true, []int{igAuto}},
		{"grouped", tensor.Shape{2, 8, 9, 9}, tensor.Shape{8, 2, 3, 3}, tensor.Conv2DParams{Stride: one, Pad: one, Dilation: [2]int{2, 2}, Groups: 4}, true, []int{igForward, igCol2im}},
	}
	for _, dt := range []tensor.DType{tensor.Float32, tensor.Float64} {
		for _, threads := range []int{1, 3} {
			b := New(Threads(threads))
			b.colBudget = 300 // several bands per image
			alloc := func(s tensor.Shape) *tensor.Tensor {
				x, err := b.Alloc(dt, s)
				if err != nil {
					t.Fatal(err)
				}
				return x
			}
			for _, c := range cases {
				g, err := tensor.ConvGeometry(c.x, c.w, c.p)
				if err != nil {
					t.Fatal(err)
				}
				x, w, y := alloc(c.x), alloc(c.w), alloc(g.YShape())
				dx, dw, dy := alloc(c.x), alloc(c.w), alloc(g.YShape())
				var bias *tensor.Tensor
				if c.bias {
					bias = alloc(tensor.Shape{g.K})
				}
				for _, ig := range c.inputGrads {
					b.inputGrad = ig
					step := func() {
						must(t, b.Conv2D(y, x, w, bias, c.p))
						must(t, b.Conv2DInputGrad(dx, dy, w, c.p))
						must(t, b.Conv2DKernelGrad(dw, x, dy, c.p))
					}
					step()
					if a := testing.AllocsPerRun(100, step); a != 0 {
						t.Errorf("%v, %d threads, %s, input gradient method %d: %v allocations per forward + gradients, expected 0", dt, threads, c.name, ig, a)
					}
				}
			}
			ma, mb, mc := alloc(tensor.Shape{70, 90}), alloc(tensor.Shape{90, 110}), alloc(tensor.Shape{70, 110})
			mm := func() { must(t, b.MatMul(mc, ma, mb, false, false)) }
			mm()
			if a := testing.AllocsPerRun(100, mm); a != 0 {
				t.Errorf("%v, %d threads: %v allocations per MatMul, expected 0", dt, threads, a)
			}
			b.Close()
		}
	}
}
