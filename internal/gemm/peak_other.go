//go:build (!amd64 && !arm64) || purego

package gemm

// peakLoop returns the pure-Go loop: this build has no assembly kernels.
func peakLoop(string) (loop func(n int), flops float64) { return peakGo, 16 }
