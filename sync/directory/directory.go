// Package directory is the narrow contract between the sync engine and
// whatever reads a directory. It holds plain types only: no LDAP library
// type crosses it, so the engine can be tested without a directory and the
// reader can change tactics without touching the engine.
package directory

import (
	"context"
	"time"
)

// Source reads one directory.
type Source interface {
	// Name is the directory's configured name.
	Name() string
	// Read returns the imported groups and their (transitive) members.
	// An empty Cursor asks for a full read; otherwise only what changed
	// since the cursor is returned and the Snapshot is not Complete.
	// A read that fails or is cut short returns an error, never a partial
	// Snapshot marked Complete; it wraps ErrUnavailable when no server
	// could be reached and ErrBindRefused when the service account's bind
	// was refused (see errors.go).
	Read(ctx context.Context, req ReadRequest) (Snapshot, error)
}

// ReadRequest says what to read.
type ReadRequest struct {
	// Groups names the imported groups (DN, cn / sAMAccountName, or
	// objectGUID / entryUUID text).
	Groups []string
	// Cursor is the high-water mark of an earlier read; empty for full.
	Cursor string
	// Progress, when set, is called now and then during long reads.
	Progress func(Progress)
}

// Progress reports a long read's advance.
type Progress struct {
	Entries int
	Pages   int
	Elapsed time.Duration
}

// Snapshot is the result of one read.
type Snapshot struct {
	// Complete is true for a full read: anyone absent is no longer a member.
	// Incremental reads are never Complete, and absence then means nothing.
	Complete bool
	// Users are the members of the imported groups (full read), or the
	// users that changed or whose imported groups changed (incremental).
	Users []User
	// Groups are the imported groups that were read, with resolved members.
	Groups []Group
	// Cursor is the new high-water mark to pass to the next read.
	Cursor string
	Stats  Stats
}

// Stats describes a read.
type Stats struct {
	Entries  int           `json:"entries"`
	Pages    int           `json:"pages"`
	Searches int           `json:"searches"` // requests sent: pages and single-entry reads
	Elapsed  time.Duration `json:"elapsed_ns"`
	Server   string        `json:"server"`
	Domains  []string      `json:"domains,omitempty"`
	Warnings []string      `json:"warnings,omitempty"`
}

// User is a directory user as the sync needs it.
type User struct {
	// Anchor is the stable key: objectGUID (canonical GUID text) on AD,
	// entryUUID on generic LDAP. DN and names may change; Anchor does not.
	Anchor      string
	DN          string
	Username    string // sAMAccountName on AD, uid on LDAP
	UPN         string
	Email       string
	DisplayName string
	FirstName   string
	LastName    string
	SID         string
	Disabled    bool
	// Deleted marks a user the directory reports as deleted (incremental).
	Deleted bool
	// AccountExpiresAt is zero when the account never expires.
	AccountExpiresAt time.Time
	Password         PasswordInfo
	// Groups are the anchors of the imported groups this user belongs to,
	// directly or through nesting.
	Groups []string
	// Attributes holds every attribute read, for mapping templates.
	Attributes map[string][]string
	ChangedAt  time.Time
}

// PasswordInfo is what the directory says about a user's password.
type PasswordInfo struct {
	ChangedAt    time.Time // zero when unknown
	ExpiresAt    time.Time // zero when unknown or never
	NeverExpires bool
	// MustChange is set when the user must change it at next sign-in.
	MustChange bool
}

// Group is an imported group.
type Group struct {
	Anchor string
	DN     string
	Name   string
	// Members holds the anchors of the users in the group, nested included.
	Members []string
	// Nested holds the DNs of groups found inside this one.
	Nested []string
}

// Account names one directory account for a password operation (sign-in,
// change, reset). Login is what the directory is searched by
// (sAMAccountName or UPN on AD, uid or mail on generic LDAP); Anchor is the
// stable key (objectGUID text / entryUUID) the local user was imported
// with. A name can be renamed away and reused by another object; the
// anchor cannot, so an operation touches only the entry whose anchor is
// Anchor. An empty Anchor (a caller that never imported the account, such
// as a command-line check) matches by Login alone.
type Account struct {
	Login  string
	Anchor string
}
