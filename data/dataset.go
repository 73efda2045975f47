package data

import (
	"fmt"
	"strconv"

	"github.com/vkcnn/vkcnn/tensor"
)

// Dataset is a set of samples held in host memory: vkcnn's one dataset type.
// Load and the readers of this package return it, and package nn's Fit,
// Evaluate and models.Train take it, so a loaded set trains as it is.
//
// For nn, the samples are the model's inputs and the targets come from
// Targets when it is set, else from Labels: a label becomes a one-hot row of
// the model's output width or, for a model with a single output (binary
// classification), the value 0 or 1 itself. Accuracy compares classes: the
// predicted class is the argmax of a sample's output row (for a single
// output, 1 when it is ≥ 0.5, else 0); the true class is the label or,
// without labels, the class of the target row found the same way.
type Dataset struct {
	// Name says where the data came from, such as "mnist train".
	Name string
	// Images holds the samples back to back, each laid out in its Shape
	// (row-major; NCHW for images), item i at
	// Images[i*ItemLen() : (i+1)*ItemLen()]. Pixel values of the loaded
	// image sets are in [0, 1].
	Images []float32
	// Labels holds the class of each sample, in [0, Classes). Package nn
	// needs Labels or Targets to train or to measure accuracy.
	Labels []int
	// Targets, when not nil, holds one target row per sample (package nn:
	// the model's output width), used by nn instead of the one-hot rows of
	// Labels (soft targets, regression). The loaders leave it nil.
	Targets []float32
	// Shape is the shape of one sample, [C, H, W] for images (C is 1 for
	// grayscale). Package nn takes the model's input shape when it is nil,
	// and otherwise needs one of the same number of values.
	Shape tensor.Shape
	// Classes is the number of classes; 0 leaves it to package nn, which
	// then checks the labels against the model's outputs.
	Classes int
	// ClassNames names each class for captions and reports; it is nil or has
	// Classes entries.
	ClassNames []string
	// FlipInvariant reports that an image mirrored left to right keeps its
	// class (clothing and other objects, not digits or letters), so that
	// training may flip images at random (nn.HorizontalFlip). Load sets it
	// for fashion.
	FlipInvariant bool
}

// Len returns the number of images.
func (d *Dataset) Len() int { return len(d.Labels) }

// ItemLen returns the number of float32 values of one image, C·H·W.
func (d *Dataset) ItemLen() int { return d.Shape.Len() }

// Image returns image i as a sub-slice of d.Images (not a copy). It panics
// when i is out of range, like a slice index.
func (d *Dataset) Image(i int) []float32 {
	n := d.ItemLen()
	return d.Images[i*n : (i+1)*n : (i+1)*n]
}

// BatchShape returns the NCHW shape of a batch of n images: [n, C, H, W].
func (d *Dataset) BatchShape(n int) tensor.Shape {
	return append(tensor.Shape{n}, d.Shape...)
}

// ClassName returns the name of class c, or its number when the dataset has
// no names or c is out of range.
func (d *Dataset) ClassName(c int) string {
	if c >= 0 && c < len(d.ClassNames) {
		return d.ClassNames[c]
	}
	return strconv.Itoa(c)
}

// Validate checks that the dataset is consistent as a labelled image set: a
// valid rank-3 item shape, len(Images) = Len()·ItemLen(), at least one
// class, labels in [0, Classes), Targets nil or the same number of values
// for every label, and ClassNames nil or of length Classes. It returns an error wrapping
// tensor.ErrShape or tensor.ErrParam that names the first problem.
func (d *Dataset) Validate() error {
	if len(d.Shape) != 3 {
		return fmt.Errorf("dataset %q: item shape %v, expected [C H W]: %w", d.Name, d.Shape, tensor.ErrShape)
	}
	if err := d.Shape.Validate(); err != nil {
		return fmt.Errorf("dataset %q: item %w", d.Name, err)
	}
	if want := d.Len() * d.ItemLen(); len(d.Images) != want {
		return fmt.Errorf("dataset %q: %d image values, expected %d (%d labels × %v): %w",
			d.Name, len(d.Images), want, d.Len(), d.Shape, tensor.ErrShape)
	}
	if d.Classes < 1 {
		return fmt.Errorf("dataset %q: %d classes, expected ≥ 1: %w", d.Name, d.Classes, tensor.ErrParam)
	}
	if d.ClassNames != nil && len(d.ClassNames) != d.Classes {
		return fmt.Errorf("dataset %q: %d class names, expected %d: %w", d.Name, len(d.ClassNames), d.Classes, tensor.ErrShape)
	}
	if d.Targets != nil && (d.Len() == 0 || len(d.Targets)%d.Len() != 0) {
		return fmt.Errorf("dataset %q: %d target values, expected a positive multiple of %d (one row per label): %w", d.Name, len(d.Targets), d.Len(), tensor.ErrShape)
	}
	for i, l := range d.Labels {
		if l < 0 || l >= d.Classes {
			return fmt.Errorf("dataset %q: label %d of image %d, expected in [0, %d): %w", d.Name, l, i, d.Classes, tensor.ErrParam)
		}
	}
	return nil
}

// Subset returns a new dataset holding copies of the images idx (and of
// their target rows, if any), in that order (indices may repeat). It returns
// a tensor.ErrParam error naming the first index outside [0, Len()).
func (d *Dataset) Subset(name string, idx []int) (*Dataset, error) {
	s := &Dataset{Name: name, Shape: d.Shape.Clone(), Classes: d.Classes, ClassNames: d.ClassNames, FlipInvariant: d.FlipInvariant,
		Images: make([]float32, len(idx)*d.ItemLen()), Labels: make([]int, len(idx))}
	if err := Batch(d, s.Images, s.Labels, idx); err != nil {
		return nil, fmt.Errorf("subset %q: %w", name, err)
	}
	if d.Targets != nil && d.Len() > 0 {
		row := len(d.Targets) / d.Len()
		s.Targets = make([]float32, len(idx)*row)
		if err := Gather(s.Targets, d.Targets, idx, row); err != nil {
			return nil, fmt.Errorf("subset %q targets: %w", name, err)
		}
	}
	return s, nil
}

// Split returns the first n images as one dataset and the rest as another,
// both copies, named "<Name> train" and "<Name> test". It returns a
// tensor.ErrParam error unless 0 ≤ n ≤ Len().
func (d *Dataset) Split(n int) (first, rest *Dataset, err error) {
	if n < 0 || n > d.Len() {
		return nil, nil, fmt.Errorf("split dataset %q of %d images at %d, expected 0 to %d: %w", d.Name, d.Len(), n, d.Len(), tensor.ErrParam)
	}
	first, _ = d.Subset(d.Name+" train", seq(0, n))
	rest, _ = d.Subset(d.Name+" test", seq(n, d.Len()))
	return first, rest, nil
}

// KeepClasses returns a copy of the images whose label is in classes,
// relabelled by position: an image of class classes[j] gets label j. The
// order of images is kept. It returns a tensor.ErrParam error for an empty
// list, a repeated class or a class outside [0, Classes).
func (d *Dataset) KeepClasses(name string, classes ...int) (*Dataset, error) {
	if len(classes) == 0 {
		return nil, fmt.Errorf("keep classes of %q: no classes given, expected at least one: %w", d.Name, tensor.ErrParam)
	}
	newLabel := make([]int, d.Classes)
	for i := range newLabel {
		newLabel[i] = -1
	}
	names := make([]string, len(classes))
	for j, c := range classes {
		if c < 0 || c >= d.Classes {
			return nil, fmt.Errorf("keep classes of %q: class %d, expected in [0, %d): %w", d.Name, c, d.Classes, tensor.ErrParam)
		}
		if newLabel[c] >= 0 {
			return nil, fmt.Errorf("keep classes of %q: class %d listed twice: %w", d.Name, c, tensor.ErrParam)
		}
		newLabel[c] = j
		names[j] = d.ClassName(c)
	}
	var idx []int
	for i, l := range d.Labels {
		if l >= 0 && l < d.Classes && newLabel[l] >= 0 {
			idx = append(idx, i)
		}
	}
	s, err := d.Subset(name, idx)
	if err != nil {
		return nil, err
	}
	for i := range s.Labels {
		s.Labels[i] = newLabel[s.Labels[i]]
	}
	s.Classes, s.ClassNames = len(classes), names
	return s, nil
}

// ClassCounts returns the number of images of each class; labels outside
// [0, Classes) are not counted.
func (d *Dataset) ClassCounts() []int {
	counts := make([]int, max(d.Classes, 0))
	for _, l := range d.Labels {
		if l >= 0 && l < len(counts) {
			counts[l]++
		}
	}
	return counts
}

// seq returns lo, lo+1, …, hi−1.
func seq(lo, hi int) []int {
	s := make([]int, hi-lo)
	for i := range s {
		s[i] = lo + i
	}
	return s
}
