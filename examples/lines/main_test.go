package main

import (
	"testing"

	"github.com/vkcnn/vkcnn/cpu"
)

// TestLinesLearn trains on three seeds: the loss must fall and the accuracy
// reach 95% on the training images and on 200 new ones.
func TestLinesLearn(t *testing.T) {
	b := cpu.New()
	defer b.Close()
	for seed := uint64(1); seed <= 3; seed++ {
		res, err := train(b, seed, nil)
		if err != nil {
			t.Fatal(err)
		}
		first, final := res.history[0], res.history[len(res.history)-1]
		t.Logf("seed %d: loss %.4f → %.4f, training accuracy %.1f%%, test loss %.4f, test accuracy %.1f%%",
			seed, first.Loss, final.Loss, 100*final.Accuracy, res.test.Loss, 100*res.test.Accuracy)
		if len(res.history) != 50 {
			t.Errorf("seed %d: %d epochs, expected 50", seed, len(res.history))
		}
		if !(final.Loss < first.Loss/2) {
			t.Errorf("seed %d: loss %.4f → %.4f, expected it to halve at least", seed, first.Loss, final.Loss)
		}
		if final.Accuracy < 0.95 || res.test.Accuracy < 0.95 {
			t.Errorf("seed %d: accuracy %.3f (training), %.3f (new images), expected ≥ 0.95", seed, final.Accuracy, res.test.Accuracy)
		}
		if w, _ := res.model.Param("3.weight").Get(); w[0] != 0.5 || w[1] != -0.5 {
			t.Errorf("seed %d: frozen head weights moved to %v", seed, w)
		}
		res.model.Free()
	}
}
