package viz

import (
	"fmt"
	"image/color"
	"io"
	"math"

	"github.com/vkcnn/vkcnn/internal/atomicfile"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/vkcnn/vkcnn/tensor"
)

// History is the record of a training run, one value per epoch, epoch 1
// first. A nil or empty series is left out of the picture.
type History struct {
	// TrainLoss and ValLoss are the mean losses on the training and
	// validation sets.
	TrainLoss, ValLoss []float64
	// TrainAcc and ValAcc are accuracies as fractions in [0, 1]; they are
	// drawn in percent.
	TrainAcc, ValAcc []float64
}

// The size of PlotHistory's picture: 1000×400 pixels.
const (
	historyDPI    = 100
	historyWidth  = 10 * vg.Inch
	historyHeight = 4 * vg.Inch
)

// The colours of the training and validation curves.
var (
	trainColor = color.RGBA{0x1f, 0x77, 0xb4, 0xff} // blue
	valColor   = color.RGBA{0xff, 0x7f, 0x0e, 0xff} // orange
)

// PlotHistory draws the loss curves (left) and the accuracy curves (right)
// of a training run per epoch, training in blue and validation in orange,
// each panel titled, with labelled axes and a legend, and writes the
// 1000×400-pixel picture to path as PNG. title heads both panels. It returns
// a tensor.ErrShape error when every series is empty, a tensor.ErrParam error
// naming the series and epoch of a NaN or infinite value (or an accuracy
// outside [0, 1]), and the file system's error when writing fails.
func PlotHistory(path, title string, h History) error {
	if len(h.TrainLoss)+len(h.ValLoss)+len(h.TrainAcc)+len(h.ValAcc) == 0 {
		return fmt.Errorf("plot history %s: every series is empty, expected at least one epoch: %w", path, tensor.ErrShape)
	}
	for _, s := range []struct {
		name   string
		v      []float64
		lo, hi float64
	}{{"training loss", h.TrainLoss, math.Inf(-1), math.Inf(1)}, {"validation loss", h.ValLoss, math.Inf(-1), math.Inf(1)},
		{"training accuracy", h.TrainAcc, 0, 1}, {"validation accuracy", h.ValAcc, 0, 1}} {
		for i, v := range s.v {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < s.lo || v > s.hi {
				return fmt.Errorf("plot history %s: %s of epoch %d is %v, expected a finite value in [%v, %v]: %w",
					path, s.name, i+1, v, s.lo, s.hi, tensor.ErrParam)
			}
		}
	}
	prefix := ""
	if title != "" {
		prefix = title + ": "
	}
	loss, err := curvePanel(prefix+"loss", "loss", h.TrainLoss, h.ValLoss, 1)
	if err != nil {
		return err
	}
	loss.Legend.Top = true
	acc, err := curvePanel(prefix+"accuracy", "accuracy (%)", h.TrainAcc, h.ValAcc, 100)
	if err != nil {
		return err
	}
	cv := vgimg.NewWith(vgimg.UseWH(historyWidth, historyHeight), vgimg.UseDPI(historyDPI))
	dc := draw.New(cv)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(24), PadTop: vg.Points(6), PadBottom: vg.Points(6),
		PadLeft: vg.Points(6), PadRight: vg.Points(12)}
	loss.Draw(tiles.At(dc, 0, 0))
	acc.Draw(tiles.At(dc, 1, 0))
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: cv}.WriteTo(w)
		return err
	})
}

// curvePanel makes one panel with a training and a validation curve (scaled
// by scale), epochs on the x axis.
func curvePanel(title, yLabel string, train, val []float64, scale float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(14)
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = yLabel
	p.X.Tick.Marker = epochTicks{}
	p.Add(plotter.NewGrid())
	for _, s := range []struct {
		name string
		v    []float64
		c    color.Color
	}{{"training", train, trainColor}, {"validation", val, valColor}} {
		if len(s.v) == 0 {
			continue
		}
		xy := make(plotter.XYs, len(s.v))
		for i, v := range s.v {
			xy[i] = plotter.XY{X: float64(i + 1), Y: v * scale}
		}
		line, points, err := plotter.NewLinePoints(xy)
		if err != nil {
			return nil, fmt.Errorf("plot %s: %w", title, err)
		}
		line.Color, line.Width = s.c, vg.Points(2)
		points.Color, points.Shape, points.Radius = s.c, draw.CircleGlyph{}, vg.Points(2.5)
		p.Add(line, points)
		p.Legend.Add(s.name, line, points)
	}
	if p.X.Max-p.X.Min < 1 { // a single epoch: give the axis some width
		p.X.Min, p.X.Max = p.X.Min-0.5, p.X.Max+0.5
	}
	return p, nil
}

// epochTicks labels whole epochs only, about ten of them.
type epochTicks struct{}

// Ticks returns ticks at whole epochs between min and max.
func (epochTicks) Ticks(min, max float64) []plot.Tick {
	lo, hi := math.Ceil(min), math.Floor(max)
	step := math.Max(1, math.Ceil((hi-lo+1)/10))
	var ticks []plot.Tick
	for e := lo; e <= hi; e += step {
		ticks = append(ticks, plot.Tick{Value: e, Label: fmt.Sprintf("%.0f", e)})
	}
	return ticks
}
