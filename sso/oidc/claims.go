package oidc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"

	"github.com/dirbridge/dirbridge/sso"
)

// Presets name the claim layouts of the providers dirbridge knows.
const (
	PresetAzureAD = "azuread"
	PresetOkta    = "okta"
	PresetGeneric = "generic"
)

// Claims names the ID token (or userinfo) claims an Identity is filled
// from; an empty field means "not sent".
type Claims struct {
	Username    string
	UPN         string
	Email       string
	ImmutableID string
	DisplayName string
	FirstName   string
	LastName    string
	Groups      string
	// EmailVerified is a boolean claim saying the IdP verified Email; an
	// e-mail without it is never used to find the user.
	EmailVerified string
	// ObjectID and TenantID are Entra's oid and tid: with them the IdP
	// link is tid/oid (stable across applications) instead of sub.
	ObjectID string
	TenantID string
}

// ClaimsFromMap builds claim overrides from configuration's claim keys
// (username, upn, email, immutable_id, display_name, first_name,
// last_name, groups, email_verified, and object_id, tenant_id) to claim
// names.
func ClaimsFromMap(m map[string]string) (Claims, error) {
	var c Claims
	var unknown []string
	for k, v := range m {
		switch k {
		case "username":
			c.Username = v
		case "upn":
			c.UPN = v
		case "email":
			c.Email = v
		case "immutable_id":
			c.ImmutableID = v
		case "display_name":
			c.DisplayName = v
		case "first_name":
			c.FirstName = v
		case "last_name":
			c.LastName = v
		case "groups":
			c.Groups = v
		case "email_verified":
			c.EmailVerified = v
		case "object_id":
			c.ObjectID = v
		case "tenant_id":
			c.TenantID = v
		default:
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return c, fmt.Errorf("oidc: unknown claim keys %q", unknown)
	}
	return c, nil
}

func presetClaims(preset string) (Claims, []string, error) {
	switch preset {
	case PresetAzureAD:
		// Entra v2 tokens: upn is an optional claim the app registration
		// must add; preferred_username is mutable and, for a guest, the
		// home tenant's name (Microsoft: not for authorization), so it is
		// never taken for the UPN. Entra sends no email_verified; its
		// optional xms_edov says the e-mail's domain owner verified it.
		// Groups only when the app asks for them (possibly as an overage).
		return Claims{
			Username:      "preferred_username",
			UPN:           "upn",
			Email:         "email",
			EmailVerified: "xms_edov",
			DisplayName:   "name",
			FirstName:     "given_name",
			LastName:      "family_name",
			Groups:        "groups",
			ObjectID:      "oid",
			TenantID:      "tid",
		}, nil, nil
	case PresetOkta:
		// Okta's custom authorization server sends groups when the app
		// defines a groups claim and the scope is requested.
		return Claims{
			Username:      "preferred_username",
			Email:         "email",
			EmailVerified: "email_verified",
			DisplayName:   "name",
			FirstName:     "given_name",
			LastName:      "family_name",
			Groups:        "groups",
		}, []string{"groups"}, nil
	case PresetGeneric, "":
		return Claims{
			Username:      "preferred_username",
			Email:         "email",
			EmailVerified: "email_verified",
			DisplayName:   "name",
			FirstName:     "given_name",
			LastName:      "family_name",
			Groups:        "groups",
		}, nil, nil
	}
	return Claims{}, nil, fmt.Errorf("unknown preset %q (want %s, %s or %s)", preset, PresetAzureAD, PresetOkta, PresetGeneric)
}

func (c Claims) merge(o Claims) Claims {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&c.Username, o.Username)
	set(&c.UPN, o.UPN)
	set(&c.Email, o.Email)
	set(&c.ImmutableID, o.ImmutableID)
	set(&c.DisplayName, o.DisplayName)
	set(&c.FirstName, o.FirstName)
	set(&c.LastName, o.LastName)
	set(&c.Groups, o.Groups)
	set(&c.EmailVerified, o.EmailVerified)
	set(&c.ObjectID, o.ObjectID)
	set(&c.TenantID, o.TenantID)
	return c
}

func str(claims map[string]any, name string) string {
	if name == "" {
		return ""
	}
	s, _ := claims[name].(string)
	return strings.TrimSpace(s)
}

// identity fills an Identity from verified claims.
func identity(claims map[string]any, issuer, subject string, c Claims) sso.Identity {
	id := sso.Identity{
		Method:      sso.MethodOIDC,
		Issuer:      issuer,
		Subject:     subject,
		Username:    str(claims, c.Username),
		UPN:         str(claims, c.UPN),
		Email:       str(claims, c.Email),
		ImmutableID: str(claims, c.ImmutableID),
		DisplayName: str(claims, c.DisplayName),
		FirstName:   str(claims, c.FirstName),
		LastName:    str(claims, c.LastName),
		Claims:      map[string]any{},
	}
	id.EmailVerified = id.Email != "" && truthy(claims[c.EmailVerified])
	id.LinkSubject = subject
	if oid := str(claims, c.ObjectID); oid != "" {
		// Entra: the object ID within its tenant is the person, the same
		// for every application (sub is per application).
		id.LinkSubject = oid
		if tid := str(claims, c.TenantID); tid != "" {
			id.LinkSubject = tid + "/" + oid
		}
	}
	switch g := claims[c.Groups].(type) {
	case []any:
		for _, v := range g {
			if s, ok := v.(string); ok && strings.TrimSpace(s) != "" {
				id.Groups = append(id.Groups, strings.TrimSpace(s))
			}
		}
	case string:
		// Some providers send a single group as a string.
		if strings.TrimSpace(g) != "" {
			id.Groups = []string{strings.TrimSpace(g)}
		}
	}
	id.GroupsOverage = overage(claims, c.Groups)
	for k, v := range claims {
		id.Claims[k] = v
	}
	return id
}

// truthy reads a boolean claim: JSON true, or the string "true" that some
// providers send.
func truthy(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		return strings.EqualFold(strings.TrimSpace(b), "true")
	}
	return false
}

// overage reports Entra's groups overage: the token left the groups out
// because there were too many, naming a distributed claim source instead
// (_claim_names/_claim_sources) or, for implicit-flow tokens, hasgroups.
// The groups are then unknown — never "member of no groups".
func overage(claims map[string]any, groupsClaim string) bool {
	if groupsClaim == "" {
		return false
	}
	if hg, ok := claims["hasgroups"].(bool); ok && hg {
		return true
	}
	names, ok := claims["_claim_names"].(map[string]any)
	if !ok {
		return false
	}
	_, ok = names[groupsClaim]
	return ok
}

// graphGroups reads the signed-in user's group IDs from Microsoft Graph at
// the configured base URL. The endpoint named in the token's
// _claim_sources (graph.windows.net, retired) is never followed.
func (rp *RelyingParty) graphGroups(ctx context.Context, accessToken string) ([]string, error) {
	if accessToken == "" {
		return nil, errors.New("no access token for Graph")
	}
	u := strings.TrimSuffix(rp.opts.GraphBaseURL, "/") + "/v1.0/me/getMemberObjects"
	body, _ := json.Marshal(map[string]bool{"securityEnabledOnly": false})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("graph request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := rp.graphClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("graph: %s", resp.Status)
	}
	var out struct {
		Value []string `json:"value"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&out); err != nil {
		return nil, fmt.Errorf("graph: decode: %w", err)
	}
	return out.Value, nil
}
