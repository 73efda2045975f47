//go:build !linux

package cpu

// physicalMemory returns 0 (unknown) where the total RAM cannot be read
// without cgo; Alloc then relies on the Go runtime's own limit.
func physicalMemory() int64 { return 0 }
