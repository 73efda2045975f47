package viewer

import (
	"image"
	"math"
)

// A picture of the view is a list of ops: filled rectangles, grids of
// images, a line plot and text. The CPU renderer (render.go) and the
// view_compose shader (gpu.go) draw the same ops the same way; the layout
// below decides them from the window's size and what there is to show.

// source names the data an op reads.
type source int

const (
	srcNone    source = iota // reads nothing (rectangles)
	srcInputs                // the watched layer's input batch [N, C, H, W]
	srcFilters               // its weights [K, C, KH, KW]
	srcMaps                  // its output batch [N, K, OH, OW]
	srcLoss                  // the loss series
	srcFont                  // fontRows
	numSources
)

// opKind is what an op draws; the values are the shader's op codes.
type opKind uint32

const (
	opRect opKind = iota
	opGrid
	opCurve
	opText
)

// colorMode is how a grid maps values to colours; the values are the
// shader's mode codes.
type colorMode uint32

const (
	// gray maps each image's minimum to black and its maximum to white.
	gray colorMode = iota
	// diverging maps 0 to black, positive values towards amber and negative
	// ones towards blue, scaled by the image's largest magnitude.
	diverging
)

// Colours of the view, 0xRRGGBB.
const (
	colorBackground = 0x16181d
	colorPanel      = 0x23272f
	colorCaption    = 0xdde1e8
	colorLabel      = 0x9aa3b0
	colorAxis       = 0x5a616d
	colorCurve      = 0xffb040
	colorHighlight  = 0x4aa3ff
)

// The diverging map's colours at +1 and −1.
var (
	positiveRGB = [3]uint32{255, 176, 64}
	negativeRGB = [3]uint32{64, 160, 255}
)

// maxTextChars is the most characters one text op draws (the shader's push
// constants hold 80).
const maxTextChars = 80

// op is one drawing step. Every op writes only inside clip (and the image).
type op struct {
	kind  opKind
	clip  image.Rectangle
	color uint32 // rect, curve and text colour, 0xRRGGBB
	src   source
	// grid: planes of src drawn as cols columns of cells magnified scale
	// times, gap pixels apart, from at.
	planes
	cols, scale, gap int
	mode             colorMode
	at               image.Point
	// curve: n values of src from offset, lo at the bottom row of clip and
	// hi at the top row.
	n      int
	lo, hi float32
	// text: font codes drawn from clip.Min, magnified scale times.
	text []byte
}

// planes describes count images of h×w values, stride values apart, the
// first at element offset of a source.
type planes struct {
	offset, stride, count, h, w int
}

// words returns the op's push constants for the view_compose shader,
// without the padding to 32 words.
func (o *op) words(width, height int, bgra bool) []uint32 {
	var flags uint32
	if bgra {
		flags = 1
	}
	c := o.clip
	w := []uint32{uint32(o.kind), uint32(width), uint32(height), flags,
		uint32(c.Min.X), uint32(c.Min.Y), uint32(c.Max.X), uint32(c.Max.Y)}
	switch o.kind {
	case opRect:
		w = append(w, o.color)
	case opGrid:
		w = append(w, uint32(o.offset), uint32(o.stride), uint32(o.count), uint32(o.h), uint32(o.w),
			uint32(o.cols), uint32(o.scale), uint32(o.gap), uint32(o.mode), uint32(o.at.X), uint32(o.at.Y))
	case opCurve:
		w = append(w, uint32(o.offset), uint32(o.n), math.Float32bits(o.lo), math.Float32bits(o.hi), o.color)
	case opText:
		w = append(w, uint32(o.offset), uint32(o.scale), o.color, uint32(len(o.text)))
		for i := 0; i < len(o.text); i += 4 {
			var word uint32
			for j := 0; j < 4 && i+j < len(o.text); j++ {
				word |= uint32(o.text[i+j]) << (8 * j)
			}
			w = append(w, word)
		}
	}
	return w
}

// maxGroups is the workgroup count every Vulkan device allows along x.
const maxGroups = 65535

// groups1D returns the workgroups of 256 invocations that cover n
// invocations, folded into y beyond maxGroups (the shader unfolds them).
func groups1D(n int) [3]uint32 {
	g := (n + 255) / 256
	x := min(g, maxGroups)
	if x == 0 {
		return [3]uint32{0, 1, 1}
	}
	return [3]uint32{uint32(x), uint32((g + x - 1) / x), 1}
}

// groups returns the op's workgroup counts for the view_compose shader:
// one workgroup per grid cell, one invocation per run of 32 pixels of a
// rectangle's row, per column of a curve, per pixel of text.
func (o *op) groups() [3]uint32 {
	w, h := o.clip.Dx(), o.clip.Dy()
	switch o.kind {
	case opGrid:
		return [3]uint32{uint32(min(o.count, maxGroups)), 1, 1}
	case opRect:
		return groups1D((w + 31) / 32 * h)
	case opCurve:
		return groups1D(w)
	}
	return groups1D(w * h)
}

// content is what a picture shows, independent of where the data lives.
type content struct {
	inputs, filters, maps planes // count 0 when there is nothing to show
	// loss describes the series in srcLoss; n is 0 without one.
	loss struct {
		n      int
		lo, hi float32
	}
	// captions of the four panels: inputs, filters, feature maps, loss.
	captions [4]string
	// lossLabels are the loss axis labels: the top value and the bottom one.
	lossLabels [2]string
}

// Layout constants, in pixels.
const (
	margin     = 8 // around and between the panels
	inset      = 6 // inside a panel
	gridGap    = 3 // between the cells of a grid
	highlightW = 2 // the frame around the input whose feature maps are shown
)

// panel returns panel i (0 inputs, 1 filters, 2 feature maps, 3 loss) of a
// width×height picture: a 2×2 arrangement.
func panel(width, height, i int) image.Rectangle {
	pw, ph := (width-3*margin)/2, (height-3*margin)/2
	x, y := margin+(i%2)*(pw+margin), margin+(i/2)*(ph+margin)
	return image.Rect(x, y, x+pw, y+ph)
}

// textScale returns the caption magnification for panels of size p.
func textScale(p image.Rectangle) int {
	if p.Dx() >= 360 && p.Dy() >= 200 {
		return 2
	}
	return 1
}

// contentArea returns the part of panel p below its caption.
func contentArea(p image.Rectangle) image.Rectangle {
	top := p.Min.Y + inset + cellH*textScale(p) + inset
	return image.Rect(p.Min.X+inset, top, p.Max.X-inset, p.Max.Y-inset)
}

// layout returns the ops that draw c on a width×height picture.
func layout(width, height int, c *content) []op {
	ops := []op{{kind: opRect, clip: image.Rect(0, 0, width, height), color: colorBackground}}
	if (width-3*margin)/2 < 48 || (height-3*margin)/2 < 48 {
		return ops // too small for the panels
	}
	for i := range 4 {
		p := panel(width, height, i)
		ops = append(ops, op{kind: opRect, clip: p, color: colorPanel})
		ops = append(ops, textOp(p.Min.Add(image.Pt(inset, inset)), p.Inset(inset), textScale(p), colorCaption, c.captions[i]))
		area := contentArea(p)
		switch i {
		case 0:
			ops = appendGrid(ops, area, srcInputs, c.inputs, gray, true)
		case 1:
			ops = appendGrid(ops, area, srcFilters, c.filters, diverging, false)
		case 2:
			ops = appendGrid(ops, area, srcMaps, c.maps, diverging, false)
		case 3:
			ops = appendCurve(ops, area, c)
		}
	}
	return ops
}

// textOp draws s from at, clipped to clip.
func textOp(at image.Point, clip image.Rectangle, scale int, color uint32, s string) op {
	t := fontText(s)
	fit := max(clip.Max.X-at.X, 0) / (cellW * scale)
	t = t[:min(len(t), fit, maxTextChars)]
	r := image.Rect(at.X, at.Y, at.X+len(t)*cellW*scale, at.Y+cellH*scale).Intersect(clip)
	return op{kind: opText, clip: r, src: srcFont, scale: scale, color: color, text: t}
}

// fitGrid chooses the columns and the magnification that show count h×w
// cells as large as possible in a w×h area; when not even magnification 1
// fits, it shows only as many cells as fit.
func fitGrid(aw, ah, count, h, w int) (cols, scale, shown int) {
	cols, scale = 1, 0
	for c := 1; c <= count; c++ {
		rows := (count + c - 1) / c
		s := min((aw-(c-1)*gridGap)/(c*w), (ah-(rows-1)*gridGap)/(rows*h))
		if s > scale {
			cols, scale = c, s
		}
	}
	if scale >= 1 {
		return cols, scale, count
	}
	cols = max((aw+gridGap)/(w+gridGap), 0)
	rows := max((ah+gridGap)/(h+gridGap), 0)
	return max(cols, 1), 1, min(count, cols*rows)
}

// appendGrid adds the ops of a grid of planes centred in area; highlight
// frames the first cell.
func appendGrid(ops []op, area image.Rectangle, src source, p planes, mode colorMode, highlight bool) []op {
	if p.count < 1 || p.h < 1 || p.w < 1 || area.Empty() {
		return ops
	}
	cols, scale, shown := fitGrid(area.Dx(), area.Dy(), p.count, p.h, p.w)
	if shown < 1 {
		return ops
	}
	p.count = shown
	rows := (shown + cols - 1) / cols
	cw, ch := p.w*scale, p.h*scale
	gw, gh := cols*cw+(cols-1)*gridGap, rows*ch+(rows-1)*gridGap
	at := image.Pt(area.Min.X+max(area.Dx()-gw, 0)/2, area.Min.Y+max(area.Dy()-gh, 0)/2)
	if highlight {
		cell := image.Rect(at.X, at.Y, at.X+cw, at.Y+ch)
		ops = append(ops, op{kind: opRect, clip: cell.Inset(-highlightW).Intersect(area), color: colorHighlight})
	}
	return append(ops, op{kind: opGrid, clip: area, src: src, planes: p, cols: cols, scale: scale, gap: gridGap, mode: mode, at: at})
}

// appendCurve adds the loss plot: axis labels on the left, axes, the line.
func appendCurve(ops []op, area image.Rectangle, c *content) []op {
	labelW := 7 * cellW
	plot := image.Rect(area.Min.X+labelW+2, area.Min.Y+cellH/2, area.Max.X, area.Max.Y-cellH/2)
	if plot.Dx() < 8 || plot.Dy() < 8 {
		return ops
	}
	ops = append(ops,
		textOp(image.Pt(area.Min.X, plot.Min.Y), area, 1, colorLabel, c.lossLabels[0]),
		textOp(image.Pt(area.Min.X, plot.Max.Y-glyphH), area, 1, colorLabel, c.lossLabels[1]),
		op{kind: opRect, clip: image.Rect(plot.Min.X, plot.Min.Y, plot.Min.X+1, plot.Max.Y), color: colorAxis},
		op{kind: opRect, clip: image.Rect(plot.Min.X, plot.Max.Y-1, plot.Max.X, plot.Max.Y), color: colorAxis},
	)
	if c.loss.n < 1 {
		return ops
	}
	line := image.Rect(plot.Min.X+2, plot.Min.Y, plot.Max.X, plot.Max.Y-2)
	return append(ops, op{kind: opCurve, clip: line, src: srcLoss, n: c.loss.n, lo: c.loss.lo, hi: c.loss.hi, color: colorCurve})
}
