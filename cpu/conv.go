package cpu

import (
	"sync"
	"unsafe"

	igemm "github.com/vkcnn/vkcnn/internal/gemm"
	"github.com/vkcnn/vkcnn/internal/vec"
	"github.com/vkcnn/vkcnn/tensor"
)

// The three convolution ops lower every (image, group) pair, a unit, to
// GEMMs over the im2col matrix of that image and group: a [Cg·KH·KW, OH·OW]
// matrix whose row (c, kh, kw), a tap, holds for every output position the
// input value that the tap multiplies there (0 in the padding). With
// Cg = C/G, Kg = K/G and the group's kernel Wg as a [Kg, Cg·KH·KW] matrix:
//
//	forward       Yg  = Wg · col(Xg) + bias
//	input grad    dXg = W'g · col(dYg)                       (stride 1)
//	              c   = Wgᵀ · dYg, then col2im adds c onto dXg  (otherwise)
//	kernel grad   dWg += dYg · col(Xg)ᵀ                       (summed over the batch)
//
// The im2col matrix is read from a copy of the unit's input (flatIm): zero
// padded and, for strides above 1, split into stride phases, so that a
// tap's entries for one output row are one contiguous run of the copy.
// Over the copy's flattened planes the whole matrix is such runs: output
// position (y, x) counted as y·wq + x, with wq the planes' width, tap t
// reads element offs[t] + y·wq + x, so row t of the matrix is the copy from
// offs[t] on. The forward pass therefore never forms the matrix: its GEMM
// reads the rows in place (rowsProduct). Where the micro-kernels read a
// tile across the wq − OW columns between two output rows in place
// (igemm.GemmPackedARowsGap: AVX-512, no tile spanning two row ends), the
// tiles run over the output positions alone, straight into the output.
// Narrower rows with enough output channels to fill the tiles' columns
// compute the output transposed, output positions as the GEMM's rows
// (igemm.GemmRowsA: AVX-512 broadcasts each position's entry from the copy
// at its own offset), each tile stored transposed into place. Otherwise
// the GEMM (igemm.GemmPackedARows) runs over the flattened positions,
// computing wq − OW columns per output row more than needed, which are
// dropped when the output is moved into place. The bias is one more row
// of ones after the copy, with the bias as one more column of Wg.
//
// With stride 1 the input gradient is a forward convolution too: the full
// correlation of dY, padded by dilation·(KH−1) − pad (negative padding
// crops), with W'g [Cg, Kg·KH·KW], the kernel flipped in both spatial axes
// with its channel axes swapped. Where that is slower (see
// inputGradForward), and with strides above 1 (where the correlation would
// mostly multiply the zeros between strided outputs), the input gradient
// computes the im2col-shaped gradient instead, a band of output rows at a
// time, and adds it back onto the copy (col2im, igemm.AddSegments) that then
// becomes dX.
//
// The kernel gradient, where the micro-kernels read igemm.GemmRowsA's A in
// place (AVX-512), computes dWgᵀ = col(Xg)·dYgᵀ: the im2col matrix is that
// A, read from the copy (rows at the taps' offsets, columns at the output
// positions'), dYgᵀ is packed, and dWgᵀ is transposed into dW at the end.
// Otherwise it reads the im2col matrix transposed: its packer (packT)
// writes the GEMM's panels straight from the copy with AVX block
// transposes whose source rows are the taps' runs
// (igemm.TransposeSegments). Either way the matrix is never stored, and the
// GEMMs run band by band of output rows. (Reading it in place measured
// 5–15% faster than the transposed packing: 275 → 320 GFLOP/s at
// N32_C64_K64 56×56.) A 1×1 kernel with stride 1 and no padding needs no
// copy at all: the input of the group, [Cg, H·W], is the matrix.
//
// Work is split over units, one GEMM per unit on one goroutine (batches of
// 32 or 64 images keep every thread busy with no synchronisation inside a
// unit); goroutines take units in turn, so that one that the machine slows
// down takes fewer. When there are fewer units than threads, each GEMM gets
// the spare threads. The kernel matrices the units multiply by (forward,
// input gradient) are packed for the micro-kernels once per call and shared
// by the units (igemm.PackA). The kernel gradient sums groups of units into
// partials of dW, added in a fixed order at the end. Scratch memory (copies, bands,
// the rearranged kernels, partial sums) comes from pools that keep it from
// call to call.

// span returns the range [lo, hi) of output positions o in [0, out) whose input
// position o·stride + off lies inside [0, in).
func span(out, stride, off, in int) (lo, hi int) {
	if off < 0 {
		lo = (-off + stride - 1) / stride
	}
	if in > off {
		hi = (in - off + stride - 1) / stride
	}
	hi = min(hi, out)
	return min(lo, hi), hi
}

// The methods of the input gradient, for Backend.inputGrad.
const (
	igAuto    = iota // choose by shape
	igForward        // the forward convolution of dy with the flipped kernel (stride 1 only)
	igCol2im         // c = Wgᵀ·dYg, then col2im
)

// inputGradForward reports whether the input gradient of a stride-1
// convolution runs as a forward convolution rather than by col2im. Since
// the forward reads its im2col matrix in place (igemm.GemmPackedARows), its
// only overhead is its shallow output: Cg rows, tiles of 8 rows (AVX-512)
// that a few input channels leave mostly empty; col2im's is adding the
// im2col-shaped gradient back, and storing it. On this AMD EPYC (1 thread,
// BenchmarkConv2D's inputgrad-forward against inputgrad-col2im, GFLOP per
// CPU-second) the forward won with 16 input channels and more: 120 against
// 72 (N32_C16_K32 14×14), 143 against 126 (N64_C32_K64 14×14), 175 against
// 130 (N32_C64_K64 56×56), and col2im with one: 21 against 13 (N64_C1_K8
// 28×28). With no more output channels than input channels col2im's
// products are the shallow ones whatever the width: the forward was 18%
// faster on the ResNet preset's 32→32 14×14 and 64→64 7×7 layers.
func (d *convDims) inputGradForward() bool {
	return d.kg <= d.cg || d.cg >= 8
}

// defaultColBudget is the target size, in elements, of one worker's im2col
// band (512 KiB of float32, half of a typical L2): Backend.colBudget, which
// tests lower to exercise banding on small images.
const defaultColBudget = 1 << 17

// flatIm is the geometry of the im2col matrix of one unit: cin input planes
// of h×w, a kh×kw kernel with stride s, padding p (negative padding crops)
// and dilation d, and oh×ow output positions.
//
// The matrix is read from a copy of the input, zero-padded and split into
// phase planes per channel: plane (c, a, b) holds the padded input's rows
// a, a+s0, a+2·s0, … and columns b, b+s1, … as an hq×wq matrix. Tap
// (c, i, j) of output position (y, x) reads padded row y·s0 + i·d0 =
// (y + i')·s0 + a, where i·d0 = i'·s0 + a, and likewise for columns, so it
// reads element (y + i', x + j') of plane (c, a, b): element
// offs[tap] + y·wq + x of the copy. For one output row the tap's entries are
// the ow elements from there on. The copy holds only the phases some tap
// reads (all s0·s1 of them for a 3×3 kernel with stride 2; one, a quarter of
// the input, for a 1×1 kernel with stride 2), channel by channel in the
// order of phases.
//
// A padded flatIm (for igemm.GemmRowsA, which broadcasts each entry from
// its own address and so needs no run of a tap to be contiguous) is the
// zero-padded input as it is, one hq×wq plane per channel: tap (c, i, j)
// of output position (y, x) reads element c·plane + (y·s0 + i·d0)·wq +
// x·s1 + j·d1. Its copy is a plain gather of the input rows, where the
// phase split costs shuffles (a 64×28×28 float32 image for a 3×3 kernel
// with stride 2, from cache: 14.1 µs split, 5.2 µs padded; the forward of
// N32_C64_K128 28×28 went from 317–320 to 333–343 GFLOP/s, the kernel
// gradient from 323 to 323–354). With stride 1 the two layouts are the
// same.
type flatIm struct {
	key    flatKey
	padded bool
	// inPlace is set for a padded flatIm with no padding: its copy is
	// the input as it is, which a GEMM may read instead (the kernel
	// gradient of a 1×1 stride-2 projection, N128 C16→32 28×28 and
	// C32→64 14×14, went from 82–94 to 127–158 GFLOP/s reading x in
	// place rather than a phase copy).
	inPlace   bool
	cin, h, w int
	s, p      [2]int
	oh, ow    int
	hq, wq    int      // rows and columns of a plane
	plane     int      // hq·wq
	phases    [][2]int // the phases (a, b) some tap reads, in the copy's order
	size      int      // elements of the copy
	offs      []int    // where each tap's entries for output position (0, 0) are
	// flat is the number of flattened output positions q = y·wq + x
	// (y < oh, x < wq, the last row cut at ow): tap t reads element
	// offs[t] + q of the copy for all of them, so that the im2col matrix
	// over flattened positions is the rows of the copy at offs, of which
	// the positions with x ≥ ow are dropped (see rowsProduct).
	flat int
	// onesOffs is offs with one more row at size: the row of ones that the
	// forward's bias column multiplies, kept right after the copy.
	onesOffs []int
	// rowStarts holds, for y < oh, where output row y starts among the
	// flattened positions: y·wq (padded: y·s0·wq).
	rowStarts []int
	// pixels holds the flattened position of each output position (y, x),
	// in order: y·wq + x (padded: y·s0·wq + x·s1).
	pixels []int
	// With one plane per channel (stride 1, or padded), fillFlat's copy:
	// the offsets of the input rows that lie in the planes (of their
	// columns that do) and one segment per channel, so that the gather
	// reads the input channel by channel, one sequential stream. (With a
	// segment per row instead, it read row r of every channel, then row
	// r+1: as many streams as channels, which the hardware prefetchers do
	// not follow. A 64×56×56 float32 image not in cache took 126 µs that
	// way, 50 µs this way; 25 µs from cache.)
	rowOffs  []int
	chanSegs []igemm.Segment
	// bandSegs, made by getFlatIm, are the segments of the first band of
	// output rows of the input gradient and the kernel gradient; band b's
	// are the same, b·rows rows of the copy further down.
	bandSegs []igemm.Segment
}

// flatKey is the geometry of a flatIm plus the band rows of its bandSegs.
type flatKey struct {
	cin, h, w, kh, kw int
	s, p, d           [2]int
	oh, ow, band      int
	padded            bool
}

// flatCache keeps the flatIm of each geometry a backend met, so that a call
// does not rebuild its tap offsets and segments: flatIm is immutable once
// made. It is cleared when it grows past maxFlats entries.
var flatCache struct {
	sync.Mutex
	m map[flatKey]*flatIm
}

const maxFlats = 256

// getFlatIm returns the cached flatIm of the geometry (see newFlatIm), with
// bandSegs set to the segments of band output rows when band > 0 and the
// layout is not padded.
func getFlatIm(cin, h, w, kh, kw int, s, p, d [2]int, oh, ow, band int) *flatIm {
	return cachedFlatIm(flatKey{cin, h, w, kh, kw, s, p, d, oh, ow, band, false})
}

// pixelLayout returns the flatIm that igemm.GemmRowsA reads f's geometry
// from: the padded one, unless its copy is larger than f's (a 1×1 kernel
// with stride 2 reads one phase of four) and, when inPlace, not the input
// itself; f itself with stride 1, where the layouts are the same.
func (f *flatIm) pixelLayout(inPlace bool) *flatIm {
	if f.padded {
		return f
	}
	key := f.key
	key.padded, key.band = true, 0
	if p := cachedFlatIm(key); p.size <= f.size || inPlace && p.inPlace {
		return p
	}
	return f
}

func cachedFlatIm(key flatKey) *flatIm {
	flatCache.Lock()
	defer flatCache.Unlock()
	if f, ok := flatCache.m[key]; ok {
		return f
	}
	if flatCache.m == nil || len(flatCache.m) >= maxFlats {
		flatCache.m = make(map[flatKey]*flatIm)
	}
	f := newFlatIm(key.cin, key.h, key.w, key.kh, key.kw, key.s, key.p, key.d, key.oh, key.ow, key.padded)
	f.key = key
	if key.band > 0 && !key.padded {
		f.bandSegs = f.segments(nil, 0, key.band*key.ow, 0)
	}
	flatCache.m[key] = f
	return f
}

// newFlatIm returns the flatIm of the geometry, padded (one plane per
// channel whatever the stride) or split into phases.
func newFlatIm(cin, h, w, kh, kw int, s, p, d [2]int, oh, ow int, padded bool) *flatIm {
	padded = padded || s == [2]int{1, 1}
	f := &flatIm{cin: cin, h: h, w: w, s: s, p: p, oh: oh, ow: ow, padded: padded}
	// A tap at (i·d0, j·d1) of the window reads plane (a, b) = phase
	// (i·d0 mod s0, j·d1 mod s1) from (i·d0 div s0, j·d1 div s1) on; output
	// position (y, x) is (y·sy, x·sx) of the planes; padded, there is one
	// phase and the stride moves within the plane.
	ps, sy, sx := s, 1, 1
	if padded {
		ps, sy, sx = [2]int{1, 1}, s[0], s[1]
	}
	f.hq = (oh-1)*sy + (kh-1)*d[0]/ps[0] + 1
	f.wq = (ow-1)*sx + (kw-1)*d[1]/ps[1] + 1
	if padded && p == [2]int{0, 0} {
		// No padding: the planes are the input's, the copy the input
		// itself (the taps need no more than its h rows and w columns).
		f.hq, f.wq, f.inPlace = h, w, true
	}
	f.plane = f.hq * f.wq
	// idx is the index of phase (a, b) among the phases read, at a·s1 + b.
	idx := make([]int, ps[0]*ps[1])
	for i := range kh {
		for j := range kw {
			idx[i*d[0]%ps[0]*ps[1]+j*d[1]%ps[1]] = 1
		}
	}
	for ab, used := range idx {
		if used == 1 {
			idx[ab] = len(f.phases)
			f.phases = append(f.phases, [2]int{ab / ps[1], ab % ps[1]})
		}
	}
	np := len(f.phases)
	f.size = cin * np * f.plane
	f.flat = max(0, (oh-1)*sy*f.wq+(ow-1)*sx+1)
	f.rowStarts = make([]int, oh)
	f.pixels = make([]int, 0, oh*ow)
	for y := range f.rowStarts {
		f.rowStarts[y] = y * sy * f.wq
		for x := range ow {
			f.pixels = append(f.pixels, f.rowStarts[y]+x*sx)
		}
	}
	f.offs = make([]int, 0, cin*kh*kw+1)
	for c := range cin {
		for i := range kh {
			a, iq := i*d[0]%ps[0], i*d[0]/ps[0]
			for j := range kw {
				b, jq := j*d[1]%ps[1], j*d[1]/ps[1]
				f.offs = append(f.offs, (c*np+idx[a*ps[1]+b])*f.plane+iq*f.wq+jq)
			}
		}
	}
	f.onesOffs = append(f.offs, f.size)
	f.offs = f.offs[:len(f.offs):len(f.offs)]
	if padded {
		// Input row r is plane row r + p0; its columns [lo, hi) land
		// inside the plane's wq columns from column lo + p1. The rows
		// [r0, r1) that lie in the plane are the rows of one gather,
		// each channel one segment of it.
		lo, hi := max(0, -p[1]), min(w, f.wq-p[1])
		r0, r1 := max(0, -p[0]), min(h, f.hq-p[0])
		f.chanSegs = []igemm.Segment{}
		if lo < hi && r0 < r1 {
			for r := r0; r < r1; r++ {
				f.rowOffs = append(f.rowOffs, r*w+lo)
			}
			for c := range cin {
				f.chanSegs = append(f.chanSegs, igemm.Segment{Off: c * h * w, Pos: c*f.plane + (r0+p[0])*f.wq + lo + p[1], Len: hi - lo})
			}
		}
	}
	return f
}

// fillFlat writes the zero-padded copy of x [cin, h, w], laid out as f says,
// into xf (f.size elements). With one plane per channel (stride 1, or
// padded), the copy is one igemm.GatherSegments over the zeroed copy: its
// rows the input rows inside the planes, its segments the channels
// (f.rowOffs, f.chanSegs).
func fillFlat[T scalar](f *flatIm, xf, x []T) {
	if f.chanSegs != nil {
		clear(xf)
		igemm.GatherSegments(xf, x, f.rowOffs, f.wq, f.chanSegs)
		return
	}
	s0, s1 := f.s[0], f.s[1]
	if s1 == 2 && f.p[1] >= 0 && len(f.phases) == s0*s1 {
		// Both column phases of an input row in one pass.
		clear(xf)
		for c := range f.cin {
			xc := x[c*f.h*f.w:][:f.h*f.w]
			for a := range s0 {
				p0, p1 := xf[(c*s0+a)*2*f.plane:][:f.plane], xf[((c*s0+a)*2+1)*f.plane:][:f.plane]
				yLo, yHi := span(f.hq, s0, a-f.p[0], f.h)
				if yLo < yHi {
					r := yLo*s0 + a - f.p[0]
					deinterleaveRows(p0[yLo*f.wq:], p1[yLo*f.wq:], xc[r*f.w:], yHi-yLo, s0*f.w, f.w, f.wq, f.p[1])
				}
			}
		}
		return
	}
	np := len(f.phases)
	for c := range f.cin {
		xc := x[c*f.h*f.w:][:f.h*f.w]
		for q, ph := range f.phases {
			a, b := ph[0], ph[1]
			pl := xf[(c*np+q)*f.plane:][:f.plane]
			off := b - f.p[1]
			lo, hi := span(f.wq, s1, off, f.w)
			if s1 == 2 && lo < hi {
				if ev := vec32(pl); ev != nil {
					// The rows' pairs of columns that lie in the input,
					// by AVX-512, and the last column of a row without
					// its pair; the rest of the plane is 0.
					clear(pl)
					yLo, yHi := span(f.hq, s0, a-f.p[0], f.h)
					col := lo*s1 + off
					m := min(hi-lo, (f.w-col)/2)
					if yLo < yHi {
						r := yLo*s0 + a - f.p[0]
						vec.Deal(ev[yLo*f.wq+lo:], nil, vec32(xc[r*f.w+col:]), yHi-yLo, m, s0*f.w, f.wq)
					}
					for yq := yLo; m < hi-lo && yq < yHi; yq++ {
						r := yq*s0 + a - f.p[0]
						for k := m; k < hi-lo; k++ {
							pl[yq*f.wq+lo+k] = xc[r*f.w+col+2*k]
						}
					}
					continue
				}
			}
			for yq := range f.hq {
				row := pl[yq*f.wq:][:f.wq]
				r := yq*s0 + a - f.p[0]
				if r < 0 || r >= f.h || lo == hi {
					clear(row)
					continue
				}
				clear(row[:lo])
				clear(row[hi:])
				src := xc[r*f.w+lo*s1+off:]
				out := row[lo:hi]
				if s1 == 1 {
					copy(out, src)
					continue
				}
				for k := range out {
					out[k] = src[k*s1]
				}
			}
		}
	}
}

// deinterleaveRows is deinterleave over rows rows: row i of src starts at
// src[i·ws] and is w elements long, row i of out0 and out1 at i·ds (and is
// ds long). With float32 on AVX-512, the pairs of all rows are split by one
// vec.Deal.
func deinterleaveRows[T scalar](out0, out1, src []T, rows, ws, w, ds, pad int) {
	s32 := vec32(src)
	if s32 == nil {
		for i := range rows {
			deinterleave(out0[i*ds:][:ds], out1[i*ds:][:ds], src[i*ws:][:w], pad)
		}
		return
	}
	// The same columns of every row: as deinterleave, with n pairs from
	// column k to element base of the phases, and one column left over
	// when k + 2n < l.
	l := max(0, min(w, 2*ds-pad))
	k := 0
	if pad&1 == 1 && l > 0 {
		k = 1
	}
	base, n := (k+pad)/2, (l-k)/2
	vec.Deal(vec32(out0[base:]), vec32(out1[base:]), s32[k:], rows, n, ws, ds)
	for i := range rows {
		o0, o1, row := out0[i*ds:][:ds], out1[i*ds:][:ds], src[i*ws:][:w]
		if k == 1 {
			o1[pad/2] = row[0]
		}
		if k+2*n < l {
			o0[base+n] = row[k+2*n]
		}
	}
}

// deinterleave splits the input row src into its two column phases for
// stride 2 and padding pad ≥ 0: input column k goes to element (k+pad)/2 of
// out0 when k+pad is even, of out1 when it is odd. Columns beyond the rows'
// ends (which no window reaches) are left out; other elements of out0 and
// out1 are left as they are.
func deinterleave[T scalar](out0, out1, src []T, pad int) {
	src = src[:max(0, min(len(src), 2*len(out0)-pad))]
	k := 0
	if pad&1 == 1 && len(src) > 0 {
		out1[pad/2] = src[0]
		k = 1
	}
	base, n := (k+pad)/2, (len(src)-k)/2
	o0, o1, s := out0[base:][:n], out1[base:][:n], src[k:][:2*n]
	if n > 0 && unsafe.Sizeof(s[0]) == 4 && littleEndian {
		// float32 pairs as one 64-bit load, whose low half is the first
		// element (phase 0) on a little-endian machine.
		for i := range o0 {
			w := *(*uint64)(unsafe.Pointer(&s[2*i]))
			setBits(&o0[i], w&0xffffffff)
			setBits(&o1[i], w>>32)
		}
		n = 0
	}
	for i := range n {
		o0[i], o1[i] = s[2*i], s[2*i+1]
	}
	if k+2*len(o0) < len(src) {
		out0[base+len(o0)] = src[k+2*len(o0)]
	}
}

// interleave is the inverse of deinterleave: it sets dst[k] from the phase
// rows in0 and in1 for every column k they hold, the first n of dst, and
// returns n.
func interleave[T scalar](dst, in0, in1 []T, pad int) int {
	dst = dst[:max(0, min(len(dst), 2*len(in0)-pad))]
	k := 0
	if pad&1 == 1 && len(dst) > 0 {
		dst[0] = in1[pad/2]
		k = 1
	}
	base, pairs := (k+pad)/2, (len(dst)-k)/2
	i0, i1, d := in0[base:][:pairs], in1[base:][:pairs], dst[k:][:2*pairs]
	if pairs > 0 && unsafe.Sizeof(d[0]) == 4 && littleEndian {
		// float32 pairs as one 64-bit store (see deinterleave).
		for i := range i0 {
			*(*uint64)(unsafe.Pointer(&d[2*i])) = bits(i0[i]) | bits(i1[i])<<32
		}
		pairs = 0
	}
	for i := range pairs {
		d[2*i], d[2*i+1] = i0[i], i1[i]
	}
	if k+2*len(i0) < len(dst) {
		dst[k+2*len(i0)] = in0[base+len(i0)]
	}
	return len(dst)
}

// littleEndian reports whether the machine stores the low half of a word
// first, which the 64-bit pair moves of deinterleave and interleave need.
var littleEndian = func() bool {
	w := uint16(1)
	return *(*byte)(unsafe.Pointer(&w)) == 1
}()

// unfill sets x [cin, h, w] from a copy laid out by fillFlat: its inverse,
// where input elements that the copy does not hold (no tap reaches them)
// get 0. The layout is the phase-split one (the input gradient's): not
// padded with a stride above 1.
func unfill[T scalar](f *flatIm, x, xf []T) {
	s0, s1 := f.s[0], f.s[1]
	if s1 == 2 && f.p[1] >= 0 && len(f.phases) == s0*s1 {
		// Row by row, each element written once: a row of the copy's
		// planes interleaved, the columns past it zeroed, and rows that
		// no tap reaches zeroed.
		for c := range f.cin {
			xc := x[c*f.h*f.w:][:f.h*f.w]
			for r := range f.h {
				if pr := r + f.p[0]; pr < 0 || pr/s0 >= f.hq {
					clear(xc[r*f.w:][:f.w])
				}
			}
			for a := range s0 {
				p0, p1 := xf[(c*s0+a)*2*f.plane:][:f.plane], xf[((c*s0+a)*2+1)*f.plane:][:f.plane]
				yLo, yHi := span(f.hq, s0, a-f.p[0], f.h)
				if yLo < yHi {
					r := yLo*s0 + a - f.p[0]
					interleaveRows(xc[r*f.w:], p0[yLo*f.wq:], p1[yLo*f.wq:], yHi-yLo, s0*f.w, f.w, f.wq, f.p[1])
				}
			}
		}
		return
	}
	np := len(f.phases)
	cLo, cHi := span(f.wq, 1, -f.p[1], f.w)
	rLo, rHi := span(f.hq, 1, -f.p[0], f.h)
	if np > 1 || s0 != 1 || s1 != 1 || cHi-cLo != f.w || rHi-rLo != f.h {
		// Some element of x is not in the copy (with stride 1 and
		// padding ≥ 0, every row is copied whole).
		clear(x[:f.cin*f.h*f.w])
	}
	for c := range f.cin {
		xc := x[c*f.h*f.w:][:f.h*f.w]
		for q, ph := range f.phases {
			a, b := ph[0], ph[1]
			pl := xf[(c*np+q)*f.plane:][:f.plane]
			off := b - f.p[1]
			lo, hi := span(f.wq, s1, off, f.w)
			if lo == hi {
				continue
			}
			yLo, yHi := span(f.hq, s0, a-f.p[0], f.h)
			if ev := vec32(pl); s1 == 2 && np == 1 && ev != nil && yLo < yHi {
				// With one phase the columns between are 0: the pairs
				// whose second column lies in the row are written whole
				// by AVX-512, the last column alone.
				col := lo*s1 + off
				m := min(hi-lo, (f.w-col)/2)
				r := yLo*s0 + a - f.p[0]
				vec.Weave(vec32(xc[r*f.w+col:]), ev[yLo*f.wq+lo:], nil, yHi-yLo, m, s0*f.w, f.wq)
				for yq := yLo; m < hi-lo && yq < yHi; yq++ {
					r := yq*s0 + a - f.p[0]
					for k := m; k < hi-lo; k++ {
						xc[r*f.w+col+2*k] = pl[yq*f.wq+lo+k]
					}
				}
				continue
			}
			for yq := yLo; yq < yHi; yq++ {
				src := pl[yq*f.wq+lo : yq*f.wq+hi]
				dst := xc[(yq*s0+a-f.p[0])*f.w+lo*s1+off:]
				if s1 == 1 {
					copy(dst, src)
					continue
				}
				for k, v := range src {
					dst[k*s1] = v
				}
			}
		}
	}
}

// interleaveRows is interleave over rows rows: row i of dst starts at
// dst[i·ws] and is w elements long, row i of in0 and in1 at i·ds (and is ds
// long); the columns of each row past those set are zeroed. With float32 on
// AVX-512, the pairs of all rows are joined by one vec.Weave.
func interleaveRows[T scalar](dst, in0, in1 []T, rows, ws, w, ds, pad int) {
	d32 := vec32(dst)
	if d32 == nil {
		for i := range rows {
			row := dst[i*ws:][:w]
			n := interleave(row, in0[i*ds:][:ds], in1[i*ds:][:ds], pad)
			clear(row[n:])
		}
		return
	}
	// As interleave: n pairs from element base of the phases to column k,
	// and one column left over when k + 2n < l.
	l := max(0, min(w, 2*ds-pad))
	k := 0
	if pad&1 == 1 && l > 0 {
		k = 1
	}
	base, n := (k+pad)/2, (l-k)/2
	vec.Weave(d32[k:], vec32(in0[base:]), vec32(in1[base:]), rows, n, ws, ds)
	for i := range rows {
		row, i0, i1 := dst[i*ws:][:w], in0[i*ds:][:ds], in1[i*ds:][:ds]
		if k == 1 {
			row[0] = i1[pad/2]
		}
		if k+2*n < l {
			row[k+2*n] = i0[base+n]
		}
		clear(row[l:])
	}
}

// segments appends to segs the runs of the copy that hold the n output
// positions from start on, one per output row they touch, placed one after
// the other from position pos.
func (f *flatIm) segments(segs []igemm.Segment, start, n, pos int) []igemm.Segment {
	y, x := start/f.ow, start%f.ow
	for d := 0; d < n; {
		run := min(n-d, f.ow-x)
		segs = append(segs, igemm.Segment{Off: y*f.wq + x, Pos: pos + d, Len: run})
		d += run
		x, y = 0, y+1
	}
	return segs
}

// packT is the igemm.PackFunc of the transposed im2col matrix over the
// copy xf, the kernel gradient's op(B): rows are output positions, columns
// taps. It writes the block of positions [p0, p0+kq) and taps
// [j0, j0+cols) as panels of nr taps, with one igemm.TransposeSegments per
// panel: tap j's entries for the positions of one output row are a run of
// xf, which becomes column j of the panel.
func packT[T scalar](f *flatIm, xf, dst []T, p0, kq, j0, cols, nr int) {
	var buf [256]igemm.Segment
	segs := f.segments(buf[:0], p0, kq, 0)
	for t := 0; t*nr < cols; t++ {
		blk := dst[t*kq*nr:][:kq*nr]
		w := min(nr, cols-t*nr)
		if w < nr {
			clear(blk)
		}
		igemm.TransposeSegments(blk, xf, f.offs[j0+t*nr:][:w], nr, segs)
	}
}

// imPacker is the igemm.Packer of the transposed im2col matrix of the
// copy xf (see packT).
type imPacker[T scalar] struct {
	f  *flatIm
	xf []T
}

// Pack writes a block of the transposed im2col matrix.
func (p *imPacker[T]) Pack(dst []T, p0, kq, j0, cols, nr int) {
	packT(p.f, p.xf, dst, p0, kq, j0, cols, nr)
}

// rowsProduct computes out = A·col for the copy at the start of buf, laid
// out by fillFlat for j.f, where A (m×k) is group g's kernel matrix
// (j.pas[g]) and col the im2col matrix whose tap rows start at offs in buf
// (j.f.offs, or j.f.onesOffs with the row of ones after the copy). The
// GEMM reads col in place, in one of three ways (see rowsScratch):
//
//   - j.gaps: igemm.GemmPackedARowsGap over runs of ow output positions
//     with wq − ow elements between, straight into out, [m, oh·ow];
//   - j.pixels: outᵀ = colᵀ·Aᵀ by igemm.GemmRowsA, output positions as
//     rows (rows of a tile may span output rows, so narrow rows waste no
//     column), stored transposed, straight into out (the kernels
//     transpose each tile in registers: N64_C32_K64 14×14's forward spent
//     10% of its time in a separate transpose before);
//   - otherwise igemm.GemmPackedARows over the flattened positions
//     (igemm.RowsSlack elements after the ones let it read a partial last
//     panel in place too): into buf after the slack when the planes have
//     columns past the output's, which it then drops (with j.outSegs), else
//     straight into out.
func (j *convJob[T]) rowsProduct(buf []T, g, m int, offs []int, out []T) {
	f := j.f
	n := f.flat
	b := buf[:f.size+n+igemm.RowsSlack]
	c := buf[len(b):]
	switch {
	case j.gaps:
		igemm.GemmPackedARowsGap(j.inner, j.pas[g], f.oh*f.ow, 1, b, offs, f.ow, f.wq-f.ow, 0, out, f.oh*f.ow)
	case j.pixels:
		igemm.GemmRowsA(j.inner, f.oh*f.ow, 1, b, f.pixels, offs, j.pbs[g], 0, true, out, f.oh*f.ow)
	case f.wq == f.ow:
		igemm.GemmPackedARows(j.inner, j.pas[g], n, 1, b, offs, 0, out, n)
	default:
		igemm.GemmPackedARows(j.inner, j.pas[g], n, 1, b, offs, 0, c[:m*n], n)
		igemm.GatherSegments(out, c, f.rowStarts, f.ow, j.outSegs)
	}
}

// rowsScratch chooses how rowsProduct multiplies by the packed kernels
// j.pas, m×k, and returns the size of its per-worker scratch: the copy, a
// row of ones, the slack and, unless the product goes straight into the
// output, room for the product. When the planes have columns past the
// output's (wq > ow), it reads runs of output positions across them when
// the kernels read such tiles in place (j.gaps: they then compute no
// column to drop); else output positions as rows (j.pixels, packing the
// kernels transposed into j.pbs from w, group g's at g·stride with row
// stride ld) when the micro-kernels read that A in place and m fills
// their tiles' columns better than the flattened positions fill output
// rows. Otherwise it sets j.outSegs, the segments that move row r of a
// flattened product into out (for each output row y of
// igemm.GatherSegments: element y·wq of row r to y·ow of out's row r).
func (j *convJob[T]) rowsScratch(w []T, stride, ld int) int {
	f := j.f
	m, k := j.pas[0].Rows(), j.pas[0].Cols()
	b := f.size + f.flat + igemm.RowsSlack
	if f.wq == f.ow {
		return b
	}
	if j.gaps = j.pas[0].ReadsGapsInPlace(f.ow); j.gaps {
		return b
	}
	// Columns the pixel product computes per useful one, against the
	// flattened product's wq per ow. (While the transpose was a separate
	// pass over the output, only products with k ≥ 256 paid for it; with
	// the transpose in the micro-kernels' stores, the shallow ones gain
	// too: N64_C1_K8 28×28 forward 36–45 → 59–60 GFLOP/s, N32_C16_K32
	// 14×14 209–214 → 236–244.)
	if roundUp(m, j.pas[0].PanelWidth())*f.ow < m*f.wq {
		for g := range j.d.Groups {
			j.pbs = append(j.pbs, igemm.PackB(true, k, m, w[g*stride:], ld))
		}
		if j.pixels = j.pbs[0].ReadsAInPlace(); j.pixels {
			j.f = f.pixelLayout(false)
			return j.f.size + j.f.flat + igemm.RowsSlack
		}
		j.releaseKernelsT()
	}
	for r := range m {
		j.outSegs = append(j.outSegs, igemm.Segment{Off: r * f.flat, Pos: r * f.oh * f.ow, Len: f.ow})
	}
	return b + m*f.flat
}

// packKernels packs, once per call, the kernel matrix of each group for
// the micro-kernels, so that the units' GEMMs do not each pack it again:
// group g's op(A) is rows×cols, read from w at g·stride with row stride ld
// (transposed when trans: w then holds cols×rows). Release them with
// releaseKernels.
//
// (Batching the images of a small convolution into one GEMM, so that fewer
// partial panels waste their micro-tiles, measured 20 to 40% slower: the
// copies and the product then live in L3, not in L1 and L2.)
func (j *convJob[T]) packKernels(trans bool, rows, cols int, w []T, stride, ld int) {
	for g := range j.d.Groups {
		j.pas = append(j.pas, igemm.PackA(trans, rows, cols, w[g*stride:], ld))
	}
}

// releaseKernels returns the packed kernels to their pool.
func (j *convJob[T]) releaseKernels() {
	for i, pa := range j.pas {
		pa.Release()
		j.pas[i] = nil
	}
	j.pas = j.pas[:0]
	j.releaseKernelsT()
}

// releaseKernelsT returns the transposed kernels j.pbs to their pool.
func (j *convJob[T]) releaseKernelsT() {
	for i, pb := range j.pbs {
		pb.Release()
		j.pbs[i] = nil
	}
	j.pbs = j.pbs[:0]
}

// convDims is a convolution's geometry plus the sizes the kernels derive.
type convDims struct {
	tensor.ConvGeom
	cg, kg    int  // input and output channels per group
	ckk       int  // cg·KH·KW: rows of the im2col matrix, columns of Wg
	hw, ohw   int  // input and output plane sizes
	pointwise bool // 1×1 kernel, stride 1, no padding: the input is its own im2col matrix
	colBudget int  // elements of one im2col band
}

func newConvDims(g tensor.ConvGeom, colBudget int) convDims {
	d := convDims{ConvGeom: g, cg: g.C / g.Groups, kg: g.K / g.Groups, hw: g.H * g.W, ohw: g.OH * g.OW, colBudget: colBudget}
	d.ckk = d.cg * g.KH * g.KW
	d.pointwise = g.KH == 1 && g.KW == 1 && g.Stride == [2]int{1, 1} && g.Pad == [2]int{0, 0}
	return d
}

// flat returns the im2col geometry of one group of x, with the segments of
// a band of band output rows when band > 0.
func (d *convDims) flat(band int) *flatIm {
	return getFlatIm(d.cg, d.H, d.W, d.KH, d.KW, d.Stride, d.Pad, d.Dilation, d.OH, d.OW, band)
}

// bandRows returns how many output rows one im2col band holds.
func (d *convDims) bandRows() int {
	return min(d.OH, max(1, d.colBudget/(d.ckk*d.OW)))
}

// units returns the number of (image, group) units.
func (d *convDims) units() int { return d.N * d.Groups }

// unit returns unit u's input [Cg, H·W] of x, output [Kg, OH·OW] of y and
// kernel [Kg, Cg·KH·KW] of w.
func unit[T scalar](d *convDims, u int, x, y, w []T) (xg, yg, wg []T) {
	n, g := u/d.Groups, u%d.Groups
	xg = x[(n*d.C+g*d.cg)*d.hw:][:d.cg*d.hw]
	yg = y[(n*d.K+g*d.kg)*d.ohw:][:d.kg*d.ohw]
	wg = w[g*d.kg*d.ckk:][:d.kg*d.ckk]
	return xg, yg, wg
}

// convSplit returns how many workers run the units of a convolution in
// parallel and how many goroutines each unit's GEMM may use: the threads
// left over when there are fewer units than threads.
func (b *Backend) convSplit(units int) (workers, inner int) {
	workers = b.workers(units, 1)
	return workers, max(1, b.threads/max(workers, 1))
}

// Conv2D computes the cross-correlation y = b + Σ x ⋆ w: x is [N, C, H, W], w
// is [K, C/groups, KH, KW], b is [K] or nil and y is [N, K, OH, OW]. Errors wrap
// ErrShape, ErrParam, ErrDType, ErrBackend, ErrFreed or ErrClosed.
func (b *Backend) Conv2D(y, x, w, bias *tensor.Tensor, p tensor.Conv2DParams) error {
	if err := b.open("conv2d"); err != nil {
		return err
	}
	g, err := tensor.CheckConv2D(b, y, x, w, bias, p)
	if err != nil {
		return err
	}
	d := newConvDims(g, b.colBudget)
	if y.DType() == tensor.Float32 {
		convForward(b, &d, data[float32](y), data[float32](x), data[float32](w), optData[float32](bias))
	} else {
		convForward(b, &d, data[float64](y), data[float64](x), data[float64](w), optData[float64](bias))
	}
	return nil
}

// The kinds of convJob.
const (
	jobForward     = iota // forward by im2col
	jobPointwise          // forward of a pointwise convolution
	jobPointwiseIG        // input gradient of a pointwise convolution
	jobStride1IG          // input gradient as a forward convolution
	jobCol2imIG           // input gradient by col2im
	jobKernelGrad         // kernel gradient
)

// convJob is the state of one convolution call, shared by its workers as
// the par.Task of Backend.dynamicTask: kept in a pool with its per-worker
// packers, so that a call allocates nothing.
type convJob[T scalar] struct {
	kind     int
	d        convDims
	inner    int // goroutines per unit's GEMM
	out, in  []T // the op's result and its input (x, dy)
	w, bias  []T // the kernel as the GEMMs read it, the forward's bias
	k        int // columns of the forward's kernel matrix
	f        *flatIm
	buf      []T // per-worker scratch, per elements each
	per      int
	size, cl int // per-worker copy and (col2im) band lengths within per
	rows     int // output rows per band
	groups   int // kernel gradient: groups of units, partials after the workers' scratch
	parts    []T
	packers  []imPacker[T]
	pas      []*igemm.PackedA[T] // each group's kernel matrix, packed (packKernels)
	pbs      []*igemm.PackedB[T] // with pixels, each group's kernel matrix transposed (rowsScratch)
	// pixels is set when the GEMMs read the im2col matrix as
	// igemm.GemmRowsA's A: rowsProduct computes the output transposed
	// (rowsScratch), the kernel gradient dWᵀ (convKernelGrad).
	pixels  bool
	outSegs []igemm.Segment // rowsProduct's moves of output rows (rowsScratch)
	gaps    bool            // rowsProduct reads across the planes' extra columns (rowsScratch)
	// planes holds c·H·W for the input channels c of a pointwise forward:
	// the rows of its B, which igemm.GemmPackedARows reads in place, with
	// no packed copy. (The input gradient, whose products are as deep as
	// the output has channels and as tall as the input has, reuses each
	// packed panel of B over more tiles, and measured no faster in place.)
	planes []int
}

var convJobPools [2]sync.Pool

// getConvJob returns a cleared job with at least workers packers.
func getConvJob[T scalar](kind int, d *convDims, workers, inner int) *convJob[T] {
	var z T
	pool := &convJobPools[unsafe.Sizeof(z)/8]
	j, ok := pool.Get().(*convJob[T])
	if !ok {
		j = new(convJob[T])
	}
	packers := j.packers[:0]
	if cap(packers) < workers {
		packers = make([]imPacker[T], workers)
	}
	*j = convJob[T]{kind: kind, d: *d, inner: inner, packers: packers[:workers], pas: j.pas[:0], pbs: j.pbs[:0], outSegs: j.outSegs[:0], planes: j.planes[:0]}
	return j
}

// putConvJob drops j's references to the caller's memory and pools it.
func putConvJob[T scalar](j *convJob[T]) {
	packers := j.packers[:cap(j.packers)]
	clear(packers)
	j.releaseKernels()
	*j = convJob[T]{packers: packers[:0], pas: j.pas[:0], pbs: j.pbs[:0], outSegs: j.outSegs[:0], planes: j.planes[:0]}
	var z T
	convJobPools[unsafe.Sizeof(z)/8].Put(j)
}

// Run runs item i (a unit, or a group of units for the kernel gradient) on
// worker wk.
func (j *convJob[T]) Run(wk, i, _ int) {
	d := &j.d
	switch j.kind {
	case jobForward:
		buf := j.buf[wk*j.per:][:j.per]
		n, g := i/d.Groups, i%d.Groups
		xg := j.in[(n*d.C+g*d.cg)*d.hw:][:d.cg*d.hw]
		yg := j.out[(n*d.K+g*d.kg)*d.ohw:][:d.kg*d.ohw]
		fillFlat(j.f, buf[:j.f.size], xg)
		offs := j.f.offs
		if j.bias != nil {
			offs = j.f.onesOffs
		}
		j.rowsProduct(buf, g, d.kg, offs, yg)
	case jobPointwise:
		xg, yg, _ := unit(d, i, j.in, j.out, j.w)
		var beta T
		if j.bias != nil {
			fillRows(yg, d.ohw, j.bias[(i%d.Groups)*d.kg:][:d.kg])
			beta = 1
		}
		if j.pixels {
			igemm.GemmRowsA(j.inner, d.ohw, 1, xg, j.f.pixels, j.planes, j.pbs[i%d.Groups], beta, true, yg, d.ohw)
			return
		}
		igemm.GemmPackedARows(j.inner, j.pas[i%d.Groups], d.ohw, 1, xg, j.planes, beta, yg, d.ohw)
	case jobPointwiseIG:
		dxg, dyg, _ := unit(d, i, j.out, j.in, j.w)
		igemm.GemmPackedA(j.inner, j.pas[i%d.Groups], d.ohw, 1, dyg, d.ohw, false, 0, dxg, d.hw)
	case jobStride1IG:
		buf := j.buf[wk*j.per:][:j.per]
		dxg, dyg, _ := unit(d, i, j.out, j.in, j.w)
		fillFlat(j.f, buf[:j.f.size], dyg)
		j.rowsProduct(buf, i%d.Groups, d.cg, j.f.offs, dxg)
	case jobCol2imIG:
		j.col2im(wk, i)
	case jobKernelGrad:
		j.kernelGrad(wk, i)
	}
}

func convForward[T scalar](b *Backend, d *convDims, y, x, w, bias []T) {
	workers, inner := b.convSplit(d.units())
	if d.pointwise {
		j := getConvJob[T](jobPointwise, d, workers, inner)
		defer putConvJob(j)
		j.out, j.in, j.w, j.bias = y, x, w, bias
		for c := range d.cg {
			j.planes = append(j.planes, c*d.hw)
		}
		if igemm.RowsAInPlace[T]() && tileElems[T](d.ohw, d.kg) < tileElems[T](d.kg, d.ohw) {
			// Output positions as rows, stored transposed (see
			// rowsProduct's pixels): fewer wasted columns when the
			// positions fill the column panels worse than the channels
			// (N32_C256_K64 14×14: 270–280 → 289–298 GFLOP/s).
			j.f, j.pixels = d.flat(0), true
			for g := range d.Groups {
				j.pbs = append(j.pbs, igemm.PackB(true, d.cg, d.kg, w[g*d.kg*d.ckk:], d.ckk))
			}
		} else {
			j.packKernels(false, d.kg, d.cg, w, d.kg*d.ckk, d.ckk)
		}
		b.dynamicTask(d.units(), j)
		return
	}
	j := getConvJob[T](jobForward, d, workers, inner)
	defer putConvJob(j)
	// With a bias, each kernel row gets the bias as one more column, which
	// multiplies the row of ones that pack appends to the im2col matrix.
	j.k, j.w = d.ckk, w
	if bias != nil {
		j.k++
		s := getScratch[T](d.K * j.k)
		defer putScratch(s)
		j.w = *s
		for r := range d.K {
			copy(j.w[r*j.k:], w[r*d.ckk:][:d.ckk])
			j.w[r*j.k+d.ckk] = bias[r]
		}
	}
	j.f = d.flat(0)
	j.packKernels(false, d.kg, j.k, j.w, d.kg*j.k, j.k)
	j.per = j.rowsScratch(j.w, d.kg*j.k, j.k)
	buf := getScratch[T](workers * j.per)
	defer putScratch(buf)
	j.buf, j.out, j.in, j.bias = *buf, y, x, bias
	if bias != nil {
		for wk := range workers {
			fill(j.buf[wk*j.per+j.f.size:][:j.f.flat], 1)
		}
	}
	b.dynamicTask(d.units(), j)
}

// Conv2DInputGrad computes dx = Σ dy ∗ w, the gradient of Conv2D with respect
// to its input: dx is [N, C, H, W], dy is [N, K, OH, OW], w as in Conv2D.
// Input positions that no window reaches get 0. Errors wrap ErrShape,
// ErrParam, ErrDType, ErrBackend, ErrFreed or ErrClosed.
func (b *Backend) Conv2DInputGrad(dx, dy, w *tensor.Tensor, p tensor.Conv2DParams) error {
	if err := b.open("conv2d input gradient"); err != nil {
		return err
	}
	g, err := tensor.CheckConv2DInputGrad(b, dx, dy, w, p)
	if err != nil {
		return err
	}
	d := newConvDims(g, b.colBudget)
	if dx.DType() == tensor.Float32 {
		convInputGrad(b, &d, data[float32](dx), data[float32](dy), data[float32](w))
	} else {
		convInputGrad(b, &d, data[float64](dx), data[float64](dy), data[float64](w))
	}
	return nil
}

func convInputGrad[T scalar](b *Backend, d *convDims, dx, dy, w []T) {
	switch {
	case d.pointwise:
		workers, inner := b.convSplit(d.units())
		j := getConvJob[T](jobPointwiseIG, d, workers, inner)
		defer putConvJob(j)
		j.out, j.in, j.w = dx, dy, w
		j.packKernels(true, d.cg, d.kg, w, d.kg*d.ckk, d.ckk)
		b.dynamicTask(d.units(), j)
	case d.Stride == [2]int{1, 1} && (b.inputGrad == igForward || b.inputGrad == igAuto && d.inputGradForward()):
		convInputGradStride1(b, d, dx, dy, w)
	default:
		convInputGradCol2im(b, d, dx, dy, w)
	}
}

// convInputGradStride1 computes the input gradient of a stride-1
// convolution as the forward convolution of dy with the flipped kernel, its
// channel axes swapped, and padding dilation·(size−1) − pad per axis.
func convInputGradStride1[T scalar](b *Backend, d *convDims, dx, dy, w []T) {
	kk := d.KH * d.KW
	// wf holds W'g [Cg, Kg·KH·KW] of each group: W'g[c][k, i, j] =
	// Wg[k][c, KH−1−i, KW−1−j].
	wf := getScratch[T](len(w))
	defer putScratch(wf)
	for g := range d.Groups {
		wg, fg := w[g*d.kg*d.ckk:][:d.kg*d.ckk], (*wf)[g*d.kg*d.ckk:][:d.kg*d.ckk]
		for k := range d.kg {
			for c := range d.cg {
				src, dst := wg[(k*d.cg+c)*kk:][:kk], fg[(c*d.kg+k)*kk:][:kk]
				for i, v := range src {
					dst[kk-1-i] = v
				}
			}
		}
	}
	workers, inner := b.convSplit(d.units())
	j := getConvJob[T](jobStride1IG, d, workers, inner)
	defer putConvJob(j)
	j.f = getFlatIm(d.kg, d.OH, d.OW, d.KH, d.KW, [2]int{1, 1},
		[2]int{d.Dilation[0]*(d.KH-1) - d.Pad[0], d.Dilation[1]*(d.KW-1) - d.Pad[1]}, d.Dilation, d.H, d.W, 0)
	j.packKernels(false, d.cg, d.kg*kk, *wf, d.kg*d.ckk, d.kg*kk)
	j.per = j.rowsScratch(*wf, d.kg*d.ckk, d.kg*kk)
	buf := getScratch[T](workers * j.per)
	defer putScratch(buf)
	j.buf, j.out, j.in, j.w = *buf, dx, dy, *wf
	b.dynamicTask(d.units(), j)
}

// convInputGradCol2im computes the input gradient per unit and band of
// output rows as c = Wgᵀ·dYg, the gradient of the band of the im2col matrix,
// added row by row onto a zeroed copy laid out like the forward's (the
// transpose of its gather), which then becomes dXg.
func convInputGradCol2im[T scalar](b *Backend, d *convDims, dx, dy, w []T) {
	workers, inner := b.convSplit(d.units())
	j := getConvJob[T](jobCol2imIG, d, workers, inner)
	defer putConvJob(j)
	j.rows = d.bandRows()
	j.f = d.flat(j.rows)
	j.size, j.cl = j.f.size, d.ckk*j.rows*d.OW
	j.per = j.size + j.cl
	buf := getScratch[T](workers * j.per)
	defer putScratch(buf)
	j.buf, j.out, j.in, j.w = *buf, dx, dy, w
	j.packKernels(true, d.ckk, d.kg, w, d.kg*d.ckk, d.ckk)
	b.dynamicTask(d.units(), j)
}

// col2im is unit u of convInputGradCol2im on worker wk.
func (j *convJob[T]) col2im(wk, u int) {
	d, f := &j.d, j.f
	xf := j.buf[wk*j.per:][:j.size]
	col := j.buf[wk*j.per+j.size:][:j.cl]
	dxg, dyg, _ := unit(d, u, j.out, j.in, j.w)
	pa := j.pas[u%d.Groups]
	clear(xf)
	for y0 := 0; y0 < d.OH; y0 += j.rows {
		y1 := min(y0+j.rows, d.OH)
		n := (y1 - y0) * d.OW
		igemm.GemmPackedA(j.inner, pa, n, 1, dyg[y0*d.OW:], d.ohw, false, 0, col, n)
		// The band's segments are those of the first band, shifted down
		// y0 rows of the copy.
		igemm.AddSegments(xf[y0*f.wq:], col, f.offs, n, f.bandSegs[:y1-y0])
	}
	unfill(f, dxg, xf)
}

// Conv2DKernelGrad computes dw = x ⋆ dy summed over the batch, the gradient of
// Conv2D with respect to its kernel. Shapes as in Conv2D, with dw in place of
// w. Errors wrap ErrShape, ErrParam, ErrDType, ErrBackend, ErrFreed or
// ErrClosed.
func (b *Backend) Conv2DKernelGrad(dw, x, dy *tensor.Tensor, p tensor.Conv2DParams) error {
	if err := b.open("conv2d kernel gradient"); err != nil {
		return err
	}
	g, err := tensor.CheckConv2DKernelGrad(b, dw, x, dy, p)
	if err != nil {
		return err
	}
	d := newConvDims(g, b.colBudget)
	if dw.DType() == tensor.Float32 {
		convKernelGrad(b, &d, data[float32](dw), data[float32](x), data[float32](dy))
	} else {
		convKernelGrad(b, &d, data[float64](dw), data[float64](x), data[float64](dy))
	}
	return nil
}

// tileElems returns the elements that the micro-kernels' tiles of T cover
// when they compute an m×n product: m and n rounded up to the tile's rows
// and columns. Comparing tileElems(m, n) with tileElems(n, m) tells whether
// a product wastes less computed as it is or transposed.
func tileElems[T scalar](m, n int) int {
	mr, nr := igemm.TileSize[T]()
	return roundUp(m, mr) * roundUp(n, nr)
}

// roundUp returns x rounded up to a multiple of m.
func roundUp(x, m int) int { return (x + m - 1) / m * m }

// maxPartials bounds the elements of the kernel gradient's partial sums
// (16 MiB of float32): with large kernels there are fewer groups of units.
const maxPartials = 1 << 22

func convKernelGrad[T scalar](b *Backend, d *convDims, dw, x, dy []T) {
	workers, inner := b.convSplit(d.units())
	j := getConvJob[T](jobKernelGrad, d, workers, inner)
	defer putConvJob(j)
	j.rows = d.OH
	if !d.pointwise {
		j.rows = d.bandRows()
		j.f = d.flat(j.rows)
		j.size = j.f.size
	}
	j.per = j.size
	// dWᵀ (taps × output channels) rather than dW, unless its tiles hold
	// more wasted elements: with few output channels most columns of dWᵀ's
	// tiles are padding, and the packed dYᵀ is mostly zeros (N64_C1_K8
	// 28×28 went from 25–27 to 35–40 GFLOP/s computing dW; 1→5 (seed01's),
	// 1→6 and 6→16 channels (LeNet-5's) measured within noise either way).
	if j.f != nil && igemm.RowsAInPlace[T]() && tileElems[T](d.ckk, d.kg) <= tileElems[T](d.kg, d.ckk) {
		// dWᵀ of each group, per worker (see kernelGrad), from the copy
		// laid out for GemmRowsA.
		j.pixels = true
		j.f = j.f.pixelLayout(true)
		j.size = j.f.size
		if j.f.inPlace {
			j.size = 0 // the GEMMs read x
		}
		j.per = j.size + len(dw)
	}
	// The units are cut into groups of consecutive units, a few per worker
	// so that the workers can balance their load, each summed into a
	// partial of dw (group 0 straight into dw), and the partials are added
	// in group order: the result depends on the thread count, not on which
	// worker ran which group. Each worker has a copy of its unit's input.
	j.groups = min(d.units(), max(workers, min(4*workers, 1+maxPartials/len(dw))))
	buf := getScratch[T](workers*j.per + (j.groups-1)*len(dw))
	defer putScratch(buf)
	j.buf, j.out, j.in, j.w = *buf, dw, x, dy
	j.parts = (*buf)[workers*j.per:]
	b.dynamicTask(j.groups, j)
	if j.groups > 1 {
		b.parallelTask(len(dw), elemGrain, (*sumParts[T])(j))
	}
}

// kernelGrad sums the group grp of units of convKernelGrad into its
// partial, on worker wk.
func (j *convJob[T]) kernelGrad(wk, grp int) {
	d, f := &j.d, j.f
	dw, x, dy := j.out, j.in, j.w
	xf := j.buf[wk*j.per:][:j.size]
	p := &j.packers[wk]
	part := dw
	if grp > 0 {
		part = j.parts[(grp-1)*len(dw):][:len(dw)]
	}
	clear(part)
	// With pixels, the GEMMs compute dWgᵀ = col(Xg)·dYgᵀ into wt, the
	// im2col matrix read in place as igemm.GemmRowsA's A (taps × output
	// positions: rows at the taps' offsets, columns at the positions'),
	// dYgᵀ packed band by band; each group's dWgᵀ is transposed into the
	// partial at the end. (Stored transposed by GemmRowsA straight into
	// the partial instead, the kernel gradient measured 5–10% slower: it
	// reads and writes its tiles once per k block of output positions,
	// and transposed, a tile's columns are 32 half cache lines.)
	// Otherwise dWg += dYg·col(Xg)ᵀ with the transposed im2col matrix
	// packed from the copy (packT).
	var wt []T
	if j.pixels {
		wt = j.buf[wk*j.per+j.size:][:len(dw)]
		clear(wt)
	}
	for u := grp * d.units() / j.groups; u < (grp+1)*d.units()/j.groups; u++ {
		xg, dyg, dwg := unit(d, u, x, dy, part)
		if f == nil {
			gemm(j.inner, false, true, d.kg, d.ckk, d.ohw, dyg, d.ohw, xg, d.hw, 1, dwg, d.ckk)
			continue
		}
		if f.inPlace && j.pixels {
			xf = xg
		} else {
			fillFlat(f, xf, xg)
		}
		for y0 := 0; y0 < d.OH; y0 += j.rows {
			n := (min(y0+j.rows, d.OH) - y0) * d.OW
			if j.pixels {
				g := u % d.Groups
				pb := igemm.PackB(true, n, d.kg, dyg[y0*d.OW:], d.ohw)
				igemm.GemmRowsA(j.inner, d.ckk, 1, xf[f.rowStarts[y0]:], f.offs, f.pixels[:n], pb, 1, false, wt[g*d.ckk*d.kg:][:d.ckk*d.kg], d.kg)
				pb.Release()
				continue
			}
			// The band's transposed im2col matrix is packed from the
			// copy, from y0 rows down, as the GEMM asks for it.
			*p = imPacker[T]{f: f, xf: xf[y0*f.wq:]}
			igemm.GemmPacker(j.inner, false, d.kg, d.ckk, n, 1, dyg[y0*d.OW:], d.ohw, igemm.Packer[T](p), 1, dwg, d.ckk)
		}
	}
	if j.pixels {
		for g := range d.Groups {
			igemm.Transpose(part[g*d.kg*d.ckk:], d.ckk, wt[g*d.ckk*d.kg:], d.kg, d.ckk, d.kg)
		}
	}
}

// sumParts is a kernel-gradient job as the par.Task that adds its partials
// onto dw, in group order, over a range of dw's elements.
type sumParts[T scalar] convJob[T]

// Run adds the partials of the elements [lo, hi).
func (s *sumParts[T]) Run(_, lo, hi int) {
	dw := s.out
	out := dw[lo:hi]
	for g := 1; g < s.groups; g++ {
		part := s.parts[(g-1)*len(dw)+lo:][:hi-lo]
		for i, v := range part {
			out[i] += v
		}
	}
}
