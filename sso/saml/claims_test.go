package saml

import (
	"testing"

	crewsaml "github.com/crewjam/saml"
)

func assertion(nameID, format string, attrs map[string]string) *crewsaml.Assertion {
	a := &crewsaml.Assertion{Subject: &crewsaml.Subject{NameID: &crewsaml.NameID{Value: nameID, Format: format}}}
	st := crewsaml.AttributeStatement{}
	for k, v := range attrs {
		st.Attributes = append(st.Attributes, crewsaml.Attribute{Name: k, Values: []crewsaml.AttributeValue{{Value: v}}})
	}
	a.AttributeStatements = []crewsaml.AttributeStatement{st}
	return a
}

// TestIdentityTrust pins what a SAML identity may be matched by: the
// e-mail address only when the operator says the IdP verifies addresses,
// and the link subject only from something stable (a persistent NameID or
// the configured subject attribute, qualified by the tenant).
func TestIdentityTrust(t *testing.T) {
	okta, _, _ := presetAttributes(PresetOkta)
	oktaVerified := okta
	oktaVerified.EmailVerified = true
	azure, _, _ := presetAttributes(PresetAzureAD)
	cases := []struct {
		name         string
		a            *crewsaml.Assertion
		attrs        Attributes
		wantEmail    string
		wantVerified bool
		wantLink     string
	}{
		{"okta e-mail NameID, not vouched for", assertion("eve@example.test", NameIDEmail, nil), okta, "eve@example.test", false, ""},
		{"okta e-mail NameID, vouched for", assertion("eve@example.test", NameIDEmail, nil), oktaVerified, "eve@example.test", true, ""},
		{"persistent NameID is the link", assertion("00u-eve", NameIDPersistent, nil), okta, "", false, "00u-eve"},
		{"transient NameID is not", assertion("_tr4ns13nt", NameIDTransient, nil), okta, "", false, ""},
		{"entra object ID within its tenant", assertion("x", NameIDPersistent, map[string]string{AzureObjectID: "o-1", AzureTenantID: "t-1"}), azure, "", false, "t-1/o-1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := identity(tc.a, "https://idp.test", tc.attrs)
			if id.Email != tc.wantEmail || id.EmailVerified != tc.wantVerified || id.LinkSubject != tc.wantLink {
				t.Errorf("email %q verified %v link %q; want %q %v %q", id.Email, id.EmailVerified, id.LinkSubject, tc.wantEmail, tc.wantVerified, tc.wantLink)
			}
		})
	}
}
