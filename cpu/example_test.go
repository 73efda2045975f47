package cpu_test

import (
	"fmt"
	"log"

	"github.com/vkcnn/vkcnn/cpu"
	"github.com/vkcnn/vkcnn/tensor"
)

// Convolve a 4×4 image with a 2×2 kernel that takes the difference between
// each pixel and its right neighbour, a vertical edge detector.
func Example() {
	b := cpu.New()
	defer b.Close()

	x, err := b.Alloc(tensor.Float32, tensor.Shape{1, 1, 4, 4}) // [N C H W]
	if err != nil {
		log.Fatal(err)
	}
	w, _ := b.Alloc(tensor.Float32, tensor.Shape{1, 1, 2, 2}) // [K C KH KW]
	y, _ := b.Alloc(tensor.Float32, tensor.Shape{1, 1, 3, 3}) // [N K OH OW]
	if err := b.Upload(x, []float32{
		0, 0, 1, 1,
		0, 0, 1, 1,
		0, 0, 1, 1,
		0, 0, 1, 1,
	}); err != nil {
		log.Fatal(err)
	}
	if err := b.Upload(w, []float32{1, -1, 1, -1}); err != nil {
		log.Fatal(err)
	}
	if err := b.Conv2D(y, x, w, nil, tensor.DefaultConv2D()); err != nil {
		log.Fatal(err)
	}
	out := make([]float32, y.Len())
	if err := b.Download(out, y); err != nil {
		log.Fatal(err)
	}
	for r := 0; r < 3; r++ {
		fmt.Println(out[r*3 : r*3+3])
	}
	// Output:
	// [0 -2 0]
	// [0 -2 0]
	// [0 -2 0]
}
