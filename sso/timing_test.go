package sso

import (
	"context"
	"testing"
	"time"
)

func TestFailureTimerPadsToTheSlowestKind(t *testing.T) {
	var f failureTimer
	f.observe(kindLocal, 60*time.Millisecond)
	f.observe("corp", 5*time.Millisecond)
	start := time.Now()
	f.pad(context.Background(), start)
	if took := time.Since(start); took < 55*time.Millisecond {
		t.Errorf("padded to %v, want about the slowest kind's 60ms", took)
	}
	// Time already spent counts: a refusal that took longer is not held.
	start = time.Now().Add(-time.Second)
	before := time.Now()
	f.pad(context.Background(), start)
	if took := time.Since(before); took > 20*time.Millisecond {
		t.Errorf("held a slow refusal another %v", took)
	}
}

func TestFailureTimerAverageAndBounds(t *testing.T) {
	var f failureTimer
	f.observe("corp", 80*time.Millisecond)
	f.observe("corp", 0)
	if got := f.costs["corp"]; got != 70*time.Millisecond {
		t.Errorf("moving average %v, want 70ms (1/8 towards the new sample)", got)
	}
	f.observe(kindLocal, time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	f.pad(ctx, start)
	if took := time.Since(start); took > 100*time.Millisecond {
		t.Errorf("a cancelled request was held %v", took)
	}
}
