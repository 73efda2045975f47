package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/vkcnn/vkcnn/data"
	"github.com/vkcnn/vkcnn/nn"
	"github.com/vkcnn/vkcnn/tensor"
	"github.com/vkcnn/vkcnn/viz"
)

// The prediction grid shows the first gridFirst test images and then up to
// gridWrong misclassified images from the rest of the test set.
const (
	gridFirst = 30
	gridWrong = 10
)

// historyOf converts a training history into the series PlotHistory draws.
func historyOf(hist []nn.EpochInfo) viz.History {
	var h viz.History
	for _, e := range hist {
		h.TrainLoss = append(h.TrainLoss, e.Loss)
		h.TrainAcc = append(h.TrainAcc, e.Accuracy)
		h.ValLoss = append(h.ValLoss, e.ValLoss)
		h.ValAcc = append(h.ValAcc, e.ValAccuracy)
	}
	return h
}

// drawTraining writes the pictures of a training run into out and returns
// the names of the files written, and notes on pictures that do not apply
// (filters and feature maps of a model without convolution). A picture that
// cannot be drawn (a diverged loss) is an error naming it and why, returned
// after the others are written.
func drawTraining(out, name, dataset string, m *nn.Sequential, hist []nn.EpochInfo, test *data.Dataset) (written, notes []string, err error) {
	var errs []error
	try := func(file string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s not drawn: %w", file, err))
		} else {
			written = append(written, file)
			crashPoint("file")
		}
	}
	title := fmt.Sprintf("%s on %s", name, dataset)
	try("curves.png", viz.PlotHistory(filepath.Join(out, "curves.png"), title, historyOf(hist)))

	conv := -1
	for i, l := range m.Layers() {
		if l.Kind() == "conv" {
			conv = i
			break
		}
	}
	if conv < 0 {
		notes = append(notes, "the model has no convolution: no filters.png and featuremaps.png")
	} else {
		w, err := nn.ToHost(m.Layers()[conv].Params()[0].Value)
		if err == nil {
			err = viz.FilterGrid(filepath.Join(out, "filters.png"), fmt.Sprintf("%s: kernels of layer %d %s", name, conv, m.Layers()[conv]),
				float32s(w), w.Shape)
		}
		try("filters.png", err)
		try("featuremaps.png", drawFeatureMaps(filepath.Join(out, "featuremaps.png"), name, m, conv, test))
	}
	try("predictions.png", drawPredictions(filepath.Join(out, "predictions.png"), title, m, test))
	return written, notes, errors.Join(errs...)
}

// drawFeatureMaps runs the first test image through layers 0…conv of m (a
// prefix model with the same weights) and draws the outputs of layer conv.
func drawFeatureMaps(path, name string, m *nn.Sequential, conv int, test *data.Dataset) error {
	layers := m.Layers()
	specs := make([]string, conv+1)
	for i, l := range layers[:conv+1] {
		specs[i] = l.String()
	}
	prefix, err := nn.Parse(strings.Join(specs, " "))
	if err != nil {
		return err
	}
	if err := prefix.BuildDType(m.Backend(), m.DType(), m.InShape(), 0); err != nil {
		return err
	}
	defer prefix.Free()
	sd, err := m.StateDict()
	if err != nil {
		return err
	}
	for k := range sd {
		if i, err := strconv.Atoi(k[:strings.IndexByte(k, '.')]); err != nil || i > conv {
			delete(sd, k)
		}
	}
	if err := prefix.LoadStateDict(sd); err != nil {
		return err
	}
	img := test.Image(0)
	maps, err := forwardAll(prefix, img)
	if err != nil {
		return err
	}
	title := fmt.Sprintf("%s: outputs of layer %d %s for test image 0 (class %s)", name, conv, layers[conv], test.ClassName(test.Labels[0]))
	return viz.FeatureMaps(path, title, img, test.Shape, maps, append(tensor.Shape{1}, prefix.OutShape()...))
}

// drawPredictions draws test images with the model's predictions: the first
// gridFirst, then up to gridWrong misclassified ones from the rest.
func drawPredictions(path, title string, m *nn.Sequential, test *data.Dataset) error {
	preds, _, err := predictAll(m, test.Images)
	if err != nil {
		return err
	}
	var idx []int
	wrong := 0
	for i, p := range preds {
		if i < gridFirst {
			idx = append(idx, i)
		} else if p.Class != test.Labels[i] && wrong < gridWrong {
			idx = append(idx, i)
			wrong++
		}
	}
	sub, err := test.Subset("shown", idx)
	if err != nil {
		return err
	}
	vp := make([]nn.Prediction, len(idx))
	for k, i := range idx {
		vp[k] = preds[i]
		vp[k].Confidence = min(max(vp[k].Confidence, 0), 1)
	}
	caption := fmt.Sprintf("%s: the first %d test images", title, min(gridFirst, len(preds)))
	switch {
	case wrong == 1:
		caption += ", then 1 misclassified one"
	case wrong > 1:
		caption += fmt.Sprintf(", then %d misclassified ones", wrong)
	}
	return viz.PredictionGrid(path, caption, sub.Images, sub.BatchShape(sub.Len()), vp, sub.Labels, test.ClassNames)
}
