package sso

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dirbridge/dirbridge/internal/adguid"
	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/store"
)

// How an IdP identity finds its local user, in order:
//
//  1. An IdP link: the identity's stable subject (Identity.LinkSubject)
//     bound to a user at an earlier sign-in or by an administrator. A
//     linked subject is that user and nobody else, whatever its claims say.
//  2. The configured match keys (sso.match_by), with two guards against
//     the class of flaw known as nOAuth: an e-mail address counts only
//     when the IdP says it verified it, and a protected account
//     (privilege.Protected: superuser, emergency, bypass_sso, grant_all) is
//     matched only by immutable_id or UPN, never by e-mail, username or
//     NameID, which the person or a directory operator may set. The
//     emergency account is never matched by a claim at all.
//  3. A user matched by a key who is already linked to another subject of
//     the same IdP is refused: the IdP's subject does not change for one
//     person, so a different one is a different person.
//
// A match by key binds the subject at the end of a successful sign-in
// (the link is created in the session's transaction).

var (
	errUnknownUser    = errors.New("no active local user matches the identity")
	errAmbiguousUser  = errors.New("the identity matches more than one active local user")
	errSubjectChanged = errors.New("the identity provider's subject for this user changed")
)

// keyIdPLink is the key_matched of a sign-in matched through an IdP link.
const keyIdPLink = "idp_link"

// resolution is what resolve found.
type resolution struct {
	user store.User
	key  string // what matched: "user_id", "idp_link" or a match key
	// link, when set, binds the identity's subject to user once the
	// sign-in succeeds.
	link *store.IdPLink
	// passedOver says which matching users were not taken and why, for
	// the audit record.
	passedOver []string
}

// resolve finds the one active local user the Identity names.
func (fin *finisher) resolve(ctx context.Context, id Identity) (resolution, error) {
	if id.UserID != "" {
		u, err := fin.store.GetUser(ctx, id.UserID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && u.State != store.StateActive) {
			return resolution{}, errUnknownUser
		}
		if err != nil {
			return resolution{}, fmt.Errorf("read user: %w", err)
		}
		res := resolution{user: u, key: "user_id"}
		if id.LinkSubject != "" {
			// The method resolved the user itself and vouches for the
			// subject (Kerberos: the SID in a PAC the KDC signed): bind it
			// at the first sign-in, as for an IdP.
			_, err := fin.store.GetIdPLink(ctx, id.Issuer, id.LinkSubject)
			switch {
			case errors.Is(err, store.ErrNotFound):
				res.link = &store.IdPLink{UserID: u.ID, Issuer: id.Issuer, Subject: id.LinkSubject}
			case err != nil:
				return resolution{}, fmt.Errorf("read IdP link: %w", err)
			}
		}
		return res, nil
	}
	if id.LinkSubject != "" {
		l, err := fin.store.GetIdPLink(ctx, id.Issuer, id.LinkSubject)
		switch {
		case err == nil:
			u, err := fin.store.GetUser(ctx, l.UserID)
			if errors.Is(err, store.ErrNotFound) || (err == nil && u.State != store.StateActive) {
				// The linked user is gone or inactive: nobody else may
				// answer for this subject.
				return resolution{key: keyIdPLink}, fmt.Errorf("%w (the IdP subject is linked to an inactive user)", errUnknownUser)
			}
			if err != nil {
				return resolution{}, fmt.Errorf("read linked user: %w", err)
			}
			return resolution{user: u, key: keyIdPLink}, nil
		case !errors.Is(err, store.ErrNotFound):
			return resolution{}, fmt.Errorf("read IdP link: %w", err)
		}
	}
	res, err := fin.matchByKeys(ctx, id)
	if err != nil || id.LinkSubject == "" {
		return res, err
	}
	links, err := fin.store.ListIdPLinks(ctx, res.user.ID)
	if err != nil {
		return resolution{}, fmt.Errorf("read IdP links of %s: %w", res.user.Username, err)
	}
	for _, l := range links {
		if l.Issuer == id.Issuer {
			return resolution{key: res.key}, fmt.Errorf("%w: %s is linked to subject %q at %s, this sign-in carries %q",
				errSubjectChanged, res.user.Username, l.Subject, l.Issuer, id.LinkSubject)
		}
	}
	res.link = &store.IdPLink{UserID: res.user.ID, Issuer: id.Issuer, Subject: id.LinkSubject}
	return res, nil
}

// keyTry is one look-up a match key makes.
type keyTry struct {
	key   store.UserKey
	value string
}

// tries lists the look-ups of one match key for id.
func tries(key string, id Identity) []keyTry {
	var out []keyTry
	add := func(k store.UserKey, v string) {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, keyTry{k, v})
		}
	}
	switch key {
	case KeyUPN:
		add(store.KeyUPN, id.UPN)
	case KeyEmail:
		if id.EmailVerified {
			add(store.KeyEmail, id.Email)
		}
	case KeyUsername:
		add(store.KeyUsername, id.Username)
	case KeyImmutableID:
		if g := anchorFromImmutableID(id.ImmutableID); g != "" {
			add(store.KeyAnchor, g)
			add(store.KeyAnchor, strings.ToUpper(g))
		}
	case KeyNameID:
		for _, k := range []store.UserKey{store.KeyUsername, store.KeyEmail, store.KeyUPN} {
			add(k, id.NameID)
		}
	}
	return out
}

// matchByKeys tries the configured keys in order and returns the first
// key that names exactly one eligible user.
func (fin *finisher) matchByKeys(ctx context.Context, id Identity) (resolution, error) {
	var passedOver []string
	if id.Email != "" && !id.EmailVerified && slices.Contains(fin.opts.MatchKeys, KeyEmail) {
		passedOver = append(passedOver, "email: not verified by the IdP, not used")
	}
	for _, key := range fin.opts.MatchKeys {
		for _, t := range tries(key, id) {
			users, err := fin.store.FindUsers(ctx, t.key, t.value)
			if err != nil {
				return resolution{}, fmt.Errorf("find user by %s: %w", t.key, err)
			}
			var eligible []store.User
			for _, u := range users {
				if u.State != store.StateActive {
					continue
				}
				why, err := fin.notMatchableBy(ctx, u, key)
				if err != nil {
					return resolution{}, err
				}
				if why != "" {
					passedOver = append(passedOver, fmt.Sprintf("%s: %s %s", key, u.Username, why))
					continue
				}
				eligible = append(eligible, u)
			}
			switch len(eligible) {
			case 0:
				continue
			case 1:
				return resolution{user: eligible[0], key: key, passedOver: passedOver}, nil
			default:
				return resolution{key: key, passedOver: passedOver}, fmt.Errorf("%w (key %s matched %d)", errAmbiguousUser, key, len(eligible))
			}
		}
	}
	return resolution{passedOver: passedOver}, errUnknownUser
}

// notMatchableBy says why u may not be matched by key, or "" when it may.
func (fin *finisher) notMatchableBy(ctx context.Context, u store.User, key string) (string, error) {
	if u.Emergency {
		return "is the emergency account, which only an administrator links to an IdP", nil
	}
	if key == KeyImmutableID || key == KeyUPN {
		return "", nil
	}
	privs, err := fin.privileges(ctx, u)
	if err != nil {
		return "", err
	}
	if privilege.Protected(u, privilege.NewSet(privs...)) {
		return "is privileged (superuser, bypass_sso or grant_all) and is matched only by an IdP link, immutable_id or upn", nil
	}
	return "", nil
}

// anchorFromImmutableID turns Entra's onPremisesImmutableId into the
// anchor the sync stores; adguid keeps the one rule for it, which the SCIM
// provisioning uses too.
func anchorFromImmutableID(v string) string { return adguid.FromImmutableID(v) }
