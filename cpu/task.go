package cpu

import (
	"sync"
	"unsafe"
)

// An op's parallel loop is a par.Task: a pointer to a struct holding the
// op's operands, whose Run method is the loop body. A closure would do the
// same but costs an allocation per call; the structs come from pools
// instead, so that a warm op allocates nothing.

// taskPool pools the structs of one task type: index 0 holds its float32
// form, index 1 its float64 form.
type taskPool [2]sync.Pool

// The pools of the task types.
var (
	elemTasks, chanTasks, rowTasks, maskTasks taskPool
	lossTasks, normTasks, poolTasks, optTasks taskPool
	sumTasks                                  taskPool
)

// getTask returns a zeroed *S (a task type over T) from p, or a new one.
// Give it back with putTask.
func getTask[S any, T scalar](p *taskPool) *S {
	var z T
	if t, ok := p[unsafe.Sizeof(z)/8].Get().(*S); ok {
		return t
	}
	return new(S)
}

// putTask zeroes t, dropping its references to the caller's memory, and
// gives it back to p.
func putTask[S any, T scalar](p *taskPool, t *S) {
	var z T
	var zs S
	*t = zs
	p[unsafe.Sizeof(z)/8].Put(t)
}
