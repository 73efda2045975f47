package data

import (
	"fmt"
	"strings"

	"github.com/vkcnn/vkcnn/tensor"
)

// Options configures Load.
type Options struct {
	// Dir is the MNIST folder for "mnist" and "mnist01"; "" means DefaultDir().
	Dir string
	// Seed seeds the synthetic sets ("lines").
	Seed uint64
	// N is the number of images of a synthetic set before the split; 0 means
	// its default (LinesDefaultN for "lines").
	N int
}

// Names lists the datasets Load knows.
func Names() []string { return []string{"mnist", "mnist01", "lines"} }

// Load returns the training and test sets of the named dataset (see Names
// and the package documentation):
//
//   - "mnist": LoadMNIST(o.Dir);
//   - "mnist01": the digits 0 and 1 of "mnist", labelled 0 and 1;
//   - "lines": Lines(o.N, o.Seed), its first 80% (rounded down) for training
//     and the rest for testing.
//
// It returns a tensor.ErrParam error for an unknown name or a negative N
// (and for "lines" an N below 2), and the errors of LoadMNIST.
func Load(name string, o Options) (train, test *Dataset, err error) {
	if o.N < 0 {
		return nil, nil, fmt.Errorf("load %q: %d images, expected ≥ 0 (0 for the default): %w", name, o.N, tensor.ErrParam)
	}
	dir := o.Dir
	if dir == "" {
		dir = DefaultDir()
	}
	switch name {
	case "mnist":
		return LoadMNIST(dir)
	case "mnist01":
		train, test, err := LoadMNIST(dir)
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
