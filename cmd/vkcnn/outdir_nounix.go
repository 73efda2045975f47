//go:build !unix

package main

import "os"

// tryLock does nothing where flock is missing: a stale work folder is then
// told apart from a live one only by the run that removes it.
func tryLock(*os.File) error { return nil }

// unlock releases tryLock's lock.
func unlock(*os.File) {}

// mountPoint reports whether dir is on another file system than its parent
// (never known here).
func mountPoint(string) bool { return false }
