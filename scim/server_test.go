package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/internal/harness"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/postgres"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

// env is a SCIM server over a fresh SQLite store.
type env struct {
	t     *testing.T
	st    store.Store
	srv   *httptest.Server
	token string
	src   Source
	scim  *Server
}

var testRules = []mapping.Rule{
	{Group: "CC-Agents", Profile: "Agent", Units: []string{"Floor"}},
	{Group: "CC-Supervisors", Profile: "Supervisor"},
}

func TestMain(m *testing.M) {
	code := m.Run()
	harness.StopPostgres()
	os.Exit(code)
}

// newEnv serves a source over SQLite in a temporary directory.
func newEnv(t *testing.T, mod ...func(*Source)) *env {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return newEnvOn(t, st, mod...)
}

// newEnvPostgres serves a source over a fresh PostgreSQL database.
func newEnvPostgres(t *testing.T, mod ...func(*Source)) *env {
	t.Helper()
	st, err := postgres.Open(context.Background(), harness.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return newEnvOn(t, st, mod...)
}

func newEnvOn(t *testing.T, st store.Store, mod ...func(*Source)) *env {
	t.Helper()
	ctx := context.Background()
	src := Source{Name: "entra", Preset: "azuread", DefaultProfile: "Guest", MaxDeactivationsPerHour: 50,
		MaxRequestBytes: 64 << 10, MaxResults: 100, LinkDirectoryUsers: true}
	for _, m := range mod {
		m(&src)
	}
	s, err := New(Options{Store: st, Sources: []Source{src}, Rules: testRules, PublicURL: "https://sso.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	token, err := IssueToken(ctx, st, src.Name, "test", false, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &env{t: t, st: st, srv: srv, token: token, src: src, scim: s}
}

// do sends one request to the source's base URL and decodes the answer.
func (e *env) do(method, path string, body any) (int, object) {
	e.t.Helper()
	return e.doRaw(method, path, body, "Bearer "+e.token)
}

func (e *env) doRaw(method, path string, body any, auth string) (int, object) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, e.srv.URL+Prefix+e.src.Name+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/scim+json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(raw) == 0 {
		return resp.StatusCode, nil
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/scim+json" {
		e.t.Fatalf("%s %s: Content-Type %q", method, path, ct)
	}
	var out object
	if err := json.Unmarshal(raw, &out); err != nil {
		e.t.Fatalf("%s %s: %v: %s", method, path, err, raw)
	}
	return resp.StatusCode, out
}

// user returns the local user a SCIM id is mapped to.
func (e *env) user(id string) store.User {
	e.t.Helper()
	ctx := context.Background()
	en, err := e.st.GetDirectoryEntry(ctx, SourcePrefix+e.src.Name, id)
	if err != nil {
		e.t.Fatalf("entry %s: %v", id, err)
	}
	u, err := e.st.GetUser(ctx, en.UserID)
	if err != nil {
		e.t.Fatalf("user of %s: %v", id, err)
	}
	return u
}

func (e *env) audit(action string) []store.AuditEvent {
	e.t.Helper()
	evs, err := e.st.ListAudit(context.Background(), store.AuditFilter{Action: action})
	if err != nil {
		e.t.Fatal(err)
	}
	return evs
}

// fixture is a provisioning cycle recorded as the vendor documents it.
type fixture struct {
	Vendor     string   `json:"vendor"`
	ShapesFrom []string `json:"shapes_from"`
	Steps      []struct {
		Step   string            `json:"step"`
		Method string            `json:"method"`
		Path   string            `json:"path"`
		Body   json.RawMessage   `json:"body"`
		Status int               `json:"status"`
		Expect map[string]any    `json:"expect"`
		Save   map[string]string `json:"save"`
		Hook   string            `json:"hook"`
	} `json:"steps"`
}

// replay sends every step of a fixture, checks status and expectations,
// captures ids and calls the step's hook (store-side checks).
func replay(t *testing.T, e *env, file string, hooks map[string]func(vars map[string]string)) {
	raw, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var fx fixture
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	if fx.Vendor == "" || len(fx.ShapesFrom) == 0 {
		t.Fatalf("%s does not say which vendor document its shapes come from", file)
	}
	vars := map[string]string{}
	subst := func(s string) string {
		for k, v := range vars {
			s = strings.ReplaceAll(s, "${"+k+"}", v)
		}
		return s
	}
	for i, st := range fx.Steps {
		var body any
		if len(st.Body) > 0 {
			body = subst(string(st.Body))
		}
		status, out := e.do(st.Method, subst(st.Path), body)
		if status != st.Status {
			t.Fatalf("step %d (%s): status %d, want %d: %v", i+1, st.Step, status, st.Status, out)
		}
		for path, want := range st.Expect {
			got, ok := lookup(out, path)
			if s, isStr := want.(string); isStr {
				want = subst(s)
			}
			if f, isNum := want.(float64); isNum {
				want = f
			}
			if want == nil {
				if ok {
					t.Errorf("step %d (%s): %s = %v, want absent", i+1, st.Step, path, got)
				}
				continue
			}
			if !ok || !reflect.DeepEqual(got, want) {
				t.Errorf("step %d (%s): %s = %#v, want %#v", i+1, st.Step, path, got, want)
			}
		}
		for name, path := range st.Save {
			v, ok := lookup(out, path)
			s, _ := v.(string)
			if !ok || s == "" {
				t.Fatalf("step %d (%s): nothing at %s to save as %s", i+1, st.Step, path, name)
			}
			vars[name] = s
		}
		if st.Hook != "" {
			h, ok := hooks[st.Hook]
			if !ok {
				t.Fatalf("step %d: no hook %q", i+1, st.Hook)
			}
			h(vars)
		}
	}
}

func TestEntraCycle(t *testing.T) { entraCycle(t, newEnv(t)) }

func TestOktaCycle(t *testing.T) {
	oktaCycle(t, newEnv(t, func(s *Source) { s.Name, s.Preset = "okta", "okta" }))
}

// The same cycles on PostgreSQL.
func TestCyclesPostgres(t *testing.T) {
	t.Run("entra", func(t *testing.T) { entraCycle(t, newEnvPostgres(t)) })
	t.Run("okta", func(t *testing.T) {
		oktaCycle(t, newEnvPostgres(t, func(s *Source) { s.Name, s.Preset = "okta", "okta" }))
	})
}

func entraCycle(t *testing.T, e *env) {
	ctx := context.Background()
	replay(t, e, "entra_cycle.json", map[string]func(map[string]string){
		"fields": func(v map[string]string) {
			u := e.user(v["user"])
			if u.Source != "scim:entra" || u.Username != "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com" ||
				u.DisplayName != "Pvlo" || u.FirstName != "Gtfd" || u.LastName != "Pkqf" || u.Email != "updatedEmail@microsoft.com" {
				t.Errorf("user fields: %+v", u)
			}
			want := map[string]string{FieldEmployeeNumber: "Eqpj", FieldDepartment: "Tour Operations", FieldManager: v["manager"]}
			if !reflect.DeepEqual(u.Fields, want) {
				t.Errorf("enterprise fields = %v, want %v", u.Fields, want)
			}
			if u.Profile != "Guest" {
				t.Errorf("profile without groups = %q, want the default Guest", u.Profile)
			}
		},
		"in_group": func(v map[string]string) {
			u := e.user(v["user"])
			if u.Profile != "Agent" || !reflect.DeepEqual(u.Units, []string{"Floor"}) {
				t.Errorf("in CC-Agents: profile %q units %v", u.Profile, u.Units)
			}
			// A session the deactivation must end.
			if err := e.st.Tx(ctx, func(tx store.Tx) error {
				return tx.CreateSession(ctx, store.Session{ID: "sess-" + u.ID, UserID: u.ID, Method: "saml",
					CreatedAt: time.Now(), LastSeenAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
			}); err != nil {
				t.Fatal(err)
			}
		},
		"renamed_group": func(v map[string]string) {
			if u := e.user(v["user"]); u.Profile != "Supervisor" || len(u.Units) != 0 {
				t.Errorf("after the rename to CC-Supervisors: profile %q units %v", u.Profile, u.Units)
			}
		},
		"out_of_group": func(v map[string]string) {
			if u := e.user(v["user"]); u.Profile != "Guest" || len(u.Units) != 0 {
				t.Errorf("out of the group: profile %q units %v", u.Profile, u.Units)
			}
		},
		"disabled": func(v map[string]string) {
			u := e.user(v["user"])
			if u.State != store.StateInactive || !strings.Contains(u.DeactivatedReason, "entra") {
				t.Errorf("disabled user: state %s reason %q", u.State, u.DeactivatedReason)
			}
			if ss, err := e.st.ListSessions(ctx, u.ID); err != nil || len(ss) != 0 {
				t.Errorf("sessions after disable: %v %v", ss, err)
			}
		},
		"deleted": func(v map[string]string) {
			u := e.user(v["user"]) // kept, never deleted
			if u.State != store.StateInactive {
				t.Errorf("deleted user's state %s", u.State)
			}
		},
	})
	for action, want := range map[string]int{ActionUserCreate: 2, ActionUserDeactivate: 1, ActionUserDelete: 1,
		ActionGroupCreate: 1, ActionGroupDelete: 1} {
		evs := e.audit(action)
		if len(evs) != want {
			t.Errorf("%s: %d audit events, want %d", action, len(evs), want)
		}
		for _, ev := range evs {
			if ev.Actor != "scim:entra" || ev.Details["source"] != "entra" {
				t.Errorf("%s audited as %q / %v", action, ev.Actor, ev.Details)
			}
		}
	}
	if n := len(e.audit(ActionGroupUpdate)); n != 5 {
		t.Errorf("group updates audited: %d, want 5", n)
	}
}

func oktaCycle(t *testing.T, e *env) {
	replay(t, e, "okta_cycle.json", map[string]func(map[string]string){
		"put": func(v map[string]string) {
			u := e.user(v["user"])
			if u.FirstName != "Another" || u.DisplayName != "Another User" || u.Language != "en-US" || u.Source != "scim:okta" {
				t.Errorf("after PUT: %+v", u)
			}
			en, _ := e.st.GetDirectoryEntry(context.Background(), "scim:okta", v["user"])
			if strings.Contains(strings.Join(en.Attributes[attrResource], ""), "1mz050nq") {
				t.Error("the password Okta sent was stored")
			}
		},
		"disabled": func(v map[string]string) {
			if u := e.user(v["user"]); u.State != store.StateInactive {
				t.Errorf("deactivated: state %s", u.State)
			}
		},
		"enabled": func(v map[string]string) {
			if u := e.user(v["user"]); u.State != store.StateActive || u.DeactivatedReason != "" {
				t.Errorf("reactivated: state %s reason %q", u.State, u.DeactivatedReason)
			}
		},
		"in_group": func(v map[string]string) {
			if u := e.user(v["user"]); u.Profile != "Agent" {
				t.Errorf("in CC-Agents: profile %q", u.Profile)
			}
		},
		"out_of_group": func(v map[string]string) {
			if u := e.user(v["user"]); u.Profile != "Guest" {
				t.Errorf("out of the group: profile %q", u.Profile)
			}
		},
	})
	if n := len(e.audit(ActionUserReactivate)); n != 1 {
		t.Errorf("reactivations audited: %d", n)
	}
}

func httptestServer(t *testing.T, h http.Handler) *httptest.Server {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
