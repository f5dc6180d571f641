package policy

// LicenceAvailable reports whether a sign-in may open a session under a
// concurrent-user licence: limit 0 or less is unlimited, and a user who
// already has a session holds a licence already (a second browser or a
// re-sign-in does not take another). active counts the users, not the
// sessions, that are signed in now.
func LicenceAvailable(active, limit int, userAlreadyHasSession bool) bool {
	if limit <= 0 || userAlreadyHasSession {
		return true
	}
	return active < limit
}
