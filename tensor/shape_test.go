package tensor_test

import (
	"errors"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// outFormula is ⌊(in + 2p − d(k−1) − 1)/s⌋ + 1, written out for the test.
func outFormula(in, k, s, p, d int) int { return (in+2*p-d*(k-1)-1)/s + 1 }

func TestOutSizeExamples(t *testing.T) {
	for _, c := range []struct{ in, k, s, p, d, want int }{
		{28, 5, 1, 0, 1, 24},   // LeNet conv
		{28, 3, 1, 1, 1, 28},   // "same" 3×3
		{224, 7, 2, 3, 1, 112}, // ResNet stem
		{112, 3, 2, 1, 1, 56},  // ResNet max pool
		{7, 7, 1, 0, 1, 1},     // kernel = input
		{1, 1, 1, 0, 1, 1},
		{5, 3, 2, 0, 1, 2},  // the last column is never reached
		{10, 2, 3, 0, 1, 3}, // stride larger than the kernel
		{9, 3, 1, 2, 2, 9},  // dilation 2 spans 5
		{5, 3, 1, 0, 2, 1},  // dilated span = input
		{4, 4, 1, 3, 1, 7},  // full padding
		{6, 1, 4, 0, 1, 2},
		{3, 2, 1, 2, 1, 6}, // padding larger than the kernel
	} {
		got, err := tensor.OutSize(c.in, c.k, c.s, c.p, c.d)
		if err != nil || got != c.want {
			t.Errorf("OutSize(in %d, k %d, s %d, p %d, d %d) = %d, %v; expected %d", c.in, c.k, c.s, c.p, c.d, got, err, c.want)
		}
		if f := outFormula(c.in, c.k, c.s, c.p, c.d); f != c.want {
			t.Errorf("the formula gives %d for %+v, the table %d", f, c, c.want)
		}
	}
}

// TestOutSizeCountsWindows checks OutSize against a count of the window
// positions i·s − p that fit the dilated kernel inside the padded input.
func TestOutSizeCountsWindows(t *testing.T) {
	for in := 1; in <= 9; in++ {
		for k := 1; k <= 5; k++ {
			for s := 1; s <= 4; s++ {
				for p := 0; p <= 4; p++ {
					for d := 1; d <= 3; d++ {
						count := 0
						for start := -p; start+d*(k-1) <= in-1+p; start += s {
							count++
						}
						got, err := tensor.OutSize(in, k, s, p, d)
						if count == 0 {
							if !errors.Is(err, tensor.ErrShape) {
								t.Errorf("OutSize(%d, %d, %d, %d, %d) = %d, %v; expected an ErrShape error", in, k, s, p, d, got, err)
							}
							continue
						}
						if err != nil || got != count || got != outFormula(in, k, s, p, d) {
							t.Errorf("OutSize(%d, %d, %d, %d, %d) = %d, %v; expected %d windows", in, k, s, p, d, got, err, count)
						}
					}
				}
			}
		}
	}
}

func TestOutSizeErrors(t *testing.T) {
	for _, c := range []struct {
		in, k, s, p, d int
		want           error
	}{
		{5, 0, 1, 0, 1, tensor.ErrParam},
		{5, 3, 0, 0, 1, tensor.ErrParam},
		{5, 3, -1, 0, 1, tensor.ErrParam},
		{5, 3, 1, 0, 0, tensor.ErrParam},
		{5, 3, 1, 0, -2, tensor.ErrParam},
		{5, 3, 1, -1, 1, tensor.ErrParam},
		{2, 3, 1, 0, 1, tensor.ErrShape},
		{4, 3, 1, 0, 2, tensor.ErrShape},
		{1, 4, 1, 1, 1, tensor.ErrShape},
	} {
		got, err := tensor.OutSize(c.in, c.k, c.s, c.p, c.d)
		if !errors.Is(err, c.want) {
			t.Errorf("OutSize(in %d, k %d, s %d, p %d, d %d) = %d, %v; expected an error wrapping %q", c.in, c.k, c.s, c.p, c.d, got, err, c.want)
		}
	}
}

func TestShapeValidate(t *testing.T) {
	for _, s := range []tensor.Shape{{}, {1}, {3, 4}, {2, 3, 4, 5}, {1 << 20, 1 << 20}, {1 << 40}} {
		if err := s.Validate(); err != nil {
			t.Errorf("%v.Validate() = %v, expected nil", s, err)
		}
	}
	for _, s := range []tensor.Shape{{0}, {3, 0}, {-1}, {2, -5, 3}, {1 << 20, 1 << 20, 2}, {1 << 41}, {1 << 31, 1 << 31, 1 << 31}} {
		if err := s.Validate(); !errors.Is(err, tensor.ErrShape) {
			t.Errorf("%v.Validate() = %v, expected an ErrShape error", s, err)
		}
	}
}

func TestShapeMethods(t *testing.T) {
	s := tensor.Shape{2, 3, 4}
	if s.Len() != 24 || (tensor.Shape{}).Len() != 1 {
		t.Errorf("Len: %d and %d, expected 24 and 1", s.Len(), tensor.Shape{}.Len())
	}
	if !s.Equal(tensor.Shape{2, 3, 4}) || s.Equal(tensor.Shape{2, 3}) || s.Equal(tensor.Shape{2, 3, 5}) {
		t.Errorf("Equal is wrong")
	}
	c := s.Clone()
	c[0] = 9
	if s[0] != 2 {
		t.Errorf("Clone shares memory")
	}
	if got := s.String(); got != "[2 3 4]" {
		t.Errorf("String() = %q, expected [2 3 4]", got)
	}
}

func TestDType(t *testing.T) {
	if tensor.Float32.Size() != 4 || tensor.Float64.Size() != 8 || tensor.DType(0).Size() != 0 {
		t.Errorf("Size wrong")
	}
	if !tensor.Float32.Valid() || !tensor.Float64.Valid() || tensor.DType(0).Valid() || tensor.DType(3).Valid() {
		t.Errorf("Valid wrong")
	}
	if tensor.Float32.String() != "float32" || tensor.Float64.String() != "float64" || tensor.DType(7).String() != "DType(7)" {
		t.Errorf("String wrong: %v %v %v", tensor.Float32, tensor.Float64, tensor.DType(7))
	}
	c := tensor.Caps{DTypes: []tensor.DType{tensor.Float32}}
	if !c.Supports(tensor.Float32) || c.Supports(tensor.Float64) {
		t.Errorf("Caps.Supports wrong")
	}
}
