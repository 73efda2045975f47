package nn_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

func TestRandomShift(t *testing.T) {
	const c, h, w = 2, 4, 5
	src := make([]float32, 3*c*h*w)
	for i := range src {
		src[i] = float32(i + 1)
	}
	dst := make([]float32, len(src))
	rng := rand.New(rand.NewPCG(1, 2))
	if err := nn.RandomShift(2).Augment(dst, src, tensor.Shape{c, h, w}, rng); err != nil {
		t.Fatal(err)
	}
	// Replay the offsets and check every pixel against the definition.
	rng = rand.New(rand.NewPCG(1, 2))
	for n := range 3 {
		dy, dx := rng.IntN(5)-2, rng.IntN(5)-2
		for ch := range c {
			for y := range h {
				for x := range w {
					want := float32(0)
					if sy, sx := y-dy, x-dx; sy >= 0 && sy < h && sx >= 0 && sx < w {
						want = src[((n*c+ch)*h+sy)*w+sx]
					}
					if got := dst[((n*c+ch)*h+y)*w+x]; got != want {
						t.Fatalf("image %d (shift %d,%d) channel %d pixel (%d,%d) = %v, want %v", n, dy, dx, ch, y, x, got, want)
					}
				}
			}
		}
	}
}

func TestRandomShiftErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]float32, 16)
	for _, c := range []struct {
		s  int
		in tensor.Shape
	}{{4, tensor.Shape{1, 4, 4}}, {-1, tensor.Shape{1, 4, 4}}, {1, tensor.Shape{16}}} {
		if err := nn.RandomShift(c.s).Augment(buf, buf, c.in, rng); !errors.Is(err, tensor.ErrParam) {
			t.Errorf("shift %d on %v: %v, expected ErrParam", c.s, c.in, err)
		}
	}
	if err := nn.RandomShift(1).Augment(buf[:8], buf, tensor.Shape{1, 4, 4}, rng); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("short dst: %v, expected ErrShape", err)
	}
}
