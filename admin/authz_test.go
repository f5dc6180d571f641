package admin_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/store"
)

// TestAuthorizeMatrix runs every caller against every target for every
// action. The expectations are written out per (caller, target) pair, not
// computed, so a change to Authorize that moves any cell fails here.
func TestAuthorizeMatrix(t *testing.T) {
	all := privilege.NewSet(privilege.BypassSSO, privilege.PrivilegedIPAccess, privilege.ManageUsers, privilege.ViewUsers,
		privilege.ManageProfiles, privilege.TriggerSync, privilege.ViewAuditLog, privilege.ManageSessions, privilege.GrantAll, "app_take_calls")
	p := func(id string, mod func(*store.User), privs ...string) admin.Principal {
		u := store.User{ID: id, Username: id, State: store.StateActive}
		if mod != nil {
			mod(&u)
		}
		set := privilege.NewSet(privs...)
		if u.Superuser {
			set = all
		}
		return admin.Principal{User: u, Privs: set}
	}
	super := func(u *store.User) { u.Superuser = true }
	emergency := func(u *store.User) { u.Emergency = true }

	principals := map[string]admin.Principal{
		"root":       p("root", super),
		"root2":      p("root2", super),
		"emergency":  p("emergency", emergency, privilege.BypassSSO, privilege.PrivilegedIPAccess),
		"sysadmin":   p("sysadmin", nil, privilege.ManageUsers, privilege.ManageProfiles, privilege.GrantAll, privilege.BypassSSO, privilege.PrivilegedIPAccess),
		"sysadmin2":  p("sysadmin2", nil, privilege.ManageUsers, privilege.ManageProfiles, privilege.GrantAll, privilege.BypassSSO, privilege.PrivilegedIPAccess),
		"useradmin":  p("useradmin", nil, privilege.ManageUsers),
		"useradmin2": p("useradmin2", nil, privilege.ManageUsers),
		"bypasser":   p("bypasser", nil, privilege.BypassSSO),
		"ipfree":     p("ipfree", nil, privilege.PrivilegedIPAccess),
		"agent":      p("agent", nil, "app_take_calls"),
		"nobody":     p("nobody", nil),
		"sessions":   p("sessions", nil, privilege.ManageSessions),
		"viewer":     p("viewer", nil, privilege.ViewUsers),
	}
	// may_grant: a team lead who manages users and may grant the
	// application's privilege without holding it, and an account that
	// holds nothing but may grant bypass_sso (acting on it hands that over).
	granter := p("granter", nil, privilege.ManageUsers)
	granter.MayGrant = []string{"app_take_calls"}
	principals["granter"] = granter
	lister := p("lister", nil)
	lister.MayGrant = []string{privilege.BypassSSO}
	principals["lister"] = lister

	every := admin.Actions()
	except := func(drop ...admin.Action) []admin.Action {
		return slices.DeleteFunc(slices.Clone(every), func(a admin.Action) bool { return slices.Contains(drop, a) })
	}
	var (
		none     []admin.Action
		view     = []admin.Action{admin.ActView}
		self     = []admin.Action{admin.ActView, admin.ActEndSessions, admin.ActListKeys, admin.ActCreateKey, admin.ActRevokeKey}
		sessOnly = []admin.Action{admin.ActEndSessions}
	)
	type row struct {
		caller, target string
		allowed        []admin.Action
	}
	rows := []row{
		// A superuser acts on anyone, itself included, but never
		// deactivates itself.
		{"root", "root", except(admin.ActDeactivate)},
		{"root", "root2", every},
		{"root", "emergency", every},
		{"root", "sysadmin", every},
		{"root", "useradmin", every},
		{"root", "agent", every},
		{"root", "nobody", every},

		// grant_all reaches every account but superusers and break-glass.
		{"sysadmin", "sysadmin", self},
		{"sysadmin", "root", view},
		{"sysadmin", "emergency", view},
		{"sysadmin", "sysadmin2", every},
		{"sysadmin", "useradmin", every},
		{"sysadmin", "bypasser", every},
		{"sysadmin", "ipfree", every},
		{"sysadmin", "agent", every},
		{"sysadmin", "nobody", every},

		// manage_users alone: only accounts holding nothing more.
		{"useradmin", "useradmin", self},
		{"useradmin", "root", view},
		{"useradmin", "emergency", view},
		{"useradmin", "sysadmin", view},
		{"useradmin", "bypasser", view},
		{"useradmin", "ipfree", view},
		{"useradmin", "agent", view},
		{"useradmin", "useradmin2", every},
		{"useradmin", "nobody", every},

		// may_grant replaces "what you hold" as what may be granted.
		{"granter", "agent", every},
		{"granter", "nobody", every},
		{"granter", "useradmin", view},
		{"granter", "lister", view},
		{"useradmin", "lister", view},
		{"sysadmin", "lister", every},

		// manage_sessions: sign out those holding no more.
		{"sessions", "sessions", self},
		{"sessions", "nobody", sessOnly},
		{"sessions", "agent", none},
		{"sessions", "sysadmin", none},
		{"sessions", "root", none},

		// view_users reads, nothing else.
		{"viewer", "viewer", self},
		{"viewer", "root", view},
		{"viewer", "nobody", view},
		{"viewer", "sysadmin", view},

		// No privilege: only oneself.
		{"agent", "agent", self},
		{"agent", "nobody", none},
		{"nobody", "nobody", self},
		{"nobody", "agent", none},
		{"bypasser", "nobody", none},
		{"emergency", "nobody", none},
	}
	for _, r := range rows {
		caller, target := principals[r.caller], principals[r.target]
		for _, a := range every {
			err := admin.Authorize(caller, target, a)
			want := slices.Contains(r.allowed, a)
			if (err == nil) != want {
				t.Errorf("%s -> %s: %s: allowed=%v, want %v (%v)", r.caller, r.target, a, err == nil, want, err)
			}
			var ref *admin.Refusal
			if err != nil && (!errors.As(err, &ref) || ref.Reason == "" || !strings.Contains(err.Error(), r.target)) {
				t.Errorf("%s -> %s: %s: refusal %v should be a *Refusal naming the target with a reason", r.caller, r.target, a, err)
			}
		}
	}
}

// TestWeakerAdministratorCannotTakeOver tries every route that acts on a
// user as an administrator holding only manage_users against an account
// that holds more (grant_all, bypass_sso through the Admins profile): each
// is refused with 403, audited as denied, and changes nothing.
func TestWeakerAdministratorCannotTakeOver(t *testing.T) {
	e := entriesEnv(t)
	ctx := context.Background()
	victim := e.users["alice"] // Admins: grant_all, manage_users, ...
	var keyID string
	err := e.st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateSession(ctx, store.Session{ID: "victim-session", UserID: victim.ID, Method: "saml",
			CreatedAt: e.clk.Now(), LastSeenAt: e.clk.Now(), ExpiresAt: e.clk.Now().Add(time.Hour)}); err != nil {
			return err
		}
		_, k, err := admin.NewAPIKey(ctx, tx, victim.ID, "victim", e.clk.Now())
		keyID = k.ID
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// An entry mapped to a user holding manage_profiles, which uma lacks.
	tok := e.token("uma")
	attempts := []struct {
		method, path string
		body         any
		action       string
	}{
		{"POST", "/api/v1/users/alice/password", map[string]string{"password": "Attacker-chosen-1"}, "user.password_reset"},
		{"POST", "/api/v1/users/alice/password", nil, "user.password_reset"},
		{"PATCH", "/api/v1/users/alice", map[string]any{"units": []string{"Trusted LAN"}}, "user.update"},
		{"PATCH", "/api/v1/users/alice", map[string]any{"pinned_profile": true}, "user.update"},
		{"PATCH", "/api/v1/users/alice", map[string]any{"profile": ""}, "user.update"},
		{"POST", "/api/v1/users/alice/deactivate", nil, "user.deactivate"},
		{"POST", "/api/v1/users/alice/activate", nil, "user.activate"},
		{"POST", "/api/v1/users/alice/unlock", nil, "user.unlock"},
		{"DELETE", "/api/v1/users/alice/sessions", nil, "session.end_all"},
		{"DELETE", "/api/v1/sessions/victim-session", nil, "session.end"},
		{"POST", "/api/v1/users/alice/apikeys", map[string]string{"name": "mine now"}, "apikey.create"},
		{"DELETE", "/api/v1/users/alice/apikeys/" + keyID, nil, "apikey.revoke"},
		{"DELETE", "/api/v1/apikeys/" + keyID, nil, "apikey.revoke"},
		{"GET", "/api/v1/users/alice/apikeys", nil, ""},
		{"POST", "/api/v1/directories/corp/entries/u-ann/map", map[string]string{"user": "alice"}, "entry.map"},
		{"POST", "/api/v1/directories/corp/entries/u-mapped/remap", map[string]string{"user": "nobody"}, "entry.remap"},
		{"POST", "/api/v1/directories/corp/entries/u-mapped/unmap", nil, "entry.unmap"},
	}
	before := e.snapshot()
	for _, a := range attempts {
		r := e.do(a.method, a.path, tok, a.body, http.StatusForbidden, nil)
		if !strings.Contains(r.err().Message, "you may not") {
			t.Errorf("%s %s: message %q does not say what was refused", a.method, a.path, r.err().Message)
		}
		if a.action == "" {
			continue
		}
		ev := e.audit(a.action)
		if len(ev) == 0 || ev[0].Outcome != store.OutcomeDenied || ev[0].Actor != "uma" {
			t.Errorf("%s %s: no denied audit event by uma for %s: %+v", a.method, a.path, a.action, ev)
		}
	}
	if after := e.snapshot(); !reflect.DeepEqual(before, after) {
		t.Errorf("refused calls changed the store:\nbefore %+v\nafter  %+v", before, after)
	}
}

// snapshot is every user, entry, session and key, for "nothing changed".
type storeSnapshot struct {
	Users    []store.User
	Entries  []store.DirectoryEntry
	Sessions []store.Session
	Keys     []store.APIKey
}

func (e *env) snapshot() storeSnapshot {
	e.t.Helper()
	ctx := context.Background()
	var s storeSnapshot
	var err error
	if s.Users, err = e.st.ListUsers(ctx, store.UserFilter{}); err != nil {
		e.t.Fatal(err)
	}
	if s.Entries, err = e.st.ListDirectoryEntries(ctx, "corp"); err != nil {
		e.t.Fatal(err)
	}
	for _, u := range s.Users {
		ss, err := e.st.ListSessions(ctx, u.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		s.Sessions = append(s.Sessions, ss...)
		ks, err := e.st.ListAPIKeys(ctx, u.ID)
		if err != nil {
			e.t.Fatal(err)
		}
		for i := range ks {
			ks[i].LastUsedAt = time.Time{} // uma's own key is used by the calls
		}
		s.Keys = append(s.Keys, ks...)
	}
	return s
}
