package admin

import (
	"encoding/json"
	"time"

	"github.com/dirbridge/dirbridge/store"
)

// Wire types. They are exported so the CLI and other Go clients decode the
// same shapes the server encodes, and the OpenAPI schemas are derived from
// them.

// User is a local user as the API shows it (never the password hash).
type User struct {
	ID                 string            `json:"id"`
	Username           string            `json:"username"`
	DisplayName        string            `json:"display_name,omitempty"`
	FirstName          string            `json:"first_name,omitempty"`
	LastName           string            `json:"last_name,omitempty"`
	Email              string            `json:"email,omitempty"`
	Language           string            `json:"language,omitempty"`
	State              string            `json:"state"`
	DeactivatedReason  string            `json:"deactivated_reason,omitempty"`
	Source             string            `json:"source"`
	Anchor             string            `json:"anchor,omitempty"`
	DN                 string            `json:"dn,omitempty"`
	UPN                string            `json:"upn,omitempty"`
	SAMAccountName     string            `json:"sam_account_name,omitempty"`
	Profile            string            `json:"profile,omitempty"`
	CustomPrivileges   []string          `json:"custom_privileges,omitempty"`
	Units              []string          `json:"units,omitempty"`
	Superuser          bool              `json:"superuser"`
	Fields             map[string]string `json:"fields,omitempty"`
	PinnedProfile      bool              `json:"pinned_profile"`
	PinnedUnits        bool              `json:"pinned_units"`
	HasPassword        bool              `json:"has_password"`
	MustChangePassword bool              `json:"must_change_password"`
	PasswordExpiresAt  *time.Time        `json:"password_expires_at,omitempty"`
	AccountExpiresAt   *time.Time        `json:"account_expires_at,omitempty"`
	Emergency          bool              `json:"emergency"`
	ExpiresAt          *time.Time        `json:"expires_at,omitempty"`
	CreatedAt          time.Time         `json:"created_at"`
	UpdatedAt          time.Time         `json:"updated_at"`
	Version            int64             `json:"version"`
}

// UserDetail is one user with its effective privileges and lock-out state.
type UserDetail struct {
	User
	Privileges  []string   `json:"privileges"`
	LockedUntil *time.Time `json:"locked_until,omitempty"`
	Failed      int        `json:"failed_attempts"`
}

// UserList is a page of users.
type UserList struct {
	Items  []User `json:"items"`
	Total  int    `json:"total"`
	Limit  int    `json:"limit"`
	Offset int    `json:"offset"`
}

// UserPatch changes some of a user's fields; absent fields stay as they
// are.
type UserPatch struct {
	Profile *string `json:"profile,omitempty"`
	// CustomPrivileges replaces the profile's privileges for this user.
	CustomPrivileges *[]string `json:"custom_privileges,omitempty"`
	// ClearCustomPrivileges returns the user to its profile's privileges.
	ClearCustomPrivileges bool      `json:"clear_custom_privileges,omitempty"`
	Units                 *[]string `json:"units,omitempty"`
	PinnedProfile         *bool     `json:"pinned_profile,omitempty"`
	PinnedUnits           *bool     `json:"pinned_units,omitempty"`
	Superuser             *bool     `json:"superuser,omitempty"`
}

// DeactivateRequest optionally says why.
type DeactivateRequest struct {
	Reason string `json:"reason,omitempty"`
}

// PasswordResetRequest sets a user's password: a local user's in the
// store, a directory user's in the directory (as the service account).
// Empty Password asks the server for a random one, returned once.
// MustChange asks for a change at the next sign-in (AD: pwdLastSet = 0);
// it defaults to true for local users and false for directory users,
// whose directory's own policy otherwise decides.
type PasswordResetRequest struct {
	Password   string `json:"password,omitempty"`
	MustChange *bool  `json:"must_change,omitempty"`
}

// PasswordResetResponse carries the generated password, if one was made.
type PasswordResetResponse struct {
	Password           string `json:"password,omitempty"`
	MustChangePassword bool   `json:"must_change_password"`
	// Directory names the directory the password was written to, for a
	// directory user.
	Directory string `json:"directory,omitempty"`
	// Warnings say what was done only in part (a directory that did not
	// record must-change).
	Warnings []string `json:"warnings,omitempty"`
}

// PasswordChangeRequest is the caller's own password change.
type PasswordChangeRequest struct {
	OldPassword string `json:"old_password"`
	NewPassword string `json:"new_password"`
}

// Profile is a named set of privileges.
type Profile struct {
	Name        string           `json:"name"`
	Description string           `json:"description,omitempty"`
	Privileges  []string         `json:"privileges"`
	Scopes      map[string]Scope `json:"scopes,omitempty"`
	// MayGrant lists what holders may grant or revoke to others; absent:
	// what they hold themselves.
	MayGrant   []string  `json:"may_grant,omitempty"`
	FromConfig bool      `json:"from_config"`
	Users      int       `json:"users"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// ProfileList is every profile.
type ProfileList struct {
	Items []Profile `json:"items"`
}

// ProfileInput creates or replaces a profile.
type ProfileInput struct {
	Name        string   `json:"name,omitempty"`
	Description string   `json:"description,omitempty"`
	Privileges  []string `json:"privileges"`
	// Scopes limits scoped privileges of the profile to teams, by
	// privilege; a scoped privilege without one reaches everyone.
	Scopes map[string]Scope `json:"scopes,omitempty"`
	// MayGrant lists the privileges the profile's holders may grant or
	// revoke to others, instead of what they hold (the seed's "may
	// grant"); absent keeps "what they hold". grant_all grants all anyway.
	MayGrant []string `json:"may_grant,omitempty"`
}

// Scope is how far a scoped privilege reaches: kind all, own_teams (the
// teams its holder belongs to or supervises) or assigned (Teams); subteams
// are always included.
type Scope struct {
	Kind  string   `json:"kind"`
	Teams []string `json:"teams,omitempty"`
}

// AuditEvent is one audit record.
type AuditEvent struct {
	ID       int64          `json:"id"`
	Time     time.Time      `json:"time"`
	Actor    string         `json:"actor"`
	Action   string         `json:"action"`
	Target   string         `json:"target,omitempty"`
	Outcome  string         `json:"outcome"`
	Reason   string         `json:"reason,omitempty"`
	SourceIP string         `json:"source_ip,omitempty"`
	Details  map[string]any `json:"details,omitempty"`
}

// AuditList is a page of audit events, newest first.
type AuditList struct {
	Items  []AuditEvent `json:"items"`
	Limit  int          `json:"limit"`
	Offset int          `json:"offset"`
}

// APIKey describes a key; the secret is only in APIKeyCreated.
type APIKey struct {
	ID         string     `json:"id"`
	UserID     string     `json:"user_id"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// APIKeyList is a user's keys.
type APIKeyList struct {
	Items []APIKey `json:"items"`
}

// APIKeyInput names a new key.
type APIKeyInput struct {
	Name string `json:"name"`
}

// APIKeyCreated is shown once: Secret is never stored.
type APIKeyCreated struct {
	APIKey
	Secret string `json:"secret"`
}

// TokenRequest exchanges an API key for a bearer token.
type TokenRequest struct {
	APIKey string `json:"api_key"`
}

// TokenResponse is a bearer token and when it dies.
type TokenResponse struct {
	Token     string    `json:"token"`
	TokenType string    `json:"token_type"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Me is the caller.
type Me struct {
	User       User     `json:"user"`
	Privileges []string `json:"privileges"`
	APIKeyID   string   `json:"api_key_id"`
}

// SyncInput asks for a sync run.
type SyncInput struct {
	Directory             string `json:"directory"`
	Full                  bool   `json:"full,omitempty"`
	DryRun                bool   `json:"dry_run,omitempty"`
	AllowMassDeactivation bool   `json:"allow_mass_deactivation,omitempty"`
}

// SyncStarted names the run that was started (or was already running).
type SyncStarted struct {
	RunID string `json:"run_id"`
}

// SyncRun is one run, with its plan when asked for.
type SyncRun struct {
	ID         string           `json:"run_id"`
	Directory  string           `json:"directory"`
	Trigger    string           `json:"trigger"`
	Full       bool             `json:"full"`
	DryRun     bool             `json:"dry_run"`
	Status     string           `json:"status"`
	StartedAt  time.Time        `json:"started_at"`
	FinishedAt *time.Time       `json:"finished_at,omitempty"`
	Counts     store.SyncCounts `json:"counts"`
	Error      string           `json:"error,omitempty"`
	Plan       json.RawMessage  `json:"plan,omitempty"`
	Stats      json.RawMessage  `json:"stats,omitempty"`
}

// SyncRunList is runs, newest first (without plans).
type SyncRunList struct {
	Items []SyncRun `json:"items"`
}

// Directory is a configured directory and its sync state.
type Directory struct {
	Name          string     `json:"name"`
	LastFullAt    *time.Time `json:"last_full_at,omitempty"`
	LastSuccessAt *time.Time `json:"last_success_at,omitempty"`
	// NextSyncAt and NextFullSyncAt are when the schedule (schedule,
	// full_schedule) starts the next incremental and full sync; absent
	// when that schedule is off.
	NextSyncAt     *time.Time `json:"next_sync_at,omitempty"`
	NextFullSyncAt *time.Time `json:"next_full_sync_at,omitempty"`
}

// DirectoryList is every configured directory.
type DirectoryList struct {
	Items []Directory `json:"items"`
}

// DirectoryStats are a directory's import statistics.
type DirectoryStats struct {
	Directory      string     `json:"directory"`
	UsersImported  int        `json:"users_imported"`
	UsersMapped    int        `json:"users_mapped"`
	UsersActive    int        `json:"users_active"`
	GroupsImported int        `json:"groups_imported"`
	Domains        []string   `json:"domains"`
	LatestImport   *time.Time `json:"latest_import,omitempty"`
	// Scoped: the figures cover only the caller's teams.
	Scoped bool `json:"scoped,omitempty"`
}

// DirectoryEntry is an imported directory user or group.
type DirectoryEntry struct {
	Directory  string              `json:"directory"`
	Anchor     string              `json:"anchor"`
	Kind       string              `json:"kind"`
	DN         string              `json:"dn"`
	Name       string              `json:"name"`
	Attributes map[string][]string `json:"attributes,omitempty"`
	Groups     []string            `json:"groups,omitempty"`
	UserID     string              `json:"user_id,omitempty"`
	// Unmapped: an administrator unlinked it; sync leaves it unlinked.
	Unmapped  bool      `json:"unmapped,omitempty"`
	UpdatedAt time.Time `json:"updated_at"`
}

// DirectoryEntryList is a directory's entries.
type DirectoryEntryList struct {
	Items []DirectoryEntry `json:"items"`
}

// MapRequest links an imported entry to a local user (id or username).
type MapRequest struct {
	User string `json:"user"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func toUser(u store.User) User {
	return User{
		ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, FirstName: u.FirstName, LastName: u.LastName,
		Email: u.Email, Language: u.Language, State: string(u.State), DeactivatedReason: u.DeactivatedReason,
		Source: u.Source, Anchor: u.Anchor, DN: u.DN, UPN: u.UPN, SAMAccountName: u.SAMAccountName,
		Profile: u.Profile, CustomPrivileges: u.CustomPrivileges, Units: u.Units, Superuser: u.Superuser,
		Fields: u.Fields, PinnedProfile: u.PinnedProfile, PinnedUnits: u.PinnedUnits,
		HasPassword: u.PasswordHash != "", MustChangePassword: u.MustChangePassword,
		PasswordExpiresAt: timePtr(u.PasswordExpiresAt), AccountExpiresAt: timePtr(u.AccountExpiresAt),
		Emergency: u.Emergency, ExpiresAt: timePtr(u.ExpiresAt),
		CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(), Version: u.Version,
	}
}

func toProfile(p store.Profile, users int) Profile {
	privs := p.Privileges
	if privs == nil {
		privs = []string{}
	}
	var scopes map[string]Scope
	for name, sc := range p.Scopes {
		if scopes == nil {
			scopes = map[string]Scope{}
		}
		scopes[name] = Scope{Kind: sc.Kind, Teams: sc.Teams}
	}
	return Profile{Name: p.Name, Description: p.Description, Privileges: privs, Scopes: scopes, MayGrant: p.MayGrant, FromConfig: p.FromConfig,
		Users: users, CreatedAt: p.CreatedAt.UTC(), UpdatedAt: p.UpdatedAt.UTC()}
}

func toAudit(e store.AuditEvent) AuditEvent {
	return AuditEvent{ID: e.ID, Time: e.Time.UTC(), Actor: e.Actor, Action: e.Action, Target: e.Target,
		Outcome: e.Outcome, Reason: e.Reason, SourceIP: e.SourceIP, Details: e.Details}
}

func toAPIKey(k store.APIKey) APIKey {
	return APIKey{ID: k.ID, UserID: k.UserID, Name: k.Name, CreatedAt: k.CreatedAt.UTC(),
		RevokedAt: timePtr(k.RevokedAt), LastUsedAt: timePtr(k.LastUsedAt)}
}

func toSyncRun(r store.SyncRun, withPlan bool) SyncRun {
	out := SyncRun{ID: r.ID, Directory: r.Directory, Trigger: r.Trigger, Full: r.Full, DryRun: r.DryRun,
		Status: string(r.Status), StartedAt: r.StartedAt.UTC(), FinishedAt: timePtr(r.FinishedAt),
		Counts: r.Counts, Error: r.Error, Stats: r.Stats}
	if withPlan {
		out.Plan = r.Plan
	}
	return out
}

func toEntry(e store.DirectoryEntry) DirectoryEntry {
	return DirectoryEntry{Directory: e.Directory, Anchor: e.Anchor, Kind: string(e.Kind), DN: e.DN, Name: e.Name,
		Attributes: e.Attributes, Groups: e.Groups, UserID: e.UserID, Unmapped: e.Unmapped, UpdatedAt: e.UpdatedAt.UTC()}
}
