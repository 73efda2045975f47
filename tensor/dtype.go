package tensor

import "fmt"

// DType is the element type of a tensor.
type DType uint8

// The element types. The zero DType is invalid.
const (
	Float32 DType = iota + 1 // IEEE 754 binary32, 4 bytes
	Float64                  // IEEE 754 binary64, 8 bytes
)

// Size returns the size of one element in bytes, or 0 for an invalid dtype.
func (d DType) Size() int {
	switch d {
	case Float32:
		return 4
	case Float64:
		return 8
	}
	return 0
}

// Valid reports whether d is one of the defined dtypes.
func (d DType) Valid() bool { return d == Float32 || d == Float64 }

// String returns "float32", "float64" or "DType(n)".
func (d DType) String() string {
	switch d {
	case Float32:
		return "float32"
	case Float64:
		return "float64"
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}
