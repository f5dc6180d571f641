package oidc

import "testing"

// TestIdentityTrust pins which claims an Identity may trust: an e-mail
// address only with the IdP's word that it verified it, a UPN only from
// the upn claim (never preferred_username), and the stable link subject.
func TestIdentityTrust(t *testing.T) {
	azure, _, _ := presetClaims(PresetAzureAD)
	okta, _, _ := presetClaims(PresetOkta)
	cases := []struct {
		name         string
		claims       map[string]any
		c            Claims
		wantUPN      string
		wantVerified bool
		wantLinkedAs string
	}{
		{"okta verified", map[string]any{"email": "a@x.test", "email_verified": true}, okta, "", true, "sub-1"},
		{"okta verified as string", map[string]any{"email": "a@x.test", "email_verified": "true"}, okta, "", true, "sub-1"},
		{"okta unverified", map[string]any{"email": "a@x.test", "email_verified": false}, okta, "", false, "sub-1"},
		{"okta silent", map[string]any{"email": "a@x.test"}, okta, "", false, "sub-1"},
		{"verified but no address", map[string]any{"email_verified": true}, okta, "", false, "sub-1"},
		{"entra upn", map[string]any{"upn": "a@corp.test", "oid": "o-1", "tid": "t-1"}, azure, "a@corp.test", false, "t-1/o-1"},
		{"entra guest: preferred_username is not a UPN", map[string]any{"preferred_username": "victim@corp.test", "oid": "o-2"}, azure, "", false, "o-2"},
		{"entra email with xms_edov", map[string]any{"email": "a@corp.test", "xms_edov": true, "oid": "o-3", "tid": "t-1"}, azure, "", true, "t-1/o-3"},
		{"entra email without xms_edov", map[string]any{"email": "a@corp.test", "oid": "o-3", "tid": "t-1"}, azure, "", false, "t-1/o-3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := identity(tc.claims, "https://idp.test", "sub-1", tc.c)
			if id.UPN != tc.wantUPN || id.EmailVerified != tc.wantVerified || id.LinkSubject != tc.wantLinkedAs {
				t.Errorf("UPN %q verified %v link %q; want %q %v %q", id.UPN, id.EmailVerified, id.LinkSubject, tc.wantUPN, tc.wantVerified, tc.wantLinkedAs)
			}
		})
	}
}
