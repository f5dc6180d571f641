package pwdexpiry

import "time"

// DaysLeft counts the calendar days from now until expiresAt in loc (nil
// means UTC): a password expiring later today has 0 days left, one expiring
// any time tomorrow 1, one that expired yesterday -1. Calendar days, not
// 24-hour periods, because the user reads "expires in 1 day" against a
// calendar: at 23:00 a password expiring at 08:00 the next morning has 1
// day left, not 0. DST changes do not disturb the count.
func DaysLeft(expiresAt, now time.Time, loc *time.Location) int {
	if loc == nil {
		loc = time.UTC
	}
	ey, em, ed := expiresAt.In(loc).Date()
	ny, nm, nd := now.In(loc).Date()
	e := time.Date(ey, em, ed, 0, 0, 0, 0, time.UTC)
	n := time.Date(ny, nm, nd, 0, 0, 0, 0, time.UTC)
	// Unix seconds, not Sub: a Duration saturates beyond ~292 years.
	return int((e.Unix() - n.Unix()) / 86400)
}

// Warning says what a sign-in at now should tell a user whose password
// expires at expiresAt, with days counted by DaysLeft in now's location
// (pass now.In(loc) for the configured zone):
//
//   - expired when now is at or after expiresAt (sign-in is blocked with a
//     change path);
//   - warn when not expired and days <= warnDays ("your password expires
//     in N days"; N = 0 reads "today"); warnDays 0 or less never warns.
//
// A zero expiresAt (never, or unknown) neither warns nor expires.
func Warning(expiresAt, now time.Time, warnDays int) (days int, warn bool, expired bool) {
	if expiresAt.IsZero() {
		return 0, false, false
	}
	days = DaysLeft(expiresAt, now, now.Location())
	if !now.Before(expiresAt) {
		return days, false, true
	}
	return days, warnDays > 0 && days <= warnDays, false
}
