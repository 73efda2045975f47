package data

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
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
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), TrainImagesFile) {
		t.Errorf("empty folder: got %v, want a not-exist error naming the file", err)
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
