package viz

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
)

// outDir returns $VKCNN_VIZ_OUT when set (to keep the pictures for a look),
// else a temporary folder.
func outDir(t *testing.T) string {
	if d := os.Getenv("VKCNN_VIZ_OUT"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// decode reads a PNG file written by the package.
func decode(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) > 0 {
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp") {
				t.Errorf("temporary file %s left behind", e.Name())
			}
		}
	}
	return img
}

func rgb(c color.Color) (r, g, b int) {
	r32, g32, b32, _ := c.RGBA()
	return int(r32 >> 8), int(g32 >> 8), int(b32 >> 8)
}

// center returns the centre pixel of cell (x, y) of a tile zoomed by zoom.
func center(r image.Rectangle, x, y, zoom int) image.Point {
	return image.Pt(r.Min.X+x*zoom+zoom/2, r.Min.Y+y*zoom+zoom/2)
}

func TestWriteGrayPNG(t *testing.T) {
	dir := outDir(t)
	path := filepath.Join(dir, "gray.png")
	pix := []float32{-1, 0, 0.5, 1, 2, float32(math.NaN())}
	if err := WriteGrayPNG(path, pix, 2, 3, 0, 1); err != nil {
		t.Fatal(err)
	}
	img := decode(t, path)
	if b := img.Bounds(); b.Dx() != 3 || b.Dy() != 2 {
		t.Fatalf("size %v, want 3×2", b)
	}
	want := []uint8{0, 0, 128, 255, 255, 0}
	for i, w := range want {
		if g := color.GrayModel.Convert(img.At(i%3, i/3)).(color.Gray).Y; g != w {
			t.Errorf("pixel %d (value %v) = %d, want %d", i, pix[i], g, w)
		}
	}
	// lo == hi: automatic range [−1, 2].
	g, err := GrayImage(pix, 2, 3, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if g.Pix[0] != 0 || g.Pix[4] != 255 || g.Pix[1] != 85 {
		t.Errorf("automatic range gives %v, want 0, 85, …, 255", g.Pix)
	}
	for _, c := range []struct {
		name   string
		pix    []float32
		h, w   int
		lo, hi float64
		want   error
	}{
		{"length", pix, 2, 2, 0, 1, tensor.ErrShape},
		{"zero size", nil, 0, 3, 0, 1, tensor.ErrShape},
		{"reversed", pix, 2, 3, 1, 0, tensor.ErrParam},
		{"nan", pix, 2, 3, math.NaN(), 1, tensor.ErrParam},
	} {
		if err := WriteGrayPNG(filepath.Join(dir, "bad.png"), c.pix, c.h, c.w, c.lo, c.hi); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.png")); err == nil {
		t.Error("a failed write left a file")
	}
}

func TestReadGray(t *testing.T) {
	dir := t.TempDir()
	src := image.NewRGBA(image.Rect(0, 0, 3, 2))
	colors := []color.RGBA{{0, 0, 0, 255}, {255, 255, 255, 255}, {255, 0, 0, 255}, {0, 255, 0, 255}, {0, 0, 255, 255}, {128, 128, 128, 255}}
	for i, c := range colors {
		src.Set(i%3, i/3, c)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, src); err != nil {
		t.Fatal(err)
	}
	pngPath := filepath.Join(dir, "in.png")
	if err := os.WriteFile(pngPath, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	pix, h, w, err := ReadGray(pngPath)
	if err != nil {
		t.Fatal(err)
	}
	if h != 2 || w != 3 {
		t.Fatalf("size %d×%d, want 2×3", h, w)
	}
	for i, c := range colors {
		want := (0.299*float64(c.R) + 0.587*float64(c.G) + 0.114*float64(c.B)) / 255
		if math.Abs(float64(pix[i])-want) > 0.01 {
			t.Errorf("pixel %d %v = %v, want %.3f", i, c, pix[i], want)
		}
	}

	gray := image.NewGray(image.Rect(0, 0, 16, 8))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(16 * (i % 16))
	}
	buf.Reset()
	if err := jpeg.Encode(&buf, gray, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	jpix, h, w, err := DecodeGray(&buf)
	if err != nil || h != 8 || w != 16 {
		t.Fatalf("jpeg: %v, %d×%d", err, h, w)
	}
	for i, v := range jpix {
		if want := float64(gray.Pix[i]) / 255; math.Abs(float64(v)-want) > 0.03 {
			t.Fatalf("jpeg pixel %d = %v, want %v", i, v, want)
		}
	}

	if _, _, _, err := DecodeGray(strings.NewReader("not a picture")); err == nil || !strings.Contains(err.Error(), "PNG, JPEG") {
		t.Errorf("text: got %v", err)
	}
	if _, _, _, err := ReadGray(filepath.Join(dir, "missing.png")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: got %v", err)
	}

	// A PNG header claiming 100000×100000 pixels is refused before decoding.
	buf.Reset()
	if err := png.Encode(&buf, gray); err != nil {
		t.Fatal(err)
	}
	huge := bytes.Clone(buf.Bytes())
	ihdr := huge[8+8 : 8+8+13] // after the signature, length and type
	binary.BigEndian.PutUint32(ihdr[0:], 100000)
	binary.BigEndian.PutUint32(ihdr[4:], 100000)
	binary.BigEndian.PutUint32(huge[8+8+13:], crc32.ChecksumIEEE(huge[8+4:8+8+13]))
	if _, _, _, err := DecodeGray(bytes.NewReader(huge)); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("100000×100000 header: got %v, want ErrShape", err)
	}
}

func TestResize(t *testing.T) {
	flat := make([]float32, 40*30)
	for i := range flat {
		flat[i] = 0.25
	}
	out, err := Resize(flat, 40, 30, 28, 28)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range out {
		if math.Abs(float64(v)-0.25) > 1e-3 {
			t.Fatalf("resized constant image: pixel %d = %v, want 0.25", i, v)
		}
	}
	// Left half black, right half white, shrunk 4×: still dark left, bright right.
	half := make([]float32, 16*16)
	for i := range half {
		if i%16 >= 8 {
			half[i] = 1
		}
	}
	small, err := Resize(half, 16, 16, 4, 4)
	if err != nil {
		t.Fatal(err)
	}
	if small[0] > 0.05 || small[3] < 0.95 || small[12] > 0.05 || small[1] > 0.5 || small[2] < 0.5 {
		t.Errorf("shrunk halves: %v", small)
	}
	if _, err := Resize(half, 16, 15, 4, 4); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("wrong source size: got %v", err)
	}
	if _, err := Resize(half, 16, 16, 0, 4); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("zero target: got %v", err)
	}
}

func TestFilterGrid(t *testing.T) {
	// Four 3×3 filters: filter f has +(f+1) at the centre, −(f+1)/2 at the
	// top-left corner, 0 elsewhere.
	w := make([]float32, 4*9)
	for f := range 4 {
		w[f*9+4] = float32(f + 1)
		w[f*9] = -float32(f+1) / 2
	}
	shape := []int{4, 1, 3, 3}
	g, err := filterGrid("conv1 filters", w, shape)
	if err != nil {
		t.Fatal(err)
	}
	l, err := g.layout()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(outDir(t), "filters.png")
	if err := FilterGrid(path, "conv1 filters", w, shape); err != nil {
		t.Fatal(err)
	}
	img := decode(t, path)
	if img.Bounds().Size() != l.size {
		t.Fatalf("size %v, want %v", img.Bounds().Size(), l.size)
	}
	zoom := l.tiles[0].Dx() / 3
	if zoom < 8 || len(l.tiles) != 4 || g.tiles[2].caption != "#2 ±3" {
		t.Fatalf("zoom %d, %d tiles, caption %q", zoom, len(l.tiles), g.tiles[2].caption)
	}
	for f, r := range l.tiles {
		cr, _, cb := rgb(img.At(center(r, 1, 1, zoom).X, center(r, 1, 1, zoom).Y))
		kr, _, kb := rgb(img.At(center(r, 0, 0, zoom).X, center(r, 0, 0, zoom).Y))
		zr, zg, zb := rgb(img.At(center(r, 2, 2, zoom).X, center(r, 2, 2, zoom).Y))
		if cr < 150 || cb > 80 {
			t.Errorf("filter %d: +m centre is %d,%d (R,B), want red", f, cr, cb)
		}
		if kb-kr < 50 {
			t.Errorf("filter %d: −m/2 corner is %d,%d (R,B), want blue", f, kr, kb)
		}
		if max(zr, zg, zb)-min(zr, zg, zb) > 12 || zr < 190 {
			t.Errorf("filter %d: 0 is %d,%d,%d, want a light neutral", f, zr, zg, zb)
		}
	}
	// The colour bar runs from blue (bottom) to red (top).
	b := l.bar
	br, _, bb := rgb(img.At(b.Min.X+b.Dx()/2, b.Max.Y-2))
	tr, _, tb := rgb(img.At(b.Min.X+b.Dx()/2, b.Min.Y+1))
	if bb-br < 100 || tr-tb < 100 {
		t.Errorf("colour bar bottom %d,%d top %d,%d (R,B), want blue then red", br, bb, tr, tb)
	}

	// Several input channels: one row per filter.
	g, err = filterGrid("", make([]float32, 2*3*5*5), []int{2, 3, 5, 5})
	if err != nil || g.cols != 3 || len(g.tiles) != 6 || g.tiles[5].caption != "#1.2 ±0" {
		t.Errorf("2×3 filters: %v, %d cols, %d tiles", err, g.cols, len(g.tiles))
	}
	for _, s := range [][]int{{36}, {4, 9}, {4, 1, 3, 4}, {4, 1, 3, 3, 1}, {0, 1, 3, 3}} {
		if err := FilterGrid(path, "", w, s); !errors.Is(err, tensor.ErrShape) {
			t.Errorf("shape %v: got %v, want ErrShape", s, err)
		}
	}
}

func TestFeatureMaps(t *testing.T) {
	in := make([]float32, 8*8)
	for i := range in {
		in[i] = float32(i%8) / 7
	}
	maps := make([]float32, 3*4*4) // map c holds c·(0…15)
	for c := range 3 {
		for i := range 16 {
			maps[c*16+i] = float32(c * i)
		}
	}
	g, err := featureMaps("conv1 maps", in, []int{1, 1, 8, 8}, maps, []int{1, 3, 4, 4})
	if err != nil {
		t.Fatal(err)
	}
	l, _ := g.layout()
	path := filepath.Join(outDir(t), "maps.png")
	if err := FeatureMaps(path, "conv1 maps", in, []int{1, 1, 8, 8}, maps, []int{1, 3, 4, 4}); err != nil {
		t.Fatal(err)
	}
	img := decode(t, path)
	if img.Bounds().Size() != l.size || len(l.tiles) != 4 {
		t.Fatalf("size %v with %d tiles, want %v with 4", img.Bounds().Size(), len(l.tiles), l.size)
	}
	if l.tiles[0].Dx() != 2*l.tiles[1].Dx() {
		t.Errorf("input tile %v and map tile %v: want the 8×8 input twice as wide as a 4×4 map", l.tiles[0], l.tiles[1])
	}
	if g.tiles[0].caption != "input 0…1" || g.tiles[3].caption != "#2 0…30" {
		t.Errorf("captions %q, %q", g.tiles[0].caption, g.tiles[3].caption)
	}
	zoom := l.tiles[1].Dx() / 4
	level := func(tileIdx, x, y int) int {
		p := center(l.tiles[tileIdx], x, y, zoom)
		r, _, _ := rgb(img.At(p.X, p.Y))
		return r
	}
	if level(2, 0, 0) != 0 || level(2, 3, 3) != 255 || level(3, 3, 3) != 255 || level(3, 1, 2) != 153 {
		t.Errorf("map levels %d %d %d %d, want 0 255 255 153", level(2, 0, 0), level(2, 3, 3), level(3, 3, 3), level(3, 1, 2))
	}
	if level(1, 2, 2) != 0 { // an all-zero map is black
		t.Errorf("constant map drawn at %d, want 0", level(1, 2, 2))
	}
	if err := FeatureMaps(path, "", nil, nil, maps, []int{3, 4, 5}); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("wrong shape: got %v", err)
	}
	if err := FeatureMaps(path, "", in, []int{7, 8}, maps, []int{3, 4, 4}); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("wrong input shape: got %v", err)
	}
}

func TestPredictionGrid(t *testing.T) {
	const n = 6
	images := make([]float32, n*10*10)
	for i := range n {
		for p := range 100 {
			if p/10 == i+2 { // a bright row at a different height per image
				images[i*100+p] = 1
			}
		}
	}
	preds := make([]nn.Prediction, n)
	labels := make([]int, n)
	for i := range preds {
		preds[i] = nn.Prediction{Class: i % 3, Confidence: 0.5 + 0.05*float64(i)}
		labels[i] = i % 3
	}
	labels[4] = 0 // one mistake
	labels[5] = -1
	names := []string{"zero", "one", "two"}
	g, err := predictionGrid("test digits", images, []int{n, 1, 10, 10}, preds, labels, names)
	if err != nil {
		t.Fatal(err)
	}
	l, _ := g.layout()
	path := filepath.Join(outDir(t), "predictions.png")
	if err := PredictionGrid(path, "test digits", images, []int{n, 1, 10, 10}, preds, labels, names); err != nil {
		t.Fatal(err)
	}
	img := decode(t, path)
	if img.Bounds().Size() != l.size {
		t.Fatalf("size %v, want %v", img.Bounds().Size(), l.size)
	}
	if g.tiles[4].caption != "one (70%) true zero" || g.tiles[1].caption != "one (55%)" || !strings.Contains(g.note, "1 of 6 wrong") {
		t.Errorf("captions %q, %q, note %q", g.tiles[4].caption, g.tiles[1].caption, g.note)
	}
	for i, r := range l.tiles {
		fr, fg, fb := rgb(img.At(r.Min.X-2, r.Min.Y+r.Dy()/2)) // inside the frame
		red := fr > 150 && fg < 60 && fb < 60
		if red != (i == 4) {
			t.Errorf("tile %d: frame pixel %d,%d,%d, red = %v", i, fr, fg, fb, red)
		}
		zoom := r.Dx() / 10
		on, _, _ := rgb(img.At(center(r, 5, i+2, zoom).X, center(r, 5, i+2, zoom).Y))
		off, _, _ := rgb(img.At(center(r, 5, 0, zoom).X, center(r, 5, 0, zoom).Y))
		if on != 255 || off != 0 {
			t.Errorf("tile %d: row %d = %d, row 0 = %d, want 255 and 0", i, i+2, on, off)
		}
	}
	if err := PredictionGrid(path, "", images, []int{n, 1, 10, 10}, preds[:5], nil, nil); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("5 predictions for 6 images: got %v", err)
	}
	if err := PredictionGrid(path, "", images, []int{n, 1, 10, 10}, preds, labels[:5], nil); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("5 labels for 6 predictions: got %v", err)
	}
	preds[0].Confidence = 1.5
	if err := PredictionGrid(path, "", images, []int{n, 1, 10, 10}, preds, nil, nil); !errors.Is(err, tensor.ErrParam) {
		t.Errorf("confidence 1.5: got %v", err)
	}
}

func TestGridTooLarge(t *testing.T) {
	g := &grid{tiles: []tile{{img: &image.RGBA{Rect: image.Rect(0, 0, 9000, 9000)}}}}
	if _, err := g.layout(); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("81-megapixel grid: got %v, want ErrShape", err)
	}
	if _, err := (&grid{}).render(); !errors.Is(err, tensor.ErrShape) {
		t.Errorf("empty grid: got %v, want ErrShape", err)
	}
}

func TestPlotHistory(t *testing.T) {
	dir := outDir(t)
	h := History{
		TrainLoss: []float64{2.1, 1.2, 0.8, 0.55, 0.42, 0.35, 0.31, 0.28},
		ValLoss:   []float64{1.6, 1.0, 0.75, 0.6, 0.52, 0.5, 0.49, 0.5},
		TrainAcc:  []float64{0.45, 0.68, 0.77, 0.84, 0.88, 0.9, 0.91, 0.92},
		ValAcc:    []float64{0.55, 0.7, 0.78, 0.82, 0.85, 0.86, 0.87, 0.87},
	}
	count := func(img image.Image, want color.RGBA) int {
		n := 0
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				r, g, bl := rgb(img.At(x, y))
				if abs(r-int(want.R)) < 8 && abs(g-int(want.G)) < 8 && abs(bl-int(want.B)) < 8 {
					n++
				}
			}
		}
		return n
	}
	path := filepath.Join(dir, "history.png")
	if err := PlotHistory(path, "mnist", h); err != nil {
		t.Fatal(err)
	}
	img := decode(t, path)
	if s := img.Bounds().Size(); s != image.Pt(1000, 400) {
		t.Fatalf("size %v, want 1000×400", s)
	}
	if nt, nv := count(img, trainColor), count(img, valColor); nt < 500 || nv < 500 {
		t.Errorf("%d training-blue and %d validation-orange pixels, want curves of both", nt, nv)
	}

	one := filepath.Join(dir, "history1.png")
	if err := PlotHistory(one, "", History{TrainLoss: []float64{0.7}, TrainAcc: []float64{0.5}}); err != nil {
		t.Fatal(err)
	}
	img = decode(t, one)
	if nt, nv := count(img, trainColor), count(img, valColor); nt < 20 || nv != 0 {
		t.Errorf("one epoch of training only: %d blue, %d orange pixels", nt, nv)
	}

	for _, c := range []struct {
		h    History
		want error
		msg  string
	}{
		{History{}, tensor.ErrShape, "empty"},
		{History{ValLoss: []float64{1, math.NaN()}}, tensor.ErrParam, "validation loss of epoch 2"},
		{History{TrainAcc: []float64{1.2}}, tensor.ErrParam, "training accuracy of epoch 1"},
	} {
		if err := PlotHistory(filepath.Join(dir, "bad.png"), "", c.h); !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("got %v, want %v mentioning %q", err, c.want, c.msg)
		}
	}
}

func abs(x int) int { return max(x, -x) }
