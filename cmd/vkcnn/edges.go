package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/vkcnn/vkcnn/tensor"
	"github.com/vkcnn/vkcnn/viz"
)

const edgesHelp = `Usage: vkcnn edges IMAGE --out DIR [flags]

Reads a PNG, JPEG or GIF picture as gray values in [0, 1] and filters it with
four 3×3 kernels at once, as one convolution with 1 input and 4 output
channels and padding 1 on the chosen backend:

  sobel_x.png    horizontal gradient Gx (Sobel), mid-gray is 0
  sobel_y.png    vertical gradient Gy (Sobel), mid-gray is 0
  laplacian.png  Laplacian (4-neighbour), mid-gray is 0
  sharpen.png    the picture sharpened (5 at the centre, −1 at the 4 neighbours)
  magnitude.png  gradient magnitude √(Gx² + Gy²), black is 0

Gx² + Gy² is computed on the backend too (an elementwise square and a matrix
product that adds the two channels); the square root is taken on the host.

Examples:

  vkcnn edges photo.jpg --out out/edges
  vkcnn edges digit.png --out out/edges --backend vulkan`

// edgeKernels are the four 3×3 kernels, in output channel order, and the
// file each channel is written to.
var edgeKernels = []struct {
	file string
	k    [9]float32
}{
	{"sobel_x.png", [9]float32{-1, 0, 1, -2, 0, 2, -1, 0, 1}},
	{"sobel_y.png", [9]float32{-1, -2, -1, 0, 0, 0, 1, 2, 1}},
	{"laplacian.png", [9]float32{0, 1, 0, 1, -4, 1, 0, 1, 0}},
	{"sharpen.png", [9]float32{0, -1, 0, -1, 5, -1, 0, -1, 0}},
}

// runEdges is "vkcnn edges".
func runEdges(args []string, stdout, _ io.Writer) (err error) {
	fs := newFlags("edges", edgesHelp)
	out := fs.String("out", "", "output `folder` (required)")
	bf := addBackendFlags(fs)
	pos, err := fs.parse(args, stdout)
	if err != nil {
		return done(err)
	}
	if len(pos) != 1 {
		return fmt.Errorf("edges takes one picture, got %d arguments %q (see vkcnn edges --help): %w", len(pos), pos, tensor.ErrParam)
	}
	if *out == "" {
		return fmt.Errorf("edges: --out DIR is required (see vkcnn edges --help): %w", tensor.ErrParam)
	}
	if err := bf.check(); err != nil {
		return err
	}
	pix, h, w, err := viz.ReadGray(pos[0])
	if err != nil {
		return err
	}
	b, _, err := bf.open(stdout)
	if err != nil {
		return err
	}
	defer b.Close()
	maps, mag2, err := edgeFilter(b, pix, h, w)
	if err != nil {
		return fmt.Errorf("edges on %s: %w", b.Name(), err)
	}
	// The folder is made only now that there is something to write, and
	// removed again, with what was written, when a write fails.
	made, err := mkdirNew(*out)
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	var written []string
	defer func() {
		if err != nil {
			for _, f := range written {
				os.Remove(f)
			}
			for _, d := range made {
				os.Remove(d)
			}
		}
	}()
	for c, k := range edgeKernels {
		ch := maps[c*h*w : (c+1)*h*w]
		lo, hi := 0.0, 1.0 // sharpen: a picture, clipped to [0, 1]
		if k.file != "sharpen.png" {
			m := float64(maxAbs(ch))
			lo, hi = -m, m
		}
		if err = viz.WriteGrayPNG(filepath.Join(*out, k.file), ch, h, w, lo, hi); err != nil {
			return err
		}
		written = append(written, filepath.Join(*out, k.file))
	}
	mag := make([]float32, len(mag2))
	for i, v := range mag2 {
		mag[i] = float32(math.Sqrt(max(float64(v), 0)))
	}
	if err = viz.WriteGrayPNG(filepath.Join(*out, "magnitude.png"), mag, h, w, 0, float64(maxAbs(mag))); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: sobel_x.png sobel_y.png laplacian.png sharpen.png magnitude.png (%d×%d)\n", *out, w, h)
	return nil
}

// edgeFilter convolves the h×w picture with the four kernels on b and
// returns the four output channels back to back, and Gx² + Gy² per pixel.
func edgeFilter(b tensor.Backend, pix []float32, h, w int) (maps, mag2 []float32, err error) {
	var owned []*tensor.Tensor
	defer func() {
		for _, t := range owned {
			t.Free()
		}
	}()
	alloc := func(shape ...int) *tensor.Tensor {
		if err != nil {
			return nil
		}
		var t *tensor.Tensor
		if t, err = b.Alloc(tensor.Float32, shape); err == nil {
			owned = append(owned, t)
		}
		return t
	}
	x, k, y, sq, sel, m2 := alloc(1, 1, h, w), alloc(4, 1, 3, 3), alloc(1, 4, h, w), alloc(1, 4, h, w), alloc(1, 4), alloc(1, h*w)
	if err != nil {
		return nil, nil, err
	}
	kernels := make([]float32, 0, 36)
	for _, e := range edgeKernels {
		kernels = append(kernels, e.k[:]...)
	}
	p := tensor.DefaultConv2D()
	p.Pad = [2]int{1, 1}
	sq4, err := sq.Reshape(tensor.Shape{4, h * w})
	if err != nil {
		return nil, nil, err
	}
	steps := []func() error{
		func() error { return b.Upload(x, pix) },
		func() error { return b.Upload(k, kernels) },
		func() error { return b.Upload(sel, []float32{1, 1, 0, 0}) }, // picks Gx² + Gy²
		func() error { return b.Conv2D(y, x, k, nil, p) },
		func() error { return b.Mul(sq, y, y) },
		func() error { return b.MatMul(m2, sel, sq4, false, false) },
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, nil, err
		}
	}
	maps, mag2 = make([]float32, 4*h*w), make([]float32, h*w)
	if err := b.Download(maps, y); err != nil {
		return nil, nil, err
	}
	if err := b.Download(mag2, m2); err != nil {
		return nil, nil, err
	}
	return maps, mag2, nil
}

// maxAbs returns the largest absolute finite value of v.
func maxAbs(v []float32) float32 {
	var m float32
	for _, x := range v {
		if a := float32(math.Abs(float64(x))); a > m && !math.IsInf(float64(a), 0) {
			m = a
		}
	}
	return m
}

// mkdirNew creates dir and its missing parents and returns the folders it
// created, innermost first (none when dir existed).
func mkdirNew(dir string) ([]string, error) {
	var made []string
	for p := filepath.Clean(dir); ; p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil || filepath.Dir(p) == p {
			break
		}
		made = append(made, p)
	}
	return made, os.MkdirAll(dir, 0o755)
}
