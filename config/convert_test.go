package config

import (
	"slices"
	"testing"

	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/store"
)

func TestMappingConfig(t *testing.T) {
	c := mustParse(t, minimal+`    default_profile: Agent
    user_template: staff
    mapping:
      rules: [{group: Local-Admins, profile: Admin}]
      templates: {email: '{{.mail}}'}
  - name: hr
    kind: ldap
    urls: [ldap://hr.example.com]
    base_dn: dc=hr,dc=example,dc=com
    groups: [staff]
profiles: [{name: Agent}, {name: Admin}]
mapping:
  fields: [team]
  templates: {username: '{{lower .sAMAccountName}}', email: '{{.userPrincipalName}}', team: '{{.department}}'}
  rules:
    - {group: CC-Agents, profile: Agent, units: [A]}
    - {group: HR-Only, directory: hr, units: [HR]}
    - {group: Roots, directory: corp, flags: {superuser: true}}
  user_templates: [{name: staff, state: inactive, units: [S], email_domain: corp.example.com}]
`)
	mc, err := c.MappingConfig("corp")
	if err != nil {
		t.Fatal(err)
	}
	var groups []string
	for _, r := range mc.Rules {
		groups = append(groups, r.Group)
	}
	if !slices.Equal(groups, []string{"Local-Admins", "CC-Agents", "Roots"}) {
		t.Errorf("rules = %v (directory's first, then global ones for corp)", groups)
	}
	if mc.Rules[0].Directory != "corp" || !mc.Rules[2].Flags["superuser"] {
		t.Errorf("rules = %+v", mc.Rules)
	}
	if mc.Templates.Username != "{{lower .sAMAccountName}}" || mc.Templates.Email != "{{.mail}}" || mc.Templates.Fields["team"] != "{{.department}}" {
		t.Errorf("templates = %+v", mc.Templates)
	}
	if mc.DefaultProfile != "Agent" || mc.UserTemplate == nil || mc.UserTemplate.State != store.StateInactive || mc.UserTemplate.EmailDomain != "corp.example.com" {
		t.Errorf("mapping = %+v / %+v", mc, mc.UserTemplate)
	}
	hr, err := c.MappingConfig("hr")
	if err != nil {
		t.Fatal(err)
	}
	if len(hr.Rules) != 2 || hr.Rules[1].Group != "HR-Only" || hr.UserTemplate != nil || hr.Templates.Email != "{{.userPrincipalName}}" {
		t.Errorf("hr mapping = %+v", hr)
	}
	if _, err := c.MappingConfig("nope"); err == nil {
		t.Error("unknown directory accepted")
	}
}

func TestCatalogueAndProfiles(t *testing.T) {
	c := mustParse(t, "privileges: [{name: view_reports, description: Reports}]\nprofiles: [{name: P, privileges: [view_reports, bypass_sso]}]\n")
	cat, err := c.Catalogue()
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := cat.Lookup("view_reports"); !ok || p.Group != "Application" {
		t.Errorf("view_reports = %+v %v", p, ok)
	}
	ps := c.StoreProfiles()
	if len(ps) != 1 || !ps[0].FromConfig || !slices.Equal(ps[0].Privileges, []string{privilege.BypassSSO, "view_reports"}) {
		t.Errorf("StoreProfiles = %+v", ps)
	}
	if _, ok := c.Profile("P"); !ok {
		t.Error("Profile(P)")
	}
	if _, ok := c.Directory("x"); ok {
		t.Error("Directory(x)")
	}
}

func TestTrustedProxyPrefixes(t *testing.T) {
	s := Server{TrustedProxies: []string{"10.0.0.1", "10.1.2.3/8", "::1", "2001:db8::/32", "bogus"}}
	var got []string
	for _, p := range s.TrustedProxyPrefixes() {
		got = append(got, p.String())
	}
	want := []string{"10.0.0.1/32", "10.0.0.0/8", "::1/128", "2001:db8::/32"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}
