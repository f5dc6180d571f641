package admin_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/store"
)

// fakeInviter records the users it was asked to invite.
type fakeInviter struct {
	mu      sync.Mutex
	invited []string
}

func (f *fakeInviter) SendSetPassword(_ context.Context, u store.User) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.invited = append(f.invited, u.Username+" "+u.Email)
	return nil
}

func createEnv(t *testing.T) (*env, *fakeInviter) {
	inv := &fakeInviter{}
	e := newEnvWith(t, func(o *admin.Options) {
		o.Inviter = inv
		o.UserTemplates = map[string]admin.UserTemplate{
			"agent": {State: store.StateActive, Language: "fr", Profile: "Agents", Units: []string{"Floor 1"}, EmailDomain: "example.com"},
		}
	})
	return e, inv
}

func TestCreateUserFromTemplate(t *testing.T) {
	e, inv := createEnv(t)
	root := e.token("root")
	e.do("POST", "/api/v1/teams", root, admin.TeamInput{Name: "Floor 1"}, 201, nil)
	e.do("POST", "/api/v1/teams", root, admin.TeamInput{Name: "Floor 2"}, 201, nil)

	var out admin.CreateUserResponse
	e.do("POST", "/api/v1/users", root, admin.CreateUserRequest{Template: "agent", Username: "carol", FirstName: "Carol", LastName: "Ng"}, 201, &out)
	if !out.InviteSent || out.User.Email != "carol@example.com" || out.User.Profile != "Agents" || out.User.DisplayName != "Carol Ng" ||
		!slices.Equal(out.User.Units, []string{"Floor 1"}) {
		t.Fatalf("created: %+v", out)
	}
	if !slices.Equal(inv.invited, []string{"carol carol@example.com"}) {
		t.Errorf("invited: %q", inv.invited)
	}
	u, err := e.st.GetUserByUsername(context.Background(), "carol")
	if err != nil || u.PasswordHash != "" || u.Language != "fr" {
		t.Fatalf("stored: %+v %v", u, err)
	}
	if ev := e.audit("user.create"); len(ev) != 1 || ev[0].Outcome != store.OutcomeSuccess {
		t.Errorf("audit: %+v", ev)
	}

	// Overrides, conflicts and the checks, each with its field.
	e.do("POST", "/api/v1/users", root, admin.CreateUserRequest{Template: "agent", Username: "carol"}, 409, nil)
	for _, c := range []struct {
		req   admin.CreateUserRequest
		field string
	}{
		{admin.CreateUserRequest{Template: "nope", Username: "dan"}, "template"},
		{admin.CreateUserRequest{Username: "two words"}, "username"},
		{admin.CreateUserRequest{Username: "dan"}, "email"},
		{admin.CreateUserRequest{Username: "dan", Email: "not-mail"}, "email"},
		{admin.CreateUserRequest{Username: "dan", Invite: ptr(false), Profile: ptr("Ghosts")}, "profile"},
		{admin.CreateUserRequest{Username: "dan", Invite: ptr(false), State: "locked"}, "state"},
	} {
		r := e.do("POST", "/api/v1/users", root, c.req, 400, nil)
		if r.err().Field != c.field {
			t.Errorf("%+v: field %q (%s), want %q", c.req, r.err().Field, r.err().Message, c.field)
		}
	}

	// A user administrator cannot create someone holding more than they may grant.
	uma := e.token("uma")
	e.do("POST", "/api/v1/users", uma, admin.CreateUserRequest{Username: "eve", Invite: ptr(false), Profile: ptr("Admins")}, 403, nil)
	e.do("POST", "/api/v1/users", uma, admin.CreateUserRequest{Username: "eve", Invite: ptr(false)}, 201, nil)

	// A supervisor over Floor 2 only places new users in Floor 2.
	e.do("POST", "/api/v1/profiles", root, admin.ProfileInput{Name: "Supervisor", Privileges: []string{privilege.ManageUsers, "app_take_calls"},
		Scopes: map[string]admin.Scope{privilege.ManageUsers: {Kind: store.ScopeOwnTeams}}}, 201, nil)
	sup := e.user("sup", "Supervisor", false)
	sup.Units = []string{"Floor 2"}
	if err := e.st.Tx(context.Background(), func(tx store.Tx) error { return tx.UpdateUser(context.Background(), &sup) }); err != nil {
		t.Fatal(err)
	}
	st := e.token("sup")
	r := e.do("POST", "/api/v1/users", st, admin.CreateUserRequest{Template: "agent", Username: "fred"}, 400, nil)
	if r.err().Field != "units[0]" {
		t.Errorf("out-of-reach team: %+v", r.err())
	}
	e.do("POST", "/api/v1/users", st, admin.CreateUserRequest{Template: "agent", Username: "fred", Units: []string{"Floor 2"}}, 201, nil)
}

func TestBulkGenerateAndUpdate(t *testing.T) {
	e, _ := createEnv(t)
	root := e.token("root")
	e.do("POST", "/api/v1/teams", root, admin.TeamInput{Name: "Floor 1"}, 201, nil)

	req := admin.BulkGenerateRequest{Template: "agent", Count: 3, Pattern: "agent{n:3}", Start: 9, DryRun: true}
	var preview admin.BulkGenerateResponse
	e.do("POST", "/api/v1/bulk/generate-users", root, req, 200, &preview)
	if !preview.DryRun || len(preview.Users) != 3 || preview.Users[0].User.Username != "agent009" || preview.Users[2].User.Username != "agent011" || preview.Users[0].Password != "" {
		t.Fatalf("preview: %+v", preview)
	}
	if _, err := e.st.GetUserByUsername(context.Background(), "agent009"); err == nil {
		t.Fatal("a dry run created a user")
	}
	req.DryRun = false
	var made admin.BulkGenerateResponse
	e.do("POST", "/api/v1/bulk/generate-users", root, req, 201, &made)
	seen := map[string]bool{}
	for _, g := range made.Users {
		if len(g.Password) < 16 || seen[g.Password] || strings.Contains(g.Password, g.User.Username) {
			t.Errorf("password of %s: %q", g.User.Username, g.Password)
		}
		seen[g.Password] = true
		u, _ := e.st.GetUserByUsername(context.Background(), g.User.Username)
		if !u.MustChangePassword || u.PasswordHash == "" || u.Email != g.User.Username+"@example.com" {
			t.Errorf("stored %s: %+v", g.User.Username, u)
		}
	}
	// Again: every name is taken, nothing is half-made.
	e.do("POST", "/api/v1/bulk/generate-users", root, admin.BulkGenerateRequest{Count: 5, Pattern: "agent{n:3}", Start: 7, Template: "agent"}, 400, nil)
	if _, err := e.st.GetUserByUsername(context.Background(), "agent007"); err == nil {
		t.Fatal("a refused bulk generation created a user")
	}
	for _, p := range []admin.BulkGenerateRequest{{Count: 0, Pattern: "a{n}"}, {Count: 1001, Pattern: "a{n}"}, {Count: 2, Pattern: "fixed"}, {Count: 2, Pattern: "a{n}{n}"}} {
		e.do("POST", "/api/v1/bulk/generate-users", root, p, 400, nil)
	}

	// Bulk update: all or nothing.
	names := []string{"agent009", "agent010", "agent011"}
	var dry admin.BulkUpdateResponse
	e.do("POST", "/api/v1/bulk/update-users", root, admin.BulkUpdateRequest{Users: names, State: "inactive", DryRun: true}, 200, &dry)
	if u, _ := e.st.GetUserByUsername(context.Background(), "agent010"); u.State != store.StateActive || len(dry.Users) != 3 || dry.Users[1].State != "inactive" {
		t.Fatalf("dry run changed a user or answered %+v", dry)
	}
	e.do("POST", "/api/v1/bulk/update-users", root, admin.BulkUpdateRequest{Users: append(names, "ghost"), State: "inactive"}, 400, nil)
	if u, _ := e.st.GetUserByUsername(context.Background(), "agent009"); u.State != store.StateActive {
		t.Fatal("a refused bulk update changed a user")
	}
	uma := e.token("uma")
	e.do("POST", "/api/v1/bulk/update-users", uma, admin.BulkUpdateRequest{Users: []string{"agent009", "alice"}, State: "inactive"}, 403, nil)
	if u, _ := e.st.GetUserByUsername(context.Background(), "agent009"); u.State != store.StateActive {
		t.Fatal("a forbidden bulk update changed a user")
	}
	e.do("POST", "/api/v1/bulk/update-users", root, admin.BulkUpdateRequest{Users: names, State: "inactive"}, 200, nil)
	for _, n := range names {
		if u, _ := e.st.GetUserByUsername(context.Background(), n); u.State != store.StateInactive {
			t.Errorf("%s still %s", n, u.State)
		}
	}
	if ev := e.audit("user.bulk_update"); len(ev) == 0 || ev[0].Outcome != store.OutcomeSuccess {
		t.Errorf("audit: %+v", ev)
	}
}

func TestPatchMe(t *testing.T) {
	e, _ := createEnv(t)
	e.profile("Staff", privilege.EditOwnDetails)
	e.user("sam", "Staff", false)
	sam := e.token("sam")
	var out admin.User
	e.do("PATCH", "/api/v1/me", sam, admin.MePatch{DisplayName: ptr("Sam S."), ChatNickname: ptr("sammy"), Language: ptr("fr-CA")}, 200, &out)
	u, _ := e.st.GetUserByUsername(context.Background(), "sam")
	if u.DisplayName != "Sam S." || u.Fields[admin.FieldChatNickname] != "sammy" || u.Language != "fr-CA" {
		t.Fatalf("stored: %+v", u)
	}
	e.do("PATCH", "/api/v1/me", sam, admin.MePatch{Language: ptr("french!")}, 400, nil)
	e.do("PATCH", "/api/v1/me", sam, admin.MePatch{DisplayName: ptr("two\nlines")}, 400, nil)
	// Without the privilege: refused.
	e.do("PATCH", "/api/v1/me", e.token("nobody"), admin.MePatch{DisplayName: ptr("X")}, 403, nil)
}

func ptr[T any](v T) *T { return &v }
