package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
)

// entriesEnv is newEnv with a server that knows directory corp's mapping,
// and corp's imported entries in the store.
func entriesEnv(t *testing.T, tweaks ...func(*admin.Options)) *env {
	t.Helper()
	e := newEnv(t)
	m, err := mapping.NewMapper(mapping.Config{
		Directory: "corp",
		Rules: []mapping.Rule{
			{Group: "Supervisors", Profile: "Admins", Units: []string{"HQ"}},
			{Group: "CN=Agents,OU=Groups,DC=corp,DC=example,DC=com", Profile: "Agents", Units: []string{"Floor 1"}},
		},
		Templates:    mapping.Templates{Username: "{{lower .username}}"},
		UserTemplate: &mapping.UserTemplate{Name: "new-hires", Language: "fr", Units: []string{"Onboarding"}, EmailDomain: "corp.example.com"},
	})
	if err != nil {
		t.Fatal(err)
	}
	opts := admin.Options{Store: e.st, Now: e.clk.Now, Directories: []string{"corp", "other"},
		Mappings: map[string]admin.DirectoryMapping{"corp": {Mapper: m, LinkBy: mapping.LinkByUsername}}}
	for _, tweak := range tweaks {
		tweak(&opts)
	}
	a, err := admin.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", a)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)

	ctx := context.Background()
	now := e.clk.Now()
	user := func(anchor, name string, groups ...string) store.DirectoryEntry {
		return store.DirectoryEntry{Directory: "corp", Anchor: anchor, Kind: store.EntryUser, Name: name,
			DN: "CN=" + name + ",OU=People,DC=corp,DC=example,DC=com", Groups: groups, UpdatedAt: now,
			Attributes: map[string][]string{"displayName": {strings.ToUpper(name[:1]) + name[1:] + " Test"}}}
	}
	entries := []store.DirectoryEntry{
		{Directory: "corp", Anchor: "g-agents", Kind: store.EntryGroup, Name: "Agents", DN: "CN=Agents,OU=Groups,DC=corp,DC=example,DC=com", UpdatedAt: now},
		{Directory: "corp", Anchor: "g-sup", Kind: store.EntryGroup, Name: "Supervisors", DN: "CN=Supervisors,OU=Groups,DC=corp,DC=example,DC=com", UpdatedAt: now},
		user("u-ann", "ann", "g-agents"),
		user("u-sam", "sam", "g-agents", "g-sup"),
		user("u-bob1", "bob", "g-agents"),
		user("u-bob2", "Bob", "g-agents"),
		user("u-alice", "alice", "g-agents"),
		user("u-nobody", "nobody", "g-agents"),
		user("u-root", "ROOT", "g-agents"),
		user("u-pete", "pete", "g-agents"),
	}
	mapped := user("u-mapped", "mapped", "g-agents")
	mapped.UserID = e.users["pete"].ID
	entries = append(entries, mapped)
	if err := e.st.Tx(ctx, func(tx store.Tx) error { return tx.PutDirectoryEntries(ctx, entries) }); err != nil {
		t.Fatal(err)
	}
	return e
}

func byAnchor(res admin.CreateEntriesResult) map[string]admin.EntryCreateResult {
	out := map[string]admin.EntryCreateResult{}
	for _, it := range res.Items {
		out[it.Anchor] = it
	}
	return out
}

func TestCreateFromEntries(t *testing.T) {
	e := entriesEnv(t)
	ctx := context.Background()
	tok := e.token("alice")

	var res admin.CreateEntriesResult
	e.do("POST", "/api/v1/directories/corp/entries/create", tok, admin.CreateEntriesRequest{Anchors: []string{
		"u-ann", "u-sam", "u-bob1", "u-alice", "u-nobody", "u-root", "u-mapped", "g-agents", "u-none", "u-ann",
	}}, 200, &res)
	got := byAnchor(res)
	if len(res.Items) != 9 || res.Created != 2 || res.Refused != 7 {
		t.Fatalf("result: %+v", res)
	}
	want := map[string]string{
		"u-ann": admin.EntryCreated, "u-sam": admin.EntryCreated,
		"u-bob1":   string(mapping.WarnCollision),
		"u-alice":  string(mapping.WarnPrivilegedLink), // Admins holds grant_all
		"u-root":   string(mapping.WarnPrivilegedLink), // a superuser, despite the case
		"u-nobody": admin.RefusedLocalUserExists,
		"u-mapped": admin.RefusedAlreadyMapped,
		"g-agents": admin.RefusedNotUser,
		"u-none":   admin.RefusedNotFound,
	}
	for anchor, w := range want {
		it := got[anchor]
		if (w == admin.EntryCreated) != (it.Status == admin.EntryCreated) || (w != admin.EntryCreated && it.Code != w) {
			t.Errorf("%s: %+v, want %s", anchor, it, w)
		}
		if it.Status == admin.EntryRefused && it.Message == "" {
			t.Errorf("%s refused without a reason", anchor)
		}
	}
	if m := got["u-bob1"].Message; !strings.Contains(m, "u-bob2") {
		t.Errorf("collision does not name the other entry: %s", m)
	}

	// Created through the mapping and the user template.
	ann, err := e.st.GetUserByUsername(ctx, "ann")
	if err != nil {
		t.Fatal(err)
	}
	if ann.Source != "corp" || ann.Anchor != "u-ann" || ann.Profile != "Agents" || ann.Language != "fr" ||
		ann.Email != "ann@corp.example.com" || ann.DisplayName != "Ann Test" || ann.State != store.StateActive ||
		!slices.Equal(ann.Units, []string{"Floor 1", "Onboarding"}) {
		t.Fatalf("ann: %+v", ann)
	}
	if c := got["u-ann"].ProfileCause; !strings.Contains(c, "rule 2 (group Agents)") {
		t.Errorf("ann's profile cause: %q", c)
	}
	sam, _ := e.st.GetUserByUsername(ctx, "sam")
	if sam.Profile != "Admins" || !slices.Equal(sam.Units, []string{"HQ", "Floor 1", "Onboarding"}) {
		t.Fatalf("sam: %+v", sam)
	}
	ent, _ := e.st.GetDirectoryEntry(ctx, "corp", "u-ann")
	if ent.UserID != ann.ID {
		t.Fatalf("entry not linked: %+v", ent)
	}
	// Refused entries changed nothing: no second alice, nobody not linked.
	for _, name := range []string{"alice", "nobody", "root"} {
		u, _ := e.st.GetUserByUsername(ctx, name)
		if u.Source != store.SourceLocal || u.Anchor != "" {
			t.Errorf("%s was linked: %+v", name, u)
		}
	}
	if _, err := e.st.GetUserByUsername(ctx, "bob"); err == nil {
		t.Error("a colliding user was created")
	}

	// Every created user and every refusal is audited.
	ev := e.audit("entry.create")
	var ok, failed []string
	for _, x := range ev {
		if x.Outcome == store.OutcomeSuccess {
			ok = append(ok, x.Target)
		} else {
			failed = append(failed, x.Target+" "+x.Reason)
		}
	}
	slices.Sort(ok)
	if !slices.Equal(ok, []string{"user:ann", "user:sam"}) || len(failed) != 7 {
		t.Fatalf("audit: ok %v, failed %v", ok, failed)
	}
	if !slices.ContainsFunc(failed, func(s string) bool {
		return strings.HasPrefix(s, "entry:corp/u-alice privileged_not_linked:")
	}) {
		t.Errorf("privileged refusal not audited: %v", failed)
	}

	// A username a mapped directory user already holds is refused too:
	// sam's entry is mapped now, and another entry maps to "sam".
	err = e.st.Tx(ctx, func(tx store.Tx) error {
		return tx.PutDirectoryEntries(ctx, []store.DirectoryEntry{{Directory: "corp", Anchor: "u-sam2", Kind: store.EntryUser,
			Name: "SAM", DN: "CN=SAM,OU=Other,DC=corp,DC=example,DC=com", Groups: []string{"g-agents"}, UpdatedAt: e.clk.Now()}})
	})
	if err != nil {
		t.Fatal(err)
	}
	e.do("POST", "/api/v1/directories/corp/entries/create", tok, admin.CreateEntriesRequest{Anchors: []string{"u-sam2"}}, 200, &res)
	if res.Created != 0 || res.Items[0].Code != string(mapping.WarnLocalCollision) || !strings.Contains(res.Items[0].Message, "a user of directory corp (sam)") {
		t.Fatalf("create over a mapped user's name: %+v", res)
	}

	// Asking again: the created entries are mapped now.
	e.do("POST", "/api/v1/directories/corp/entries/create", tok, admin.CreateEntriesRequest{Anchors: []string{"u-ann"}}, 200, &res)
	if res.Created != 0 || res.Items[0].Code != admin.RefusedAlreadyMapped {
		t.Fatalf("second create: %+v", res)
	}
}

func TestCreateFromEntriesRefusesEscalation(t *testing.T) {
	e := entriesEnv(t)
	// uma holds manage_users but neither the Admins profile's privileges
	// nor the application's app_take_calls: she may not create users the
	// rules would give them (PATCH refuses the same grant).
	var res admin.CreateEntriesResult
	e.do("POST", "/api/v1/directories/corp/entries/create", e.token("uma"),
		admin.CreateEntriesRequest{Anchors: []string{"u-sam", "u-ann"}}, 200, &res)
	got := byAnchor(res)
	if got["u-sam"].Code != admin.RefusedEscalation || !strings.Contains(got["u-sam"].Message, "grant_all") ||
		got["u-ann"].Code != admin.RefusedEscalation || !strings.Contains(got["u-ann"].Message, "app_take_calls") {
		t.Fatalf("escalation: %+v", res)
	}
	if _, err := e.st.GetUserByUsername(context.Background(), "sam"); err == nil {
		t.Fatal("sam was created")
	}
	// Without manage_users, nothing at all (and the refusal is audited).
	e.do("POST", "/api/v1/directories/corp/entries/create", e.token("pete"),
		admin.CreateEntriesRequest{Anchors: []string{"u-ann"}}, 403, nil)
	if ev := e.audit("entry.create"); ev[0].Outcome != store.OutcomeDenied || ev[0].Actor != "pete" {
		t.Fatalf("denied call not audited: %+v", ev[0])
	}
}

func TestCreateFromEntriesBadInput(t *testing.T) {
	e := entriesEnv(t)
	tok := e.token("alice")
	for _, tc := range []struct {
		path   string
		body   any
		status int
		field  string
	}{
		{"/api/v1/directories/corp/entries/create", admin.CreateEntriesRequest{}, 400, "anchors"},
		{"/api/v1/directories/corp/entries/create", admin.CreateEntriesRequest{Anchors: []string{"u-ann", " "}}, 400, "anchors[1]"},
		{"/api/v1/directories/corp/entries/create", map[string]any{"anchor": "u-ann"}, 400, "anchor"},
		{"/api/v1/directories/corp/entries/create", admin.CreateEntriesRequest{Anchors: make([]string, 1001)}, 400, "anchors[0]"},
		{"/api/v1/directories/nope/entries/create", admin.CreateEntriesRequest{Anchors: []string{"x"}}, 404, ""},
		{"/api/v1/directories/other/entries/create", admin.CreateEntriesRequest{Anchors: []string{"x"}}, 501, ""},
	} {
		r := e.do("POST", tc.path, tok, tc.body, tc.status, nil)
		if r.err().Field != tc.field {
			t.Errorf("%s %+v: field %q, want %q (%s)", tc.path, tc.body, r.err().Field, tc.field, r.body)
		}
	}
	many := make([]string, 1001)
	for i := range many {
		many[i] = fmt.Sprintf("a%d", i)
	}
	r := e.do("POST", "/api/v1/directories/corp/entries/create", tok, admin.CreateEntriesRequest{Anchors: many}, 400, nil)
	if r.err().Field != "anchors" || !strings.Contains(r.err().Message, "at most 1000") {
		t.Errorf("too many anchors: %s", r.body)
	}
}

// TestExplainUser: what the rules give a directory user from the stored
// entry, beside what is stored and pinned.
func TestExplainUser(t *testing.T) {
	e := entriesEnv(t)
	ctx := context.Background()
	sam := store.User{Username: "sam", State: store.StateActive, Source: "corp", Anchor: "u-sam", Profile: "Agents", PinnedProfile: true, Units: []string{"Floor 1"}}
	if err := e.st.Tx(ctx, func(tx store.Tx) error { return tx.CreateUser(ctx, &sam) }); err != nil {
		t.Fatal(err)
	}
	var ex admin.Explanation
	e.do("GET", "/api/v1/users/sam/explain", e.token("root"), nil, 200, &ex)
	// Pinned: the rules would give Admins, and the cause says so.
	if ex.Profile != "Agents" || !strings.Contains(ex.ProfileCause, `rules: "Admins", rule 1 (group Supervisors)`) || ex.StoredProfile != "Agents" || !ex.PinnedProfile {
		t.Fatalf("profile: %+v", ex)
	}
	if strings.Join(ex.Groups, ",") != "Agents,Supervisors" || len(ex.Units) != 3 || len(ex.Matched) != 2 || len(ex.Warnings) != 1 {
		t.Fatalf("groups, units, rules: %+v", ex)
	}
	// A local user has no mapping; someone who may not read users is refused.
	e.do("GET", "/api/v1/users/alice/explain", e.token("root"), nil, 409, nil)
	e.do("GET", "/api/v1/users/sam/explain", e.token("nobody"), nil, 403, nil)
}
