package mapping

import "fmt"

// WarningCode classifies a Warning so callers can count, filter or act on
// warnings without parsing messages.
type WarningCode string

// Warning codes.
const (
	// WarnUnknownGroup: a rule names a group that is not imported.
	WarnUnknownGroup WarningCode = "unknown_group"
	// WarnRuleNoGroup: a rule names no group at all.
	WarnRuleNoGroup WarningCode = "rule_without_group"
	// WarnEmptyUsername: the username template produced nothing (blocks).
	WarnEmptyUsername WarningCode = "empty_username"
	// WarnTemplate: a template failed for this user.
	WarnTemplate WarningCode = "template_error"
	// WarnCollision: two directory users map to one username (blocks both).
	WarnCollision WarningCode = "username_collision"
	// WarnLocalCollision: the username belongs to another local user that
	// cannot be linked (blocks).
	WarnLocalCollision WarningCode = "local_username_taken"
	// WarnPrivilegedLink: the matching local user is privileged and is never
	// linked automatically (blocks until an administrator links by hand).
	WarnPrivilegedLink WarningCode = "privileged_not_linked"
	// WarnAmbiguousLink: several local users match; none is linked (blocks).
	WarnAmbiguousLink WarningCode = "ambiguous_link"
	// WarnPinned: a pinned field keeps its value although the rules differ.
	WarnPinned WarningCode = "pinned"
)

// Warning is a problem found while mapping, returned as data so the sync
// plan can list it. Blocking warnings mean the user named by Anchor is
// neither created nor updated in this run; everyone else proceeds.
type Warning struct {
	Code      WarningCode
	Directory string
	// Anchor and Username identify the directory user concerned, if any.
	Anchor   string
	Username string
	// Rule is the 1-based rule number concerned, or 0.
	Rule int
	// Blocking is true when the user must not be created or updated.
	Blocking bool
	Message  string
}

// String returns the message with the directory and user for context.
func (w Warning) String() string {
	switch {
	case w.Anchor != "" && w.Username != "":
		return fmt.Sprintf("%s: user %s (%s): %s", w.Directory, w.Username, w.Anchor, w.Message)
	case w.Anchor != "":
		return fmt.Sprintf("%s: user %s: %s", w.Directory, w.Anchor, w.Message)
	default:
		return fmt.Sprintf("%s: %s", w.Directory, w.Message)
	}
}
