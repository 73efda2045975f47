//go:build amd64 && !purego

package gemm

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// useAsmPack enables the AVX packing routines; tests turn it off to check
// the pure-Go ones.
var useAsmPack = cpu.X86.HasAVX

// copyPanelsAsm copies, for each of kq rows p, panels runs of width bytes
// from src+p·lds+t·width to dst+t·dstStride+p·width (t < panels), and
// reports whether it could: there are routines for widths of 32, 64 and 128
// bytes when the CPU has AVX.
func copyPanelsAsm(dst, src unsafe.Pointer, lds, kq, panels, dstStride, width int) bool {
	if !useAsmPack {
		return false
	}
	d, s := (*byte)(dst), (*byte)(src)
	switch width {
	case 32:
		copyPanels32(d, s, lds, kq, panels, dstStride)
	case 64:
		copyPanels64(d, s, lds, kq, panels, dstStride)
	case 128:
		copyPanels128(d, s, lds, kq, panels, dstStride)
	default:
		return false
	}
	return true
}

// transposeBlock returns the side of the square blocks that transposeAsm
// handles for elements of es bytes, or 0 when there is no routine.
func transposeBlock(es int) int {
	switch {
	case !useAsmPack:
		return 0
	case es == 4:
		return 8
	case es == 8:
		return 4
	}
	return 0
}

// transposeAsm transposes blocks square blocks of side transposeBlock(es):
// dst[(bs·b+p)·ldd + j] = src[j·lds + bs·b+p] for j, p < bs; strides are in
// elements.
func transposeAsm(es int, dst, src unsafe.Pointer, lds, ldd, blocks int) {
	if es == 4 {
		transpose8x8s((*float32)(dst), (*float32)(src), lds, ldd, blocks)
		return
	}
	transpose4x4d((*float64)(dst), (*float64)(src), lds, ldd, blocks)
}

// gatherSegmentsAsm runs GatherSegments' copy, on checked sizes, in
// assembly and reports whether it could: it needs AVX and elements of 4 or
// 8 bytes.
func gatherSegmentsAsm(dst, src unsafe.Pointer, offs []int, dstride int, segs []Segment, es int) bool {
	if !useAsmPack {
		return false
	}
	d, s, sg := (*byte)(dst), (*byte)(src), &segs[0].Off
	switch es {
	case 4:
		gatherSegments32(d, s, &offs[0], len(offs), dstride, sg, len(segs))
	case 8:
		gatherSegments64(d, s, &offs[0], len(offs), dstride, sg, len(segs))
	default:
		return false
	}
	return true
}

// addSegmentsAsm runs AddSegments' sum, on checked sizes, in assembly and
// reports whether it could: it needs AVX and elements of 4 or 8 bytes.
func addSegmentsAsm(dst, src unsafe.Pointer, offs []int, sstride int, segs []Segment, es int) bool {
	if !useAsmPack {
		return false
	}
	d, s, sg := (*byte)(dst), (*byte)(src), &segs[0].Off
	switch es {
	case 4:
		addSegments32(d, s, &offs[0], len(offs), sstride, sg, len(segs))
	case 8:
		addSegments64(d, s, &offs[0], len(offs), sstride, sg, len(segs))
	default:
		return false
	}
	return true
}

// transposeSegmentsAsm runs TransposeSegments' copy for the group of
// transposeBlock(es) rows whose offsets start at offs, on checked sizes and
// segments at least that long, in assembly.
func transposeSegmentsAsm(dst, src unsafe.Pointer, offs []int, ldd int, segs []Segment, es int) {
	d, s, sg := (*byte)(dst), (*byte)(src), &segs[0].Off
	if es == 4 {
		transposeSegments32(d, s, &offs[0], ldd, sg, len(segs))
		return
	}
	transposeSegments64(d, s, &offs[0], ldd, sg, len(segs))
}
