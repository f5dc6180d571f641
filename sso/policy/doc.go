// Package policy holds dirbridge's sign-in policy as pure functions: the
// password and username rules for local users, the lock-out arithmetic,
// IP authorisation rules and client-address resolution, concurrent-licence
// counting, and local password validity. Directory password expiry and
// the days-left arithmetic are internal/pwdexpiry's.
//
// Nothing here does I/O, logs or reads a clock: the caller passes the time,
// the stored state and, for password history, the hash verifier. That keeps
// every rule table-testable and lets the store apply lock-out changes
// atomically (Store.UpdateLockout runs RecordFailure inside its updater).
package policy
