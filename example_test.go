package vkcnn_test

import (
	"fmt"
	"log"

	"github.com/vkcnn/vkcnn"
	"github.com/vkcnn/vkcnn/tensor"
)

// Open a backend and add two vectors on it. Auto would pick a Vulkan GPU when
// there is one; the CPU is asked for here so that the output is the same on
// every machine.
func ExampleOpen() {
	b, info, err := vkcnn.Open(vkcnn.WithBackend(vkcnn.CPU))
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	fmt.Println(info.Backend, "-", info.Reason)

	x, _ := b.Alloc(tensor.Float32, tensor.Shape{3})
	y, _ := b.Alloc(tensor.Float32, tensor.Shape{3})
	if err := b.Upload(x, []float32{1, 2, 3}); err != nil {
		log.Fatal(err)
	}
	if err := b.Fill(y, 10); err != nil {
		log.Fatal(err)
	}
	if err := b.Add(y, x, y); err != nil {
		log.Fatal(err)
	}
	out := make([]float32, 3)
	if err := b.Download(out, y); err != nil {
		log.Fatal(err)
	}
	fmt.Println(out)
	// Output:
	// cpu - cpu: as asked
	// [11 12 13]
}
