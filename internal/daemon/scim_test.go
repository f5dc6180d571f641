package daemon

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/scim"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

// TestSCIMProvisioning runs the daemon with a provisioning source and
// provisions through /scim/v2/entra: the token from the store, a user and
// a group mapped through the rules, a disable that ends the user's
// session, the hourly limit, and the metrics.
func TestSCIMProvisioning(t *testing.T) {
	e := startServe(t, `server: {public_url: "PUBLIC_URL"}
policy:
  argon2: {time: 1, memory_kib: 64, threads: 1}
profiles:
  - {name: Agent}
  - {name: Supervisor}
mapping:
  rules:
    - {group: CC-Supervisors, profile: Supervisor}
provisioning:
  - {name: entra, preset: azuread, default_profile: Agent, max_deactivations_per_hour: 1}
`, nil)
	ctx := context.Background()
	dsn := strings.TrimSuffix(strings.TrimPrefix(e.storeLine, "store: {driver: sqlite, dsn: "), "}\n")
	st, err := sqlite.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	token, err := scim.IssueToken(ctx, st, "entra", "test", false, time.Now())
	if err != nil {
		t.Fatal(err)
	}

	call := func(method, path, body string, wantStatus int) map[string]any {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, e.base+"/scim/v2/entra"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/scim+json")
		res, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != wantStatus {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, res.StatusCode, wantStatus, b)
		}
		var out map[string]any
		if len(b) > 0 {
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
		}
		if res.StatusCode == http.StatusCreated && !strings.HasPrefix(res.Header.Get("Location"), e.base+"/scim/v2/entra/") {
			t.Errorf("Location %q does not start with the public URL", res.Header.Get("Location"))
		}
		return out
	}
	call("GET", "/Users?filter=userName+eq+%22nina%40example.com%22", "", 200)
	u := call("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"nina@example.com",
		"externalId":"oid-nina","active":true,"name":{"givenName":"Nina","familyName":"Park"}}`, 201)
	id, _ := u["id"].(string)
	g := call("POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"CC-Supervisors",
		"members":[{"value":"`+id+`"}]}`, 201)
	if g["id"] == "" {
		t.Fatal("no group id")
	}
	local, err := st.GetUserByUsername(ctx, "nina@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if local.Source != "scim:entra" || local.Profile != "Supervisor" || local.DisplayName != "Nina Park" {
		t.Fatalf("provisioned user %+v", local)
	}
	if err := st.Tx(ctx, func(tx store.Tx) error {
		return tx.CreateSession(ctx, store.Session{ID: "s-nina", UserID: local.ID, Method: "oidc",
			CreatedAt: time.Now(), LastSeenAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)})
	}); err != nil {
		t.Fatal(err)
	}
	call("PATCH", "/Users/"+id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations":[{"op":"Replace","path":"active","value":"False"}]}`, 200)
	if local, err = st.GetUser(ctx, local.ID); err != nil || local.State != store.StateInactive {
		t.Fatalf("after disable: %+v %v", local, err)
	}
	if ss, err := st.ListSessions(ctx, local.ID); err != nil || len(ss) != 0 {
		t.Fatalf("sessions after disable: %v %v", ss, err)
	}
	// The second deactivation within the hour is refused.
	other := call("POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"omar@example.com"}`, 201)
	refused := call("DELETE", "/Users/"+other["id"].(string), "", 429)
	if refused["schemas"].([]any)[0] != scim.SchemaError {
		t.Fatalf("429 body %v", refused)
	}
	evs, err := st.ListAudit(ctx, store.AuditFilter{Actor: "scim:entra"})
	if err != nil || len(evs) < 5 {
		t.Fatalf("audit of the source: %d events, %v", len(evs), err)
	}
	res, body := e.do(t, "GET", "/metrics", nil)
	if res.StatusCode != 200 || !strings.Contains(body, `dirbridge_scim_deactivations_refused_total{source="entra"} 1`) ||
		!strings.Contains(body, `dirbridge_scim_requests_total{code="201",method="POST",source="entra"} 3`) {
		t.Fatalf("metrics lack the SCIM counters")
	}
	// Without the token, nothing.
	req, _ := http.NewRequestWithContext(ctx, "GET", e.base+"/scim/v2/entra/Users", nil)
	res, err = e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("without a token: %d", res.StatusCode)
	}
}

// With server.internal_listen, SCIM stays on the public listener: the
// IdPs reach it from outside, as they reach the sign-in surface.
func TestSCIMOnThePublicListener(t *testing.T) {
	e := startServe(t, "server: {public_url: PUBLIC_URL, internal_listen: INTERNAL_LISTEN}\nprovisioning: [{name: entra}]\n", nil)
	res, err := e.client.Get(e.internal + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if !strings.Contains(string(b), `dirbridge_scim_deactivations_refused_total{source="entra"} 0`) {
		t.Error("the SCIM refusal counter does not exist at zero from the start")
	}
	for base, want := range map[string]int{e.base: http.StatusUnauthorized, e.internal: http.StatusNotFound} {
		res, err := e.client.Get(base + "/scim/v2/entra/Users")
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s/scim/v2/entra/Users: %d, want %d", base, res.StatusCode, want)
		}
	}
}
