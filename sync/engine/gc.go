package engine

import (
	"os"
	"runtime/debug"
	"sync"
)

// fullRunGCPercent is the garbage collector's target while a full run
// holds its read, the store's state and its plan at once: the heap then
// grows to 1.5 times what is live instead of twice. Measured on a first
// sync of 100,000 users: peak RSS 290-314 MB at the default 100, 250-256
// MB at 50, in the same time (the collector runs more often, but each run
// finds less to do than the sync's own work).
const fullRunGCPercent = 50

// gcTarget counts the full runs under way, so concurrent runs of several
// directories lower the target once and the last one to end restores it.
var gcTarget struct {
	sync.Mutex
	runs int
	prev int
}

// tightenGC lowers the collector's target for a full run and returns the
// func that ends it. An operator's GOGC is left alone, as is a target
// already lower.
func tightenGC() (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	gcTarget.Lock()
	defer gcTarget.Unlock()
	if gcTarget.runs == 0 {
		gcTarget.prev = debug.SetGCPercent(fullRunGCPercent)
		if gcTarget.prev >= 0 && gcTarget.prev < fullRunGCPercent {
			debug.SetGCPercent(gcTarget.prev)
		}
	}
	gcTarget.runs++
	return sync.OnceFunc(func() {
		gcTarget.Lock()
		defer gcTarget.Unlock()
		if gcTarget.runs--; gcTarget.runs == 0 {
			debug.SetGCPercent(gcTarget.prev)
		}
	})
}
