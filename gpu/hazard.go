//go:build cgo

package gpu

// Barriers only where needed. The stream remembers the buffer ranges that
// the commands recorded since the last barrier read and wrote; a new command
// gets a barrier before it only when one of its ranges overlaps a remembered
// one and at least one of the two accesses writes (read after write, write
// after read, write after write). Independent commands, such as the input
// and kernel gradients of one convolution, or the optimizer updates of
// different parameters, then run without a barrier between them. What a
// dispatch writes comes from its shader: bindings whose block is declared
// readonly (SPIR-V NonWritable) are reads, every other binding counts as read
// and written. The remembered ranges carry over from one batch to the next
// (a barrier orders the commands of earlier submissions too), and are
// forgotten only when a barrier is recorded.

// maxPending bounds the ranges remembered between barriers; past it the next
// command gets a barrier anyway, so that the check stays cheap.
const maxPending = 64

// access is a range of a buffer that a command reads or writes.
type access struct {
	buf      uint64 // VkBuffer handle
	off, end uint64 // byte range [off, end)
	write    bool
}

// conflicts reports whether a and p touch overlapping bytes of one buffer
// and at least one writes.
func (a access) conflicts(p access) bool {
	return a.buf == p.buf && a.off < p.end && p.off < a.end && (a.write || p.write)
}

// hazards are the accesses since the last barrier.
type hazards struct {
	pending []access
}

// order returns whether the command making accesses acc needs a barrier
// before it, and records its accesses: after a barrier they are the only
// pending ones.
func (h *hazards) order(acc []access) bool {
	barrier := len(h.pending)+len(acc) > maxPending
	for _, a := range acc {
		if barrier {
			break
		}
		for _, p := range h.pending {
			if a.conflicts(p) {
				barrier = true
				break
			}
		}
	}
	if barrier {
		h.pending = h.pending[:0]
	}
	h.pending = append(h.pending, acc...)
	return barrier
}

// spirvWrites returns the bitmask of the descriptor bindings (set 0, binding
// < 64) that a SPIR-V module may write: every storage buffer binding (or
// array of them) whose block members are not all decorated NonWritable (GLSL
// readonly). It
// returns an error for a malformed module.
func spirvWrites(words []uint32) (uint64, error) {
	const (
		opTypeArray      = 28
		opTypeStruct     = 30
		opTypePointer    = 32
		opVariable       = 59
		opDecorate       = 71
		opMemberDecorate = 72
		decBinding       = 33
		decNonWritable   = 24
	)
	if len(words) < 5 || words[0] != 0x07230203 {
		return 0, errSPIRV("no SPIR-V header")
	}
	binding := map[uint32]uint32{}   // variable → binding
	members := map[uint32]int{}      // struct → member count
	readonly := map[uint32]int{}     // struct → NonWritable members
	pointee := map[uint32]uint32{}   // pointer type → pointee
	element := map[uint32]uint32{}   // array type → element type
	varType := map[uint32]uint32{}   // variable → pointer type
	varWritable := map[uint32]bool{} // variable decorated NonWritable → false
	for i := 5; i < len(words); {
		n := int(words[i] >> 16)
		op := words[i] & 0xffff
		if n == 0 || i+n > len(words) {
			return 0, errSPIRV("truncated instruction")
		}
		ins := words[i : i+n]
		switch {
		case op == opDecorate && n >= 4 && ins[2] == decBinding:
			binding[ins[1]] = ins[3]
		case op == opDecorate && n >= 3 && ins[2] == decNonWritable:
			varWritable[ins[1]] = false
		case op == opMemberDecorate && n >= 4 && ins[3] == decNonWritable:
			readonly[ins[1]]++
		case op == opTypeStruct && n >= 2:
			members[ins[1]] = n - 2
		case op == opTypeArray && n >= 4:
			element[ins[1]] = ins[2]
		case op == opTypePointer && n >= 4:
			pointee[ins[1]] = ins[3]
		case op == opVariable && n >= 3:
			varType[ins[2]] = ins[1]
		}
		i += n
	}
	var mask uint64
	for v, bnd := range binding {
		if bnd >= 64 {
			continue
		}
		if w, ok := varWritable[v]; ok && !w {
			continue
		}
		st := pointee[varType[v]]
		if e, ok := element[st]; ok {
			st = e // an array of buffers
		}
		if m := members[st]; m > 0 && readonly[st] >= m {
			continue
		}
		mask |= 1 << bnd
	}
	return mask, nil
}

type errSPIRV string

func (e errSPIRV) Error() string { return "malformed SPIR-V: " + string(e) }
