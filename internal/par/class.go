package par

import "math/bits"

// Classes is the number of size classes SizeClass returns.
const Classes = 4*58 + 1

// SizeClass returns the class of a pooled buffer that must hold n elements
// (n ≥ 0), in [0, Classes), and the capacity to allocate for the class, at
// least n and at most about 19% more: four classes per power of two above
// 64. Pools kept per class hand back a buffer that fits whatever was asked
// for, so that callers asking for a few different sizes in turn reuse their
// buffers instead of dropping those that are too small.
func SizeClass(n int) (class, capacity int) {
	if n <= 64 {
		return 0, 64
	}
	e := bits.Len(uint(n - 1)) // 2^(e−1) < n ≤ 2^e, e ≥ 7
	step := 1 << (e - 3)
	q := (n + step - 1) / step // in [5, 8]
	return 1 + (e-7)*4 + (q - 5), q * step
}
