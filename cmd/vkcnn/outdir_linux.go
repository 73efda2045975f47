package main

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// exchange swaps the folders work and dir in one atomic step
// (renameat2 RENAME_EXCHANGE) and reports true; it reports false, with no
// error, when dir does not exist or the file system cannot exchange (the
// caller then renames). $VKCNN_TEST_NO_EXCHANGE=1 forces the fallback, to
// test it.
func exchange(work, dir string) (bool, error) {
	if _, err := os.Lstat(dir); err != nil || os.Getenv("VKCNN_TEST_NO_EXCHANGE") == "1" {
		return false, nil
	}
	err := unix.Renameat2(unix.AT_FDCWD, work, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS), errors.Is(err, unix.EOPNOTSUPP):
		return false, nil
	}
	return false, &os.LinkError{Op: "exchange", Old: work, New: dir, Err: err}
}
