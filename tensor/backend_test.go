package tensor_test

import (
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// TestDropoutUniformGolden pins values computed by an independent
// implementation of the documented hash (lowbias32, seed mixing, top 24 bits):
// masks must not change between versions or backends.
func TestDropoutUniformGolden(t *testing.T) {
	for _, c := range []struct {
		seed uint64
		i    uint32
		k    int // the value is k/2^24
	}{
		{0, 0, 11431808},
		{0, 1, 14917081},
		{1, 0, 10517626},
		{42, 7, 1858476},
		{0xdeadbeefcafe, 123456, 13798788},
		{1 << 32, 0, 9320271},
		{1<<64 - 1, 1<<32 - 1, 13526345},
	} {
		if got, want := tensor.DropoutUniform(c.seed, c.i), float32(c.k)/(1<<24); got != want {
			t.Errorf("DropoutUniform(%#x, %d) = %v, expected %v", c.seed, c.i, got, want)
		}
	}
}

func TestDropoutUniformRangeAndDeterminism(t *testing.T) {
	const n = 1 << 16
	for _, seed := range []uint64{0, 7, 1 << 32, 0xfeedface12345678} {
		var sum float64
		var buckets [16]int
		for i := uint32(0); i < n; i++ {
			u := tensor.DropoutUniform(seed, i)
			if !(u >= 0 && u < 1) {
				t.Fatalf("DropoutUniform(%#x, %d) = %v, expected a value in [0, 1)", seed, i, u)
			}
			if k := u * (1 << 24); k != float32(int(k)) {
				t.Fatalf("DropoutUniform(%#x, %d) = %v, expected a multiple of 2^-24", seed, i, u)
			}
			if u != tensor.DropoutUniform(seed, i) {
				t.Fatalf("DropoutUniform(%#x, %d) differs between calls", seed, i)
			}
			sum += float64(u)
			buckets[int(u*16)]++
		}
		// The counts are fixed by the hash; these bounds are loose (several
		// standard deviations) so they only catch a broken distribution.
		if mean := sum / n; mean < 0.49 || mean > 0.51 {
			t.Errorf("seed %#x: mean %v, expected about 0.5", seed, mean)
		}
		for b, c := range buckets {
			if c < n/16-400 || c > n/16+400 {
				t.Errorf("seed %#x: bucket %d holds %d of %d values, expected about %d", seed, b, c, n, n/16)
			}
		}
	}
}

func TestDropoutUniformSeedsDiffer(t *testing.T) {
	// Seeds that differ in the low bits, in the high bits, or in which half is
	// set give different streams.
	seeds := []uint64{0, 1, 1 << 32, 1<<32 | 1, 0xffffffff, 0xffffffff00000000, 1 << 63}
	for a := range seeds {
		for b := a + 1; b < len(seeds); b++ {
			same := 0
			for i := uint32(0); i < 64; i++ {
				if tensor.DropoutUniform(seeds[a], i) == tensor.DropoutUniform(seeds[b], i) {
					same++
				}
			}
			if same > 2 {
				t.Errorf("seeds %#x and %#x agree on %d of 64 elements", seeds[a], seeds[b], same)
			}
		}
	}
}
