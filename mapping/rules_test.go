package mapping

import (
	"reflect"
	"testing"

	"github.com/dirbridge/dirbridge/sync/directory"
)

var (
	gAgents = directory.Group{Anchor: "11111111-1111-1111-1111-111111111111", DN: "CN=CC-Agents,OU=Groups,DC=corp,DC=example,DC=com", Name: "CC-Agents"}
	gSup    = directory.Group{Anchor: "22222222-2222-2222-2222-222222222222", DN: "CN=CC-Supervisors,OU=Groups,DC=corp,DC=example,DC=com", Name: "CC-Supervisors"}
	gAdmins = directory.Group{Anchor: "33333333-3333-3333-3333-333333333333", DN: "CN=CC-Admins,OU=Groups,DC=corp,DC=example,DC=com", Name: "CC-Admins"}
	gFloor  = directory.Group{Anchor: "44444444-4444-4444-4444-444444444444", DN: "CN=Floor 2\\, East,OU=Groups,DC=corp,DC=example,DC=com", Name: "Floor 2, East"}
)

func TestResolve(t *testing.T) {
	rules := []Rule{
		{Group: "CC-Admins", Profile: "System Administrator", Units: []string{"HQ"}, Flags: map[string]bool{"superuser": true}},
		{Group: "cn=cc-supervisors, ou=groups, dc=corp, dc=example, dc=com", Profile: "Supervisor", Units: []string{"Floor 2"}},
		{Group: "{11111111-1111-1111-1111-111111111111}", Profile: "Agent", Units: []string{"floor 2", "Inbound"}},
		{Name: "east", Group: "CN=Floor 2\\2C East,OU=Groups,DC=corp,DC=example,DC=com", Units: []string{"East"}, Flags: map[string]bool{"superuser": false, "recording": true}},
		{Group: "CC-Agents", Directory: "other", Profile: "Other", Units: []string{"Other"}},
		{Group: "CC-Agents", Directory: "CORP", Units: []string{"Corp"}},
	}
	tests := []struct {
		name       string
		dir        string
		groups     []directory.Group
		def        string
		profile    string
		cause      string
		units      []string
		flags      map[string]bool
		unitCauses map[string][]string
	}{
		{
			name: "first match by name wins, units accumulate, flags OR-ed",
			dir:  "corp", groups: []directory.Group{gAgents, gAdmins, gSup},
			profile: "System Administrator", cause: "rule 1 (group CC-Admins)",
			units: []string{"HQ", "Floor 2", "Inbound", "Corp"},
			flags: map[string]bool{"superuser": true},
			unitCauses: map[string][]string{
				"HQ":      {"rule 1 (group CC-Admins)"},
				"Floor 2": {"rule 2 (group CC-Supervisors)", "rule 3 (group CC-Agents)"},
				"Inbound": {"rule 3 (group CC-Agents)"},
				"Corp":    {"rule 6 (group CC-Agents)"},
			},
		},
		{
			name: "DN compared parsed and case-insensitively",
			dir:  "corp", groups: []directory.Group{gSup},
			profile: "Supervisor", cause: "rule 2 (group CC-Supervisors)",
			units: []string{"Floor 2"},
		},
		{
			name: "anchor with braces, per-directory rule for this directory only",
			dir:  "corp", groups: []directory.Group{gAgents},
			profile: "Agent", cause: "rule 3 (group CC-Agents)",
			units: []string{"floor 2", "Inbound", "Corp"},
		},
		{
			name: "other directory gets its own per-directory rule after global ones",
			dir:  "other", groups: []directory.Group{gAgents},
			profile: "Agent", cause: "rule 3 (group CC-Agents)",
			units: []string{"floor 2", "Inbound", "Other"},
		},
		{
			name: "units-only rule gives no profile; default applies; false flag does not set",
			dir:  "corp", groups: []directory.Group{gFloor}, def: "Guest",
			profile: "Guest", cause: "default profile of directory corp",
			units: []string{"East"},
			flags: map[string]bool{"recording": true},
		},
		{
			name: "no rule, no default: no profile",
			dir:  "corp", groups: nil,
			profile: "", cause: "no rule matched; no default profile",
		},
		{
			name: "nested membership is whatever the caller passes",
			dir:  "corp", groups: []directory.Group{{Anchor: gSup.Anchor, DN: gSup.DN, Name: gSup.Name, Nested: []string{gAgents.DN}}, gAgents},
			profile: "Supervisor", cause: "rule 2 (group CC-Supervisors)",
			units: []string{"Floor 2", "Inbound", "Corp"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, w := Resolve(tc.dir, rules, tc.groups, tc.def)
			if len(w) != 0 {
				t.Errorf("warnings: %v", w)
			}
			if a.Profile != tc.profile || a.ProfileCause != tc.cause {
				t.Errorf("profile %q (%s), want %q (%s)", a.Profile, a.ProfileCause, tc.profile, tc.cause)
			}
			if !reflect.DeepEqual(a.Units, tc.units) {
				t.Errorf("units %q, want %q", a.Units, tc.units)
			}
			if !reflect.DeepEqual(a.Flags, tc.flags) {
				t.Errorf("flags %v, want %v", a.Flags, tc.flags)
			}
			if tc.unitCauses != nil && !reflect.DeepEqual(a.UnitCauses, tc.unitCauses) {
				t.Errorf("unit causes %v, want %v", a.UnitCauses, tc.unitCauses)
			}
			if tc.flags["superuser"] != a.Superuser() {
				t.Error("Superuser()")
			}
		})
	}
}

func TestResolveRuleOrder(t *testing.T) {
	groups := []directory.Group{gAgents, gSup}
	a, _ := Resolve("corp", []Rule{{Group: "CC-Agents", Profile: "Agent"}, {Group: "CC-Supervisors", Profile: "Supervisor"}}, groups, "")
	b, _ := Resolve("corp", []Rule{{Group: "CC-Supervisors", Profile: "Supervisor"}, {Group: "CC-Agents", Profile: "Agent"}}, groups, "")
	if a.Profile != "Agent" || b.Profile != "Supervisor" {
		t.Fatalf("order not respected: %q %q", a.Profile, b.Profile)
	}
	if !reflect.DeepEqual(a.Matched, []string{"rule 1 (group CC-Agents)", "rule 2 (group CC-Supervisors)"}) {
		t.Errorf("matched %q", a.Matched)
	}
	named, _ := Resolve("corp", []Rule{{Name: "sup", Group: "CC-Supervisors", Profile: "S"}}, groups, "")
	if named.ProfileCause != `rule 1 "sup" (group CC-Supervisors)` {
		t.Errorf("cause %q", named.ProfileCause)
	}
}

func TestResolveAndCheckRulesWarnings(t *testing.T) {
	rules := []Rule{
		{Group: "", Profile: "X"},
		{Group: "CC-Ghosts", Profile: "Y"},
		{Group: "CC-Agents", Profile: "Agent"},
		{Group: "CC-Elsewhere", Directory: "other"},
	}
	_, w := Resolve("corp", rules, []directory.Group{gAgents}, "")
	if len(w) != 1 || w[0].Code != WarnRuleNoGroup || w[0].Rule != 1 {
		t.Fatalf("Resolve warnings %+v", w)
	}
	w = CheckRules("corp", rules, []directory.Group{gAgents})
	if len(w) != 1 || w[0].Code != WarnUnknownGroup || w[0].Rule != 2 || w[0].Blocking {
		t.Fatalf("CheckRules warnings %+v", w)
	}
	if w[0].String() == "" {
		t.Error("empty String")
	}
}

func TestGroupMatches(t *testing.T) {
	tests := []struct {
		spec string
		want bool
	}{
		{"CC-Agents", true},
		{"cc-agents", true},
		{"CC-Agent", false},
		{"", false},
		{"11111111-1111-1111-1111-111111111111", true},
		{"{11111111-1111-1111-1111-111111111111}", true},
		{"CN=CC-Agents,OU=Groups,DC=corp,DC=example,DC=com", true},
		{"cn=CC-AGENTS ,  ou=Groups,dc=corp,dc=example,dc=com", true},
		{"CN=CC-Agents,OU=Other,DC=corp,DC=example,DC=com", false},
		{"CN=CC-Agents", false},
		{"=broken", false},
	}
	for _, tc := range tests {
		if got := GroupMatches(tc.spec, gAgents); got != tc.want {
			t.Errorf("GroupMatches(%q) = %v, want %v", tc.spec, got, tc.want)
		}
	}
	if !GroupMatches(`CN=Floor 2\, East,OU=Groups,DC=corp,DC=example,DC=com`, gFloor) {
		t.Error("escaped comma")
	}
	if !GroupMatches(`CN=Floor 2\2c East,OU=Groups,DC=corp,DC=example,DC=com`, gFloor) {
		t.Error("hex-escaped comma")
	}
}

// TestGroupMatchesDNs: a rule's DN names a group as go-ldap's EqualFold
// compares DNs (internal/ldapdn has the full table).
func TestGroupMatchesDNs(t *testing.T) {
	g := directory.Group{Name: "Ann", DN: `cn=Ann+uid=ann01,ou=Sales\2C EMEA,dc=x`}
	for _, tc := range []struct {
		spec string
		want bool
	}{
		{`UID=ann01+CN=ann,OU=sales\, emea,DC=X`, true},
		{`uid=ann01 + cn=Ann, ou=Sales\2c EMEA; dc=x`, true},
		{`cn=Ann,uid=ann01,ou=Sales\2C EMEA,dc=x`, false},
		{`cn=Ann+uid=ann02,ou=Sales\2C EMEA,dc=x`, false},
		{`cn=Ann+uid=ann01,ou=Sales,ou=EMEA,dc=x`, false},
		{`cn="Ann",dc=x`, false},
	} {
		if got := GroupMatches(tc.spec, g); got != tc.want {
			t.Errorf("GroupMatches(%q) = %v, want %v", tc.spec, got, tc.want)
		}
	}
}

func TestCombineRules(t *testing.T) {
	dirRules := []Rule{{Group: "CC-Agents", Profile: "Local Agent"}}
	global := []Rule{
		{Group: "CC-Supervisors", Profile: "Supervisor"},
		{Group: "CC-Agents", Profile: "Agent", Directory: "other"},
		{Group: "CC-Agents", Profile: "Agent", Units: []string{"All"}, Name: "agents"},
	}
	rules := CombineRules("corp", dirRules, global)
	if len(rules) != 3 || rules[0].Directory != "corp" || rules[0].Ref != "directory rule 1" || rules[2].Ref != "rule 3" {
		t.Fatalf("%+v", rules)
	}
	a, _ := Resolve("corp", rules, []directory.Group{gAgents}, "")
	if a.Profile != "Local Agent" || a.ProfileCause != "directory rule 1 (group CC-Agents)" {
		t.Errorf("profile %q %q", a.Profile, a.ProfileCause)
	}
	if got := a.UnitCauses["All"]; len(got) != 1 || got[0] != `rule 3 "agents" (group CC-Agents)` {
		t.Errorf("unit cause %q", got)
	}
	w := CheckRules("corp", CombineRules("corp", nil, []Rule{{Group: "Nope"}}), nil)
	if len(w) != 1 || w[0].Message != `rule 1 names group "Nope", which is not among the imported groups of directory corp` {
		t.Errorf("%+v", w)
	}
}

func TestTemplatesFromMap(t *testing.T) {
	got := TemplatesFromMap(
		map[string]string{"username": "g-u", "email": "g-e", "agent_id": "g-a", "language": "g-l"},
		map[string]string{"username": "d-u", "display_name": "d-d", "first_name": "d-f", "last_name": "d-l", "agent_id": "d-a"},
	)
	want := Templates{Username: "d-u", Email: "g-e", DisplayName: "d-d", FirstName: "d-f", LastName: "d-l", Language: "g-l", Fields: map[string]string{"agent_id": "d-a"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v", got)
	}
}
