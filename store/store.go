// Package store is the only way to dirbridge's persistent state: reads,
// one transaction call for writes, and a few atomic single-row updates.
// Backends live in store/sqlite and store/postgres; both pass the one
// conformance suite in store/storetest.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors every backend returns, checked with errors.Is.
var (
	// ErrNotFound means the requested row does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict means a unique key is taken or a compare-and-swap lost.
	ErrConflict = errors.New("conflict")
	// ErrSchemaNewer means the store was migrated by a newer dirbridge:
	// this binary does not know its tables and must not write to them.
	ErrSchemaNewer = errors.New("the store's schema is newer than this binary's")
)

// CheckSchemaVersion refuses a store whose applied migration is newer than
// the binary's latest, naming both versions.
func CheckSchemaVersion(applied, latest int64) error {
	if applied > latest {
		return fmt.Errorf("%w: store version %d, this binary knows up to %d; run the newer dirbridge that migrated it, or restore a backup made before", ErrSchemaNewer, applied, latest)
	}
	return nil
}

// UserFilter selects users for ListUsers and CountUsers. Zero values match
// everything.
type UserFilter struct {
	Source  string
	State   UserState
	Profile string
	// Query matches username, display name or e-mail (case-insensitive substring).
	Query string
	// InTeams, when set, keeps only users in at least one of Teams (an
	// administrator's scope); InTeams with no Teams selects nobody.
	InTeams bool
	Teams   []string
	// LockedAt, when set, keeps only users whose lock-out lasts past it
	// (locked out at that time).
	LockedAt time.Time
	// ExpiringUntil, when set, keeps only users whose password or account
	// expires in [ExpiringFrom, ExpiringUntil): about to lose access, not
	// those who already have.
	ExpiringFrom, ExpiringUntil time.Time
	Limit                       int // 0 means no limit
	Offset                      int
}

// UserKey names a column users can be looked up by.
type UserKey string

// Lookup keys for FindUsers.
const (
	KeyUsername UserKey = "username"
	KeyEmail    UserKey = "email"
	KeyUPN      UserKey = "upn"
	KeyAnchor   UserKey = "anchor"
	KeySAM      UserKey = "sam_account_name"
)

// AuditFilter selects audit events, newest first.
type AuditFilter struct {
	Actor  string
	Action string
	Target string
	// Outcome is one of OutcomeSuccess, OutcomeFailure, OutcomeDenied;
	// empty selects every outcome.
	Outcome string
	Since   time.Time
	Until   time.Time
	Limit   int
	Offset  int
}

// SyncRunFilter selects sync runs, newest first.
type SyncRunFilter struct {
	Directory string
	Limit     int
}

// Reader holds every read. Each takes the context and honours its
// cancellation. Single-row reads return ErrNotFound when nothing matches.
type Reader interface {
	DirectoryLookup

	GetUser(ctx context.Context, id string) (User, error)
	GetUserByUsername(ctx context.Context, username string) (User, error)
	// FindUsers returns the users whose key equals value (case-insensitive
	// for username, email and upn).
	FindUsers(ctx context.Context, key UserKey, value string) ([]User, error)
	ListUsers(ctx context.Context, f UserFilter) ([]User, error)
	// EachUser gives fn each user f selects, in ListUsers' order, as its
	// row is read: a caller that keeps only part of each user (the sync's
	// load of 100,000) never holds the whole listing. fn must not use the
	// store (the rows hold one of its connections while fn runs). An error from
	// fn ends the listing and is returned as it is.
	EachUser(ctx context.Context, f UserFilter, fn func(User) error) error
	CountUsers(ctx context.Context, f UserFilter) (int, error)

	GetProfile(ctx context.Context, name string) (Profile, error)
	ListProfiles(ctx context.Context) ([]Profile, error)

	// ListTeams returns every team by name; GetTeam one (ErrNotFound).
	ListTeams(ctx context.Context) ([]Team, error)
	GetTeam(ctx context.Context, name string) (Team, error)

	// ListDirectoryEntries returns every entry of one directory.
	ListDirectoryEntries(ctx context.Context, directory string) ([]DirectoryEntry, error)
	// EachDirectoryEntry is ListDirectoryEntries one entry at a time, as
	// EachUser is ListUsers.
	EachDirectoryEntry(ctx context.Context, directory string, fn func(DirectoryEntry) error) error
	GetDirectoryEntry(ctx context.Context, directory, anchor string) (DirectoryEntry, error)
	GetDirectoryState(ctx context.Context, directory string) (DirectoryState, error)

	GetSyncRun(ctx context.Context, id string) (SyncRun, error)
	ListSyncRuns(ctx context.Context, f SyncRunFilter) ([]SyncRun, error)

	GetSession(ctx context.Context, id string) (Session, error)
	ListSessions(ctx context.Context, userID string) ([]Session, error)
	// CountActiveUsersWithSessions counts distinct users holding a session
	// that has not expired at now (concurrent licences).
	CountActiveUsersWithSessions(ctx context.Context, now time.Time) (int, error)

	GetAPIKey(ctx context.Context, id string) (APIKey, error)
	GetAPIKeyByHash(ctx context.Context, hash string) (APIKey, error)
	ListAPIKeys(ctx context.Context, userID string) ([]APIKey, error)
	GetToken(ctx context.Context, id string) (Token, error)

	// GetIdPLink returns the link of (issuer, subject); ErrNotFound when none.
	// Issuer and subject compare exactly, case included (OIDC's do).
	GetIdPLink(ctx context.Context, issuer, subject string) (IdPLink, error)
	// ListIdPLinks returns a user's links, ordered by issuer.
	ListIdPLinks(ctx context.Context, userID string) ([]IdPLink, error)

	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEvent, error)

	// GetProvisioningToken returns the hashed bearer token of a SCIM
	// provisioning source; ErrNotFound when none was created.
	GetProvisioningToken(ctx context.Context, source string) (ProvisioningToken, error)

	GetLockout(ctx context.Context, userID string) (Lockout, error)

	// ListImportGroups returns the groups chosen for import in the store
	// for directory, ordered by name then anchor (nil when none).
	ListImportGroups(ctx context.Context, directory string) ([]ImportGroup, error)
}

// Tx is one transaction: every read plus every write. Writes made through
// a Tx are visible to its reads and to nobody else until it commits.
type Tx interface {
	Reader
	BulkWriter

	// CreateUser inserts u; ErrConflict if the username or (source, anchor)
	// is taken. It sets ID (when empty), CreatedAt, UpdatedAt and Version.
	CreateUser(ctx context.Context, u *User) error
	// UpdateUser writes u if its Version is current (ErrConflict otherwise)
	// and bumps Version and UpdatedAt.
	UpdateUser(ctx context.Context, u *User) error
	// DeleteUser removes a user with its sessions, API keys, lock-out and
	// IdP links, and unmaps its directory entries; ErrNotFound when none.
	DeleteUser(ctx context.Context, id string) error

	// PutProfile inserts or replaces a profile by name.
	PutProfile(ctx context.Context, p Profile) error
	DeleteProfile(ctx context.Context, name string) error

	// PutTeam creates or replaces a team (zero times are set to now; a
	// replaced team keeps its CreatedAt). ErrNotFound when its parent does
	// not exist, ErrConflict when the parent chain would loop.
	PutTeam(ctx context.Context, t Team) error
	// DeleteTeam removes a team; ErrNotFound if there is none, ErrConflict
	// while it has subteams. Users keep the name in their Units.
	DeleteTeam(ctx context.Context, name string) error

	// PutDirectoryEntries inserts or replaces entries by (directory, anchor).
	PutDirectoryEntries(ctx context.Context, entries []DirectoryEntry) error
	DeleteDirectoryEntry(ctx context.Context, directory, anchor string) error
	PutDirectoryState(ctx context.Context, s DirectoryState) error

	CreateSyncRun(ctx context.Context, r SyncRun) error
	UpdateSyncRun(ctx context.Context, r SyncRun) error

	CreateSession(ctx context.Context, s Session) error
	// TouchSession sets LastSeenAt.
	TouchSession(ctx context.Context, id string, at time.Time) error
	DeleteSession(ctx context.Context, id string) error
	// DeleteUserSessions revokes every session of a user.
	DeleteUserSessions(ctx context.Context, userID string) (int, error)
	// DeleteExpiredSessions removes sessions whose ExpiresAt is before now.
	DeleteExpiredSessions(ctx context.Context, now time.Time) (int, error)

	CreateAPIKey(ctx context.Context, k APIKey) error
	RevokeAPIKey(ctx context.Context, id string, at time.Time) error
	TouchAPIKey(ctx context.Context, id string, at time.Time) error
	CreateToken(ctx context.Context, t Token) error
	// DeleteKeyTokens removes every token issued for an API key.
	DeleteKeyTokens(ctx context.Context, keyID string) error

	// CreateIdPLink stores l (CreatedAt set when zero); ErrConflict when the
	// (issuer, subject) is linked to a user already, or the user already has
	// a link to that issuer (one subject per user and IdP: a subject that
	// changes is refused, not silently re-bound). ErrNotFound when the user
	// does not exist; an error wrapping neither when UserID, Issuer or
	// Subject is empty or holds a NUL byte or invalid UTF-8.
	CreateIdPLink(ctx context.Context, l IdPLink) error
	// DeleteIdPLink removes the user's link to issuer; ErrNotFound when none.
	DeleteIdPLink(ctx context.Context, userID, issuer string) error
	// TouchIdPLink records a sign-in through the link of (issuer,
	// subject) at at; ErrNotFound when there is none.
	TouchIdPLink(ctx context.Context, issuer, subject string, at time.Time) error

	// AppendAudit stores an event; it sets ID (and Time when zero).
	AppendAudit(ctx context.Context, e *AuditEvent) error

	// PutLockout replaces a user's lock-out state (administrator unlock).
	PutLockout(ctx context.Context, l Lockout) error

	// PutProvisioningToken creates or replaces the token of t.Source (a
	// zero CreatedAt is set to now): rotation replaces the old hash, so the
	// old token stops working when the transaction commits.
	PutProvisioningToken(ctx context.Context, t ProvisioningToken) error

	// AddImportGroup stores g (AddedAt set when zero); ErrConflict when
	// (g.Directory, g.Anchor) is there already, which leaves the
	// transaction usable; an error wrapping neither when Directory or
	// Anchor is empty or holds a NUL byte or invalid UTF-8.
	AddImportGroup(ctx context.Context, g ImportGroup) error
	// DeleteImportGroup removes the group of anchor from directory's
	// chosen groups; ErrNotFound when it is not there.
	DeleteImportGroup(ctx context.Context, directory, anchor string) error
}

// Store is a handle on one database.
//
// Its own write methods (Tx, UpdateLockout, RecordOnce, PutEphemeral,
// TakeEphemeral, UpdateEphemeral, AcquireLease, ReleaseLease) must not be called from inside
// a Tx callback: use the Tx's methods there. On SQLite every write needs the
// one writer connection the open transaction holds, so such a call waits
// for its own transaction — until its context ends, when it fails with the
// context's error and a message naming the cause; with a context that never
// ends it hangs. On PostgreSQL it would commit apart from the transaction
// (and wait on any row the transaction has locked). storetest pins both.
type Store interface {
	Reader

	// Tx runs fn in one transaction. It commits when fn returns nil and
	// rolls back otherwise (and on panic), returning fn's error unchanged.
	Tx(ctx context.Context, fn func(Tx) error) error

	// UpdateLockout reads a user's lock-out state (zero value when none),
	// calls fn and writes its result atomically: concurrent calls for one
	// user, from any replica, are serialised so no update is lost. fn's
	// error aborts the update and is returned.
	UpdateLockout(ctx context.Context, userID string, fn func(Lockout) (Lockout, error)) (Lockout, error)

	// RecordOnce remembers key in namespace until expires; ErrConflict if
	// it is already remembered and not yet expired (SAML assertion IDs,
	// notices sent).
	RecordOnce(ctx context.Context, namespace, key string, expires time.Time) error
	// PutEphemeral stores a short-lived value (OIDC state, reset tokens).
	PutEphemeral(ctx context.Context, namespace, key string, value []byte, expires time.Time) error
	// TakeEphemeral returns and deletes a value in one step, so it can be
	// used once; ErrNotFound when absent or expired.
	TakeEphemeral(ctx context.Context, namespace, key string) ([]byte, error)
	// UpdateEphemeral reads a short-lived value (found false when absent
	// or expired), calls fn and stores its value until its expiry,
	// atomically: concurrent calls for one key, from any replica, are
	// serialised so no update is lost (counters shared by replicas, such
	// as the sign-in throttle). fn's error aborts the update, changes
	// nothing and is returned.
	UpdateEphemeral(ctx context.Context, namespace, key string, fn func(old []byte, found bool) (value []byte, expires time.Time, err error)) error

	// AcquireLease takes or renews the named lease for holder until now+ttl.
	// It returns false when another holder's lease has not expired. A lease
	// whose holder died simply expires.
	AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	ReleaseLease(ctx context.Context, name, holder string) error

	// Ping checks the database answers.
	Ping(ctx context.Context) error
	// MigrationVersion reports the applied and the latest known migration.
	MigrationVersion(ctx context.Context) (applied, latest int64, err error)
	Close() error
}

// BulkWriter is the part of a Tx that inserts many users with far fewer
// statements than CreateUser row by row (a first sync of a large directory
// creates 100,000). Every backend implements it; it is named apart so the
// contract reads in parts.
type BulkWriter interface {
	// CreateUsers inserts every user as CreateUser would, setting ID (when
	// empty), CreatedAt, UpdatedAt and Version in place. An error names a
	// user that could not be written (ErrConflict when its username or
	// (source, anchor) is taken); users before it may have been written,
	// so the caller abandons the transaction.
	CreateUsers(ctx context.Context, users []User) error
}

// DirectoryLookup is the part of a Reader (and so of a Tx) that reads
// parts of a directory's stored entries, so an incremental sync loads what
// its few changes touch instead of the whole directory. Every backend
// implements it; it is named apart so the contract reads in parts.
type DirectoryLookup interface {
	// GetDirectoryEntries returns the entries of directory among anchors
	// (those that exist, in no set order).
	GetDirectoryEntries(ctx context.Context, directory string, anchors []string) ([]DirectoryEntry, error)
	// ListDirectoryGroups returns every group entry of directory with its
	// Groups (the members) cut down to those among members: which stored
	// groups hold the users being synced, without reading every member of
	// every group. With no members it may leave UpdatedAt zero, so a
	// backend need not read past the member lists.
	ListDirectoryGroups(ctx context.Context, directory string, members []string) ([]DirectoryEntry, error)
	// GetDirectoryGroups returns the group entries of directory among
	// groups (those that exist, in no set order) with their members cut
	// down to those among members, as ListDirectoryGroups does: an
	// incremental sync's few users are in a few groups, one of which may
	// list most of the directory.
	GetDirectoryGroups(ctx context.Context, directory string, groups, members []string) ([]DirectoryEntry, error)
}
