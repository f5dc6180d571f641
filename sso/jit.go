package sso

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/sso/policy"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// ActionJITCreate is the audit action of a user created at sign-in.
const ActionJITCreate = "user.create"

// JIT creates a local user for an IdP identity that matched nobody
// (sso.jit). The IdP's groups claim goes through the global mapping rules
// (those not limited to a directory), as a directory's groups would.
//
// It refuses rather than guess: an identity whose groups are unknown (an
// Entra groups overage) or that no rule gives a profile is not created, so
// turning JIT on does not let everyone in the IdP tenant take a licence.
// Users are created with Source store.SourceIdP (no password, and none can
// be set: they sign in through the IdP, with its MFA) and the creation is
// audited in the same transaction.
type JIT struct {
	Store  store.Store
	Mapper *mapping.Mapper
	// Usernames is policy.username: a name the IdP sends that breaks it is
	// refused, as an administrator's choice would be.
	Usernames policy.UsernamePolicy
	Now       func() time.Time
	// reloaded replaces Usernames after a configuration reload.
	reloaded atomic.Pointer[policy.UsernamePolicy]
}

// SetUsernames replaces the username policy (a configuration reload).
func (j *JIT) SetUsernames(p policy.UsernamePolicy) { j.reloaded.Store(&p) }

func (j *JIT) usernames() policy.UsernamePolicy {
	if p := j.reloaded.Load(); p != nil {
		return *p
	}
	return j.Usernames
}

var _ Provisioner = (*JIT)(nil)

// NewJIT builds the provisioner from the global mapping rules (those not
// limited to one directory; the caller leaves the others out).
func NewJIT(st store.Store, rules []mapping.Rule, usernames policy.UsernamePolicy) (*JIT, error) {
	m, err := mapping.NewMapper(mapping.Config{Rules: rules})
	if err != nil {
		return nil, fmt.Errorf("sso.jit: mapping: %w", err)
	}
	return &JIT{Store: st, Mapper: m, Usernames: usernames, Now: time.Now}, nil
}

// Provision implements Provisioner.
func (j *JIT) Provision(ctx context.Context, id Identity) (store.User, error) {
	if id.GroupsOverage {
		return store.User{}, errors.New("the IdP left the groups out (overage); cannot map them")
	}
	// An address the IdP does not vouch for is not the person's to
	// claim: stored, it would make the real owner's e-mail match
	// ambiguous, and as a username it would impersonate them.
	email := ""
	if id.EmailVerified {
		email = id.Email
	}
	username := firstNonEmpty(trimmed(id.UPN), trimmed(id.Username), trimmed(email), trimmed(id.NameID))
	if username == "" {
		return store.User{}, errors.New("the identity has no name to create a user with")
	}
	groups := make([]directory.Group, len(id.Groups))
	anchors := make([]string, len(id.Groups))
	for i, g := range id.Groups {
		// Entra sends group object IDs (rules name them as GUIDs), Okta
		// and SAML IdPs names: a group is known by either.
		groups[i] = directory.Group{Anchor: g, Name: g}
		anchors[i] = g
	}
	du := directory.User{Username: username, UPN: id.UPN, Email: email, DisplayName: id.DisplayName,
		FirstName: id.FirstName, LastName: id.LastName, Groups: anchors}
	res, warns := j.Mapper.Map(du, groups, nil)
	if res.Blocked {
		return store.User{}, fmt.Errorf("mapping blocked the user: %v", warns)
	}
	if res.Profile == "" {
		return store.User{}, fmt.Errorf("no mapping rule matched the IdP's groups %q", id.Groups)
	}
	if v := policy.CheckUsername(j.usernames(), res.Username); len(v) > 0 {
		return store.User{}, fmt.Errorf("username %q breaks policy.username: %s", res.Username, policy.Messages(v))
	}
	now := j.Now().UTC()
	u := store.User{
		Username: res.Username, DisplayName: res.DisplayName, FirstName: res.FirstName, LastName: res.LastName,
		Email: res.Email, UPN: id.UPN, State: store.StateActive, Source: store.SourceIdP,
		Profile: res.Profile, Units: res.Units, Superuser: res.Superuser, CreatedAt: now, UpdatedAt: now,
	}
	err := j.Store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateUser(ctx, &u); err != nil {
			return fmt.Errorf("create user %s: %w", u.Username, err)
		}
		return tx.AppendAudit(ctx, &store.AuditEvent{Time: now, Actor: "sso.jit", Action: ActionJITCreate, Target: u.ID,
			Outcome: store.OutcomeSuccess, Reason: "created at first sign-in",
			Details: map[string]any{"username": u.Username, "idp": id.Issuer, "method": id.Method, "groups": id.Groups,
				"profile": u.Profile, "profile_cause": res.ProfileCause, "units": u.Units}})
	})
	if err != nil {
		return store.User{}, err
	}
	return u, nil
}

func trimmed(s string) string { return strings.TrimSpace(s) }
