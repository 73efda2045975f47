//go:build arm64 && !purego

package gemm

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// sgemmNEON sets acc[i·8+j] = Σ_{p<k} a[p·8+i]·b[p·8+j] for i, j < 8: the
// raw sums of an 8×8 float32 tile over k steps of packed panels.
//
//go:noescape
func sgemmNEON(k int, a, b, acc *float32)

// dgemmNEON sets acc[i·4+j] = Σ_{p<k} a[p·8+i]·b[p·4+j] for i < 8, j < 4:
// the raw sums of an 8×4 float64 tile.
//
//go:noescape
func dgemmNEON(k int, a, b, acc *float64)

// fmaPeakNEON runs n iterations of 24 independent 4-lane float32 FMAs on
// registers (192 FLOP an iteration).
func fmaPeakNEON(n int)

// archKernels returns the NEON kernel set: Advanced SIMD is part of every
// arm64 CPU that Go runs on, and checked all the same.
func archKernels() []*kernelSet {
	if !cpu.ARM64.HasASIMD {
		return nil
	}
	return []*kernelSet{{
		name: "neon",
		s:    &microKernel[float32]{mr: 8, nr: 8, kc: 256, nc: 256, fn: sgemmNEONTile},
		d:    &microKernel[float64]{mr: 8, nr: 4, kc: 256, nc: 128, fn: dgemmNEONTile},
	}}
}

// sgemmNEONTile is the float32 micro-kernel: the assembly sums, then
// c = alpha·sums + beta·c in Go (C not read when beta is 0), which costs 64
// multiply-adds against the tile's 64·k.
func sgemmNEONTile(k int, a, b, c *float32, ldc int, alpha, beta float32) {
	var acc [64]float32
	sgemmNEON(k, a, b, &acc[0])
	storeTile(acc[:], 8, 8, c, ldc, alpha, beta)
}

// dgemmNEONTile is the float64 micro-kernel (see sgemmNEONTile).
func dgemmNEONTile(k int, a, b, c *float64, ldc int, alpha, beta float64) {
	var acc [32]float64
	dgemmNEON(k, a, b, &acc[0])
	storeTile(acc[:], 8, 4, c, ldc, alpha, beta)
}

// peakLoop returns the register-FMA loop of kernel set name and the FLOPs of
// one of its iterations.
func peakLoop(name string) (loop func(n int), flops float64) {
	if name == "neon" {
		return fmaPeakNEON, 192
	}
	return peakGo, 16
}

// storeTile writes the mr×nr tile of sums acc (row-major) to C:
// c = alpha·acc + beta·c, not reading C when beta is 0.
func storeTile[T float](acc []T, mr, nr int, c *T, ldc int, alpha, beta T) {
	cs := unsafe.Slice(c, (mr-1)*ldc+nr)
	for i := range mr {
		row, a := cs[i*ldc:i*ldc+nr], acc[i*nr:i*nr+nr]
		if beta == 0 {
			for j := range row {
				row[j] = alpha * a[j]
			}
			continue
		}
		for j := range row {
			row[j] = alpha*a[j] + beta*row[j]
		}
	}
}
