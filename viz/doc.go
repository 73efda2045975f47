// Package viz draws the pictures of a training run as PNG files: loss and
// accuracy curves per epoch (PlotHistory, with gonum's plot), the learned
// filters of a convolution (FilterGrid, diverging blue–white–red colour map
// with a colour bar), the feature maps of one input (FeatureMaps), and a grid
// of test images with the predicted class and confidence (PredictionGrid,
// misclassified images framed in red). It also converts between float32
// images and ordinary picture files: WriteGrayPNG saves values as a grayscale
// PNG with a chosen value range, ReadGray decodes a PNG or JPEG into gray
// values in [0, 1], and Resize rescales such an image.
//
// Everything takes plain Go slices: images are row-major float32 values with
// their shape given as a []int (a tensor.Shape works too), so the package
// depends on no model code. Every file is written atomically: to a temporary
// name in the same folder, then renamed. Invalid arguments return errors
// wrapping tensor.ErrShape or tensor.ErrParam that name the argument and what
// was expected; file problems return the file system's or decoder's error.
package viz
