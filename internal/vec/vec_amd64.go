//go:build amd64 && !purego

package vec

import "golang.org/x/sys/cpu"

// Enabled reports whether the assembly routines run on this CPU (AVX-512 F
// and VL). Tests may clear it to exercise their callers' scalar loops.
var Enabled = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL
