package admin

import (
	"net/http"

	"github.com/dirbridge/dirbridge/privilege"
)

// param documents a query parameter.
type param struct {
	Name, Type, Doc string
}

// route is one endpoint. The table below is the single source of the mux
// registrations and the OpenAPI document.
type route struct {
	Method string
	// Path uses ServeMux wildcards, which are also OpenAPI path templates.
	Path    string
	Name    string // operationId
	Summary string
	// Action names the audit event of a mutating call.
	Action string
	// Public routes need no token.
	Public bool
	// Privs: the caller needs any one of them (none: any signed-in caller;
	// handlers may check more, e.g. for another user's keys).
	Privs  []string
	Query  []param
	Req    any // request body type (zero value), nil for none
	Resp   any // success body type (zero value), nil for none
	Status int // success status
	// Errs documents further error responses the handler gives, by status.
	Errs map[int]string
	// handler writes the success response or returns an error.
	handler func(s *Server, w http.ResponseWriter, r *http.Request, c *caller) error
}

func (rt *route) mutating() bool { return rt.Method != http.MethodGet && rt.Method != http.MethodHead }

var (
	userQuery = []param{
		{"source", "string", "local or a directory name"},
		{"state", "string", "active or inactive"},
		{"profile", "string", "profile name"},
		{"team", "string", "only members of this team (within the caller's scope)"},
		{"q", "string", "substring of username, display name or e-mail"},
		{"locked", "boolean", "true: only users locked out now (failed sign-ins)"},
		{"expiring_days", "integer", "only users whose password or account expires within this many days from now (at most 366)"},
		{"limit", "integer", "page size (default 50, at most 500)"},
		{"offset", "integer", "items to skip"},
	}
	auditQuery = []param{
		{"actor", "string", "who acted"},
		{"action", "string", "what was done, e.g. profile.create"},
		{"target", "string", "what it was done to"},
		{"outcome", "string", "success, failure or denied"},
		{"since", "string", "RFC 3339 time, inclusive"},
		{"until", "string", "RFC 3339 time, exclusive"},
		{"limit", "integer", "page size (default 100, at most 1000)"},
		{"offset", "integer", "items to skip"},
	}
	users       = []string{privilege.ManageUsers}
	viewUsers   = []string{privilege.ManageUsers, privilege.ViewUsers}
	profiles    = []string{privilege.ManageProfiles}
	sessions    = []string{privilege.ManageSessions, privilege.ManageUsers}
	teamsView   = []string{privilege.ManageTeams, privilege.ManageUsers, privilege.ViewUsers}
	teamsManage = []string{privilege.ManageTeams}
	// directoryErrs are the answers of a route that asks the directory.
	directoryErrs = map[int]string{
		http.StatusNotImplemented:     "This daemon cannot search the directory",
		http.StatusServiceUnavailable: "The directory could not be reached or refused the service account; error.message says why",
	}
	addImportErrs = map[int]string{
		http.StatusUnprocessableEntity: "No group, or several, answer to that reference in the directory",
		http.StatusNotImplemented:      directoryErrs[http.StatusNotImplemented],
		http.StatusServiceUnavailable:  directoryErrs[http.StatusServiceUnavailable],
	}
	// policyView may read the sign-in policies: user administrators, who
	// answer "why am I locked out", and auditors, who check what was in
	// force.
	policyView = []string{privilege.ManageUsers, privilege.ViewAuditLog}
)

func routeTable() []route {
	return []route{
		{Method: "GET", Path: "/api/v1/openapi.json", Name: "getOpenAPI", Summary: "This OpenAPI document", Public: true, Status: 200, handler: (*Server).handleOpenAPI},
		{Method: "POST", Path: "/api/v1/tokens", Name: "createToken", Summary: "Exchange an API key for a bearer token valid for 2 hours", Action: "token.create", Public: true, Req: TokenRequest{}, Resp: TokenResponse{}, Status: 201, handler: (*Server).handleCreateToken},
		{Method: "GET", Path: "/api/v1/me", Name: "getMe", Summary: "The caller and its effective privileges", Resp: Me{}, Status: 200, handler: (*Server).handleMe},
		{Method: "PATCH", Path: "/api/v1/me", Name: "updateMe", Summary: "Change one's own display name, chat nickname or language", Action: "user.update_self", Privs: []string{privilege.EditOwnDetails}, Req: MePatch{}, Resp: User{}, Status: 200, handler: (*Server).handlePatchMe},
		{Method: "GET", Path: "/api/v1/me/sessions", Name: "listMySessions", Summary: "The caller's own live sign-in sessions", Resp: SessionList{}, Status: 200, handler: (*Server).handleMySessions},
		{Method: "DELETE", Path: "/api/v1/me/sessions/{id}", Name: "endMySession", Summary: "End one of the caller's own sessions (another user's is not found)", Action: "session.end_own", Resp: SessionsEnded{}, Status: 200, handler: (*Server).handleEndMySession},
		{Method: "POST", Path: "/api/v1/me/password", Name: "changeOwnPassword", Summary: "Change the caller's own password (the current one required; counted toward lock-out; a directory user's goes to the directory)", Action: "user.password_change", Req: PasswordChangeRequest{}, Status: 204, handler: (*Server).handleChangeOwnPassword},

		{Method: "GET", Path: "/api/v1/users", Name: "listUsers", Summary: "List users (filters, paging)", Privs: viewUsers, Query: userQuery, Resp: UserList{}, Status: 200, handler: (*Server).handleListUsers},
		{Method: "POST", Path: "/api/v1/users", Name: "createUser", Summary: "Create a local user from a user template with overrides; the username policy applies and the user is mailed a set-password link (never a password)", Action: "user.create", Privs: users, Req: CreateUserRequest{}, Resp: CreateUserResponse{}, Status: 201, handler: (*Server).handleCreateUser},
		{Method: "POST", Path: "/api/v1/bulk/generate-users", Name: "bulkGenerateUsers", Summary: "Generate numbered local users from a pattern and template (dry_run previews); random passwords, returned once, must change at first sign-in", Action: "user.bulk_generate", Privs: users, Req: BulkGenerateRequest{}, Resp: BulkGenerateResponse{}, Status: 201, handler: (*Server).handleBulkGenerate},
		{Method: "POST", Path: "/api/v1/bulk/update-users", Name: "bulkUpdateUsers", Summary: "Change state, profile or teams of many users in one audited transaction, all or nothing (dry_run checks)", Action: "user.bulk_update", Privs: users, Req: BulkUpdateRequest{}, Resp: BulkUpdateResponse{}, Status: 200, handler: (*Server).handleBulkUpdate},
		{Method: "GET", Path: "/api/v1/expiry", Name: "listExpiring", Summary: "Active users whose password or account expires within days (default 30; expired included), soonest first", Privs: viewUsers, Query: []param{{"days", "integer", "look this many days ahead (default 30)"}}, Resp: ExpiryList{}, Status: 200, handler: (*Server).handleExpiry},
		{Method: "GET", Path: "/api/v1/users/{id}", Name: "getUser", Summary: "Get a user by id or username", Privs: viewUsers, Resp: UserDetail{}, Status: 200, handler: (*Server).handleGetUser},
		{Method: "PATCH", Path: "/api/v1/users/{id}", Name: "updateUser", Summary: "Change a user's profile, custom privileges, units or pins", Action: "user.update", Privs: users, Req: UserPatch{}, Resp: UserDetail{}, Status: 200, handler: (*Server).handlePatchUser},
		{Method: "POST", Path: "/api/v1/users/{id}/activate", Name: "activateUser", Summary: "Activate a user", Action: "user.activate", Privs: users, Resp: User{}, Status: 200, handler: (*Server).handleActivate},
		{Method: "POST", Path: "/api/v1/users/{id}/deactivate", Name: "deactivateUser", Summary: "Deactivate a user and revoke its sessions", Action: "user.deactivate", Privs: users, Req: DeactivateRequest{}, Resp: User{}, Status: 200, handler: (*Server).handleDeactivate},
		{Method: "POST", Path: "/api/v1/users/{id}/unlock", Name: "unlockUser", Summary: "Clear a user's lock-out", Action: "user.unlock", Privs: users, Resp: UserDetail{}, Status: 200, handler: (*Server).handleUnlock},
		{Method: "POST", Path: "/api/v1/users/{id}/password", Name: "resetPassword", Summary: "Administrator password reset: a local user's in the store (forces a change at the next sign-in), a directory user's in the directory as the service account (must_change optional)", Action: "user.password_reset", Privs: users, Req: PasswordResetRequest{}, Resp: PasswordResetResponse{}, Status: 200, handler: (*Server).handleResetPassword},

		{Method: "GET", Path: "/api/v1/users/{id}/explain", Name: "explainUser", Summary: "What the mapping gives a directory user from the last sync's entry and imported groups (profile, units, fields, the rule behind each), beside what is stored and pinned", Privs: viewUsers, Resp: Explanation{}, Status: 200, handler: (*Server).handleExplain},
		{Method: "GET", Path: "/api/v1/users/{id}/idp-links", Name: "listIdPLinks", Summary: "A user's IdP links: the identity-provider subjects that sign in as this user", Privs: viewUsers, Resp: IdPLinkList{}, Status: 200, handler: (*Server).handleListIdPLinks},
		{Method: "POST", Path: "/api/v1/users/{id}/idp-links", Name: "createIdPLink", Summary: "Link an IdP subject to a user (one per issuer); the only way a protected account signs in through the IdP", Action: "user.idp_link", Privs: users, Req: IdPLinkInput{}, Resp: IdPLink{}, Status: 201, handler: (*Server).handleCreateIdPLink},
		{Method: "DELETE", Path: "/api/v1/users/{id}/idp-links", Name: "deleteIdPLink", Summary: "Remove a user's link at one IdP; the next sign-in matches by claims again", Action: "user.idp_unlink", Privs: users, Query: []param{{"issuer", "string", "the IdP's issuer (required)"}}, Status: 204, handler: (*Server).handleDeleteIdPLink},

		{Method: "GET", Path: "/api/v1/users/{id}/apikeys", Name: "listAPIKeys", Summary: "List a user's API keys ({id} may be \"me\")", Resp: APIKeyList{}, Status: 200, handler: (*Server).handleListKeys},
		{Method: "POST", Path: "/api/v1/users/{id}/apikeys", Name: "createAPIKey", Summary: "Create an API key; the secret is shown once", Action: "apikey.create", Req: APIKeyInput{}, Resp: APIKeyCreated{}, Status: 201, handler: (*Server).handleCreateKey},
		{Method: "DELETE", Path: "/api/v1/apikeys/{key}", Name: "revokeAPIKeyByID", Summary: "Revoke an API key found by its ID alone (whoever owns it; the same authorization as for its owner's keys)", Action: "apikey.revoke", Resp: APIKey{}, Status: 200, handler: (*Server).handleRevokeKeyByID},
		{Method: "DELETE", Path: "/api/v1/users/{id}/apikeys/{key}", Name: "revokeAPIKey", Summary: "Revoke an API key and every token issued for it", Action: "apikey.revoke", Resp: APIKey{}, Status: 200, handler: (*Server).handleRevokeKey},

		{Method: "GET", Path: "/api/v1/sessions", Name: "listSessions", Summary: "Live sign-in sessions and the licences they hold", Privs: sessions, Query: []param{{"user", "string", "only this user's sessions (id or username)"}}, Resp: SessionList{}, Status: 200, handler: (*Server).handleListSessions},
		{Method: "DELETE", Path: "/api/v1/sessions/{id}", Name: "endSession", Summary: "End one session (frees its licence)", Action: "session.end", Privs: sessions, Resp: SessionsEnded{}, Status: 200, handler: (*Server).handleEndSession},
		{Method: "DELETE", Path: "/api/v1/users/{id}/sessions", Name: "endUserSessions", Summary: "Sign a user out everywhere", Action: "session.end_all", Privs: sessions, Resp: SessionsEnded{}, Status: 200, handler: (*Server).handleEndUserSessions},

		{Method: "GET", Path: "/api/v1/profiles", Name: "listProfiles", Summary: "List profiles", Privs: []string{privilege.ManageProfiles, privilege.ManageUsers, privilege.ViewUsers}, Resp: ProfileList{}, Status: 200, handler: (*Server).handleListProfiles},
		{Method: "POST", Path: "/api/v1/profiles", Name: "createProfile", Summary: "Create a profile", Action: "profile.create", Privs: profiles, Req: ProfileInput{}, Resp: Profile{}, Status: 201, handler: (*Server).handleCreateProfile},
		{Method: "GET", Path: "/api/v1/profiles/{name}", Name: "getProfile", Summary: "Get a profile", Privs: []string{privilege.ManageProfiles, privilege.ManageUsers, privilege.ViewUsers}, Resp: Profile{}, Status: 200, handler: (*Server).handleGetProfile},
		{Method: "PUT", Path: "/api/v1/profiles/{name}", Name: "updateProfile", Summary: "Replace a profile's description and privileges", Action: "profile.update", Privs: profiles, Req: ProfileInput{}, Resp: Profile{}, Status: 200, handler: (*Server).handleUpdateProfile},
		{Method: "DELETE", Path: "/api/v1/profiles/{name}", Name: "deleteProfile", Summary: "Delete a profile no user holds", Action: "profile.delete", Privs: profiles, Status: 204, handler: (*Server).handleDeleteProfile},

		{Method: "GET", Path: "/api/v1/privileges", Name: "listPrivileges", Summary: "The privilege catalogue, built-in and the application's, grouped by area: description, whether scoped, prerequisites", Privs: []string{privilege.ManageProfiles, privilege.ManageUsers, privilege.ViewUsers}, Resp: PrivilegeCatalogue{}, Status: 200, handler: (*Server).handleListPrivileges},

		{Method: "GET", Path: "/api/v1/teams", Name: "listTeams", Summary: "Teams with parent, subteams, supervisors and member counts", Privs: teamsView, Query: []param{{"members", "boolean", "false leaves out member counts (a query per team), for a list of names"}}, Resp: TeamList{}, Status: 200, handler: (*Server).handleListTeams},
		{Method: "POST", Path: "/api/v1/teams", Name: "createTeam", Summary: "Create a team (a caller whose manage_users is limited to some teams may not)", Action: "team.create", Privs: teamsManage, Req: TeamInput{}, Resp: Team{}, Status: 201, handler: (*Server).handleCreateTeam},
		{Method: "GET", Path: "/api/v1/teams/{name}", Name: "getTeam", Summary: "A team", Privs: teamsView, Resp: Team{}, Status: 200, handler: (*Server).handleGetTeam},
		{Method: "PUT", Path: "/api/v1/teams/{name}", Name: "updateTeam", Summary: "Replace a team's description, parent and supervisors", Action: "team.update", Privs: teamsManage, Req: TeamInput{}, Resp: Team{}, Status: 200, handler: (*Server).handleUpdateTeam},
		{Method: "DELETE", Path: "/api/v1/teams/{name}", Name: "deleteTeam", Summary: "Delete a team without members or subteams", Action: "team.delete", Privs: teamsManage, Status: 204, handler: (*Server).handleDeleteTeam},

		{Method: "POST", Path: "/api/v1/provisioning/{source}/token", Name: "issueProvisioningToken", Summary: "Issue a SCIM provisioning source's bearer token, replacing its current one (which stops working at once); shown once. Superuser, or manage_users over everyone with grant_all: the token lets the IdP create users with any profile the mapping rules give", Action: "scim.token.rotate", Privs: users, Resp: ProvisioningToken{}, Status: 201, handler: (*Server).handleProvisioningToken},
		{Method: "GET", Path: "/api/v1/policy", Name: "getSignInPolicy", Summary: "The sign-in policies in force, read-only, with their source (the config file): password, lock-out, username, password reset, IP rules", Privs: policyView, Resp: SignInPolicy{}, Status: 200, handler: (*Server).handlePolicy},

		{Method: "GET", Path: "/api/v1/audit", Name: "listAudit", Summary: "List audit events, newest first", Privs: []string{privilege.ViewAuditLog}, Query: auditQuery, Resp: AuditList{}, Status: 200, handler: (*Server).handleListAudit},

		{Method: "POST", Path: "/api/v1/sync", Name: "startSync", Summary: "Start a sync run (or join the running one)", Action: "sync.start", Privs: []string{privilege.TriggerSync}, Req: SyncInput{}, Resp: SyncStarted{}, Status: 202, handler: (*Server).handleStartSync},
		{Method: "GET", Path: "/api/v1/sync/runs", Name: "listSyncRuns", Summary: "List sync runs, newest first", Privs: []string{privilege.TriggerSync, privilege.ManageUsers}, Query: []param{{"directory", "string", "directory name"}, {"limit", "integer", "at most this many (default 50)"}}, Resp: SyncRunList{}, Status: 200, handler: (*Server).handleListRuns},
		{Method: "GET", Path: "/api/v1/sync/runs/{id}", Name: "getSyncRun", Summary: "A sync run with its plan", Privs: []string{privilege.TriggerSync, privilege.ManageUsers}, Resp: SyncRun{}, Status: 200, handler: (*Server).handleGetRun},
		{Method: "GET", Path: "/api/v1/directories", Name: "listDirectories", Summary: "Configured directories and their sync state", Privs: []string{privilege.TriggerSync, privilege.ManageUsers}, Resp: DirectoryList{}, Status: 200, handler: (*Server).handleListDirectories},
		{Method: "GET", Path: "/api/v1/directories/{name}/stats", Name: "getDirectoryStats", Summary: "Import statistics of a directory", Privs: []string{privilege.TriggerSync, privilege.ManageUsers}, Resp: DirectoryStats{}, Status: 200, handler: (*Server).handleStats},
		{Method: "GET", Path: "/api/v1/directories/{name}/groups", Name: "searchDirectoryGroups", Summary: "Search the directory itself, live, for groups whose name contains search (all without it), by name, with direct member counts and the origin of those imported already; 503 when the directory cannot be reached", Privs: []string{privilege.TriggerSync, privilege.ManageUsers}, Query: []param{{"search", "string", "substring of the group's name"}, {"limit", "integer", "at most this many (default 100, at most 1000)"}}, Resp: FoundGroupList{}, Status: 200, Errs: directoryErrs, handler: (*Server).handleSearchGroups},
		{Method: "GET", Path: "/api/v1/directories/{name}/import-groups", Name: "listImportGroups", Summary: "The groups a directory's sync imports: the config file's (origin config) and those chosen through the API (origin store)", Privs: []string{privilege.TriggerSync, privilege.ManageUsers}, Resp: ImportGroupList{}, Status: 200, handler: (*Server).handleListImportGroups},
		{Method: "POST", Path: "/api/v1/directories/{name}/import-groups", Name: "addImportGroup", Summary: "Choose a directory group (by DN, name or anchor, resolved live) to import from the next sync on; trigger_sync over everyone required", Action: "import_group.add", Privs: []string{privilege.TriggerSync}, Req: ImportGroupInput{}, Resp: ImportGroup{}, Status: 201, Errs: addImportErrs, handler: (*Server).handleAddImportGroup},
		{Method: "DELETE", Path: "/api/v1/directories/{name}/import-groups/{anchor}", Name: "removeImportGroup", Summary: "Stop importing a group chosen through the API; its members leave at the next sync within max_deactivations. A config file's group answers 409: edit the config", Action: "import_group.remove", Privs: []string{privilege.TriggerSync}, Status: 204, handler: (*Server).handleRemoveImportGroup},
		{Method: "GET", Path: "/api/v1/directories/{name}/entries", Name: "listDirectoryEntries", Summary: "Imported entries of a directory", Privs: users, Query: []param{{"kind", "string", "user or group"}, {"mapped", "boolean", "only mapped (true) or unmapped (false) entries"}}, Resp: DirectoryEntryList{}, Status: 200, handler: (*Server).handleListEntries},
		{Method: "POST", Path: "/api/v1/directories/{name}/entries/create", Name: "createFromEntries", Summary: "Create local users from selected unmapped imported users through the directory's mapping and user template; each entry is created or refused on its own (collision, existing or privileged local user), all audited", Action: "entry.create", Privs: users, Req: CreateEntriesRequest{}, Resp: CreateEntriesResult{}, Status: 200, handler: (*Server).handleCreateEntries},
		{Method: "POST", Path: "/api/v1/directories/{name}/entries/{anchor}/map", Name: "mapEntry", Summary: "Link an unmapped imported user to a local user", Action: "entry.map", Privs: users, Req: MapRequest{}, Resp: DirectoryEntry{}, Status: 200, handler: (*Server).handleMap},
		{Method: "POST", Path: "/api/v1/directories/{name}/entries/{anchor}/remap", Name: "remapEntry", Summary: "Link an imported user to another local user", Action: "entry.remap", Privs: users, Req: MapRequest{}, Resp: DirectoryEntry{}, Status: 200, handler: (*Server).handleRemap},
		{Method: "POST", Path: "/api/v1/directories/{name}/entries/{anchor}/unmap", Name: "unmapEntry", Summary: "Unlink an imported user; the local user stays as a local account", Action: "entry.unmap", Privs: users, Resp: DirectoryEntry{}, Status: 200, handler: (*Server).handleUnmap},
	}
}
