package data

import (
	"fmt"
	"strings"

	"github.com/vkcnn/vkcnn/tensor"
)

// Options configures Load.
type Options struct {
	// Dir, when set, is the folder that holds the four IDX files of "mnist"
	// (also read for "mnist01") or "fashion": only it is read, nothing is
	// fetched. "" means search $VKCNN_DATA/<name>, the user cache and the
	// system folders, and fetch MNIST when it is missing (see Locate).
	Dir string
	// NoDownload turns fetching off: a dataset that is not on disk is an
	// error wrapping fs.ErrNotExist.
	NoDownload bool
	// Seed seeds the synthetic sets ("lines").
	Seed uint64
	// N is the number of images of a synthetic set before the split; 0 means
	// its default (LinesDefaultN for "lines").
	N int
}

// Names lists the datasets Load knows.
func Names() []string { return []string{"mnist", "mnist01", "fashion", "lines"} }

// Load returns the training and test sets of the named dataset (see Names
// and the package documentation):
//
//   - "mnist": the official MNIST, 60,000 training and 10,000 test digits
//     (classes "0" to "9"), from the folder Locate finds (fetched there
//     when missing);
//   - "mnist01": the digits 0 and 1 of "mnist", labelled 0 and 1 (12,665
//     training and 2,115 test images);
//   - "fashion": Fashion-MNIST, 60,000 training and 10,000 test images of
//     clothing in ten classes named as in FashionClassNames, from the folder
//     Locate finds (Debian's dataset-fashion-mnist installs it; it is not
//     fetched);
//   - "lines": Lines(o.N, o.Seed), its first 80% (rounded down) for training
//     and the rest for testing.
//
// Every file of "mnist" and "fashion" is checked against the SHA-256 of the
// published file's content (raw or gzip). It returns a tensor.ErrParam error
// for an unknown name or a negative N (and for "lines" an N below 2), the
// errors of Locate (fs.ErrNotExist that says how to get the files,
// ErrDownload), an ErrChecksum error for a file with other content, and the
// errors of LoadMNIST for malformed files.
func Load(name string, o Options) (train, test *Dataset, err error) {
	if o.N < 0 {
		return nil, nil, fmt.Errorf("load %q: %d images, expected ≥ 0 (0 for the default): %w", name, o.N, tensor.ErrParam)
	}
	switch name {
	case "mnist", "fashion":
		return officials[name].load(o)
	case "mnist01":
		train, test, err := mnistSet.load(o)
		if err != nil {
			return nil, nil, err
		}
		if train, err = train.KeepClasses("mnist01 train", 0, 1); err != nil {
			return nil, nil, err
		}
		if test, err = test.KeepClasses("mnist01 test", 0, 1); err != nil {
			return nil, nil, err
		}
		return train, test, nil
	case "lines":
		n := o.N
		if n == 0 {
			n = LinesDefaultN
		}
		if n < 2 {
			return nil, nil, fmt.Errorf("load lines: %d images, expected ≥ 2 so that both sets are non-empty: %w", n, tensor.ErrParam)
		}
		all, err := Lines(n, o.Seed)
		if err != nil {
			return nil, nil, err
		}
		return all.Split(max(n*4/5, 1))
	}
	return nil, nil, fmt.Errorf("load: unknown dataset %q, expected one of %s: %w", name, strings.Join(Names(), ", "), tensor.ErrParam)
}
