package data

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/vkcnn/vkcnn/tensor"
)

// The file names of the official MNIST layout, each optionally with ".gz".
const (
	TrainImagesFile = "train-images-idx3-ubyte"
	TrainLabelsFile = "train-labels-idx1-ubyte"
	TestImagesFile  = "t10k-images-idx3-ubyte"
	TestLabelsFile  = "t10k-labels-idx1-ubyte"
)

// DataEnv names the environment variable that overrides DefaultDir.
const DataEnv = "VKCNN_DATA"

// DefaultDir returns the MNIST folder: $VKCNN_DATA when set, else
// .cache/mnist relative to the working directory (where
// scripts/get-mnist.sh puts it when run from the repository root).
func DefaultDir() string {
	if d := os.Getenv(DataEnv); d != "" {
		return d
	}
	return filepath.Join(".cache", "mnist")
}

// digitNames names the ten MNIST classes.
var digitNames = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// LoadMNIST reads the training and test sets from dir in the official MNIST
// layout (TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile,
// each raw or with a .gz suffix), as written by scripts/get-mnist.sh. The
// datasets have 10 classes named "0" to "9" and items of shape [1, rows,
// cols]. A missing file is an error wrapping fs.ErrNotExist that says how to
// get the data; other errors are those of LoadIDX, plus a tensor.ErrParam
// error for a label above 9 and a tensor.ErrShape error when the two sets
// have different image sizes.
func LoadMNIST(dir string) (train, test *Dataset, err error) {
	load := func(name, images, labels string) (*Dataset, error) {
		ip, err := findFile(dir, images)
		if err != nil {
			return nil, err
		}
		lp, err := findFile(dir, labels)
		if err != nil {
			return nil, err
		}
		d, err := LoadIDX(ip, lp)
		if err != nil {
			return nil, err
		}
		if d.Classes > 10 {
			return nil, fmt.Errorf("mnist %s: labels up to %d, expected digits 0 to 9: %w", lp, d.Classes-1, tensor.ErrParam)
		}
		d.Name, d.Classes, d.ClassNames = name, 10, digitNames
		return d, nil
	}
	if train, err = load("mnist train", TrainImagesFile, TrainLabelsFile); err != nil {
		return nil, nil, err
	}
	if test, err = load("mnist test", TestImagesFile, TestLabelsFile); err != nil {
		return nil, nil, err
	}
	if !train.Shape.Equal(test.Shape) {
		return nil, nil, fmt.Errorf("mnist %s: training images are %v, test images %v, expected one size: %w", dir, train.Shape, test.Shape, tensor.ErrShape)
	}
	return train, test, nil
}

// findFile returns dir/name or dir/name.gz, whichever exists.
func findFile(dir, name string) (string, error) {
	for _, p := range []string{filepath.Join(dir, name), filepath.Join(dir, name+".gz")} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("mnist: %w", err)
		}
	}
	return "", fmt.Errorf("mnist: neither %s nor %[1]s.gz in %s (run scripts/get-mnist.sh, or set %s to a folder holding the MNIST IDX files): %w",
		name, dir, DataEnv, fs.ErrNotExist)
}

// LoadIDX reads an image file and a label file in IDX format (raw or gzip)
// into a Dataset named after the image file, with items of shape [1, rows,
// cols], pixels in [0, 1] and Classes one more than the largest label. It
// returns the errors of ReadImages and ReadLabels with the file name, an
// os.Open error for a missing file and a tensor.ErrShape error when the files
// hold different numbers of images and labels.
func LoadIDX(imagesPath, labelsPath string) (*Dataset, error) {
	var pix []float32
	var shape tensor.Shape
	err := readFile(imagesPath, func(f *os.File) (err error) {
		pix, shape, err = ReadImages(f)
		return err
	})
	if err != nil {
		return nil, err
	}
	var raw []uint8
	if err := readFile(labelsPath, func(f *os.File) (err error) {
		raw, err = ReadLabels(f)
		return err
	}); err != nil {
		return nil, err
	}
	if len(raw) != shape[0] {
		return nil, fmt.Errorf("%s holds %d images but %s holds %d labels, expected equal counts: %w",
			imagesPath, shape[0], labelsPath, len(raw), tensor.ErrShape)
	}
	d := &Dataset{Name: filepath.Base(imagesPath), Images: pix, Labels: make([]int, len(raw)),
		Shape: tensor.Shape{1, shape[1], shape[2]}, Classes: 1}
	for i, l := range raw {
		d.Labels[i] = int(l)
		d.Classes = max(d.Classes, int(l)+1)
	}
	return d, nil
}

// readFile opens path and passes it to read, adding the path to errors.
func readFile(path string, read func(*os.File) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := read(f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
