//go:build cgo

package gpu

import (
	"slices"
	"time"

	vk "github.com/vulkan-go/vulkan"
)

// Counting and profiling. Every backend counts what it records (dispatches,
// transfer commands, barriers, submits, bytes moved); with profiling on
// (the Profile option or VKCNN_PROFILE=1) each batch also gets a timestamp
// query pool, one timestamp at its start and one after each command, and the
// differences, in timestampPeriod nanoseconds, are added to the op that
// recorded the command once the batch has completed.
//
// A timestamp is written at the bottom of the pipe, when every earlier
// command has completed, so command i is charged the time from the completion
// of the commands before it to its own: with no barrier between them,
// dispatches may overlap and the time is charged to the one that finishes
// last. The sum over all ops is the device's busy time.

// counters are the running counts behind Stats.
type counters struct {
	dispatches, transfers, barriers, submits int
	addressed                                int
	uploaded, downloaded                     int64
}

// profiler collects timestamps when profiling is on.
type profiler struct {
	ok     bool    // the queue family takes timestamps
	period float64 // ns per tick
	bits   int
	mask   uint64
	ops    map[string]*OpTime
	stamps []uint64
}

// queriesPerBatch is the size of each batch's query pool: a start stamp and
// one per command.
const queriesPerBatch = batchSize + 1

// initProfiler sets up profiling when on: it needs timestampValidBits > 0 on
// the backend's queue family; without, profiling still counts but takes no
// timestamps.
func (b *Backend) initProfiler(on bool, validBits uint32, period float32) {
	if !on {
		return
	}
	p := &profiler{period: float64(period), bits: int(validBits), ops: map[string]*OpTime{}}
	p.ok = validBits > 0 && period > 0
	if validBits >= 64 {
		p.mask = ^uint64(0)
	} else {
		p.mask = uint64(1)<<validBits - 1
	}
	p.stamps = make([]uint64, queriesPerBatch)
	b.str.prof = p
}

// queryPool returns bt's timestamp query pool, creating it on first use, or
// nil when no timestamps are taken.
func (b *Backend) queryPool(bt *batch) (vk.QueryPool, error) {
	p := b.str.prof
	if p == nil || !p.ok {
		return nil, nil
	}
	if bt.qpool != nil {
		return bt.qpool, nil
	}
	info := vk.QueryPoolCreateInfo{
		SType:      vk.StructureTypeQueryPoolCreateInfo,
		QueryType:  vk.QueryTypeTimestamp,
		QueryCount: queriesPerBatch,
	}
	defer info.Free()
	var qp vk.QueryPool
	if err := check("vkCreateQueryPool", int32(vk.CreateQueryPool(b.dev, &info, nil, &qp))); err != nil {
		return nil, err
	}
	bt.qpool = qp
	return qp, nil
}

// mark writes the timestamp after bt's latest command and charges it to the
// current op.
func (b *Backend) mark(bt *batch) {
	if bt.qpool == nil {
		return
	}
	bt.labels = append(bt.labels, b.label)
	b.str.writeTimestamp(bt, len(bt.labels))
}

// harvest reads the timestamps of a completed batch and adds them to the
// per-op times.
func (b *Backend) harvest(bt *batch) error {
	p := b.str.prof
	if p == nil || bt.qpool == nil || len(bt.labels) == 0 {
		return nil
	}
	n := len(bt.labels) + 1
	if err := b.str.readTimestamps(b.dev, bt, p.stamps[:n]); err != nil {
		return err
	}
	for i, op := range bt.labels {
		d := (p.stamps[i+1] - p.stamps[i]) & p.mask
		o := p.ops[op]
		if o == nil {
			o = &OpTime{Op: op}
			p.ops[op] = o
		}
		o.Calls++
		o.Time += time.Duration(float64(d) * p.period)
	}
	bt.labels = bt.labels[:0]
	return nil
}

// Stats returns the counts since the backend was opened or since the last
// ResetStats and, with profiling on, the device time per op of the batches
// that have completed (Sync first to include all of them).
func (b *Backend) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	c := b.str.stats
	s := Stats{Dispatches: c.dispatches, Addressed: c.addressed, Transfers: c.transfers, Barriers: c.barriers, Submits: c.submits,
		Uploaded: c.uploaded, Downloaded: c.downloaded}
	if p := b.str.prof; p != nil {
		s.Profiling, s.Timestamps, s.TimestampPeriod, s.TimestampBits = true, p.ok, p.period, p.bits
		for _, o := range p.ops {
			s.Ops = append(s.Ops, *o)
		}
		slices.SortFunc(s.Ops, func(x, y OpTime) int {
			if x.Time != y.Time {
				return int(y.Time - x.Time)
			}
			if x.Op < y.Op {
				return -1
			}
			return 1
		})
	}
	return s
}

// ResetStats zeroes the counts and per-op times. Batches recorded before the
// reset but completing after it still add their times.
func (b *Backend) ResetStats() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.str.stats = counters{}
	if p := b.str.prof; p != nil {
		clear(p.ops)
	}
}
