package engine

import (
	"runtime/debug"
	"testing"
)

// TestTightenGC: full runs lower the collector's target while any of them
// is under way, and the last to end restores it (each restore counts
// once); a lower target is kept.
func TestTightenGC(t *testing.T) {
	t.Setenv("GOGC", "") // what the process was started with is not the test's
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	current := func() int {
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		return p
	}

	a := tightenGC()
	b := tightenGC()
	if got := current(); got != fullRunGCPercent {
		t.Fatalf("during runs: GOGC %d, want %d", got, fullRunGCPercent)
	}
	a()
	a()
	if got := current(); got != fullRunGCPercent {
		t.Fatalf("one run still going: GOGC %d, want %d", got, fullRunGCPercent)
	}
	b()
	if got := current(); got != 100 {
		t.Fatalf("after the runs: GOGC %d, want 100", got)
	}

	debug.SetGCPercent(20)
	c := tightenGC()
	if got := current(); got != 20 {
		t.Errorf("a lower target was raised to %d", got)
	}
	c()
	if got := current(); got != 20 {
		t.Errorf("after the run: GOGC %d, want 20", got)
	}
}
