package policy

import (
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/store"
)

func TestLockout(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	p := LockoutPolicy{MaxAttempts: 3, Within: 15 * time.Minute, LockFor: 30 * time.Minute}

	type step struct {
		fail     bool // else success
		at       time.Duration
		attempts int
		locked   bool // IsLocked right after
	}
	tests := []struct {
		name  string
		p     LockoutPolicy
		steps []step
	}{
		{"locks on the max-th failure within the window", p, []step{
			{true, 0, 1, false}, {true, time.Minute, 2, false}, {true, 2 * time.Minute, 3, true},
		}},
		{"window passed: count restarts", p, []step{
			{true, 0, 1, false}, {true, time.Minute, 2, false}, {true, 15 * time.Minute, 1, false}, {true, 16 * time.Minute, 2, false},
		}},
		{"failures during a lock neither count nor extend it", p, []step{
			{true, 0, 1, false}, {true, 0, 2, false}, {true, 0, 3, true},
			{true, 29 * time.Minute, 3, true},
		}},
		{"lock runs out, next failure starts afresh", p, []step{
			{true, 0, 1, false}, {true, 0, 2, false}, {true, 0, 3, true},
			{true, 30 * time.Minute, 1, false},
		}},
		{"success clears the count", p, []step{
			{true, 0, 1, false}, {true, 0, 2, false}, {false, time.Minute, 0, false}, {true, 2 * time.Minute, 1, false},
		}},
		{"success does not lift a lock", p, []step{
			{true, 0, 1, false}, {true, 0, 2, false}, {true, 0, 3, true}, {false, time.Minute, 3, true},
		}},
		{"no window: failures count until success", LockoutPolicy{MaxAttempts: 2, LockFor: time.Minute}, []step{
			{true, 0, 1, false}, {true, 1000 * time.Hour, 2, true},
		}},
		{"no duration: locked until unlocked", LockoutPolicy{MaxAttempts: 1}, []step{
			{true, 0, 1, true}, {true, 10000 * time.Hour, 1, true},
		}},
		{"disabled", LockoutPolicy{}, []step{
			{true, 0, 0, false}, {true, 0, 0, false},
		}},
		{"max 1 locks at once", LockoutPolicy{MaxAttempts: 1, LockFor: time.Minute}, []step{
			{true, 0, 1, true},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := store.Lockout{UserID: "u1"}
			for i, st := range tc.steps {
				if st.fail {
					s = RecordFailure(s, tc.p, at(st.at))
				} else {
					s = RecordSuccess(s, at(st.at))
				}
				if s.UserID != "u1" {
					t.Fatalf("step %d lost the user id", i)
				}
				if s.FailedAttempts != st.attempts || IsLocked(s, at(st.at)) != st.locked {
					t.Fatalf("step %d: attempts %d locked %v (%+v); want %d %v", i, s.FailedAttempts, IsLocked(s, at(st.at)), s, st.attempts, st.locked)
				}
			}
		})
	}
}

func TestLockoutDetails(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p := LockoutPolicy{MaxAttempts: 3, Within: 15 * time.Minute, LockFor: 30 * time.Minute}
	s := RecordFailure(store.Lockout{UserID: "u"}, p, t0)
	s = RecordFailure(s, p, t0.Add(time.Minute))
	if !s.FirstFailureAt.Equal(t0) || !s.LastFailureAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("times %+v", s)
	}
	if n := RecordFailure(s, p, t0.Add(20*time.Minute)).FailedAttempts; n != 1 {
		t.Errorf("failures after the window: %d, want a fresh count of 1", n)
	}
	s = RecordFailure(s, p, t0.Add(2*time.Minute))
	if !s.LockedUntil.Equal(t0.Add(32 * time.Minute)) {
		t.Errorf("locked until %v", s.LockedUntil)
	}
	if IsLocked(s, t0.Add(32*time.Minute)) {
		t.Error("lock end is exclusive")
	}
	if IsLocked(store.Lockout{}, t0) {
		t.Error("zero state locked")
	}
	ind := RecordFailure(store.Lockout{}, LockoutPolicy{MaxAttempts: 1}, t0)
	if !ind.LockedUntil.Equal(LockedIndefinitely) {
		t.Errorf("indefinite %v", ind.LockedUntil)
	}
}

func TestLicenceAvailable(t *testing.T) {
	tests := []struct {
		active, limit int
		has, want     bool
	}{
		{0, 0, false, true},
		{1000, 0, false, true},
		{4, 5, false, true},
		{5, 5, false, false},
		{6, 5, false, false},
		{5, 5, true, true},
		{0, 1, false, true},
		{3, -1, false, true},
	}
	for _, tc := range tests {
		if got := LicenceAvailable(tc.active, tc.limit, tc.has); got != tc.want {
			t.Errorf("LicenceAvailable(%d, %d, %v) = %v", tc.active, tc.limit, tc.has, got)
		}
	}
}
