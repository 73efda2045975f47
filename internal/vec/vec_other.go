//go:build !amd64 || purego

package vec

// Enabled is false: this build has no assembly routines, and the functions
// of the package must not be called.
var Enabled = false

func unavailable() { panic("vec: no assembly routines in this build (check Enabled)") }

func sum32(*float32, int, int, int, uint16) float64                  { unavailable(); return 0 }
func sqDev32(*float32, int, int, int, uint16, float64) float64       { unavailable(); return 0 }
func affine32(_, _ *float32, _, _, _ int, _ uint16, _, _, _ float64) { unavailable() }
func gradSums32(_, _ *float32, _, _, _ int, _ uint16, _ float64) (float64, float64) {
	unavailable()
	return 0, 0
}
func normGrad32(_, _, _ *float32, _, _, _ int, _ uint16, _, _, _, _, _ float64) { unavailable() }
func relu32(_, _ *float32, _, _, _ int, _ uint16)                               { unavailable() }
func reluGrad32(_, _, _ *float32, _, _, _ int, _ uint16)                        { unavailable() }
func add32(_, _, _ *float32, _, _, _ int, _ uint16)                             { unavailable() }
func sigmoid32(_, _ *float32, _, _, _ int, _ uint16)                            { unavailable() }
func fill32(_, _ *float32, _, _, _ int, _ uint16)                               { unavailable() }
func sgd32(_, _ *float32, _, _, _ int, _ uint16, _, _ float64)                  { unavailable() }
func sgdMomentum32(_, _, _ *float32, _, _, _ int, _ uint16, _, _, _ float64)    { unavailable() }
func sgdNesterov32(_, _, _ *float32, _, _, _ int, _ uint16, _, _, _ float64)    { unavailable() }
func adam32(_, _, _, _ *float32, _, _, _ int, _ uint16, _, _, _, _, _, _, _, _, _ float64) {
	unavailable()
}
func deal32(_, _, _ *float32, _, _, _, _ int, _, _, _ uint16)   { unavailable() }
func evens32(_, _ *float32, _, _, _, _ int, _, _, _ uint16)     { unavailable() }
func weave32(_, _, _ *float32, _, _, _, _ int, _, _, _ uint16)  { unavailable() }
func weaveZero32(_, _ *float32, _, _, _, _ int, _, _, _ uint16) { unavailable() }
