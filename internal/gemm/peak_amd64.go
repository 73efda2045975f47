//go:build amd64 && !purego

package gemm

// peakLoop returns the register-FMA loop of kernel set name and the FLOPs of
// one of its iterations.
func peakLoop(name string) (loop func(n int), flops float64) {
	switch name {
	case "avx512":
		return fmaPeakAVX512, 768
	case "avx2":
		return fmaPeakAVX2, 192
	}
	return peakGo, 16
}
