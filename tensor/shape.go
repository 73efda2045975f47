package tensor

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Shape lists the dimensions of a tensor, outermost first (row-major).
type Shape []int

// Len returns the number of elements: the product of the dimensions (1 for a
// rank-0 shape).
func (s Shape) Len() int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// Equal reports whether s and o have the same rank and dimensions.
func (s Shape) Equal(o Shape) bool {
	if len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i] != o[i] {
			return false
		}
	}
	return true
}

// Clone returns a copy of s that does not share memory with it.
func (s Shape) Clone() Shape { return append(Shape(nil), s...) }

// String formats s as "[2 3 4]".
func (s Shape) String() string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.Itoa(d)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// maxElements bounds the element count of one tensor (2^40 on 64-bit
// platforms, less on 32-bit ones), so that sizes in bytes never overflow an int.
const maxElements = min(1<<40, math.MaxInt/8)

// Validate returns an ErrShape error if any dimension is below 1 or the element
// count exceeds 2^40 (math.MaxInt/8 on 32-bit platforms).
func (s Shape) Validate() error {
	n := 1
	for i, d := range s {
		if d < 1 {
			return fmt.Errorf("shape %v: dimension %d is %d, expected ≥ 1: %w", s, i, d, ErrShape)
		}
		if n > maxElements/d {
			return fmt.Errorf("shape %v: more than %d elements: %w", s, maxElements, ErrShape)
		}
		n *= d
	}
	return nil
}

// OutSize returns the output length of a convolution or pooling window along
// one axis: ⌊(in + 2·pad − dilation·(k−1) − 1)/stride⌋ + 1. It returns an
// ErrParam error for stride or dilation below 1, negative padding or a kernel
// below 1, and an ErrShape error when the dilated kernel is larger than the
// padded input.
func OutSize(in, k, stride, pad, dilation int) (int, error) {
	switch {
	case k < 1:
		return 0, fmt.Errorf("kernel size %d, expected ≥ 1: %w", k, ErrParam)
	case stride < 1:
		return 0, fmt.Errorf("stride %d, expected ≥ 1: %w", stride, ErrParam)
	case dilation < 1:
		return 0, fmt.Errorf("dilation %d, expected ≥ 1: %w", dilation, ErrParam)
	case pad < 0:
		return 0, fmt.Errorf("padding %d, expected ≥ 0: %w", pad, ErrParam)
	}
	span := dilation*(k-1) + 1
	if span > in+2*pad {
		return 0, fmt.Errorf("kernel spans %d (size %d, dilation %d) but the padded input is %d (size %d, padding %d): %w",
			span, k, dilation, in+2*pad, in, pad, ErrShape)
	}
	return (in+2*pad-span)/stride + 1, nil
}
