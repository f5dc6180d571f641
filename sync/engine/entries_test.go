package engine

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// TestMapEntries pins that stored entries are mapped as the sync maps the
// users read: the same user a sync would create, and a username two
// unmapped entries map to blocking both.
func TestMapEntries(t *testing.T) {
	group := store.DirectoryEntry{Directory: "corp", Anchor: gAgents, Kind: store.EntryGroup, Name: "CC-Agents",
		DN: "CN=CC-Agents,OU=Groups,DC=corp,DC=example,DC=com", Groups: []string{"a-1", "b-2", "c-3", "d-4"}}
	alice := entryOf(dirUser("a-1", "Alice", gAgents), "")
	alice.Attributes = map[string][]string{"Mail": {"alice@corp.example.com"}, "givenName": {"Alice"}}
	bob := entryOf(dirUser("b-2", "Bob", gAgents), "u2") // mapped already
	dup1, dup2 := entryOf(dirUser("c-3", "Carol", gAgents), ""), entryOf(dirUser("d-4", "CAROL", gAgents), "")

	got, rules := MapEntries(testMapper(t), []store.DirectoryEntry{group, alice, bob, dup1, dup2})
	if len(rules) != 1 || rules[0].Anchor != "" { // CC-Supervisors is not imported here
		t.Errorf("rule warnings %v; want the one about CC-Supervisors", rules)
	}
	if len(got) != 3 || got["b-2"] != nil {
		t.Fatalf("mapped %d entries (bob: %v); want alice and both carols", len(got), got["b-2"])
	}
	a := got["a-1"]
	du := EntryUser(alice)
	if want := NewUser(&a.Result, &du, "corp"); a.User.Username != "alice" || a.User.Email != "alice@corp.example.com" ||
		a.User.FirstName != "Alice" || a.User.Profile != "Agent" || a.User.Source != "corp" || a.User.Anchor != "a-1" ||
		len(diffUser(want, a.User, mapping.Result{})) != 0 {
		t.Errorf("alice's user %+v", a.User)
	}
	for _, anchor := range []string{"c-3", "d-4"} {
		if c := got[anchor]; !c.Result.Blocked || len(c.Blocking) == 0 || c.Blocking[0].Code != mapping.WarnCollision {
			t.Errorf("%s: blocked %v, warnings %v; want a username collision", anchor, c.Result.Blocked, c.Blocking)
		}
	}
}

// TestShareWithReadKeepsValues: sharing the loaded state's strings with
// the read changes which copy holds a value, never a value.
func TestShareWithReadKeepsValues(t *testing.T) {
	alice, bob := dirUser("a-1", "Alice", gAgents), dirUser("b-2", "Bob", gAgents, gSup)
	read := []directory.User{alice, bob}
	for i := range read { // copies of their own, as a read's are
		read[i].Anchor, read[i].DN, read[i].Username = strings.Clone(read[i].Anchor), strings.Clone(read[i].DN), strings.Clone(read[i].Username)
	}
	users := []store.User{synced("u1", alice, "Agent", "Floor 1"), synced("u2", dirUser("b-2", "Robert", gAgents), "Agent")}
	entries := []store.DirectoryEntry{entryOf(alice, "u1"), entryOf(dirUser("b-2", "Robert", gAgents), "u2"),
		{Directory: "corp", Anchor: gAgents, Kind: store.EntryGroup, Name: "CC-Agents", Groups: []string{"a-1", "b-2", "z-9"}}}
	wantUsers, wantEntries := slices.Clone(users), slices.Clone(entries)
	for i := range wantEntries {
		wantEntries[i].Groups = slices.Clone(entries[i].Groups)
	}
	share := newReadSharer(directory.Snapshot{Users: read, Groups: []directory.Group{{Anchor: strings.Clone(gAgents)}}})
	for i := range users {
		share.user(&users[i])
	}
	for i := range entries {
		share.entry(&entries[i])
	}
	if !reflect.DeepEqual(users, wantUsers) || !reflect.DeepEqual(entries, wantEntries) {
		t.Errorf("sharing changed values:\nusers %+v\nwant  %+v\nentries %+v\nwant    %+v", users, wantUsers, entries, wantEntries)
	}
	if unsafe.StringData(users[0].DN) != unsafe.StringData(read[0].DN) || unsafe.StringData(entries[2].Groups[1]) != unsafe.StringData(read[1].Anchor) ||
		unsafe.StringData(entries[1].Groups[0]) != unsafe.StringData(share.groups[gAgents]) {
		t.Error("equal strings are not shared with the read")
	}
}
