//go:build race

package nn

// raceEnabled is set under the race detector, whose sync.Pool drops pooled
// items at random, so that allocation counts mean nothing.
const raceEnabled = true
