package tensortest

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// Tol is an error bound: a result got passes against a reference ref whose
// terms have magnitude mag when |got − ref| ≤ Rel·mag + Abs.
type Tol struct {
	// Rel is the bound relative to the magnitude of the terms.
	Rel float64
	// Abs is an absolute floor that admits underflow and flush-to-zero.
	Abs float64
}

// Tolerance returns the error bound the suite uses for dt (see the package
// documentation): Rel 1e-5 and Abs 1e-30 for Float32, Rel 1e-12 and Abs 1e-300
// for Float64. It returns the Float32 bound for any other dtype.
func Tolerance(dt tensor.DType) Tol {
	if dt == tensor.Float64 {
		return Tol{Rel: 1e-12, Abs: 1e-300}
	}
	return Tol{Rel: 1e-5, Abs: 1e-30}
}

// exact is the bound of selections and copies, which involve no arithmetic.
var exact = Tol{}

// Close reports whether got agrees with ref, whose terms have magnitude mag.
// NaN never agrees; equal infinities do.
func (tol Tol) Close(got, ref, mag float64) bool {
	if got == ref {
		return true
	}
	return math.Abs(got-ref) <= tol.Rel*mag+tol.Abs
}

// compare checks got against ref elementwise with bound tol, where mag[i] is
// the magnitude of the terms of ref[i] (nil means |ref[i]|). It reports the
// first few mismatches, prefixed by what, and returns whether all agreed.
func compare(t testing.TB, what string, got, ref, mag []float64, tol Tol) bool {
	t.Helper()
	if len(got) != len(ref) {
		t.Errorf("%s: got %d values, expected %d", what, len(got), len(ref))
		return false
	}
	var bad []string
	nbad := 0
	for i := range ref {
		m := math.Abs(ref[i])
		if mag != nil {
			m = mag[i]
		}
		if tol.Close(got[i], ref[i], m) {
			continue
		}
		nbad++
		if len(bad) < 4 {
			bad = append(bad, fmt.Sprintf("[%d] got %.9g, expected %.9g (error %.3g, bound %.3g)",
				i, got[i], ref[i], math.Abs(got[i]-ref[i]), tol.Rel*m+tol.Abs))
		}
	}
	if nbad > 0 {
		t.Errorf("%s: %d of %d values out of tolerance: %s", what, nbad, len(ref), strings.Join(bad, "; "))
		return false
	}
	return true
}
