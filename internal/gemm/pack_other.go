//go:build !amd64 || purego

package gemm

import "unsafe"

// copyPanelsAsm reports that this build has no assembly copy routine.
func copyPanelsAsm(dst, src unsafe.Pointer, lds, kq, panels, dstStride, width int) bool {
	return false
}

// transposeBlock reports that this build has no assembly transpose.
func transposeBlock(es int) int { return 0 }

// useAsmPack is false: this build has no assembly packing routines.
var useAsmPack = false

// transposeAsm is never called in this build, since transposeBlock is 0.
func transposeAsm(es int, dst, src unsafe.Pointer, lds, ldd, blocks int) {
	panic("gemm: no assembly transpose in this build")
}

// gatherSegmentsAsm reports that this build has no assembly gather routine.
func gatherSegmentsAsm(dst, src unsafe.Pointer, offs []int, dstride int, segs []Segment, es int) bool {
	return false
}

// addSegmentsAsm reports that this build has no assembly routine.
func addSegmentsAsm(dst, src unsafe.Pointer, offs []int, sstride int, segs []Segment, es int) bool {
	return false
}

// transposeSegmentsAsm is never called in this build, since transposeBlock
// is 0.
func transposeSegmentsAsm(dst, src unsafe.Pointer, offs []int, ldd int, segs []Segment, es int) {
	panic("gemm: no assembly transpose in this build")
}
