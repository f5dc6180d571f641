package main

import (
	"math"
	"runtime/debug"
	"testing"

	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/config"
)

// TestApplyMemoryPolicy: runtime.* reaches the Go runtime, and GOGC /
// GOMEMLIMIT in the environment win. It changes the process's settings
// (restored at the end), so it never runs in parallel.
func TestApplyMemoryPolicy(t *testing.T) {
	prevGC := debug.SetGCPercent(100)
	prevLimit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() { debug.SetGCPercent(prevGC); debug.SetMemoryLimit(prevLimit) })
	gc := func() int { p := debug.SetGCPercent(-1); debug.SetGCPercent(p); return p }
	limit := func() int64 { return debug.SetMemoryLimit(-1) } // a negative input only reads
	env := func(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

	applyMemoryPolicy(config.Runtime{GCPercent: 50, MemoryLimitMiB: 300}, env(nil), zap.NewNop())
	if gc() != 50 || limit() != 300<<20 {
		t.Fatalf("after runtime {50, 300 MiB}: GOGC %d, limit %d", gc(), limit())
	}

	debug.SetGCPercent(100)
	debug.SetMemoryLimit(math.MaxInt64)
	applyMemoryPolicy(config.Runtime{GCPercent: 50, MemoryLimitMiB: 300}, env(map[string]string{"GOGC": "200", "GOMEMLIMIT": "1GiB"}), zap.NewNop())
	if gc() != 100 || limit() != math.MaxInt64 {
		t.Fatalf("environment set: GOGC %d, limit %d; want both left alone", gc(), limit())
	}

	applyMemoryPolicy(config.Runtime{GCPercent: 80}, env(nil), zap.NewNop())
	if gc() != 80 || limit() != math.MaxInt64 {
		t.Fatalf("no memory_limit_mib: GOGC %d, limit %d; want 80 and no limit", gc(), limit())
	}
}
