package data

import (
	"errors"
	"slices"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

func TestLines(t *testing.T) {
	d, err := Lines(50, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.Len() != 50 || d.Classes != 2 || !d.Shape.Equal(tensor.Shape{1, 16, 16}) || d.ClassName(Horizontal) != "horizontal" {
		t.Fatalf("%d images of %v, %d classes", d.Len(), d.Shape, d.Classes)
	}
	again, _ := Lines(50, 3)
	other, _ := Lines(50, 4)
	if !slices.Equal(d.Images, again.Images) || slices.Equal(d.Images, other.Images) {
		t.Error("Lines is not determined by its seed")
	}
	if slices.Min(d.Images) < 0 || slices.Max(d.Images) > 1 {
		t.Error("pixels outside [0, 1]")
	}
	for i := range d.Len() {
		if d.Labels[i] != i%2 {
			t.Fatalf("label %d = %d, want %d", i, d.Labels[i], i%2)
		}
		// Mean of each column (vertical) or row (horizontal): exactly 3
		// consecutive ones near 1, all others near 0.
		img := d.Image(i)
		var bright []int
		for a := range LinesSize {
			var sum float32
			for b := range LinesSize {
				if d.Labels[i] == Vertical {
					sum += img[b*LinesSize+a]
				} else {
					sum += img[a*LinesSize+b]
				}
			}
			switch mean := sum / LinesSize; {
			case mean > 0.8:
				bright = append(bright, a)
			case mean > 0.2:
				t.Fatalf("image %d: line %d has mean %v, neither line nor background", i, a, mean)
			}
		}
		if len(bright) != LineWidth || bright[2]-bright[0] != 2 {
			t.Fatalf("image %d (label %d): bright lines %v, want %d consecutive", i, d.Labels[i], bright, LineWidth)
		}
	}
	if _, err := Lines(0, 1); !errors.Is(err, tensor.ErrParam) {
		t.Errorf("0 images: got %v, want ErrParam", err)
	}
}

func TestLoadLinesAndNames(t *testing.T) {
	train, test, err := Load("lines", Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 160 || test.Len() != 40 || !slices.Equal(train.ClassCounts(), []int{80, 80}) {
		t.Errorf("lines: %d + %d images, classes %v; want 160 + 40, [80 80]", train.Len(), test.Len(), train.ClassCounts())
	}
	all, _ := Lines(200, 1)
	if !slices.Equal(test.Image(0), all.Image(160)) {
		t.Error("the lines test set is not the last 20% of Lines(200, seed)")
	}
	if train, test, err := Load("lines", Options{N: 10, Seed: 1}); err != nil || train.Len() != 8 || test.Len() != 2 {
		t.Errorf("lines N=10: %v", err)
	}
	for _, o := range []Options{{N: 1}, {N: -1}} {
		if _, _, err := Load("lines", o); !errors.Is(err, tensor.ErrParam) {
			t.Errorf("lines N=%d: got %v, want ErrParam", o.N, err)
		}
	}
	if _, _, err := Load("cifar", Options{}); !errors.Is(err, tensor.ErrParam) {
		t.Errorf("unknown name: got %v, want ErrParam", err)
	}
	if !slices.Equal(Names(), []string{"mnist", "mnist01", "fashion", "lines"}) {
		t.Errorf("names %v", Names())
	}
}

// TestHugeSizesAreErrors: sizes that would overflow an allocation are errors
// or are clamped, never panics.
func TestHugeSizesAreErrors(t *testing.T) {
	if _, err := Lines(LinesMax+1, 1); !errors.Is(err, tensor.ErrParam) {
		t.Errorf("Lines(LinesMax+1): %v, want an ErrParam error", err)
	}
	if _, _, err := Load("lines", Options{N: 1 << 57}); !errors.Is(err, tensor.ErrParam) {
		t.Errorf("Load lines with N 2^57: %v, want an ErrParam error", err)
	}
	bs, err := Batches([]int{1, 2, 3}, int(^uint(0)>>1))
	if err != nil || len(bs) != 1 || len(bs[0]) != 3 {
		t.Errorf("Batches with size MaxInt: %v, %v; want one batch of 3", bs, err)
	}
}
