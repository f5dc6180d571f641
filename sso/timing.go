package sso

import (
	"context"
	"sync"
	"time"
)

// maxPad bounds how long a refusal is held back, so a directory that
// turns slow cannot make every refusal slow with it.
const maxPad = 2 * time.Second

// kindLocal is the failureTimer kind of a password hash verification;
// directories are kinds under their own names.
const kindLocal = "\x00local"

// failureTimer holds refused password sign-ins back until they have taken
// as long as the slowest kind of real password check. Without it the
// answer time tells what the page does not: a wrong AD password costs a
// bind (~20 ms) while an unknown or locked account costs a dummy argon2id
// verification (~200 ms with the default parameters), so a locked AD
// account — or a name that is not an account — stood out by a factor of
// about ten.
type failureTimer struct {
	mu    sync.Mutex
	costs map[string]time.Duration // moving average of a check's duration, by kind
}

// observe records how long one password check of kind took.
func (f *failureTimer) observe(kind string, d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.costs == nil {
		f.costs = map[string]time.Duration{}
	}
	old, ok := f.costs[kind]
	if !ok {
		f.costs[kind] = d
		return
	}
	f.costs[kind] = old + (d-old)/8
}

// pad waits until the slowest kind's typical check time has passed since
// start (at most maxPad), or ctx ends.
func (f *failureTimer) pad(ctx context.Context, start time.Time) {
	f.mu.Lock()
	var floor time.Duration
	for _, d := range f.costs {
		floor = max(floor, d)
	}
	f.mu.Unlock()
	wait := min(floor, maxPad) - time.Since(start)
	if wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
