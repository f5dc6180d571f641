package saml

import (
	"fmt"
	"sort"
	"strings"

	crewsaml "github.com/crewjam/saml"

	"github.com/dirbridge/dirbridge/sso"
)

// Presets name the claim layouts of the IdPs dirbridge knows.
const (
	PresetAzureAD = "azuread"
	PresetOkta    = "okta"
	PresetGeneric = "generic"
)

// NameID formats an SP may request.
const (
	NameIDPersistent  = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	NameIDEmail       = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	NameIDUnspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
	NameIDTransient   = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
)

// Entra ID (Azure AD) SAML claim URIs.
const (
	AzureObjectID    = "http://schemas.microsoft.com/identity/claims/objectidentifier"
	AzureTenantID    = "http://schemas.microsoft.com/identity/claims/tenantid"
	AzureName        = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
	AzureEmail       = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
	AzureGivenName   = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"
	AzureSurname     = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"
	AzureDisplayName = "http://schemas.microsoft.com/identity/claims/displayname"
	AzureGroups      = "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"
	// AzureGroupsLink is Entra's overage claim: the user is in more groups
	// than fit in a token (150 for SAML) and the groups must be read from
	// Graph instead.
	AzureGroupsLink = "http://schemas.microsoft.com/claims/groups.link"
)

// Attributes names the assertion attributes an Identity is filled from.
// An empty field means "not sent". Attributes are matched by Name, then by
// FriendlyName.
type Attributes struct {
	// Subject is the stable per-user key; empty means the NameID. It is
	// the IdP link's subject, as is a persistent NameID.
	Subject string
	// Tenant, when present in the assertion, qualifies Subject (Entra's
	// tenant ID: an object ID is unique within its tenant).
	Tenant      string
	Username    string
	UPN         string
	Email       string
	ImmutableID string
	DisplayName string
	FirstName   string
	LastName    string
	Groups      string
	// GroupsOverage is an attribute whose presence means the groups were
	// left out (Entra's groups.link).
	GroupsOverage string
	// UsernameFromNameID and EmailFromNameID fill those fields from the
	// NameID when the attribute is absent (Okta sends the e-mail address as
	// NameID).
	UsernameFromNameID bool
	EmailFromNameID    bool
	// EmailVerified says the IdP asserts only e-mail addresses it has
	// verified (SAML has no claim for it; sso.saml.email_verified). Without
	// it the e-mail is never used to find the user.
	EmailVerified bool
}

// AttributesFromMap builds attribute overrides from configuration's claim
// keys (username, upn, email, immutable_id, display_name, first_name,
// last_name, groups, and subject, groups_overage) to attribute names.
func AttributesFromMap(m map[string]string) (Attributes, error) {
	var a Attributes
	var unknown []string
	for k, v := range m {
		switch k {
		case "subject":
			a.Subject = v
		case "username":
			a.Username = v
		case "upn":
			a.UPN = v
		case "email":
			a.Email = v
		case "immutable_id":
			a.ImmutableID = v
		case "display_name":
			a.DisplayName = v
		case "first_name":
			a.FirstName = v
		case "last_name":
			a.LastName = v
		case "groups":
			a.Groups = v
		case "groups_overage":
			a.GroupsOverage = v
		default:
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return a, fmt.Errorf("saml: unknown claim keys %q", unknown)
	}
	return a, nil
}

// presetAttributes returns the attribute layout and requested NameID
// format of a preset.
func presetAttributes(preset string) (Attributes, string, error) {
	switch preset {
	case PresetAzureAD:
		// Entra's NameID is persistent (pairwise) by default; the object
		// ID is the stable key and UPN the username.
		return Attributes{
			Subject:       AzureObjectID,
			Tenant:        AzureTenantID,
			Username:      AzureName,
			UPN:           AzureName,
			Email:         AzureEmail,
			DisplayName:   AzureDisplayName,
			FirstName:     AzureGivenName,
			LastName:      AzureSurname,
			Groups:        AzureGroups,
			GroupsOverage: AzureGroupsLink,
		}, NameIDPersistent, nil
	case PresetOkta:
		// Okta's usual SAML app sends the e-mail address as NameID plus
		// attribute statements the admin names; these are Okta's
		// documented examples.
		return Attributes{
			Username:           "login",
			Email:              "email",
			DisplayName:        "displayName",
			FirstName:          "firstName",
			LastName:           "lastName",
			Groups:             "groups",
			UsernameFromNameID: true,
			EmailFromNameID:    true,
		}, NameIDEmail, nil
	case PresetGeneric, "":
		return Attributes{
			Username:    "uid",
			Email:       "mail",
			DisplayName: "displayName",
			FirstName:   "givenName",
			LastName:    "sn",
			Groups:      "memberOf",
		}, NameIDUnspecified, nil
	}
	return Attributes{}, "", fmt.Errorf("unknown preset %q (want %s, %s or %s)", preset, PresetAzureAD, PresetOkta, PresetGeneric)
}

// merge overlays the non-empty fields of o on a.
func (a Attributes) merge(o Attributes) Attributes {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&a.Subject, o.Subject)
	set(&a.Tenant, o.Tenant)
	set(&a.Username, o.Username)
	set(&a.UPN, o.UPN)
	set(&a.Email, o.Email)
	set(&a.ImmutableID, o.ImmutableID)
	set(&a.DisplayName, o.DisplayName)
	set(&a.FirstName, o.FirstName)
	set(&a.LastName, o.LastName)
	set(&a.Groups, o.Groups)
	set(&a.GroupsOverage, o.GroupsOverage)
	a.UsernameFromNameID = a.UsernameFromNameID || o.UsernameFromNameID
	a.EmailFromNameID = a.EmailFromNameID || o.EmailFromNameID
	a.EmailVerified = a.EmailVerified || o.EmailVerified
	return a
}

// attrValues collects an assertion's attributes by Name and FriendlyName.
type attrValues struct {
	byName     map[string][]string
	byFriendly map[string][]string
}

func collect(a *crewsaml.Assertion) attrValues {
	v := attrValues{byName: map[string][]string{}, byFriendly: map[string][]string{}}
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			for _, val := range at.Values {
				v.byName[at.Name] = append(v.byName[at.Name], val.Value)
				if at.FriendlyName != "" {
					v.byFriendly[at.FriendlyName] = append(v.byFriendly[at.FriendlyName], val.Value)
				}
			}
			// An attribute with no values still counts as present (a
			// groups.link may carry its URL as the only value, or none).
			if len(at.Values) == 0 {
				if _, ok := v.byName[at.Name]; !ok {
					v.byName[at.Name] = []string{}
				}
			}
		}
	}
	return v
}

func (v attrValues) all(name string) ([]string, bool) {
	if name == "" {
		return nil, false
	}
	if vals, ok := v.byName[name]; ok {
		return vals, true
	}
	vals, ok := v.byFriendly[name]
	return vals, ok
}

func (v attrValues) first(name string) string {
	vals, _ := v.all(name)
	for _, s := range vals {
		if s = strings.TrimSpace(s); s != "" {
			return s
		}
	}
	return ""
}

// identity turns a verified assertion into the Identity the finish step
// matches on.
func identity(a *crewsaml.Assertion, issuer string, attrs Attributes) sso.Identity {
	v := collect(a)
	nameID := ""
	nameIDFormat := ""
	if a.Subject != nil && a.Subject.NameID != nil {
		nameID = strings.TrimSpace(a.Subject.NameID.Value)
		nameIDFormat = a.Subject.NameID.Format
	}
	id := sso.Identity{
		Method:      sso.MethodSAML,
		Issuer:      issuer,
		NameID:      nameID,
		Subject:     nameID,
		Username:    v.first(attrs.Username),
		UPN:         v.first(attrs.UPN),
		Email:       v.first(attrs.Email),
		ImmutableID: v.first(attrs.ImmutableID),
		DisplayName: v.first(attrs.DisplayName),
		FirstName:   v.first(attrs.FirstName),
		LastName:    v.first(attrs.LastName),
	}
	if nameIDFormat == NameIDPersistent {
		id.LinkSubject = nameID
	}
	if s := v.first(attrs.Subject); s != "" {
		id.Subject, id.LinkSubject = s, s
		if t := v.first(attrs.Tenant); t != "" {
			id.LinkSubject = t + "/" + s
		}
	}
	if id.Username == "" && attrs.UsernameFromNameID {
		id.Username = nameID
	}
	if id.Email == "" && attrs.EmailFromNameID && strings.Contains(nameID, "@") {
		id.Email = nameID
	}
	id.EmailVerified = attrs.EmailVerified && id.Email != ""
	if groups, ok := v.all(attrs.Groups); ok {
		for _, g := range groups {
			if g = strings.TrimSpace(g); g != "" {
				id.Groups = append(id.Groups, g)
			}
		}
	}
	if _, ok := v.all(attrs.GroupsOverage); ok {
		// The IdP withheld the groups: they are unknown, not empty. The
		// finish step must not read this as "member of no groups".
		id.GroupsOverage = true
	}
	claims := map[string]any{
		"nameid":        nameID,
		"nameid_format": nameIDFormat,
	}
	for name, vals := range v.byName {
		claims[name] = vals
	}
	id.Claims = claims
	return id
}
