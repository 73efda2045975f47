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
// Fashion-MNIST uses the same names.
const (
	TrainImagesFile = "train-images-idx3-ubyte"
	TrainLabelsFile = "train-labels-idx1-ubyte"
	TestImagesFile  = "t10k-images-idx3-ubyte"
	TestLabelsFile  = "t10k-labels-idx1-ubyte"
)

// layoutFiles lists the four files of the layout: training images and
// labels, test images and labels.
var layoutFiles = [4]string{TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile}

// digitNames names the ten MNIST classes.
var digitNames = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// LoadMNIST reads the training and test sets from dir in the official MNIST
// layout (TrainImagesFile, TrainLabelsFile, TestImagesFile, TestLabelsFile,
// each raw or with a .gz suffix), whatever digits they hold: unlike
// Load("mnist"), it checks no checksums, so it also reads sets of one's own
// in that layout. The datasets have 10 classes named "0" to "9" and items of
// shape [1, rows, cols]. A missing file is an error wrapping fs.ErrNotExist
// that names it; other errors are those of LoadIDX, plus a tensor.ErrParam
// error for a label above 9 and a tensor.ErrShape error when the two sets
// have different image sizes.
func LoadMNIST(dir string) (train, test *Dataset, err error) {
	return loadLayout(dir, "mnist", digitNames, nil)
}

// loadLayout reads the four files of the layout from dir into datasets named
// "<name> train" and "<name> test" with the given class names. When sums is
// not nil, each file's content must have the SHA-256 sums[i] (hex, in the
// order of layoutFiles); a mismatch is an ErrChecksum error.
func loadLayout(dir, name string, classNames []string, sums *[4]string) (train, test *Dataset, err error) {
	var paths [4]string
	for i, f := range layoutFiles {
		if paths[i], err = findFile(dir, f); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	load := func(split string, i int) (*Dataset, error) {
		var want [2]string
		if sums != nil {
			want = [2]string{sums[i], sums[i+1]}
		}
		d, err := loadIDX(paths[i], paths[i+1], want)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if d.Classes > len(classNames) {
			return nil, fmt.Errorf("%s %s: labels up to %d, expected 0 to %d: %w", name, paths[i+1], d.Classes-1, len(classNames)-1, tensor.ErrParam)
		}
		d.Name, d.Classes, d.ClassNames = name+" "+split, len(classNames), classNames
		return d, nil
	}
	if train, err = load("train", 0); err != nil {
		return nil, nil, err
	}
	if test, err = load("test", 2); err != nil {
		return nil, nil, err
	}
	if !train.Shape.Equal(test.Shape) {
		return nil, nil, fmt.Errorf("%s %s: training images are %v, test images %v, expected one size: %w", name, dir, train.Shape, test.Shape, tensor.ErrShape)
	}
	return train, test, nil
}

// findFile returns dir/name or dir/name.gz, whichever exists.
func findFile(dir, name string) (string, error) {
	for _, p := range []string{filepath.Join(dir, name), filepath.Join(dir, name+".gz")} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("neither %s nor %[1]s.gz in %s: %w", name, dir, fs.ErrNotExist)
}

// hasLayout reports whether dir holds all four files of the layout.
func hasLayout(dir string) bool {
	for _, f := range layoutFiles {
		if _, err := findFile(dir, f); err != nil {
			return false
		}
	}
	return true
}

// LoadIDX reads an image file and a label file in IDX format (raw or gzip)
// into a Dataset named after the image file, with items of shape [1, rows,
// cols], pixels in [0, 1] and Classes one more than the largest label. It
// returns the errors of ReadImages and ReadLabels with the file name, an
// os.Open error for a missing file and a tensor.ErrShape error when the files
// hold different numbers of images and labels.
func LoadIDX(imagesPath, labelsPath string) (*Dataset, error) {
	return loadIDX(imagesPath, labelsPath, [2]string{})
}

// loadIDX is LoadIDX that also checks the SHA-256 of each file's content
// against sums (hex; "" checks nothing).
func loadIDX(imagesPath, labelsPath string, sums [2]string) (*Dataset, error) {
	dims, body, err := readIDXFile(imagesPath, sums[0])
	if err != nil {
		return nil, err
	}
	pix, shape, err := idxImages(dims, body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", imagesPath, err)
	}
	if dims, body, err = readIDXFile(labelsPath, sums[1]); err != nil {
		return nil, err
	}
	raw, err := idxLabels(dims, body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", labelsPath, err)
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

// readIDXFile reads an IDX file (raw or gzip) with ReadIDX and, when sum is
// not "", checks the SHA-256 of its uncompressed content against it (hex),
// returning an ErrChecksum error on a mismatch. Errors name the file.
func readIDXFile(path, sum string) (dims []int, body []byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if dims, body, err = ReadIDX(f); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if sum != "" {
		if got := fmt.Sprintf("%x", contentSum(dims, body)); got != sum {
			return nil, nil, fmt.Errorf("%s: content has SHA-256 %s, expected %s: %w", path, got, sum, ErrChecksum)
		}
	}
	return dims, body, nil
}
