package cpu

import "syscall"

// physicalMemory returns the machine's total RAM in bytes, or 0 if it cannot
// be read.
func physicalMemory() int64 {
	var info syscall.Sysinfo_t
	if err := syscall.Sysinfo(&info); err != nil {
		return 0
	}
	return int64(info.Totalram) * int64(info.Unit)
}
