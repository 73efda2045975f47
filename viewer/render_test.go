package viewer

import (
	"image"
	"testing"
)

func TestFontCoversCaptions(t *testing.T) {
	for _, c := range "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,:-+=/()%?" {
		g := fontRows[(int(c)-firstChar)*glyphH : (int(c)-firstChar+1)*glyphH]
		ink := 0
		for _, v := range g {
			if v < 0 || v > 31 || v != float32(int(v)) {
				t.Fatalf("glyph %q row value %v, expected an integer in [0, 31]", c, v)
			}
			ink += int(v)
		}
		if ink == 0 {
			t.Errorf("glyph %q is blank", c)
		}
	}
	if got := string(fontText("loss 1×2 é")); got != "LOSS 1\x7f2 ?" {
		t.Errorf("fontText = %q, want %q", got, "LOSS 1\x7f2 ?")
	}
	for c, g := range glyphs {
		for r, line := range g {
			if len(line) != glyphW {
				t.Errorf("glyph %q row %d is %q, expected %d columns", c, r, line, glyphW)
			}
		}
	}
}

func TestFitGrid(t *testing.T) {
	for _, c := range []struct{ aw, ah, count, h, w int }{
		{400, 300, 16, 28, 28}, {400, 300, 8, 3, 3}, {100, 50, 64, 28, 28}, {30, 30, 1, 28, 28}, {600, 100, 10, 5, 5},
	} {
		cols, scale, shown := fitGrid(c.aw, c.ah, c.count, c.h, c.w)
		rows := (shown + cols - 1) / cols
		gw, gh := cols*c.w*scale+(cols-1)*gridGap, rows*c.h*scale+(rows-1)*gridGap
		if cols < 1 || scale < 1 || shown < 0 || shown > c.count {
			t.Errorf("fitGrid%v = %d cols, scale %d, %d shown: out of range", c, cols, scale, shown)
		}
		if gw > c.aw || gh > c.ah {
			t.Errorf("fitGrid%v = %d cols, scale %d, %d shown: grid %d×%d overflows the area", c, cols, scale, shown, gw, gh)
		}
		if shown == c.count {
			// One more magnification must not fit with any column count.
			for k := 1; k <= c.count; k++ {
				r := (c.count + k - 1) / k
				if k*c.w*(scale+1)+(k-1)*gridGap <= c.aw && r*c.h*(scale+1)+(r-1)*gridGap <= c.ah {
					t.Errorf("fitGrid%v = scale %d, but %d columns fit scale %d", c, scale, k, scale+1)
				}
			}
		}
	}
	if _, _, shown := fitGrid(100, 50, 64, 28, 28); shown != 3 {
		t.Errorf("fitGrid(100, 50, 64 cells of 28×28) shows %d, want the 3 that fit", shown)
	}
}

// testContent is a picture with known data: 4 inputs 8×8 that ramp from 0
// to 1, 2 filters 3×3 (the first +1 at its first element and −1 at its
// second), 3 feature maps and a falling loss.
func testContent() (*content, *[numSources][]float32) {
	var data [numSources][]float32
	in := make([]float32, 4*64)
	for i := range in {
		in[i] = float32(i%64) / 63
	}
	filters := make([]float32, 2*9)
	filters[0], filters[1] = 1, -1
	maps := make([]float32, 3*36)
	for i := range maps {
		maps[i] = float32(i%7) - 3
	}
	loss := make([]float32, 50)
	for i := range loss {
		loss[i] = 2 - float32(i)/25
	}
	data[srcInputs], data[srcFilters], data[srcMaps], data[srcLoss], data[srcFont] = in, filters, maps, loss, fontRows
	c := &content{
		inputs:     planes{stride: 64, count: 4, h: 8, w: 8},
		filters:    planes{stride: 9, count: 2, h: 3, w: 3},
		maps:       planes{stride: 36, count: 3, h: 6, w: 6},
		captions:   [4]string{"inputs", "filters", "maps", "loss 0.1234"},
		lossLabels: [2]string{"2", "0.04"},
	}
	c.loss.n, c.loss.lo, c.loss.hi = len(loss), 0.04, 2
	return c, &data
}

// find returns the first op of kind k reading src, or nil.
func find(ops []op, k opKind, src source) *op {
	for i := range ops {
		if ops[i].kind == k && ops[i].src == src {
			return &ops[i]
		}
	}
	return nil
}

// mustFind returns the first op of kind k reading src or fails t.
func mustFind(t *testing.T, ops []op, k opKind, src source) op {
	t.Helper()
	o := find(ops, k, src)
	if o == nil {
		t.Fatalf("no op of kind %d reading source %d in %d ops", k, src, len(ops))
	}
	return *o
}

func TestLayoutStaysInside(t *testing.T) {
	c, _ := testContent()
	for _, size := range []image.Point{{960, 640}, {1920, 1080}, {320, 200}, {130, 130}, {60, 40}, {1, 1}} {
		ops := layout(size.X, size.Y, c)
		pic := image.Rect(0, 0, size.X, size.Y)
		if len(ops) == 0 || ops[0].kind != opRect || ops[0].clip != pic {
			t.Fatalf("%v: the first op is %+v, want the background over the whole picture", size, ops[0])
		}
		for _, o := range ops {
			if !o.clip.In(pic) {
				t.Errorf("%v: op %d clip %v leaves the picture", size, o.kind, o.clip)
			}
			if o.kind == opGrid {
				rows := (o.count + o.cols - 1) / o.cols
				g := image.Rect(o.at.X, o.at.Y, o.at.X+o.cols*o.w*o.scale+(o.cols-1)*o.gap, o.at.Y+rows*o.h*o.scale+(rows-1)*o.gap)
				if !g.In(o.clip) {
					t.Errorf("%v: grid %v of source %d leaves its area %v", size, g, o.src, o.clip)
				}
			}
			if len(o.words(size.X, size.Y, true)) > 32 {
				t.Errorf("%v: op %d has more than 32 push words", size, o.kind)
			}
		}
		if size.X >= 320 {
			for _, src := range []source{srcInputs, srcFilters, srcMaps} {
				mustFind(t, ops, opGrid, src)
			}
			mustFind(t, ops, opCurve, srcLoss)
		}
	}
}

func TestRender(t *testing.T) {
	c, data := testContent()
	const w, h = 640, 400
	ops := layout(w, h, c)
	pix := make([]uint32, w*h)
	render(pix, w, h, true, ops, data)
	at := func(x, y int) uint32 { return pix[y*w+x] }
	colour := func(c uint32) uint32 { r, g, b := rgb(c); return pack(r, g, b, true) }
	if got := at(1, 1); got != colour(colorBackground) {
		t.Errorf("background pixel = %#x, want %#x", got, colour(colorBackground))
	}
	// Inputs: grey, normalized per image: the first pixel black, the last white.
	g := mustFind(t, ops, opGrid, srcInputs)
	if got := at(g.at.X, g.at.Y); got != pack(0, 0, 0, true) {
		t.Errorf("first input pixel = %#x, want black", got)
	}
	last := image.Pt(g.at.X+8*g.scale-1, g.at.Y+8*g.scale-1)
	if got := at(last.X, last.Y); got != pack(255, 255, 255, true) {
		t.Errorf("last pixel of the first input = %#x, want white", got)
	}
	// The first input is framed.
	if got := at(g.at.X-1, g.at.Y-1); got != colour(colorHighlight) {
		t.Errorf("frame of the first input = %#x, want %#x", got, colour(colorHighlight))
	}
	// Filters: diverging, +1 amber and −1 blue at full strength, 0 black.
	f := mustFind(t, ops, opGrid, srcFilters)
	for _, c := range []struct {
		x    int
		want uint32
	}{{0, pack(255, 176, 64, true)}, {1, pack(64, 160, 255, true)}, {2, pack(0, 0, 0, true)}} {
		if got := at(f.at.X+c.x*f.scale, f.at.Y); got != c.want {
			t.Errorf("filter 1 element %d = %#x, want %#x", c.x, got, c.want)
		}
	}
	// The second filter is all zeros: black.
	if got := at(f.at.X+(3*f.scale+f.gap)*(1%f.cols), f.at.Y+(3*f.scale+f.gap)*(1/f.cols)); got != pack(0, 0, 0, true) {
		t.Errorf("zero filter = %#x, want black", got)
	}
	// The loss falls from the top left to the bottom right of the plot.
	cv := mustFind(t, ops, opCurve, srcLoss)
	lit := func(x int) (top, bottom int) {
		top, bottom = -1, -1
		for y := cv.clip.Min.Y; y < cv.clip.Max.Y; y++ {
			if at(x, y) == colour(colorCurve) {
				if top < 0 {
					top = y
				}
				bottom = y
			}
		}
		return top, bottom
	}
	if top, _ := lit(cv.clip.Min.X); top != cv.clip.Min.Y {
		t.Errorf("the curve starts at row %d, want the top row %d", top, cv.clip.Min.Y)
	}
	if _, bottom := lit(cv.clip.Max.X - 1); bottom != cv.clip.Max.Y-1 {
		t.Errorf("the curve ends at row %d, want the bottom row %d", bottom, cv.clip.Max.Y-1)
	}
	for x := cv.clip.Min.X; x < cv.clip.Max.X; x++ {
		if top, _ := lit(x); top < 0 {
			t.Fatalf("column %d of the curve is empty", x)
		}
	}
	// Captions are drawn in the caption colour.
	caption := mustFind(t, ops, opText, srcFont)
	ink := 0
	for y := caption.clip.Min.Y; y < caption.clip.Max.Y; y++ {
		for x := caption.clip.Min.X; x < caption.clip.Max.X; x++ {
			if at(x, y) == colour(colorCaption) {
				ink++
			}
		}
	}
	if ink == 0 {
		t.Error("the first caption has no ink")
	}
	// RGBA order swaps red and blue.
	rgba := make([]uint32, w*h)
	render(rgba, w, h, false, ops, data)
	if got, want := rgba[f.at.Y*w+f.at.X], pack(255, 176, 64, false); got != want || got == at(f.at.X, f.at.Y) {
		t.Errorf("RGBA amber = %#x, want %#x (BGRA %#x)", got, want, at(f.at.X, f.at.Y))
	}
}

func TestRenderNaN(t *testing.T) {
	c, data := testContent()
	nan := float32(0)
	nan /= nan
	data[srcFilters][4] = nan
	data[srcLoss][25] = nan
	const w, h = 640, 400
	ops := layout(w, h, c)
	pix := make([]uint32, w*h)
	render(pix, w, h, true, ops, data)
	f := mustFind(t, ops, opGrid, srcFilters)
	if got := pix[(f.at.Y+f.scale)*w+f.at.X+f.scale]; got != pack(0, 0, 0, true) {
		t.Errorf("NaN filter element = %#x, want black", got)
	}
	// The columns around the NaN loss are empty, the others are not.
	cv := mustFind(t, ops, opCurve, srcLoss)
	empty := 0
	for x := cv.clip.Min.X; x < cv.clip.Max.X; x++ {
		lit := false
		for y := cv.clip.Min.Y; y < cv.clip.Max.Y; y++ {
			r, g, b := rgb(colorCurve)
			lit = lit || pix[y*w+x] == pack(r, g, b, true)
		}
		if !lit {
			empty++
		}
	}
	if empty == 0 || empty > cv.clip.Dx()/10 {
		t.Errorf("%d of %d curve columns empty around one NaN loss, want a few", empty, cv.clip.Dx())
	}
}

func TestOpWords(t *testing.T) {
	o := op{kind: opText, clip: image.Rect(1, 2, 30, 12), scale: 1, color: 0xabcdef, text: []byte("HELLO")}
	w := o.words(100, 50, true)
	want := []uint32{3, 100, 50, 1, 1, 2, 30, 12, 0, 1, 0xabcdef, 5, 'H' | 'E'<<8 | 'L'<<16 | 'L'<<24, 'O'}
	if len(w) != len(want) {
		t.Fatalf("words = %v, want %v", w, want)
	}
	for i := range w {
		if w[i] != want[i] {
			t.Fatalf("words = %v, want %v", w, want)
		}
	}
	long := textOp(image.Pt(0, 0), image.Rect(0, 0, 10000, 10), 1, 0, string(make([]byte, 200)))
	if len(long.text) != maxTextChars || len(long.words(1, 1, false)) != 32 {
		t.Errorf("a 200-character text keeps %d characters in %d words, want %d in 32", len(long.text), len(long.words(1, 1, false)), maxTextChars)
	}
}

// BenchmarkRenderCPU composes a 960×640 picture on the CPU.
func BenchmarkRenderCPU(b *testing.B) {
	c, data := testContent()
	const w, h = 960, 640
	pix := make([]uint32, w*h)
	ops := layout(w, h, c)
	for range b.N {
		render(pix, w, h, true, ops, data)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/picture")
}
