package mapping

import (
	"reflect"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

func user(anchor, sam string, groups ...string) directory.User {
	return directory.User{
		Anchor: anchor, DN: "CN=" + sam + ",OU=People,DC=corp,DC=example,DC=com",
		Username: sam, UPN: strings.ToLower(sam) + "@corp.example.com",
		Groups: groups,
		Attributes: map[string][]string{
			"sAMAccountName":    {sam},
			"userPrincipalName": {strings.ToLower(sam) + "@corp.example.com"},
			"givenName":         {"Given " + sam},
		},
	}
}

func mustMapper(t *testing.T, cfg Config) *Mapper {
	t.Helper()
	m, err := NewMapper(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func codes(ws []Warning) []WarningCode {
	var out []WarningCode
	for _, w := range ws {
		out = append(out, w.Code)
	}
	return out
}

func TestNewMapperBadTemplates(t *testing.T) {
	_, err := NewMapper(Config{Directory: "corp", Templates: Templates{
		Username: "{{lower .sAMAccountName",
		Fields:   map[string]string{"agent_id": "{{nope .x}}", "ok": "{{.x}}"},
	}})
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{"corp", "templates.username", "templates.fields.agent_id"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestMapFields(t *testing.T) {
	m := mustMapper(t, Config{
		Directory: "corp",
		Templates: Templates{
			Username:    "{{lower .sAMAccountName}}",
			Email:       `{{or .mail (printf "%s@corp.example.com" (lower .sAMAccountName))}}`,
			DisplayName: `{{default (printf "%s %s" .givenName .sn) .displayName}}`,
			Language:    `{{default "en" .preferredLanguage}}`,
			Fields:      map[string]string{"domain": "{{splitDomain .userPrincipalName}}", "extension": "{{.telephoneNumber}}"},
		},
	})
	u := user("a1", "JDoe")
	u.Attributes["sn"] = []string{"Doe"}
	r, w := m.Map(u, nil, nil)
	if len(w) != 0 || r.Blocked {
		t.Fatalf("warnings %v blocked %v", w, r.Blocked)
	}
	want := Result{
		Directory: "corp", Anchor: "a1", DN: u.DN, UPN: "jdoe@corp.example.com", SAMAccountName: "JDoe",
		Username: "jdoe", Email: "jdoe@corp.example.com", DisplayName: "Given JDoe Doe",
		FirstName: "", LastName: "", Language: "en",
		Fields:         map[string]string{"domain": "corp.example.com", "extension": ""},
		ProfileCause:   "no rule matched; no default profile",
		SuperuserCause: NoSuperuserRule,
		State:          store.StateActive,
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("got  %+v\nwant %+v", r, want)
	}
}

func TestMapDefaultsFromDirectoryUser(t *testing.T) {
	m := mustMapper(t, Config{Directory: "corp"})
	u := directory.User{Anchor: "a", Username: "jdoe", Email: "j@x", DisplayName: "J D", FirstName: "J", LastName: "D"}
	r, _ := m.Map(u, nil, nil)
	if r.Username != "jdoe" || r.Email != "j@x" || r.DisplayName != "J D" || r.FirstName != "J" || r.LastName != "D" {
		t.Errorf("%+v", r)
	}
	// Plain fields are visible to templates under their LDAP names.
	m = mustMapper(t, Config{Directory: "corp", Templates: Templates{Username: "{{.username}}.{{.sn}}", Email: "{{upper .mail}}"}})
	r, _ = m.Map(u, nil, nil)
	if r.Username != "jdoe.D" || r.Email != "J@X" {
		t.Errorf("%+v", r)
	}
}

func TestMapBlocking(t *testing.T) {
	tests := []struct {
		name  string
		tmpl  Templates
		codes []WarningCode
		block bool
	}{
		{"empty username", Templates{Username: "{{.nothing}}"}, []WarningCode{WarnEmptyUsername}, true},
		{"username template fails", Templates{Username: `{{lower (all "x")}}`}, []WarningCode{WarnTemplate}, true},
		{"other field fails: warning only", Templates{Email: `{{lower (all "x")}}`}, []WarningCode{WarnTemplate}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mustMapper(t, Config{Directory: "corp", Templates: tc.tmpl})
			r, w := m.Map(user("a", "jdoe"), nil, nil)
			if r.Blocked != tc.block || !reflect.DeepEqual(codes(w), tc.codes) {
				t.Errorf("blocked %v warnings %v", r.Blocked, w)
			}
			for _, x := range w {
				if x.Blocking != tc.block || x.Anchor != "a" {
					t.Errorf("warning %+v", x)
				}
			}
		})
	}
}

func TestMapProfileSources(t *testing.T) {
	rules := []Rule{{Group: "CC-Supervisors", Profile: "Supervisor", Units: []string{"Floor 2"}, Flags: map[string]bool{FlagSuperuser: true}}}
	ut := &UserTemplate{Name: "agents", State: store.StateInactive, Language: "fr", Units: []string{"floor 2", "Inbound"}, Profile: "Agent", EmailDomain: "@corp.example.com"}
	tests := []struct {
		name     string
		cfg      Config
		groups   []directory.Group
		existing *store.User
		want     func(t *testing.T, r Result)
	}{
		{
			name:   "rule beats template and default",
			cfg:    Config{Directory: "corp", Rules: rules, DefaultProfile: "Guest", UserTemplate: ut},
			groups: []directory.Group{gSup},
			want: func(t *testing.T, r Result) {
				if r.Profile != "Supervisor" || r.ProfileCause != "rule 1 (group CC-Supervisors)" {
					t.Errorf("profile %q %q", r.Profile, r.ProfileCause)
				}
				if !reflect.DeepEqual(r.Units, []string{"Floor 2", "Inbound"}) {
					t.Errorf("units %q", r.Units)
				}
				if !reflect.DeepEqual(r.UnitCauses["Floor 2"], []string{"rule 1 (group CC-Supervisors)", `user template "agents"`}) {
					t.Errorf("causes %q", r.UnitCauses)
				}
				if !r.Superuser || r.SuperuserCause != "rule 1 (group CC-Supervisors)" {
					t.Errorf("superuser %v %q", r.Superuser, r.SuperuserCause)
				}
				if r.State != store.StateInactive || r.Language != "fr" || r.Email != "jdoe@corp.example.com" {
					t.Errorf("template defaults: %+v", r)
				}
			},
		},
		{
			name: "template profile before directory default",
			cfg:  Config{Directory: "corp", Rules: rules, DefaultProfile: "Guest", UserTemplate: ut},
			want: func(t *testing.T, r Result) {
				if r.Profile != "Agent" || r.ProfileCause != `user template "agents"` {
					t.Errorf("profile %q %q", r.Profile, r.ProfileCause)
				}
			},
		},
		{
			name: "directory default",
			cfg:  Config{Directory: "corp", Rules: rules, DefaultProfile: "Guest"},
			want: func(t *testing.T, r Result) {
				if r.Profile != "Guest" || r.ProfileCause != "default profile of directory corp" || r.Superuser {
					t.Errorf("%+v", r)
				}
			},
		},
		{
			name: "no default: profile-less",
			cfg:  Config{Directory: "corp", Rules: rules},
			want: func(t *testing.T, r Result) {
				if r.Profile != "" {
					t.Errorf("%+v", r)
				}
			},
		},
		{
			name:     "existing user: state left to the engine",
			cfg:      Config{Directory: "corp", UserTemplate: ut},
			existing: &store.User{Username: "jdoe", State: store.StateActive},
			want: func(t *testing.T, r Result) {
				if r.State != "" {
					t.Errorf("state %q", r.State)
				}
			},
		},
		{
			name:     "pinned profile and units",
			cfg:      Config{Directory: "corp", Rules: rules},
			groups:   []directory.Group{gSup},
			existing: &store.User{Profile: "Agent", PinnedProfile: true, Units: []string{"Special"}, PinnedUnits: true},
			want: func(t *testing.T, r Result) {
				if r.Profile != "Agent" || !r.ProfilePinned || r.ProfileCause != `pinned (rules: "Supervisor", rule 1 (group CC-Supervisors))` {
					t.Errorf("profile %q %v %q", r.Profile, r.ProfilePinned, r.ProfileCause)
				}
				if !reflect.DeepEqual(r.Units, []string{"Special"}) || !r.UnitsPinned || r.UnitCauses["Special"][0] != "pinned" {
					t.Errorf("units %q %v %v", r.Units, r.UnitsPinned, r.UnitCauses)
				}
				if !r.Superuser {
					t.Error("superuser is not pinnable and follows the rules")
				}
			},
		},
		{
			name:     "pinned but equal: no pinned warning",
			cfg:      Config{Directory: "corp", Rules: rules},
			groups:   []directory.Group{gSup},
			existing: &store.User{Profile: "Supervisor", PinnedProfile: true, Units: []string{"floor 2"}, PinnedUnits: true},
			want: func(t *testing.T, r Result) {
				if !r.ProfilePinned || !r.UnitsPinned {
					t.Error("not pinned")
				}
			},
		},
		{
			name:     "not pinned: rules win over existing",
			cfg:      Config{Directory: "corp", Rules: rules},
			groups:   []directory.Group{gSup},
			existing: &store.User{Profile: "Agent", Units: []string{"Special"}},
			want: func(t *testing.T, r Result) {
				if r.Profile != "Supervisor" || r.ProfilePinned || !reflect.DeepEqual(r.Units, []string{"Floor 2"}) {
					t.Errorf("%+v", r)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mustMapper(t, tc.cfg)
			u := user("a", "jdoe")
			r, w := m.Map(u, tc.groups, tc.existing)
			tc.want(t, r)
			for _, x := range w {
				if x.Code != WarnPinned || x.Blocking {
					t.Errorf("unexpected warning %v", x)
				}
			}
			if tc.name == "pinned profile and units" && len(w) != 2 {
				t.Errorf("want 2 pinned warnings, got %v", w)
			}
			if tc.name == "pinned but equal: no pinned warning" && len(w) != 0 {
				t.Errorf("want none, got %v", w)
			}
		})
	}
}

func TestMapAll(t *testing.T) {
	rules := []Rule{
		{Group: "CC-Supervisors", Profile: "Supervisor"},
		{Group: "CC-Agents", Profile: "Agent", Units: []string{"Inbound"}},
		{Group: "CC-Ghosts", Profile: "Ghost"},
		{Group: "CC-Ghosts", Directory: "other"},
	}
	m := mustMapper(t, Config{Directory: "corp", Rules: rules, Templates: Templates{Username: "{{lower .sAMAccountName}}"}})
	sup := gSup
	sup.Members = []string{"u2"} // membership known only from the group side
	groups := []directory.Group{gAgents, sup}
	users := []directory.User{
		user("u1", "Alice", gAgents.Anchor),
		user("u2", "Bob", "{"+strings.ToUpper(gAgents.Anchor)+"}"),
		user("u3", "CAROL", gAgents.Anchor),
		user("u4", "carol", gAgents.Anchor),
		user("u5", "Dave", "unknown-group-anchor"),
	}
	users[4].Attributes["sAMAccountName"] = nil // empty username
	existing := map[string]*store.User{"u1": {Profile: "Pinned", PinnedProfile: true}}

	res, w := m.MapAll(users, groups, existing)
	if len(res) != len(users) {
		t.Fatalf("%d results", len(res))
	}
	got := map[string]Result{}
	for _, r := range res {
		got[r.Anchor] = r
	}
	if r := got["u1"]; r.Profile != "Pinned" || !r.ProfilePinned || r.Blocked {
		t.Errorf("u1 %+v", r)
	}
	if r := got["u2"]; r.Profile != "Supervisor" || !reflect.DeepEqual(r.Units, []string{"Inbound"}) || r.Blocked {
		t.Errorf("u2 %+v", r)
	}
	if !got["u3"].Blocked || !got["u4"].Blocked {
		t.Error("colliding users not blocked")
	}
	if !got["u5"].Blocked {
		t.Error("empty username not blocked")
	}
	want := []WarningCode{WarnUnknownGroup, WarnPinned, WarnEmptyUsername, WarnCollision, WarnCollision}
	if !reflect.DeepEqual(codes(w), want) {
		t.Fatalf("warnings %v", w)
	}
	if w[0].Rule != 3 {
		t.Errorf("unknown group rule %d", w[0].Rule)
	}
	if !strings.Contains(w[3].Message, "u4") || !strings.Contains(w[4].Message, "u3") || w[3].Anchor != "u3" {
		t.Errorf("collision messages %q / %q", w[3].Message, w[4].Message)
	}
}

func TestMapAllSameEntryTwiceIsNoCollision(t *testing.T) {
	m := mustMapper(t, Config{Directory: "corp"})
	res, w := m.MapAll([]directory.User{user("a", "jdoe"), user("a", "jdoe")}, nil, nil)
	if res[0].Blocked || res[1].Blocked || len(w) != 0 {
		t.Errorf("%v %v", res, w)
	}
}
