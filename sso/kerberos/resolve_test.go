package kerberos

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/store"
)

// users is an in-memory Users with the store's contract: UPN compared
// without case, ErrNotFound for a missing link.
type users struct {
	list  []store.User
	links []store.IdPLink
	err   error
}

func (u *users) GetUser(_ context.Context, id string) (store.User, error) {
	for _, x := range u.list {
		if x.ID == id {
			return x, nil
		}
	}
	return store.User{}, store.ErrNotFound
}

func (u *users) FindUsers(_ context.Context, key store.UserKey, value string) ([]store.User, error) {
	if u.err != nil {
		return nil, u.err
	}
	var out []store.User
	for _, x := range u.list {
		switch {
		case key == store.KeyUPN && strings.EqualFold(x.UPN, value),
			key == store.KeySAM && strings.EqualFold(x.SAMAccountName, value):
			out = append(out, x)
		}
	}
	return out, nil
}

func (u *users) GetIdPLink(_ context.Context, issuer, subject string) (store.IdPLink, error) {
	for _, l := range u.links {
		if l.Issuer == issuer && l.Subject == subject {
			return l, nil
		}
	}
	return store.IdPLink{}, store.ErrNotFound
}

func (u *users) ListIdPLinks(_ context.Context, id string) ([]store.IdPLink, error) {
	var out []store.IdPLink
	for _, l := range u.links {
		if l.UserID == id {
			out = append(out, l)
		}
	}
	return out, nil
}

func user(id, source, upn, sam string, state store.UserState) store.User {
	return store.User{ID: id, Username: id, Source: source, UPN: upn, SAMAccountName: sam, State: state}
}

func TestResolve(t *testing.T) {
	const sid = "S-1-5-21-1-2-3-1105"
	realms := map[string]string{"CORP.EXAMPLE.COM": "corp", "EU.EXAMPLE.COM": "eu"}
	base := []store.User{
		user("alice", "corp", "alice@corp.example.com", "alice", store.StateActive),
		user("alice-eu", "eu", "alice@eu.example.com", "alice", store.StateActive),
		user("bob-local", store.SourceLocal, "", "bob", store.StateActive),
		user("bob", "corp", "robert.smith@example.com", "bob", store.StateActive),
		user("carol", "corp", "carol@corp.example.com", "carol", store.StateInactive),
		user("dup1", "corp", "", "dup", store.StateActive),
		user("dup2", "corp", "", "DUP", store.StateActive),
	}
	for _, tc := range []struct {
		name    string
		t       Ticket
		links   []store.IdPLink
		want    string // user ID
		key     string
		refusal string // refusal code
	}{
		{name: "principal as UPN", t: Ticket{Name: "alice", Realm: "CORP.EXAMPLE.COM"}, want: "alice", key: "upn"},
		{name: "the realm picks the directory", t: Ticket{Name: "alice", Realm: "EU.EXAMPLE.COM"}, want: "alice-eu", key: "upn"},
		{name: "the PAC's UPN when it differs from the principal", t: Ticket{Name: "bob", Realm: "CORP.EXAMPLE.COM", PAC: true, SID: sid, UPN: "Robert.Smith@example.com", SAM: "bob"}, want: "bob", key: "upn"},
		{name: "sAMAccountName, never a local user of that name", t: Ticket{Name: "bob", Realm: "CORP.EXAMPLE.COM"}, want: "bob", key: "sam_account_name"},
		{name: "the bound SID wins over names", t: Ticket{Name: "renamed", Realm: "CORP.EXAMPLE.COM", PAC: true, SID: sid},
			links: []store.IdPLink{{UserID: "bob", Issuer: "kerberos:CORP.EXAMPLE.COM", Subject: sid}}, want: "bob", key: "sid"},
		{name: "a SID of another realm's issuer is not this one's", t: Ticket{Name: "alice", Realm: "CORP.EXAMPLE.COM", PAC: true, SID: sid},
			links: []store.IdPLink{{UserID: "bob", Issuer: "kerberos:EU.EXAMPLE.COM", Subject: sid}}, want: "alice", key: "upn"},
		{name: "a name bound to another SID", t: Ticket{Name: "alice", Realm: "CORP.EXAMPLE.COM", PAC: true, SID: sid},
			links: []store.IdPLink{{UserID: "alice", Issuer: "kerberos:CORP.EXAMPLE.COM", Subject: "S-1-5-21-1-2-3-9999"}}, refusal: CodeSIDChanged},
		{name: "inactive user", t: Ticket{Name: "carol", Realm: "CORP.EXAMPLE.COM"}, refusal: CodeDisabled},
		{name: "inactive user through the SID", t: Ticket{Name: "x", Realm: "CORP.EXAMPLE.COM", SID: sid},
			links: []store.IdPLink{{UserID: "carol", Issuer: "kerberos:CORP.EXAMPLE.COM", Subject: sid}}, refusal: CodeDisabled},
		{name: "two users share a sAMAccountName", t: Ticket{Name: "dup", Realm: "CORP.EXAMPLE.COM"}, refusal: CodeAmbiguous},
		{name: "nobody", t: Ticket{Name: "zed", Realm: "CORP.EXAMPLE.COM"}, refusal: CodeUnknownUser},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, key, ref := resolve(context.Background(), &users{list: base, links: tc.links}, realms, tc.t)
			if tc.refusal != "" {
				if ref == nil || ref.Code != tc.refusal {
					t.Fatalf("got user %q (%v), want refusal %s", u.ID, ref, tc.refusal)
				}
				if ref.Principal != tc.t.Principal() {
					t.Fatalf("refusal names %q, want %q", ref.Principal, tc.t.Principal())
				}
				return
			}
			if ref != nil || u.ID != tc.want || key != tc.key {
				t.Fatalf("got %q by %q (%v), want %q by %q", u.ID, key, ref, tc.want, tc.key)
			}
		})
	}
}

func TestResolveOutage(t *testing.T) {
	_, _, ref := resolve(context.Background(), &users{err: errors.New("database is locked")},
		map[string]string{"CORP.EXAMPLE.COM": "corp"}, Ticket{Name: "alice", Realm: "CORP.EXAMPLE.COM"})
	if ref == nil || ref.Code != CodeUnavailable || !strings.Contains(ref.Error(), "database is locked") {
		t.Fatalf("refusal %v, want %s naming the cause", ref, CodeUnavailable)
	}
}
