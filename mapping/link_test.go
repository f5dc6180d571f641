package mapping

import (
	"testing"

	"github.com/dirbridge/dirbridge/store"
)

func TestParseLinkBy(t *testing.T) {
	for in, want := range map[string]LinkBy{"": LinkByUsername, "username": LinkByUsername, " Email ": LinkByEmail, "none": LinkByNone} {
		got, err := ParseLinkBy(in)
		if err != nil || got != want {
			t.Errorf("ParseLinkBy(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParseLinkBy("dn"); err == nil {
		t.Error("want error")
	}
}

func TestIsPrivileged(t *testing.T) {
	profiles := map[string][]string{"Admin": {"manage_users", "grant_all"}, "Bypass": {"bypass_sso"}, "Agent": {"take_calls"}}
	tests := []struct {
		u    store.User
		want bool
	}{
		{store.User{Profile: "Agent"}, false},
		{store.User{Profile: "Admin"}, true},
		{store.User{Profile: "Bypass"}, true},
		{store.User{Profile: "Agent", Superuser: true}, true},
		{store.User{Profile: "Agent", CustomPrivileges: []string{"bypass_sso"}}, true},
		{store.User{Profile: "Admin", CustomPrivileges: []string{}}, false}, // custom replaces the profile's
		{store.User{Profile: "Unknown"}, false},
	}
	for i, tc := range tests {
		if got := IsPrivileged(tc.u, profiles); got != tc.want {
			t.Errorf("%d: %+v = %v", i, tc.u, got)
		}
	}
}

func TestLink(t *testing.T) {
	profiles := map[string][]string{"Admin": {"grant_all"}}
	locals := []store.User{
		{ID: "1", Username: "JDoe", Email: "john@corp.example.com", Source: store.SourceLocal},
		{ID: "2", Username: "admin", Email: "admin@corp.example.com", Profile: "Admin", Source: store.SourceLocal},
		{ID: "3", Username: "root", Superuser: true, Source: store.SourceLocal},
		{ID: "4", Username: "linked", Source: "corp", Anchor: "a4"},
		{ID: "5", Username: "other", Source: "other", Anchor: "x5"},
		{ID: "6", Username: "twin1", Email: "twin@corp.example.com"},
		{ID: "7", Username: "twin2", Email: "TWIN@corp.example.com"},
		{ID: "8", Username: "mailonly", Email: "mo@corp.example.com"},
	}
	r := func(anchor, username, email string) Result {
		return Result{Directory: "corp", Anchor: anchor, Username: username, Email: email}
	}
	tests := []struct {
		name   string
		r      Result
		by     LinkBy
		action LinkAction
		id     string
		code   WarningCode
	}{
		{"already linked", r("a4", "linked", ""), LinkByUsername, LinkAlready, "4", ""},
		{"username match, case-insensitive", r("n1", "jdoe", ""), LinkByUsername, LinkExisting, "1", ""},
		{"default mode is username", r("n1", "jdoe", ""), "", LinkExisting, "1", ""},
		{"no match: create", r("n2", "newbie", ""), LinkByUsername, LinkCreate, "", ""},
		{"privileged by profile refused", r("n3", "Admin", ""), LinkByUsername, LinkBlocked, "2", WarnPrivilegedLink},
		{"superuser refused", r("n3", "root", ""), LinkByUsername, LinkBlocked, "3", WarnPrivilegedLink},
		{"username held by another directory's user", r("n4", "other", ""), LinkByUsername, LinkBlocked, "5", WarnLocalCollision},
		{"username held by same directory, other anchor", r("n4", "linked", ""), LinkByUsername, LinkBlocked, "4", WarnLocalCollision},
		{"email match", r("n5", "mailonly", "MO@corp.example.com"), LinkByEmail, LinkExisting, "8", ""},
		{"email match but username held by someone else", r("n5", "jdoe", "mo@corp.example.com"), LinkByEmail, LinkBlocked, "1", WarnLocalCollision},
		{"email ambiguous", r("n6", "t", "twin@corp.example.com"), LinkByEmail, LinkBlocked, "", WarnAmbiguousLink},
		{"email privileged refused", r("n7", "adm", "admin@corp.example.com"), LinkByEmail, LinkBlocked, "2", WarnPrivilegedLink},
		{"email mode, no email, username free", r("n8", "fresh", ""), LinkByEmail, LinkCreate, "", ""},
		{"email mode, no email match, username taken", r("n8", "jdoe", "nobody@x"), LinkByEmail, LinkBlocked, "1", WarnLocalCollision},
		{"none: username taken blocks", r("n9", "jdoe", ""), LinkByNone, LinkBlocked, "1", WarnLocalCollision},
		{"none: free username creates", r("n9", "fresh", ""), LinkByNone, LinkCreate, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, w := Link(tc.r, locals, tc.by, profiles)
			if d.Action != tc.action || d.UserID != tc.id || d.Reason == "" {
				t.Errorf("decision %+v", d)
			}
			if tc.code == "" {
				if len(w) != 0 {
					t.Errorf("warnings %v", w)
				}
				return
			}
			if len(w) != 1 || w[0].Code != tc.code || !w[0].Blocking || w[0].Anchor != tc.r.Anchor {
				t.Errorf("warnings %+v", w)
			}
		})
	}
}
