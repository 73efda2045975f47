package data_test

import (
	"fmt"

	"github.com/vkcnn/vkcnn/data"
)

// An epoch of shuffled mini-batches: images into a reused float32 buffer,
// labels turned into one-hot target rows.
func Example() {
	train, test, err := data.Load("lines", data.Options{Seed: 1})
	if err != nil {
		panic(err)
	}
	fmt.Println(train.Len(), "training and", test.Len(), "test images of", train.Shape, "in", train.Classes, "classes")

	const batchSize = 64
	x := make([]float32, batchSize*train.ItemLen())
	y := make([]int, batchSize)
	target := make([]float32, batchSize*train.Classes)
	epoch := 0
	batches, err := data.Batches(data.Perm(train.Len(), 42+uint64(epoch)), batchSize)
	if err != nil {
		panic(err)
	}
	for _, idx := range batches {
		n := len(idx)
		if err := data.Batch(train, x[:n*train.ItemLen()], y[:n], idx); err != nil {
			panic(err)
		}
		if err := data.OneHot(target[:n*train.Classes], y[:n], train.Classes); err != nil {
			panic(err)
		}
		fmt.Println("batch", train.BatchShape(n))
	}
	// Output:
	// 160 training and 40 test images of [1 16 16] in 2 classes
	// batch [64 1 16 16]
	// batch [64 1 16 16]
	// batch [32 1 16 16]
}
