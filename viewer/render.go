package viewer

import (
	"image"
	"math"
)

// The CPU renderer: it draws ops exactly as shaders/view_compose.comp does,
// in float32 arithmetic, so that the CPU path and the GPU path make the same
// picture (up to the rounding of a division on the device).

// pack returns the pixel of colour r, g, b (0..255) with alpha 255 in BGRA or
// RGBA byte order.
func pack(r, g, b uint32, bgra bool) uint32 {
	if bgra {
		return 0xff000000 | r<<16 | g<<8 | b
	}
	return 0xff000000 | b<<16 | g<<8 | r
}

// rgb splits 0xRRGGBB.
func rgb(c uint32) (r, g, b uint32) { return c >> 16 & 255, c >> 8 & 255, c & 255 }

// level maps t in [0, 1] to 0..255, rounding; NaN gives 0.
func level(t float32) uint32 {
	if !(t > 0) {
		return 0
	}
	t = min(t, 1)
	return uint32(float32(t*255) + 0.5)
}

// dim returns colour channel c scaled to level l of 255, rounding.
func dim(c, l uint32) uint32 { return (c*l + 127) / 255 }

// canvas is a picture being drawn.
type canvas struct {
	pix           []uint32
	width, height int
	bgra          bool
	data          *[numSources][]float32
}

// put writes r, g, b at (x, y) when it is inside clip and the picture.
func (cv *canvas) put(clip image.Rectangle, x, y int, r, g, b uint32) {
	if !image.Pt(x, y).In(clip) || x >= cv.width || y >= cv.height || x < 0 || y < 0 {
		return
	}
	if i := y*cv.width + x; i < len(cv.pix) {
		cv.pix[i] = pack(r, g, b, cv.bgra)
	}
}

// visible returns the part of clip inside the picture (and pix).
func (cv *canvas) visible(clip image.Rectangle) image.Rectangle {
	h := min(cv.height, len(cv.pix)/max(cv.width, 1))
	return clip.Intersect(image.Rect(0, 0, cv.width, h))
}

// at returns element i of source s, or 0 out of range.
func (cv *canvas) at(s source, i int) float32 {
	if d := cv.data[s]; i >= 0 && i < len(d) {
		return d[i]
	}
	return 0
}

// render draws ops into pix, a width×height picture of packed pixels in BGRA
// or RGBA byte order, reading the sources in data.
func render(pix []uint32, width, height int, bgra bool, ops []op, data *[numSources][]float32) {
	cv := &canvas{pix: pix, width: width, height: height, bgra: bgra, data: data}
	for i := range ops {
		o := &ops[i]
		switch o.kind {
		case opRect:
			v := cv.visible(o.clip)
			r, g, b := rgb(o.color)
			p := pack(r, g, b, cv.bgra)
			for y := v.Min.Y; y < v.Max.Y; y++ {
				row := cv.pix[y*cv.width+v.Min.X : y*cv.width+v.Max.X]
				for x := range row {
					row[x] = p
				}
			}
		case opGrid:
			cv.grid(o)
		case opCurve:
			cv.curve(o)
		case opText:
			cv.text(o)
		}
	}
}

// grid draws each cell normalized over its own finite values.
func (cv *canvas) grid(o *op) {
	cols, s := max(o.cols, 1), max(o.scale, 1)
	for cell := 0; cell < o.count; cell++ {
		base := o.offset + cell*o.stride
		n := o.h * o.w
		lo, hi := float32(3e38), float32(-3e38)
		for j := range n {
			x := cv.at(o.src, base+j)
			if !math.IsNaN(float64(x)) && !math.IsInf(float64(x), 0) {
				lo, hi = min(lo, x), max(hi, x)
			}
		}
		m := max(abs32(lo), abs32(hi))
		cx := o.at.X + cell%cols*(o.w*s+o.gap)
		cy := o.at.Y + cell/cols*(o.h*s+o.gap)
		// The cell's pixels inside the clip and the picture.
		v := cv.visible(o.clip).Intersect(image.Rect(cx, cy, cx+o.w*s, cy+o.h*s))
		for py := v.Min.Y - cy; py < v.Max.Y-cy; py++ {
			for px := v.Min.X - cx; px < v.Max.X-cx; px++ {
				x := cv.at(o.src, base+py/s*o.w+px/s)
				var r, g, b uint32
				switch {
				case math.IsNaN(float64(x)):
				case o.mode == gray:
					l := uint32(128)
					if hi > lo {
						l = level((x - lo) / (hi - lo))
					}
					r, g, b = l, l, l
				case m > 0:
					t := min(max(x/m, -1), 1)
					c, l := positiveRGB, level(t)
					if t < 0 {
						c, l = negativeRGB, level(-t)
					}
					r, g, b = dim(c[0], l), dim(c[1], l), dim(c[2], l)
				}
				cv.pix[(cy+py)*cv.width+cx+px] = pack(r, g, b, cv.bgra)
			}
		}
	}
}

func abs32(x float32) float32 { return float32(math.Abs(float64(x))) }

// curveValue returns the series interpolated at index k + num/den.
func (cv *canvas) curveValue(o *op, k, num, den int) float32 {
	a := cv.at(o.src, o.offset+k)
	if num == 0 || k+1 >= o.n {
		return a
	}
	b := cv.at(o.src, o.offset+k+1)
	t := float32(num) / float32(den)
	return a*(1-t) + b*t
}

// curve plots the series: each column spans the values the line takes over
// its part of the series.
func (cv *canvas) curve(o *op) {
	rw, rh := o.clip.Dx(), o.clip.Dy()
	if o.n < 1 || rw < 1 || rh < 1 {
		return
	}
	lo, hi := o.lo, o.hi
	if !(hi > lo) {
		hi = lo + 1
	}
	cr, cg, cb := rgb(o.color)
	scale := float32(rh-1) / (hi - lo)
	for px := range rw {
		an, bn := px*(o.n-1), (px+1)*(o.n-1)
		ak, bk := an/rw, bn/rw
		va, vb := cv.curveValue(o, ak, an%rw, rw), cv.curveValue(o, bk, bn%rw, rw)
		vmin, vmax := min(va, vb), max(va, vb)
		nan := isNaN32(va) || isNaN32(vb)
		for k := ak + 1; k <= bk && k < o.n; k++ {
			x := cv.at(o.src, o.offset+k)
			nan = nan || isNaN32(x)
			vmin, vmax = min(vmin, x), max(vmax, x)
		}
		if nan {
			continue
		}
		top := float32(math.Floor(float64(float32(rh-1) - float32((vmax-lo)*scale))))
		bottom := float32(math.Ceil(float64(float32(rh-1) - float32((vmin-lo)*scale))))
		for py := range rh {
			if y := float32(py); y >= top && y <= bottom {
				cv.put(o.clip, o.clip.Min.X+px, o.clip.Min.Y+py, cr, cg, cb)
			}
		}
	}
}

func isNaN32(x float32) bool { return x != x }

// text draws the glyphs from clip.Min.
func (cv *canvas) text(o *op) {
	s := max(o.scale, 1)
	r, g, b := rgb(o.color)
	for py := 0; py < o.clip.Dy(); py++ {
		row := py / s
		if row >= glyphH {
			continue
		}
		for px := 0; px < o.clip.Dx(); px++ {
			ch, col := px/(cellW*s), px%(cellW*s)/s
			if ch >= len(o.text) || ch >= maxTextChars || col >= glyphW {
				continue
			}
			c := int(o.text[ch])
			if c < firstChar || c > 127 {
				continue
			}
			bits := uint32(cv.at(o.src, o.offset+(c-firstChar)*glyphH+row))
			if bits&(16>>col) != 0 {
				cv.put(o.clip, o.clip.Min.X+px, o.clip.Min.Y+py, r, g, b)
			}
		}
	}
}
