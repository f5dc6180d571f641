package store

import (
	"encoding/json"
	"time"
)

// UserState says whether a user may sign in at all.
type UserState string

// User states. Users are deactivated, never silently deleted.
const (
	StateActive   UserState = "active"
	StateInactive UserState = "inactive"
)

// SourceLocal is the Source of users that live only in dirbridge.
const SourceLocal = "local"

// SourceIdP is the Source of users that exist only through an identity
// provider: created just in time at their first SAML or OIDC sign-in. They
// have no local password and get none (no reset, no forgotten-password
// link, no password sign-in): their factors are the IdP's. No directory
// may be named so.
const SourceIdP = "idp"

// User is a local user. A directory user carries the directory's name in
// Source and the directory's stable key (objectGUID / entryUUID) in Anchor.
type User struct {
	ID          string
	Username    string
	DisplayName string
	FirstName   string
	LastName    string
	Email       string
	Language    string
	State       UserState
	// DeactivatedReason says why a user is inactive ("left all imported
	// groups", "disabled in directory", "deactivated by admin", ...).
	DeactivatedReason string

	Source         string
	Anchor         string
	DN             string
	UPN            string
	SAMAccountName string

	// Profile is the profile name; empty means no profile (the user signs
	// in and holds no privileges) unless CustomPrivileges is set.
	Profile string
	// CustomPrivileges, when non-nil, replaces the profile's privileges.
	CustomPrivileges []string
	Units            []string
	Superuser        bool
	// Fields holds application-declared extra fields filled by templates.
	Fields map[string]string
	// PinnedProfile / PinnedUnits keep sync from changing those fields.
	PinnedProfile bool
	PinnedUnits   bool

	// PasswordHash is an argon2id PHC string; local users only.
	PasswordHash         string
	PasswordHistory      []string
	PasswordChangedAt    time.Time
	PasswordExpiresAt    time.Time // zero: unknown or never (see PasswordNeverExpires)
	PasswordNeverExpires bool
	MustChangePassword   bool
	AccountExpiresAt     time.Time // zero: never

	// Emergency marks the break-glass account; it expires at ExpiresAt.
	Emergency bool
	ExpiresAt time.Time

	CreatedAt time.Time
	UpdatedAt time.Time
	// Version increases on every update; UpdateUser with a stale Version
	// fails with ErrConflict.
	Version int64
}

// Lockout is the failed-sign-in state of one user, updated atomically
// through Store.UpdateLockout.
type Lockout struct {
	UserID         string
	FailedAttempts int
	FirstFailureAt time.Time
	LastFailureAt  time.Time
	LockedUntil    time.Time
}

// Profile is a named set of privileges; one per user.
type Profile struct {
	Name        string
	Description string
	Privileges  []string
	// Scopes limits scoped privileges to some teams, by privilege name; a
	// privilege without an entry reaches everyone.
	Scopes map[string]Scope
	// MayGrant lists the privileges the profile's holders may grant or
	// revoke to others; nil means what they hold themselves (grant_all:
	// everything, either way).
	MayGrant []string
	// FromConfig marks profiles created from the config file at start.
	FromConfig bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Scope kinds.
const (
	ScopeAll      = "all"
	ScopeOwnTeams = "own_teams"
	ScopeAssigned = "assigned"
)

// Scope is how far a scoped privilege reaches: every user (ScopeAll), the
// users of the teams its holder belongs to or supervises
// (ScopeOwnTeams), or of listed teams (ScopeAssigned); subteams included.
type Scope struct {
	Kind  string   `json:"kind"`
	Teams []string `json:"teams,omitempty"`
}

// Team is a unit of users (User.Units names a user's teams) with
// supervisors and subteams.
type Team struct {
	Name        string
	Description string
	// Parent is the team this one is a subteam of ("" for none).
	Parent string
	// Supervisors are the IDs of users who supervise the team (and so its
	// subteams).
	Supervisors []string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// EntryKind distinguishes imported users from imported groups.
type EntryKind string

// Directory entry kinds.
const (
	EntryUser  EntryKind = "user"
	EntryGroup EntryKind = "group"
)

// DirectoryEntry is an imported directory object, mapped or not to a
// local user.
type DirectoryEntry struct {
	Directory string
	Anchor    string
	Kind      EntryKind
	DN        string
	Name      string
	// Attributes keeps the directory attributes the mapping needs.
	Attributes map[string][]string
	// Groups holds the anchors of the imported groups the entry belongs to
	// (directly or through nesting). For a group it holds member anchors.
	Groups []string
	// UserID is the local user this entry is mapped to; empty if unmapped.
	UserID string
	// Unmapped records that an administrator unlinked this entry from its
	// local user: sync must not link it (or create a user for it) again on
	// its own; only an explicit map, remap or create clears it.
	Unmapped  bool
	UpdatedAt time.Time
}

// SyncStatus is the state of a sync run.
type SyncStatus string

// Sync run states.
const (
	SyncRunning   SyncStatus = "running"
	SyncSucceeded SyncStatus = "succeeded"
	SyncFailed    SyncStatus = "failed"
	SyncRefused   SyncStatus = "refused"
)

// SyncCounts counts what a run did (or, for a dry run, would do).
type SyncCounts struct {
	Created     int `json:"created"`
	Updated     int `json:"updated"`
	Deactivated int `json:"deactivated"`
	Reactivated int `json:"reactivated"`
	Unchanged   int `json:"unchanged"`
}

// SyncRun records one sync of one directory.
type SyncRun struct {
	ID         string
	Directory  string
	Trigger    string // schedule | manual | startup
	Full       bool
	DryRun     bool
	Status     SyncStatus
	StartedAt  time.Time
	FinishedAt time.Time
	Counts     SyncCounts
	Error      string
	// Plan is the run's plan as JSON, kept for inspection.
	Plan json.RawMessage
	// Stats holds read statistics (entries, pages, elapsed) as JSON.
	Stats json.RawMessage
}

// DirectoryState is what the sync keeps between runs of one directory.
type DirectoryState struct {
	Directory string
	// Cursor is the opaque incremental high-water mark of the last read.
	Cursor        string
	LastFullAt    time.Time
	LastSuccessAt time.Time
	UpdatedAt     time.Time
}

// Session is a signed-in browser session. ID is the hash of the cookie
// value; the value itself is never stored.
type Session struct {
	ID         string
	UserID     string
	Method     string
	SourceIP   string
	UserAgent  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute timeout
	// Bypass marks a password sign-in through the bypass-SSO path.
	Bypass bool
}

// APIKey lets a caller exchange a secret for a short-lived bearer token.
// Hash is the SHA-256 of the secret; the secret is shown once.
type APIKey struct {
	ID         string
	UserID     string
	Name       string
	Hash       string
	CreatedAt  time.Time
	RevokedAt  time.Time
	LastUsedAt time.Time
}

// IdPLink binds a local user to an identity provider's stable subject: Entra
// tid/oid, an OIDC issuer's sub, a persistent SAML NameID. It is stored at
// the first successful sign-in (or by an administrator) and matched first
// afterwards, so a changeable claim (e-mail, preferred_username) never
// decides who a returning person is.
type IdPLink struct {
	UserID    string
	Issuer    string // OIDC issuer or SAML IdP entity ID
	Subject   string
	CreatedAt time.Time
	// LastSeenAt is the last sign-in through this link; zero before the
	// first one recorded (CreatedAt stands in).
	LastSeenAt time.Time
}

// Token is a bearer token issued for an API key. ID is its hash.
type Token struct {
	ID        string
	KeyID     string
	UserID    string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Audit outcomes.
const (
	OutcomeSuccess = "success"
	OutcomeFailure = "failure"
	OutcomeDenied  = "denied"
)

// AuditEvent records who did what to what, and how it ended.
type AuditEvent struct {
	ID       int64
	Time     time.Time
	Actor    string
	Action   string
	Target   string
	Outcome  string
	Reason   string
	SourceIP string
	Details  map[string]any
}

// ProvisioningToken is the bearer token of one SCIM provisioning source.
// Hash is the hex SHA-256 of the token; the token itself is shown once,
// when it is created or rotated, and never stored.
type ProvisioningToken struct {
	Source    string
	Hash      string
	CreatedAt time.Time
}

// ImportGroup is a directory group chosen for import in the store (from
// the console, the API or the CLI), beside the config's own groups. The
// sync imports both. Anchor (objectGUID / entryUUID text) is the key and
// what the sync resolves the group by, so a renamed or moved group is
// still found; DN and Name are as they were when it was chosen, for
// people to read.
type ImportGroup struct {
	Directory string
	Anchor    string
	DN        string
	Name      string
	// AddedBy names who chose it (a username, or "api-key:<name>").
	AddedBy string
	AddedAt time.Time
}
