package tensor_test

import (
	"fmt"

	"github.com/vkcnn/vkcnn/tensor"
)

// The output length of a 3×3 convolution with stride 2 and padding 1 over 224
// pixels, and what happens when the kernel does not fit.
func ExampleOutSize() {
	n, err := tensor.OutSize(224, 3, 2, 1, 1)
	fmt.Println(n, err)

	// A 3×3 kernel with dilation 2 spans 5 pixels: too wide for 4.
	_, err = tensor.OutSize(4, 3, 1, 0, 2)
	fmt.Println(err)
	// Output:
	// 112 <nil>
	// kernel spans 5 (size 3, dilation 2) but the padded input is 4 (size 4, padding 0): shape mismatch
}
