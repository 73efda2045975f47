// Package gemm is vkcnn's CPU matrix multiply: Sgemm and Dgemm compute
// C = alpha·op(A)·op(B) + beta·C on row-major float32 and float64 matrices,
// like BLAS gemm, with the blocking of Goto and BLIS, register-tiled
// micro-kernels in Go assembly (AVX-512 and AVX2 with FMA, generated with
// avo by the program in ./asm: run `go generate`), a pure-Go micro-kernel
// for other CPUs (and for the purego build tag), and goroutines that each
// write their own blocks of C. The CPU backend's convolutions (im2col) and
// matmuls run on it.
//
// Like BLAS, and unlike the rest of vkcnn, the functions panic on bad sizes:
// callers validate their input first.
//
// # Blocking
//
// The micro-kernel keeps an MR×NR tile of C in vector registers: NR columns
// are NR/lanes vectors per row, loaded from a packed panel of B, and each of
// the MR rows is updated with FMAs against a broadcast element of a packed
// panel of A. Per step of k it loads NR/lanes vectors and MR scalars and
// issues MR·NR/lanes independent FMAs, enough to cover the FMA latency.
// The element of A is broadcast into a register by a load of its own, not
// by the FMA's embedded AVX-512 broadcast, which held the float32 tile to
// about 80% of the FMA peak on AMD Zen 5 (90–95% with the separate
// broadcast, BenchmarkKernel). A half-width variant computes
// the last column panel of C when it is at most half full.
//
//	kernel set  type     MR×NR   accumulators     KC    NC
//	avx512      float32  8×32    16 zmm           384   192
//	avx512      float64  8×16    16 zmm           256   128
//	avx2        float32  6×16    12 ymm           384   192
//	avx2        float64  6×8     12 ymm           256   128
//	generic     both     4×4     16 scalars       256   256
//
// The values are for the caches of the machines vkcnn is tuned on (AMD Zen 4:
// 32 KiB L1d and 1 MiB L2 per core, 32 MiB shared L3; recent Intel cores have
// 32–48 KiB L1d and 1–2 MiB L2, so the same values fit):
//
//   - KC, the depth of a k block, is set by L1: the A micro-panel (MR·KC
//     elements, 12 KiB for float32 AVX-512, 16 KiB for float64) is reused by
//     every B micro-panel of the block and must stay in L1 next to the B
//     micro-panel streaming through, so it takes about a third to a half of
//     L1. Deep blocks also amortise loading and storing the C tile, once per
//     k block. K is cut into blocks of nearly equal size no larger than KC,
//     so K = 576 gives two blocks of 288 rather than 384 + 192.
//   - NC, the width of a column block, is set by L2: a task packs a KC×NC
//     block of op(B) (288 KiB for float32 AVX-512, 256 KiB for float64)
//     that every A micro-panel of the task streams from L2, so it takes
//     about a quarter of L2, leaving room for the A panels, the C tiles and
//     the rows of B being read, and still fitting when two hardware threads
//     share one L2. Narrow blocks also make more tasks to balance between
//     goroutines.
//   - op(A) is packed once per call (in slabs of rows of at most 8 MiB) and
//     shared by all goroutines; it stays in L2 or L3 and each A micro-panel
//     is read once per column block. PackA packs it once for several calls
//     (GemmPackedA, GemmPackedAPacker): the convolutions pack their kernel
//     once per call, not once per image.
//
// When B is not transposed, the first row of tiles of each block runs a
// fused kernel that reads B in place, prefetching rows ahead (every row is
// on its own page for wide matrices, where hardware prefetchers stop), and
// writes the packed copy as it computes: the memory traffic of packing then
// overlaps the FMAs instead of stalling a separate copy. A transposed B is
// packed with AVX 8×8 (float32) or 4×4 (float64) block transposes.
//
// # Products with a generated B
//
// GemmFunc computes C = alpha·op(A)·B + beta·C where B is never stored: a
// PackFunc writes each block of B the driver needs straight into the packed
// panel layout. The CPU backend's convolutions pass one that gathers their
// im2col matrix from a padded copy of the image, so that the matrix costs
// one write into cache instead of a write, a read and a packing copy.
// GatherSegments is the copy such a function makes (rows that are runs of
// one slice, in AVX blocks), AddSegments its transpose (col2im), and
// TransposeSegments the copy for a B that is such a matrix transposed (the
// kernel gradient's), in AVX block transposes.
//
// GemmPackedARows goes one step further for a B whose rows are runs of one
// slice at given offsets: each kernel set has a variant of its micro-kernel
// that loads row p of a panel from b+offs[p] (one more scalar load per k
// step), so B is never packed at all. Over a zero-padded image with
// flattened planes, a convolution's im2col matrix is exactly such a B.
// GemmPackedARowsGap reads rows that skip a gap of elements after every
// width columns, as a padded image's rows do: the AVX-512 sets have
// variants that load the vector holding a gap in two parts, the second one
// masked, so that a convolution's tiles run over its output positions
// alone, straight into its output.
//
// GemmRowsA turns the idea around for A: each AVX-512 set has a variant
// that broadcasts row i's element of step p from a+rows[i]+idx[p], with B
// packed once (PackB). With output positions as the rows and taps as the
// columns, a convolution's transposed im2col matrix is such an A, and rows
// of a tile may span several output rows; a second variant stores each tile
// transposed (8×16 blocks transposed in registers by unpacks and lane
// shuffles), so that the product lands in the convolution's own layout.
//
// # Threads
//
// A call uses up to Threads() goroutines (SetThreads; GOMAXPROCS by default),
// fewer for small products. The slab of C is cut into a grid of tasks, at
// most NC columns wide, chosen to balance the goroutines' work; goroutines
// take tasks in turn, and each task writes only its own block of C, so
// calls are race-free. Calls may run concurrently from several goroutines.
package gemm

//go:generate go run ./asm -out kernels_amd64.s -stubs kernels_amd64.go -pkg gemm
//go:generate go run ./neongen -out kernels_arm64.s
