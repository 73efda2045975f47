package data

import (
	"fmt"
	"math/rand/v2"

	"github.com/vkcnn/vkcnn/tensor"
)

// Perm returns a pseudo-random permutation of 0…n−1 determined by seed
// (Shuffle driven by PCG), the same on every run and machine. For a new
// order every epoch, pass a seed derived from the epoch, such as
// seed+uint64(epoch). n < 1 gives an empty slice.
func Perm(n int, seed uint64) []int {
	p := seq(0, max(n, 0))
	Shuffle(p, rand.New(rand.NewPCG(seed, 0x76_6b_63_6e_6e))) // "vkcnn"
	return p
}

// Shuffle puts the indices of order in a pseudo-random order drawn from r
// (rand.Rand.Shuffle, a Fisher–Yates shuffle): the one shuffling step of
// Perm and of package nn's Fit, which passes its checkpointed generator.
func Shuffle(order []int, r *rand.Rand) {
	r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
}

// Batches cuts order into consecutive batches of size indices; the last
// batch is shorter when size does not divide len(order). The batches are
// sub-slices of order (nothing is copied). It returns a tensor.ErrParam
// error when size < 1.
func Batches(order []int, size int) ([][]int, error) {
	if size < 1 {
		return nil, fmt.Errorf("batches: batch size %d, expected ≥ 1: %w", size, tensor.ErrParam)
	}
	size = min(size, max(len(order), 1))
	out := make([][]int, 0, (len(order)+size-1)/size)
	for lo := 0; lo < len(order); lo += size {
		hi := min(lo+size, len(order))
		out = append(out, order[lo:hi:hi])
	}
	return out, nil
}

// Batch copies the images idx of d into x, back to back ([len(idx), C, H, W]
// in NCHW order), and their labels into y. x must have exactly
// len(idx)·d.ItemLen() elements; y must have len(idx) elements, or be nil to
// skip labels. It returns a tensor.ErrShape error for a buffer of the wrong
// length and a tensor.ErrParam error naming the first index outside
// [0, d.Len()).
func Batch[T float32 | float64](d *Dataset, x []T, y []int, idx []int) error {
	n := d.ItemLen()
	if len(x) != len(idx)*n {
		return fmt.Errorf("batch of %d images %v: image buffer has %d elements, expected %d: %w",
			len(idx), d.Shape, len(x), len(idx)*n, tensor.ErrShape)
	}
	if y != nil && len(y) != len(idx) {
		return fmt.Errorf("batch of %d images: label buffer has %d elements, expected %d: %w", len(idx), len(y), len(idx), tensor.ErrShape)
	}
	if len(d.Images) < d.Len()*n {
		return fmt.Errorf("batch: dataset %q has %d image values for %d labels of %v: %w", d.Name, len(d.Images), d.Len(), d.Shape, tensor.ErrShape)
	}
	if err := Gather(x, d.Images[:d.Len()*n], idx, n); err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	if y != nil {
		for k, i := range idx {
			y[k] = d.Labels[i]
		}
	}
	return nil
}

// Gather copies the rows idx of src (rows of row values back to back) into
// dst, converting to T: row k of dst is row idx[k] of src. It is the one
// gathering step of Batch and of package nn's Fit, Evaluate and Predict.
// dst must have len(idx)·row elements. It returns a tensor.ErrShape error
// for a wrong length or row < 1 and a tensor.ErrParam error naming the first
// index outside the rows of src.
func Gather[T float32 | float64](dst []T, src []float32, idx []int, row int) error {
	if row < 1 || len(dst) != len(idx)*row || len(src)%row != 0 {
		return fmt.Errorf("gather %d rows of %d values from %d into %d: expected a buffer of %d and whole rows: %w",
			len(idx), row, len(src), len(dst), len(idx)*max(row, 0), tensor.ErrShape)
	}
	rows := len(src) / row
	for k, i := range idx {
		if i < 0 || i >= rows {
			return fmt.Errorf("index %d at position %d, expected in [0, %d): %w", i, k, rows, tensor.ErrParam)
		}
		d, s := dst[k*row:(k+1)*row], src[i*row:(i+1)*row]
		for j, v := range s {
			d[j] = T(v)
		}
	}
	return nil
}

// OneHot writes one row of classes values per label into dst: 1 at the
// label's column, 0 elsewhere (the target rows of a softmax cross-entropy).
// dst must have len(labels)·classes elements. It returns a tensor.ErrShape
// error for a wrong length and a tensor.ErrParam error for classes < 1 or a
// label outside [0, classes).
func OneHot[T float32 | float64](dst []T, labels []int, classes int) error {
	if classes < 1 {
		return fmt.Errorf("one-hot: %d classes, expected ≥ 1: %w", classes, tensor.ErrParam)
	}
	if len(dst) != len(labels)*classes {
		return fmt.Errorf("one-hot: buffer has %d elements, expected %d (%d labels × %d classes): %w",
			len(dst), len(labels)*classes, len(labels), classes, tensor.ErrShape)
	}
	clear(dst)
	for i, l := range labels {
		if l < 0 || l >= classes {
			return fmt.Errorf("one-hot: label %d at position %d, expected in [0, %d): %w", l, i, classes, tensor.ErrParam)
		}
		dst[i*classes+l] = 1
	}
	return nil
}
