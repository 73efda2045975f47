//go:build unix

package main

import (
	"os"
	"path/filepath"
	"syscall"
)

// tryLock takes an exclusive lock on an open folder without waiting; the
// lock goes when the process ends, however it ends.
func tryLock(f *os.File) error { return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) }

// unlock releases tryLock's lock.
func unlock(f *os.File) { syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }

// mountPoint reports whether dir is on another file system than its parent.
func mountPoint(dir string) bool {
	var a, b syscall.Stat_t
	if syscall.Stat(dir, &a) != nil || syscall.Stat(filepath.Dir(dir), &b) != nil {
		return false
	}
	return a.Dev != b.Dev
}
