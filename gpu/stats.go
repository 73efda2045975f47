package gpu

import (
	"fmt"
	"time"
)

// Stats is what a backend has recorded since it was opened or since
// ResetStats: counts of commands and bytes, and, with profiling on, the
// device time per op.
type Stats struct {
	// Dispatches counts compute dispatches.
	Dispatches int
	// Addressed counts the dispatches, among Dispatches, that reached their
	// tensors through device addresses because one of them was larger than
	// a storage-buffer binding may cover (maxStorageBufferRange).
	Addressed int
	// Transfers counts fill and copy commands (uploads, downloads, zeroing).
	Transfers int
	// Barriers counts pipeline barriers between commands; the barrier that
	// makes each batch's writes visible to the host is counted in Submits.
	Barriers int
	// Submits counts command buffers submitted to the queue.
	Submits int
	// Uploaded and Downloaded are the bytes copied from and to host memory
	// by Upload and Download.
	Uploaded, Downloaded int64
	// Profiling is true when timestamps are being taken; Timestamps is false
	// when the device cannot take them (its queue family reports
	// timestampValidBits = 0), in which case Ops is empty.
	Profiling, Timestamps bool
	// TimestampPeriod is the device's nanoseconds per timestamp tick, and
	// TimestampBits its queue family's timestampValidBits.
	TimestampPeriod float64
	TimestampBits   int
	// Ops holds, with profiling on, one entry per op name (the op that
	// recorded the commands: "conv2d", "max pool backward", "upload", …)
	// for the batches that have completed, by device time, largest first.
	Ops []OpTime
}

// OpTime is the device time of one op over a profiled run.
type OpTime struct {
	// Op names the backend operation, as in its error messages.
	Op string
	// Calls counts the op's recorded commands (dispatches and transfers).
	Calls int
	// Time is the device time charged to those commands.
	Time time.Duration
}

// Total returns the summed device time of s.Ops.
func (s Stats) Total() time.Duration {
	var t time.Duration
	for _, o := range s.Ops {
		t += o.Time
	}
	return t
}

// String formats the per-op times as a Markdown table, largest first, with
// the counts below it.
func (s Stats) String() string {
	var out []byte
	if len(s.Ops) > 0 {
		total := s.Total()
		out = append(out, "| op | commands | device ms | share |\n|---|--:|--:|--:|\n"...)
		for _, o := range s.Ops {
			share := 0.0
			if total > 0 {
				share = 100 * float64(o.Time) / float64(total)
			}
			out = fmt.Appendf(out, "| %s | %d | %.3f | %.1f%% |\n", o.Op, o.Calls, float64(o.Time)/1e6, share)
		}
		out = fmt.Appendf(out, "| total | | %.3f | |\n\n", float64(total)/1e6)
	}
	out = fmt.Appendf(out, "%d dispatches, %d transfers, %d barriers, %d submits, %d bytes uploaded, %d bytes downloaded",
		s.Dispatches, s.Transfers, s.Barriers, s.Submits, s.Uploaded, s.Downloaded)
	if s.Addressed > 0 {
		out = fmt.Appendf(out, ", %d dispatches through device addresses", s.Addressed)
	}
	return string(out)
}
