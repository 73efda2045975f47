package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/tensor"
)

// idxBytes builds an IDX file in memory: magic 0x0000TTDD, dimensions, body.
func idxBytes(typ byte, dims []uint32, body []byte) []byte {
	b := []byte{0, 0, typ, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, body...)
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestWriteReadIDXRoundTrip(t *testing.T) {
	dir := t.TempDir()
	body := make([]byte, 3*2*4)
	for i := range body {
		body[i] = byte(i * 11)
	}
	for _, name := range []string{"img", "img.gz"} {
		path := filepath.Join(dir, name)
		if err := WriteIDX(path, []int{3, 2, 4}, body); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if gz := bytes.HasPrefix(raw, gzipMagic); gz != strings.HasSuffix(name, ".gz") {
			t.Errorf("%s: gzip-compressed = %v, want it only for .gz names", name, gz)
		}
		pix, shape, err := ReadImages(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !shape.Equal(tensor.Shape{3, 2, 4}) {
			t.Errorf("%s: shape %v, want [3 2 4]", name, shape)
		}
		for i, v := range pix {
			if want := float32(body[i]) / 255; v != want {
				t.Fatalf("%s: pixel %d = %v, want %v", name, i, v, want)
			}
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp") {
				t.Errorf("temporary file %s left behind", e.Name())
			}
		}
	}

	labels := []byte{7, 0, 9}
	path := filepath.Join(dir, "labels")
	if err := WriteIDX(path, []int{3}, labels); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := ReadLabels(f)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, labels) {
		t.Errorf("labels %v, want %v", got, labels)
	}
}

func TestWriteIDXErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		dims []int
		body []byte
	}{
		{"no dims", nil, nil},
		{"negative", []int{-1}, nil},
		{"too few bytes", []int{2, 3}, make([]byte, 5)},
		{"too many bytes", []int{2}, make([]byte, 3)},
		{"overflow", []int{1 << 31, 1 << 31, 1 << 31}, make([]byte, 8)},
	} {
		err := WriteIDX(filepath.Join(dir, "x"), c.dims, c.body)
		if !errors.Is(err, tensor.ErrShape) {
			t.Errorf("%s: got %v, want an ErrShape error", c.name, err)
		}
	}
	if err := WriteIDX(filepath.Join(dir, "missing", "x"), []int{1}, []byte{1}); err == nil {
		t.Error("writing into a missing folder succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed writes left %d files", len(entries))
	}
}

func TestReadIDXErrors(t *testing.T) {
	valid := idxBytes(0x08, []uint32{2, 2, 2}, make([]byte, 8))
	for _, c := range []struct {
		name   string
		in     []byte
		labels bool // read with ReadLabels instead of ReadImages
		want   error
		msg    string
	}{
		{"empty", nil, false, ErrFormat, "magic"},
		{"short magic", []byte{0, 0, 8}, false, ErrFormat, "too short"},
		{"bad magic", []byte{0x12, 0x34, 8, 3, 0, 0, 0, 0}, false, ErrFormat, "0x12340803"},
		{"float type", idxBytes(0x0d, []uint32{1}, make([]byte, 4)), true, ErrFormat, "element type 0x0d"},
		{"labels as images", idxBytes(0x08, []uint32{3}, make([]byte, 3)), false, ErrFormat, "0x00000803"},
		{"images as labels", valid, true, ErrFormat, "0x00000801"},
		{"truncated dims", valid[:9], false, ErrFormat, "dimensions"},
		{"truncated body", valid[:len(valid)-1], false, ErrFormat, "truncated"},
		{"trailing", append(append([]byte(nil), valid...), 0), false, ErrFormat, "trailing"},
		{"too large", idxBytes(0x08, []uint32{1 << 16, 1 << 16, 2}, nil), false, tensor.ErrShape, "more than"},
		{"zero rows", idxBytes(0x08, []uint32{5, 0, 28}, nil), false, tensor.ErrShape, "0×28"},
		{"bad gzip", append([]byte{0x1f, 0x8b}, "not gzip"...), false, ErrFormat, "gzip"},
		{"truncated gzip", gzipBytes(t, valid)[:20], false, ErrFormat, "truncated"},
	} {
		var err error
		if c.labels {
			_, err = ReadLabels(bytes.NewReader(c.in))
		} else {
			_, _, err = ReadImages(bytes.NewReader(c.in))
		}
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: got %v, want %v mentioning %q", c.name, err, c.want, c.msg)
		}
	}
}

// TestReadIDXLyingHeaderAllocatesLittle checks that a header promising 4 GiB
// of pixels with a few bytes behind it is rejected without a large allocation.
func TestReadIDXLyingHeaderAllocatesLittle(t *testing.T) {
	lie := idxBytes(0x08, []uint32{1 << 16, 1 << 8, 1 << 8}, make([]byte, 100))
	for name, in := range map[string][]byte{"raw": lie, "gzip": gzipBytes(t, lie)} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, err := ReadImages(bytes.NewReader(in))
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "truncated") {
			t.Errorf("%s: got %v, want a truncation error", name, err)
		}
		if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
			t.Errorf("%s: reading a 4 GiB header with 100 bytes of data allocated %d bytes, want < 1 MiB", name, n)
		}
	}
}

func fuzzSeeds(f *testing.F) {
	images := idxBytes(0x08, []uint32{2, 3, 3}, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 255, 254, 253, 252, 251, 250, 249, 248, 247})
	labels := idxBytes(0x08, []uint32{4}, []byte{1, 2, 3, 9})
	for _, s := range [][]byte{images, labels, gzipBytes(f, images), gzipBytes(f, labels),
		images[:10], idxBytes(0x08, []uint32{0xffffffff, 0xffffffff, 0xffffffff}, nil), {0x1f, 0x8b}, nil} {
		f.Add(s)
	}
}

// FuzzReadImages checks that ReadImages never panics and that what it
// accepts is consistent and no larger than the input justifies.
func FuzzReadImages(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		pix, shape, err := ReadImages(bytes.NewReader(in))
		if err != nil {
			if pix != nil {
				t.Fatal("pixels returned with an error")
			}
			return
		}
		if len(shape) != 3 || shape[1] < 1 || shape[2] < 1 || len(pix) != shape.Len() {
			t.Fatalf("shape %v with %d pixels", shape, len(pix))
		}
		if !bytes.HasPrefix(in, gzipMagic) && len(pix) > len(in) {
			t.Fatalf("%d pixels from %d raw bytes", len(pix), len(in))
		}
		for _, v := range pix {
			if !(v >= 0 && v <= 1) {
				t.Fatalf("pixel %v outside [0, 1]", v)
			}
		}
	})
}

// FuzzReadLabels checks that ReadLabels never panics and returns no more
// labels than the input holds.
func FuzzReadLabels(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		labels, err := ReadLabels(bytes.NewReader(in))
		if err != nil {
			return
		}
		if !bytes.HasPrefix(in, gzipMagic) && len(labels) != len(in)-8 {
			t.Fatalf("%d labels from %d raw bytes, want %d", len(labels), len(in), len(in)-8)
		}
	})
}
