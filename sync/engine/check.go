package engine

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrRefused marks a plan Check refused; errors.Is finds it in a
// *RefusedError. The Runner records such a run as refused, not failed.
var ErrRefused = errors.New("refused")

// RefusedError says why a plan was refused, naming numbers and limits.
type RefusedError struct {
	Directory string
	Message   string
}

func (e *RefusedError) Error() string { return fmt.Sprintf("sync %s: %s", e.Directory, e.Message) }

// Is makes errors.Is(err, ErrRefused) true.
func (e *RefusedError) Is(target error) bool { return target == ErrRefused }

// Limits bound how many users one run may deactivate. As in the config
// there are no magic values, and the zero value is the safe one: it allows
// no deactivation at all. The defaults a directory gets live in config
// (DefaultMaxDeactivationCount, DefaultMaxDeactivationPercent).
type Limits struct {
	// MaxCount is the most users one run may deactivate; 0 allows none.
	// A negative value turns the count limit off.
	MaxCount int
	// MaxPercent is the most, in percent of the directory's active users;
	// 100 (or more) turns the percent limit off.
	MaxPercent float64
	// AllowMassDeactivation approves this one plan beyond the limits (an
	// administrator's explicit choice, audited by the caller). It never
	// lets an empty full read through.
	AllowMassDeactivation bool
}

// Check is the pure safety gate between plan and apply. currentActive is
// the number of the directory's active users before the run (what the
// percentage is taken of). It returns a *RefusedError when:
//
//   - a full read returned no users while the directory has users: a
//     directory answering empty, or a wrong group list, must not deactivate
//     everyone (not even with AllowMassDeactivation);
//   - the plan deactivates more users than Limits allow, unless approved.
//
// A failed or cut-short read never gets here: Source.Read returns an error
// and the Runner stops before planning.
func Check(p Plan, l Limits, currentActive int) error {
	refuse := func(format string, args ...any) error {
		return &RefusedError{Directory: p.Directory, Message: fmt.Sprintf(format, args...) + " — nothing applied"}
	}
	had := max(currentActive, p.ActiveBefore)
	if p.Complete && p.UsersRead == 0 && had > 0 {
		return refuse("full read returned no users but the directory has %s active users; an unreachable group or a wrong group list would deactivate everyone", thousands(had))
	}
	d := p.Counts.Deactivated
	if d == 0 || l.AllowMassDeactivation {
		return nil
	}
	pct := 100.0
	if currentActive > 0 {
		pct = float64(d) * 100 / float64(currentActive)
	}
	var over []string
	if n := l.MaxCount; n >= 0 && d > n {
		over = append(over, thousands(n)+" users")
	}
	if m := l.MaxPercent; m < 100 && pct > m {
		over = append(over, strconv.FormatFloat(m, 'f', -1, 64)+" %")
	}
	if len(over) == 0 {
		return nil
	}
	limit := "limit is " + over[0]
	if len(over) == 2 {
		limit = "limits are " + over[0] + " and " + over[1]
	}
	return refuse("plan would deactivate %s of %s users (%.1f %%); %s", thousands(d), thousands(currentActive), pct, limit)
}
