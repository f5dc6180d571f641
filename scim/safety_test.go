package scim

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/dirbridge/dirbridge/internal/adguid"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
)

func newUserBody(name string) map[string]any {
	return map[string]any{"schemas": []string{SchemaUser}, "userName": name, "active": true,
		"externalId": "ext-" + name, "emails": []map[string]any{{"value": name + "@example.com", "type": "work", "primary": true}}}
}

func (e *env) create(name string) string {
	e.t.Helper()
	status, out := e.do("POST", "/Users", newUserBody(name))
	if status != http.StatusCreated {
		e.t.Fatalf("create %s: %d %v", name, status, out)
	}
	return str(out, "id")
}

// isSCIMError checks the RFC 7644 section 3.12 error body.
func isSCIMError(t *testing.T, out object, status int, scimType string) {
	t.Helper()
	if !listed(out, SchemaError) || str(out, "status") != fmt.Sprint(status) || str(out, "scimType") != scimType || str(out, "detail") == "" {
		t.Fatalf("error body %v, want status %d scimType %q", out, status, scimType)
	}
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	for _, auth := range []string{"", "Bearer", "Basic " + e.token, "Bearer wrong", "Bearer " + e.token + "x"} {
		status, out := e.doRaw("GET", "/Users", nil, auth)
		if status != http.StatusUnauthorized {
			t.Fatalf("Authorization %q: %d", auth, status)
		}
		isSCIMError(t, out, 401, "")
	}
	if status, _ := e.doRaw("GET", "/Users", nil, "bearer "+e.token); status != http.StatusOK {
		t.Fatalf("lower-case scheme: %d", status)
	}
	// Rotation: the old token stops working, the new one works.
	ctx := context.Background()
	if _, err := IssueToken(ctx, e.st, "entra", "test", false, time.Now()); err == nil {
		t.Fatal("create over an existing token succeeded")
	}
	old := e.token
	tok, err := IssueToken(ctx, e.st, "entra", "test", true, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := e.doRaw("GET", "/Users", nil, "Bearer "+old); status != http.StatusUnauthorized {
		t.Fatalf("old token after rotation: %d", status)
	}
	if status, _ := e.doRaw("GET", "/Users", nil, "Bearer "+tok); status != http.StatusOK {
		t.Fatalf("new token: %d", status)
	}
	if _, err := IssueToken(ctx, e.st, "okta", "test", true, time.Now()); err == nil {
		t.Fatal("rotate of a source without a token succeeded")
	}
	// Only the hash is stored.
	pt, err := e.st.GetProvisioningToken(ctx, "entra")
	if err != nil || pt.Hash != HashToken(tok) || strings.Contains(pt.Hash, tok) {
		t.Fatalf("stored token %+v, %v", pt, err)
	}
	// An unknown source.
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+Prefix+"nope/Users", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown source: %d", resp.StatusCode)
	}
}

func TestDiscovery(t *testing.T) {
	e := newEnv(t)
	status, out := e.do("GET", "/ServiceProviderConfig", nil)
	if status != 200 || sub(out, "patch")["supported"] != true || sub(out, "filter")["maxResults"] != float64(100) {
		t.Fatalf("ServiceProviderConfig: %d %v", status, out)
	}
	status, out = e.do("GET", "/ResourceTypes", nil)
	if status != 200 || out["totalResults"] != float64(2) {
		t.Fatalf("ResourceTypes: %d %v", status, out)
	}
	if status, out = e.do("GET", "/ResourceTypes/User", nil); status != 200 || str(out, "schema") != SchemaUser {
		t.Fatalf("ResourceTypes/User: %d %v", status, out)
	}
	status, out = e.do("GET", "/Schemas", nil)
	if status != 200 || out["totalResults"] != float64(3) {
		t.Fatalf("Schemas: %d %v", status, out)
	}
	if status, _ = e.do("GET", "/Schemas/"+SchemaEnterprise, nil); status != 200 {
		t.Fatalf("enterprise schema: %d", status)
	}
	status, out = e.do("GET", "/Schemas/urn:nope", nil)
	if status != 404 {
		t.Fatalf("unknown schema: %d", status)
	}
	isSCIMError(t, out, 404, "")
	status, out = e.do("DELETE", "/ServiceProviderConfig", nil)
	if status != http.StatusMethodNotAllowed {
		t.Fatalf("DELETE ServiceProviderConfig: %d", status)
	}
	isSCIMError(t, out, 405, "")
	if status, _ = e.do("GET", "/Nothing", nil); status != 404 {
		t.Fatalf("unknown endpoint: %d", status)
	}
}

func TestListPaginationAndFilters(t *testing.T) {
	e := newEnv(t, func(s *Source) { s.MaxResults = 3 })
	for i := range 5 {
		e.create(fmt.Sprintf("user%d", i))
	}
	for _, tc := range []struct {
		query       string
		total, page int
		first       string
	}{
		{"", 5, 3, "user0"}, // count capped at max_results
		{"?startIndex=4&count=10", 5, 2, "user3"},
		{"?startIndex=6", 5, 0, ""},
		{"?count=0", 5, 0, ""},
		{"?startIndex=0&count=1", 5, 1, "user0"}, // startIndex below 1 is 1
		{"?filter=" + q(`userName eq "USER2"`), 1, 1, "user2"},
		{"?filter=" + q(`externalId eq "ext-user3"`), 1, 1, "user3"},
		{"?filter=" + q(`userName sw "user" and not (userName eq "user0")`) + "&count=2", 4, 2, "user1"},
		{"?filter=" + q(`userName eq "user1" or userName eq "user4"`), 2, 2, "user1"},
		{"?filter=" + q(`emails[type eq "work" and value co "user4@"]`), 1, 1, "user4"},
		{"?filter=" + q(`emails.value ew "@example.com"`), 5, 3, "user0"},
		{"?filter=" + q(`name.givenName pr`), 0, 0, ""},
	} {
		status, out := e.do("GET", "/Users"+tc.query, nil)
		if status != 200 {
			t.Fatalf("%s: %d %v", tc.query, status, out)
		}
		res := list(out, "Resources")
		if out["totalResults"] != float64(tc.total) || len(res) != tc.page || out["itemsPerPage"] != float64(tc.page) {
			t.Errorf("%s: total %v, page %d, want %d / %d", tc.query, out["totalResults"], len(res), tc.total, tc.page)
			continue
		}
		if tc.first != "" && str(res[0].(map[string]any), "userName") != tc.first {
			t.Errorf("%s: first %v, want %s", tc.query, res[0], tc.first)
		}
	}
	// An id filter, and attributes projection.
	id := e.create("zed")
	status, out := e.do("GET", "/Users?attributes=userName&filter="+q(`id eq "`+id+`"`), nil)
	res := list(out, "Resources")
	if status != 200 || len(res) != 1 {
		t.Fatalf("id filter: %d %v", status, out)
	}
	if r := res[0].(map[string]any); str(r, "userName") != "zed" || r["emails"] != nil || str(r, "id") != id {
		t.Fatalf("attributes=userName: %v", r)
	}
	for _, bad := range []string{"?filter=" + q(`userName eq`), "?filter=" + q(`userName xx "a"`), "?startIndex=x", "?count=many"} {
		status, out := e.do("GET", "/Users"+bad, nil)
		want := typeInvalidFilter
		if !strings.Contains(bad, "filter") {
			want = typeInvalidValue
		}
		if status != 400 {
			t.Fatalf("%s: %d", bad, status)
		}
		isSCIMError(t, out, 400, want)
	}
}

func q(s string) string {
	return strings.NewReplacer(" ", "%20", `"`, "%22", "&", "%26", "[", "%5B", "]", "%5D").Replace(s)
}

// TestHostileInput: every bad request gets a SCIM error and changes nothing.
func TestHostileInput(t *testing.T) {
	e := newEnv(t)
	id := e.create("alice")
	ctx := context.Background()
	before, err := e.st.ListAudit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	deep := strings.Repeat(`{"a":`, 50) + "1" + strings.Repeat("}", 50)
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		scimType           string
	}{
		{"oversized", "POST", "/Users", `{"schemas":["` + SchemaUser + `"],"userName":"big","x":"` + strings.Repeat("a", 70<<10) + `"}`, 413, ""},
		{"not JSON", "POST", "/Users", `{"schemas":`, 400, typeInvalidSyntax},
		{"an array", "POST", "/Users", `[]`, 400, typeInvalidSyntax},
		{"deeply nested", "POST", "/Users", `{"schemas":["` + SchemaUser + `"],"userName":"deep","urn:ietf:params:scim:schemas:extension:x:2.0:User":` + deep + `}`, 400, typeInvalidValue},
		{"userName not a string", "POST", "/Users", `{"schemas":["` + SchemaUser + `"],"userName":42}`, 400, typeInvalidValue},
		{"emails not a list", "POST", "/Users", `{"schemas":["` + SchemaUser + `"],"userName":"x","emails":"x@y"}`, 400, typeInvalidValue},
		{"active not a boolean", "POST", "/Users", `{"schemas":["` + SchemaUser + `"],"userName":"x","active":"perhaps"}`, 400, typeInvalidValue},
		{"one attribute twice in two cases", "POST", "/Users", `{"schemas":["` + SchemaUser + `"],"userName":"x","USERNAME":"admin"}`, 400, typeInvalidSyntax},
		{"invented method", "PURGE", "/Users", nil, 405, ""},
		{"no userName", "POST", "/Users", `{"schemas":["` + SchemaUser + `"]}`, 400, typeInvalidValue},
		{"no schemas", "POST", "/Users", `{"userName":"x"}`, 400, typeInvalidValue},
		{"unknown schema", "POST", "/Users", `{"schemas":["` + SchemaUser + `","urn:example:evil"],"userName":"x"}`, 400, typeInvalidValue},
		{"group schema for a user", "POST", "/Users", `{"schemas":["` + SchemaGroup + `"],"userName":"x"}`, 400, typeInvalidValue},
		{"duplicate userName", "POST", "/Users", `{"schemas":["` + SchemaUser + `"],"userName":"ALICE"}`, 409, typeUniqueness},
		{"PUT with another id", "PUT", "/Users/" + id, `{"schemas":["` + SchemaUser + `"],"id":"other","userName":"alice"}`, 400, typeMutability},
		{"PATCH without PatchOp schema", "PATCH", "/Users/" + id, `{"Operations":[{"op":"replace","path":"active","value":false}]}`, 400, typeInvalidValue},
		{"PATCH of id", "PATCH", "/Users/" + id, `{"schemas":["` + SchemaPatchOp + `"],"Operations":[{"op":"replace","path":"id","value":"x"}]}`, 400, typeMutability},
		{"PATCH later op fails: none applies", "PATCH", "/Users/" + id, `{"schemas":["` + SchemaPatchOp + `"],"Operations":[{"op":"replace","path":"displayName","value":"X"},{"op":"replace","path":"userName","value":7}]}`, 400, typeInvalidValue},
		{"PATCH removing userName", "PATCH", "/Users/" + id, `{"schemas":["` + SchemaPatchOp + `"],"Operations":[{"op":"remove","path":"userName"}]}`, 400, typeInvalidValue},
		{"missing user", "GET", "/Users/nope", nil, 404, ""},
		{"missing user PATCH", "PATCH", "/Users/nope", `{"schemas":["` + SchemaPatchOp + `"],"Operations":[{"op":"replace","path":"active","value":false}]}`, 404, ""},
		{"group with an unknown member", "POST", "/Groups", `{"schemas":["` + SchemaGroup + `"],"displayName":"G","members":[{"value":"nope"}]}`, 400, typeInvalidValue},
		{"group without displayName", "POST", "/Groups", `{"schemas":["` + SchemaGroup + `"]}`, 400, typeInvalidValue},
		{"a user id as a group", "GET", "/Groups/" + id, nil, 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, out := e.do(tc.method, tc.path, tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, out)
			}
			isSCIMError(t, out, tc.status, tc.scimType)
		})
	}
	after, err := e.st.ListAudit(ctx, store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("refused requests changed the audit log: %d -> %d events", len(before), len(after))
	}
	u := e.user(id)
	if u.DisplayName != "alice" || u.State != store.StateActive || u.Username != "alice" {
		t.Fatalf("refused requests changed the user: %+v", u)
	}
	n, err := e.st.CountUsers(ctx, store.UserFilter{})
	if err != nil || n != 1 {
		t.Fatalf("users after refusals: %d, %v", n, err)
	}
}

// TestDeactivationLimit: a runaway IdP cannot deactivate more than the
// hourly allowance; the refusal is a 429, an audit alert and a metric,
// and the refused request changes nothing.
func TestDeactivationLimit(t *testing.T) {
	e := newEnv(t, func(s *Source) { s.MaxDeactivationsPerHour = 2 })
	ids := []string{e.create("u1"), e.create("u2"), e.create("u3"), e.create("u4")}
	off := `{"schemas":["` + SchemaPatchOp + `"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}`
	if status, out := e.do("PATCH", "/Users/"+ids[0], off); status != 200 {
		t.Fatalf("first deactivation: %d %v", status, out)
	}
	if status, _ := e.do("DELETE", "/Users/"+ids[1], nil); status != 204 {
		t.Fatalf("second deactivation (DELETE): %d", status)
	}
	status, out := e.do("PATCH", "/Users/"+ids[2], off)
	if status != http.StatusTooManyRequests {
		t.Fatalf("third deactivation: %d %v", status, out)
	}
	isSCIMError(t, out, 429, "")
	if status, _ := e.do("DELETE", "/Users/"+ids[3], nil); status != http.StatusTooManyRequests {
		t.Fatalf("fourth deactivation (DELETE): %d", status)
	}
	for _, id := range ids[2:] {
		if u := e.user(id); u.State != store.StateActive {
			t.Fatalf("a refused deactivation applied: %+v", u)
		}
		if status, _ := e.do("GET", "/Users/"+id, nil); status != 200 {
			t.Fatalf("a refused DELETE removed %s: %d", id, status)
		}
	}
	alerts := e.audit(ActionDeactivateLimit)
	if len(alerts) != 2 || alerts[0].Outcome != store.OutcomeDenied || !strings.Contains(alerts[0].Reason, "limit of 2") {
		t.Fatalf("alerts: %+v", alerts)
	}
	if n := testutil.ToFloat64(e.scim.metrics.deactRefused.WithLabelValues("entra")); n != 2 {
		t.Fatalf("refused-deactivation metric = %v, want 2", n)
	}
	// Updates that deactivate nobody still pass.
	upd := `{"schemas":["` + SchemaPatchOp + `"],"Operations":[{"op":"Replace","path":"displayName","value":"Still Here"}]}`
	if status, _ := e.do("PATCH", "/Users/"+ids[2], upd); status != 200 {
		t.Fatalf("update under the limit: %d", status)
	}
	// An hour later the allowance is back.
	e2 := e.withClock(time.Now().Add(61 * time.Minute))
	if status, out := e2.do("PATCH", "/Users/"+ids[2], off); status != 200 {
		t.Fatalf("deactivation an hour later: %d %v", status, out)
	}
}

// withClock serves the same store and source with another clock.
func (e *env) withClock(now time.Time) *env {
	e.t.Helper()
	s, err := New(Options{Store: e.st, Sources: []Source{e.src}, Rules: testRules, Now: func() time.Time { return now }})
	if err != nil {
		e.t.Fatal(err)
	}
	n := *e
	n.srv = httptestServer(e.t, s)
	return &n
}

// TestLinkDirectoryUser: a user whose onPremisesImmutableId is a synced
// directory user's objectGUID is linked, not duplicated, and SCIM updates
// leave the directory's fields alone.
func TestLinkDirectoryUser(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	anchor := "01234567-89ab-cdef-0123-456789abcdef"
	dirUser := store.User{Username: "jdoe", DisplayName: "John Doe (AD)", Email: "jdoe@corp.example.com", UPN: "jdoe@corp.example.com",
		State: store.StateActive, Source: "corp", Anchor: anchor, Profile: "Agent"}
	if err := e.st.Tx(ctx, func(tx store.Tx) error { return tx.CreateUser(ctx, &dirUser) }); err != nil {
		t.Fatal(err)
	}
	raw, _ := adguid.Bytes(anchor)
	immutable := base64GUID(anchor)
	if len(raw) != 16 || immutable == "" {
		t.Fatal("fixture GUID")
	}
	body := map[string]any{
		"schemas":  []string{SchemaUser, SchemaEnterprise, "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"},
		"userName": "jdoe@corp.example.com", "externalId": "oid-1", "active": true, "displayName": "John From Entra",
		"urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User": map[string]any{"onPremisesImmutableId": immutable},
	}
	status, out := e.do("POST", "/Users", body)
	if status != 201 {
		t.Fatalf("create: %d %v", status, out)
	}
	id := str(out, "id")
	if u := e.user(id); u.ID != dirUser.ID || u.Source != "corp" || u.DisplayName != "John Doe (AD)" {
		t.Fatalf("linked to %+v", u)
	}
	if n, _ := e.st.CountUsers(ctx, store.UserFilter{}); n != 1 {
		t.Fatalf("users after a linking create: %d", n)
	}
	if len(e.audit(ActionUserLink)) != 1 {
		t.Fatal("the link is not audited")
	}
	// Entra's probe finds the linked user by its userName (the UPN).
	status, out = e.do("GET", "/Users?filter="+q(`userName eq "JDOE@corp.example.com"`), nil)
	if res := list(out, "Resources"); status != 200 || len(res) != 1 || str(res[0].(map[string]any), "id") != id {
		t.Fatalf("probe of the linked user: %d %v", status, out)
	}
	// Updates and deactivation keep the directory's fields and state.
	patch := `{"schemas":["` + SchemaPatchOp + `"],"Operations":[{"op":"Replace","value":{"displayName":"Renamed In Entra","active":"False"}}]}`
	if status, out := e.do("PATCH", "/Users/"+id, patch); status != 200 || out["active"] != false {
		t.Fatalf("patch: %d %v", status, out)
	}
	u := e.user(id)
	if u.DisplayName != "John Doe (AD)" || u.State != store.StateActive || u.Profile != "Agent" {
		t.Fatalf("a SCIM update changed the directory user: %+v", u)
	}
	// A second SCIM user naming the same objectGUID is a conflict.
	body["userName"], body["externalId"] = "other@corp.example.com", "oid-2"
	status, out = e.do("POST", "/Users", body)
	if status != 409 {
		t.Fatalf("second link: %d %v", status, out)
	}
	isSCIMError(t, out, 409, typeUniqueness)
	// With linking off, the same user is created apart.
	e2 := newEnv(t, func(s *Source) { s.LinkDirectoryUsers = false })
	if err := e2.st.Tx(ctx, func(tx store.Tx) error { d := dirUser; d.ID = ""; return tx.CreateUser(ctx, &d) }); err != nil {
		t.Fatal(err)
	}
	body["userName"] = "jdoe-cloud@corp.example.com"
	if status, out := e2.do("POST", "/Users", body); status != 201 || e2.user(str(out, "id")).Source != "scim:entra" {
		t.Fatalf("create with linking off: %d %v", status, out)
	}
}

// TestRecreateAfterDelete: a user the IdP deleted and creates again gets
// its old local user back, reactivated, instead of a username conflict.
func TestRecreateAfterDelete(t *testing.T) {
	e := newEnv(t)
	id := e.create("carol")
	local := e.user(id)
	if status, _ := e.do("DELETE", "/Users/"+id, nil); status != 204 {
		t.Fatal("delete")
	}
	if status, _ := e.do("DELETE", "/Users/"+id, nil); status != 404 {
		t.Fatal("a second DELETE found the user")
	}
	status, out := e.do("POST", "/Users", newUserBody("carol"))
	if status != 201 {
		t.Fatalf("re-create: %d %v", status, out)
	}
	again := e.user(str(out, "id"))
	if again.ID != local.ID || again.State != store.StateActive {
		t.Fatalf("re-created as %+v, was %+v", again, local)
	}
}

// TestUsernameTakenElsewhere: a SCIM userName that a local user holds is a
// conflict, never a silent link.
func TestUsernameTakenElsewhere(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.st.Tx(ctx, func(tx store.Tx) error {
		return tx.CreateUser(ctx, &store.User{Username: "admin", Source: store.SourceLocal, State: store.StateActive, Superuser: true})
	}); err != nil {
		t.Fatal(err)
	}
	status, out := e.do("POST", "/Users", newUserBody("admin"))
	if status != 409 {
		t.Fatalf("create over a local user: %d %v", status, out)
	}
	isSCIMError(t, out, 409, typeUniqueness)
}

// TestSetRules: reloaded rules apply at a user's next group change.
func TestSetRules(t *testing.T) {
	e := newEnv(t)
	id := e.create("rita")
	status, out := e.do("POST", "/Groups", `{"schemas":["`+SchemaGroup+`"],"displayName":"Night Shift","members":[{"value":"`+id+`"}]}`)
	if status != 201 {
		t.Fatalf("group: %d %v", status, out)
	}
	gid := str(out, "id")
	if u := e.user(id); u.Profile != "Guest" {
		t.Fatalf("before the reload: %q", u.Profile)
	}
	e.scim.SetRules([]mapping.Rule{{Group: "Night Shift", Profile: "Night Agent", Units: []string{"Night"}}})
	patch := `{"schemas":["` + SchemaPatchOp + `"],"Operations":[{"op":"replace","path":"displayName","value":"Night Shift"}]}`
	if status, _ := e.do("PATCH", "/Groups/"+gid, patch); status != 204 {
		t.Fatal("patch")
	}
	// The name did not change, so only a member change re-maps: add one.
	other := e.create("sam")
	add := `{"schemas":["` + SchemaPatchOp + `"],"Operations":[{"op":"add","path":"members","value":[{"value":"` + other + `"}]}]}`
	if status, _ := e.do("PATCH", "/Groups/"+gid, add); status != 204 {
		t.Fatal("add")
	}
	if u := e.user(other); u.Profile != "Night Agent" || len(u.Units) != 1 {
		t.Fatalf("after the reload: %q %v", u.Profile, u.Units)
	}
}

// TestStatus: the console's view of a source, the last request and the
// last refusal.
func TestStatus(t *testing.T) {
	e := newEnv(t)
	if st := e.scim.Status(); len(st) != 1 || st[0].Name != "entra" || !st[0].LastRequestAt.IsZero() {
		t.Fatalf("before any request: %+v", st)
	}
	e.create("x")
	e.do("GET", "/Users/nope", nil)
	e.do("GET", "/ServiceProviderConfig", nil)
	st := e.scim.Status()[0]
	if st.Requests != 3 || st.Errors != 1 || st.LastStatus != 200 || st.LastPath != Prefix+"entra/ServiceProviderConfig" ||
		!strings.Contains(st.LastError, "nope") || st.LastErrorAt.IsZero() {
		t.Fatalf("status %+v", st)
	}
}

// base64GUID is the onPremisesImmutableId of an anchor, as Entra sends it.
func base64GUID(anchor string) string {
	b, ok := adguid.Bytes(anchor)
	if !ok {
		return ""
	}
	return base64.StdEncoding.EncodeToString(b)
}
