package policy

import (
	"time"

	"github.com/dirbridge/dirbridge/store"
)

// LockoutPolicy is the seed products' invalid-authentication policy:
// MaxAttempts failed sign-ins Within a window lock the account for LockFor.
type LockoutPolicy struct {
	// MaxAttempts of 0 or less disables lock-out.
	MaxAttempts int
	// Within is the counting window, from the first failure; 0 or less
	// means failures count until a success or an unlock.
	Within time.Duration
	// LockFor is the lock's length; 0 or less locks until an administrator
	// unlocks (LockedUntil is then LockedIndefinitely).
	LockFor time.Duration
}

// LockedIndefinitely is the LockedUntil of a lock with no duration.
var LockedIndefinitely = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// RecordFailure returns the lock-out state after one more failed sign-in
// at now. It is meant to run inside Store.UpdateLockout, so that two
// replicas counting at once cannot both let an extra attempt through.
//
//   - While a lock is in force nothing changes but LastFailureAt: failures
//     during a lock neither extend it (which would let anyone keep a
//     victim locked for ever by guessing) nor count toward the next one.
//   - A lock that has run out, or a window that has passed, starts a new
//     count at this failure.
//   - Reaching MaxAttempts locks the account from now for LockFor.
//
// A failure caused by a directory outage is not a failed sign-in and must
// not be recorded.
func RecordFailure(state store.Lockout, p LockoutPolicy, now time.Time) store.Lockout {
	if p.MaxAttempts <= 0 {
		return state
	}
	if IsLocked(state, now) {
		state.LastFailureAt = now
		return state
	}
	expired := !state.LockedUntil.IsZero() // a lock that has been served
	windowPassed := p.Within > 0 && !state.FirstFailureAt.IsZero() && !now.Before(state.FirstFailureAt.Add(p.Within))
	if expired || windowPassed || state.FailedAttempts <= 0 {
		state = store.Lockout{UserID: state.UserID, FirstFailureAt: now}
	}
	state.FailedAttempts++
	state.LastFailureAt = now
	if state.FailedAttempts >= p.MaxAttempts {
		if p.LockFor > 0 {
			state.LockedUntil = now.Add(p.LockFor)
		} else {
			state.LockedUntil = LockedIndefinitely
		}
	}
	return state
}

// IsLocked reports whether a lock is in force at now.
func IsLocked(state store.Lockout, now time.Time) bool {
	return !state.LockedUntil.IsZero() && now.Before(state.LockedUntil)
}

// RecordSuccess returns the state after a successful sign-in: the count is
// cleared. A lock still in force is kept — callers refuse locked accounts
// before checking the password, and a success must never lift a lock.
func RecordSuccess(state store.Lockout, now time.Time) store.Lockout {
	if IsLocked(state, now) {
		return state
	}
	return store.Lockout{UserID: state.UserID}
}
