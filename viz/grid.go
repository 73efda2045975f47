package viz

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	vgdraw "gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/vkcnn/vkcnn/tensor"
)

// This file lays out and draws the picture grids: a title, an optional note
// line, tiles with captions under them, and an optional colour bar on the
// right. Text goes through gonum's vg canvas at 72 dpi, so that one point is
// one pixel; tiles are copied pixel for pixel, so that their colours are exact.

// Sizes in pixels.
const (
	margin      = 12
	titleSize   = 18
	captionSize = 13
	frameWidth  = 3
	cellGap     = 10
	barWidth    = 18
	lineHeight  = 1.35 // text line height as a multiple of the font size
)

// sansFont is the Liberation Sans face that gonum's plot ships.
var sansFont = font.Font{Typeface: "Liberation", Variant: "Sans"}

// tile is one picture of a grid with its caption.
type tile struct {
	img     *image.RGBA
	caption string
	ink     color.Color // caption colour; nil means black
	frame   color.Color // frame colour; nil means no frame
}

// colorBar is a vertical scale: colors from bottom to top, with labels at the
// bottom, middle and top and a heading above.
type colorBar struct {
	colors  []color.Color
	labels  [3]string
	heading string
}

// grid is a picture made of tiles.
type grid struct {
	title, note string
	tiles       []tile
	cols        int // 0 means about square
	bar         *colorBar
}

// layout is where everything of a grid goes, in image pixels (y down).
type layout struct {
	size      image.Point
	titleY    int               // top of the title line
	noteY     int               // top of the note line
	tiles     []image.Rectangle // picture of each tile, inside its frame
	captionAt []image.Point     // top centre of each caption
	bar       image.Rectangle   // the colour bar itself
	barCenter int               // x of the centre of the bar column
}

func textStyle(size vg.Length, ink color.Color) text.Style {
	if ink == nil {
		ink = color.Black
	}
	return text.Style{Color: ink, Font: font.From(sansFont, size), XAlign: text.XCenter, YAlign: text.YTop,
		Handler: plot.DefaultTextHandler}
}

func textWidth(size vg.Length, s string) int {
	return int(math.Ceil(float64(textStyle(size, nil).Width(s))))
}

// layout computes the geometry of g. It returns a tensor.ErrShape error when
// the picture would exceed maxPixels.
func (g *grid) layout() (layout, error) {
	n := len(g.tiles)
	cols := g.cols
	if cols <= 0 {
		cols = int(math.Ceil(math.Sqrt(float64(n))))
	}
	cols = max(min(cols, n), 1)
	rows := (n + cols - 1) / cols
	var tileW, tileH, capW int
	for _, t := range g.tiles {
		b := t.img.Bounds()
		tileW, tileH = max(tileW, b.Dx()), max(tileH, b.Dy())
		capW = max(capW, textWidth(captionSize, t.caption))
	}
	capH := int(math.Ceil(captionSize * lineHeight))
	cellW := max(tileW+2*frameWidth, capW) + cellGap
	cellH := tileH + 2*frameWidth + capH + cellGap

	var l layout
	y := margin
	textW := 0
	if g.title != "" {
		l.titleY = y
		y += int(math.Ceil(titleSize * lineHeight))
		textW = textWidth(titleSize, g.title)
	}
	if g.note != "" {
		l.noteY = y
		y += capH
		textW = max(textW, textWidth(captionSize, g.note))
	}
	y += cellGap / 2
	top := y
	gridW, gridH := cols*cellW, rows*cellH
	barW, barH, labelW := 0, 0, 0
	if g.bar != nil {
		for _, s := range g.bar.labels {
			labelW = max(labelW, textWidth(captionSize, s))
		}
		barW = max(barWidth+6+labelW, textWidth(captionSize, g.bar.heading)) + cellGap
		barH = max(min(gridH-cellGap, 320), 120)
	}
	w := 2*margin + max(gridW+barW, textW)
	h := top + max(gridH, barH+capH+captionSize) + margin
	if err := checkDims("picture", h, w); err != nil {
		return l, fmt.Errorf("%d tiles of up to %d×%d pixels: %w", n, tileW, tileH, err)
	}
	l.size = image.Pt(w, h)
	left := margin + (w-2*margin-gridW-barW)/2
	if g.bar != nil {
		l.barCenter = left + gridW + (barW-cellGap)/2
		x := l.barCenter - (barWidth+6+labelW)/2
		y := top + capH + captionSize/2
		l.bar = image.Rect(x, y, x+barWidth, y+barH)
	}
	for i, t := range g.tiles {
		r, c := i/cols, i%cols
		b := t.img.Bounds()
		x0 := left + c*cellW + (cellW-cellGap-b.Dx())/2
		y0 := top + r*cellH + frameWidth + (tileH-b.Dy())/2
		l.tiles = append(l.tiles, image.Rect(x0, y0, x0+b.Dx(), y0+b.Dy()))
		l.captionAt = append(l.captionAt, image.Pt(left+c*cellW+(cellW-cellGap)/2, top+r*cellH+tileH+2*frameWidth+2))
	}
	return l, nil
}

// render draws g into a new image.
func (g *grid) render() (*image.RGBA, error) {
	if len(g.tiles) == 0 {
		return nil, fmt.Errorf("grid %q: nothing to draw, expected at least one picture: %w", g.title, tensor.ErrShape)
	}
	l, err := g.layout()
	if err != nil {
		return nil, err
	}
	cv := vgimg.NewWith(vgimg.UseWH(vg.Length(l.size.X), vg.Length(l.size.Y)), vgimg.UseDPI(72),
		vgimg.UseBackgroundColor(color.White))
	dc := vgdraw.New(cv)
	// put writes s centred with its top at image pixel p.
	put := func(size vg.Length, ink color.Color, p image.Point, s string) {
		if s != "" {
			dc.FillText(textStyle(size, ink), vg.Point{X: vg.Length(p.X), Y: vg.Length(l.size.Y - p.Y)}, s)
		}
	}
	put(titleSize, nil, image.Pt(l.size.X/2, l.titleY), g.title)
	put(captionSize, color.Gray{0x50}, image.Pt(l.size.X/2, l.noteY), g.note)
	for i, t := range g.tiles {
		put(captionSize, t.ink, l.captionAt[i], t.caption)
	}
	if g.bar != nil {
		b := l.bar
		put(captionSize, nil, image.Pt(l.barCenter, b.Min.Y-captionSize-captionSize/2), g.bar.heading)
		for k, s := range g.bar.labels { // bottom, middle, top
			y := b.Max.Y - k*(b.Dy()-1)/2 - captionSize/2
			p := image.Pt(b.Max.X+6+textWidth(captionSize, s)/2, y)
			put(captionSize, nil, p, s)
		}
	}
	img, ok := cv.Image().(*image.RGBA)
	if !ok { // vgimg draws into an RGBA; copy if that ever changes
		img = image.NewRGBA(cv.Image().Bounds())
		draw.Draw(img, img.Bounds(), cv.Image(), image.Point{}, draw.Src)
	}
	for i, t := range g.tiles {
		r := l.tiles[i]
		if t.frame != nil {
			draw.Draw(img, r.Inset(-frameWidth), image.NewUniform(t.frame), image.Point{}, draw.Src)
		} else { // a hairline, so that white pixels do not merge with the page
			outline(img, r.Inset(-1), color.Gray{0xb0})
		}
		draw.Draw(img, r, t.img, t.img.Bounds().Min, draw.Src)
	}
	if g.bar != nil {
		b := l.bar
		n := len(g.bar.colors)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			k := (b.Max.Y - 1 - y) * n / b.Dy() // bottom row is colors[0]
			draw.Draw(img, image.Rect(b.Min.X, y, b.Max.X, y+1), image.NewUniform(g.bar.colors[k]), image.Point{}, draw.Src)
		}
		outline(img, b.Inset(-1), color.Gray{0x80})
	}
	return img, nil
}

// outline draws a one-pixel rectangle just inside r.
func outline(img *image.RGBA, r image.Rectangle, c color.Color) {
	u := image.NewUniform(c)
	for _, e := range []image.Rectangle{
		{r.Min, image.Pt(r.Max.X, r.Min.Y+1)}, {image.Pt(r.Min.X, r.Max.Y-1), r.Max},
		{r.Min, image.Pt(r.Min.X+1, r.Max.Y)}, {image.Pt(r.Max.X-1, r.Min.Y), r.Max},
	} {
		draw.Draw(img, e, u, image.Point{}, draw.Src)
	}
}

// save renders g and writes it to path as PNG.
func (g *grid) save(path string) error {
	img, err := g.render()
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return savePNG(path, img)
}

// zoomTile draws an h×w plane of values enlarged zoom times (nearest
// neighbour), each value coloured by paint.
func zoomTile(h, w, zoom int, paint func(i int) color.Color) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w*zoom, h*zoom))
	for y := range h {
		for x := range w {
			draw.Draw(img, image.Rect(x*zoom, y*zoom, (x+1)*zoom, (y+1)*zoom), image.NewUniform(paint(y*w+x)), image.Point{}, draw.Src)
		}
	}
	return img
}

// zoomFor picks the enlargement that makes the largest plane (side pixels)
// about target pixels wide, at least 1.
func zoomFor(side, target int) int { return max(1, target/max(side, 1)) }

// tileTarget is the side in pixels a tile aims for: about 112, smaller when
// there are many columns, never below 28.
func tileTarget(cols int) int { return max(28, min(112, 1400/max(cols, 1))) }

// planes splits a shape into its last two axes (height, width) and the number
// of planes before them, checking it against the data length.
func planes(what string, n int, shape []int) (count, h, w int, err error) {
	if len(shape) < 2 {
		return 0, 0, 0, fmt.Errorf("%s: shape %v, expected rank ≥ 2 ending in [H W]: %w", what, shape, tensor.ErrShape)
	}
	s := tensor.Shape(shape)
	if err := s.Validate(); err != nil {
		return 0, 0, 0, fmt.Errorf("%s: %w", what, err)
	}
	if s.Len() != n {
		return 0, 0, 0, fmt.Errorf("%s: %d values, expected %d for shape %v: %w", what, n, s.Len(), s, tensor.ErrShape)
	}
	h, w = shape[len(shape)-2], shape[len(shape)-1]
	return n / (h * w), h, w, nil
}

// grayPaint colours values from lo (black) to hi (white).
func grayPaint(pix []float32, lo, hi float64) func(int) color.Color {
	return func(i int) color.Color { return color.Gray{grayLevel(float64(pix[i]), lo, hi)} }
}

// grayRamp is the colour bar of grayPaint: 256 levels from black to white.
func grayRamp() []color.Color {
	c := make([]color.Color, 256)
	for i := range c {
		c[i] = color.Gray{uint8(i)}
	}
	return c
}

// fmtNum formats a value for a caption with three significant digits.
func fmtNum(v float64) string { return fmt.Sprintf("%.3g", v) }
