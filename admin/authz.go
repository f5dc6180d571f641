package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/store"
)

// Action is something one user does to another user's account. Every such
// action — through the API, the CLI (which calls the API) and the console —
// is decided by Authorize and nothing else, so the rules cannot drift
// between handlers.
type Action string

// The actions on a user account.
const (
	ActView           Action = "view"
	ActUpdate         Action = "update" // profile, custom privileges, superuser flag
	ActSetUnits       Action = "units"  // units drive IP rules and identity headers
	ActPin            Action = "pin"    // pinned profile / units
	ActActivate       Action = "activate"
	ActDeactivate     Action = "deactivate"
	ActUnlock         Action = "unlock"
	ActResetPassword  Action = "reset_password"
	ActMap            Action = "map"   // link an imported entry to the user
	ActRemap          Action = "remap" // take an entry away from the user or give it
	ActUnmap          Action = "unmap"
	ActEndSessions    Action = "end_sessions"
	ActListKeys       Action = "list_keys"
	ActCreateKey      Action = "create_key"
	ActRevokeKey      Action = "revoke_key"
	ActManageIdPLinks Action = "idp_links"
)

// Actions lists every action, for the matrix test and documentation.
func Actions() []Action {
	return []Action{ActView, ActUpdate, ActSetUnits, ActPin, ActActivate, ActDeactivate, ActUnlock,
		ActResetPassword, ActMap, ActRemap, ActUnmap, ActEndSessions, ActListKeys, ActCreateKey,
		ActRevokeKey, ActManageIdPLinks}
}

// requires names the privileges (any one of them) an action on another
// user needs.
func (a Action) requires() []string {
	switch a {
	case ActView:
		return []string{privilege.ManageUsers, privilege.ViewUsers}
	case ActEndSessions:
		return []string{privilege.ManageSessions, privilege.ManageUsers}
	}
	return []string{privilege.ManageUsers}
}

// selfService reports whether a user may do a to their own account without
// any privilege: what they could do anyway by signing in (read themselves,
// sign out, handle their own API keys).
func (a Action) selfService() bool {
	switch a {
	case ActView, ActEndSessions, ActListKeys, ActCreateKey, ActRevokeKey:
		return true
	}
	return false
}

// Principal is a user with the privileges it holds.
type Principal struct {
	User  store.User
	Privs privilege.Set
	// Reach is how far each scoped privilege reaches, by name. A
	// privilege without an entry (or a nil map) reaches everyone.
	Reach map[string]privilege.Reach
	// MayGrant is the profile's may_grant list (nil: what it holds).
	MayGrant []string
}

// grantable is what p may grant to others.
func (p Principal) grantable() privilege.Set { return privilege.Grantable(p.Privs, p.MayGrant) }

// power is everything acting as p hands over: what it holds and what it
// may grant.
func (p Principal) power() privilege.Set {
	if p.MayGrant == nil {
		return p.Privs
	}
	return privilege.NewSet(append(slices.Clone([]string(p.Privs)), p.MayGrant...)...)
}

// reachFor is how far p reaches with any of privs that it holds.
func (p Principal) reachFor(privs []string) privilege.Reach {
	if p.User.Superuser {
		return privilege.Everyone
	}
	var out privilege.Reach
	for _, name := range privs {
		if !p.Privs.Has(name) {
			continue
		}
		r, ok := p.Reach[name]
		if !ok {
			r = privilege.Everyone
		}
		out = out.Union(r)
	}
	return out
}

// Refusal is Authorize's answer when an action is not allowed. Reason is
// safe to show to the caller and is recorded in the audit event.
type Refusal struct {
	Action Action
	Target string
	Reason string
	// OutOfScope: the target is outside the actor's reach. The caller
	// answers as if the target did not exist, so scope does not leak who
	// exists.
	OutOfScope bool
}

func (r *Refusal) Error() string {
	return fmt.Sprintf("you may not %s %s: %s", r.Action.phrase(), r.Target, r.Reason)
}

// phrase is the action as a verb phrase taking the target's name.
func (a Action) phrase() string {
	switch a {
	case ActView:
		return "read"
	case ActUpdate:
		return "change the profile or privileges of"
	case ActSetUnits:
		return "change the units of"
	case ActPin:
		return "pin the fields of"
	case ActResetPassword:
		return "reset the password of"
	case ActMap:
		return "map a directory entry onto"
	case ActRemap:
		return "move a directory entry to or from"
	case ActEndSessions:
		return "end the sessions of"
	case ActListKeys:
		return "list the API keys of"
	case ActCreateKey:
		return "create an API key for"
	case ActRevokeKey:
		return "revoke the API keys of"
	case ActManageIdPLinks:
		return "change the sign-in links of"
	}
	return string(a) // activate, deactivate, unlock, unmap
}

// Authorize decides whether actor may perform action on target. It is the
// one authorization function for actions on user accounts:
//
//   - the actor holds a privilege the action requires (its own account
//     needs none for self-service actions);
//   - nobody deactivates themselves, and only a superuser changes their
//     own profile, privileges, units, pins, lock-out or password through
//     administration (own password: POST /api/v1/me/password);
//   - the target is in the actor's scope (a member of a team the
//     privilege reaches), otherwise the refusal is OutOfScope;
//   - only a superuser acts on a superuser or the emergency account;
//   - the actor could grant everything the target holds: acting on an
//     account (resetting its password, mapping an entry onto it, making a
//     key for it, ...) hands its privileges to the actor, so an
//     administrator may act only on accounts that hold no more than the
//     administrator could give.
func Authorize(actor, target Principal, action Action) error {
	refuse := func(format string, args ...any) error {
		return &Refusal{Action: action, Target: target.User.Username, Reason: fmt.Sprintf(format, args...)}
	}
	if actor.User.ID != "" && actor.User.ID == target.User.ID {
		switch {
		case action.selfService():
			return nil
		case action == ActDeactivate:
			return refuse("you cannot deactivate yourself")
		case actor.User.Superuser:
			return nil
		}
		return refuse("an administrator cannot do this to their own account; another administrator must")
	}
	if !actor.User.Superuser && !slices.ContainsFunc(action.requires(), actor.Privs.Has) {
		return refuse("requires privilege %s", strings.Join(action.requires(), " or "))
	}
	if actor.User.Superuser {
		return nil
	}
	if !actor.reachFor(action.requires()).Covers(target.User.Units) {
		r := refuse("%s is not in a team you administer", target.User.Username)
		r.(*Refusal).OutOfScope = true //nolint:errorlint // refuse returns its own *Refusal, never wrapped
		return r
	}
	switch {
	case action == ActView:
		// Reading another account hands nothing over.
		return nil
	case target.User.Superuser:
		return refuse("only a superuser may act on superuser %s", target.User.Username)
	case target.User.Emergency:
		return refuse("only a superuser may act on the emergency account")
	}
	if missing := privilege.CanGrant(actor.grantable(), target.power()); len(missing) > 0 {
		return refuse("%s holds privileges you cannot grant: %s", target.User.Username, missing)
	}
	return nil
}

// principal is u with what it holds.
func (s *Server) principal(ctx context.Context, rd store.Reader, u store.User) (Principal, error) {
	privs, mayGrant, err := s.holdings(ctx, rd, u)
	if err != nil {
		return Principal{}, err
	}
	return Principal{User: u, Privs: privs, MayGrant: mayGrant}, nil
}

// actorPrincipal is the caller with its privileges and how far each
// scoped one reaches (the teams read through rd).
func (s *Server) actorPrincipal(ctx context.Context, rd store.Reader, c *caller) (Principal, error) {
	p := Principal{User: c.User, Privs: c.Privs}
	p.MayGrant = c.MayGrant
	if c.User.Superuser || c.User.Profile == "" || c.User.CustomPrivileges != nil {
		return p, nil
	}
	prof, err := rd.GetProfile(ctx, c.User.Profile)
	if errors.Is(err, store.ErrNotFound) {
		return p, nil
	}
	if err != nil {
		return p, fmt.Errorf("scope of %s: profile %q: %w", c.User.Username, c.User.Profile, err)
	}
	if len(prof.Scopes) == 0 {
		return p, nil
	}
	teams, err := rd.ListTeams(ctx)
	if err != nil {
		return p, fmt.Errorf("scope of %s: %w", c.User.Username, err)
	}
	p.Reach = map[string]privilege.Reach{}
	for name := range prof.Scopes {
		if c.Privs.Has(name) {
			p.Reach[name] = privilege.ReachOf(c.User, &prof, name, teams)
		}
	}
	return p, nil
}

// viewReach is how far the caller sees users: the list filter of a scoped
// administrator (ok false: everyone).
func (s *Server) viewReach(ctx context.Context, rd store.Reader, c *caller) (privilege.Reach, error) {
	p, err := s.actorPrincipal(ctx, rd, c)
	if err != nil {
		return privilege.Reach{}, err
	}
	r := p.reachFor(ActView.requires())
	if !r.All {
		c.detail("scope", r.Scopes)
	}
	return r, nil
}

// authorizeOn runs Authorize for the caller on target, reading the
// target's privileges through rd (the transaction the change runs in, so
// the decision and the change see the same state). A refusal becomes a 403
// that the request wrapper audits as denied.
func (s *Server) authorizeOn(ctx context.Context, rd store.Reader, c *caller, target store.User, action Action) error {
	t, err := s.principal(ctx, rd, target)
	if err != nil {
		return err
	}
	actor, err := s.actorPrincipal(ctx, rd, c)
	if err != nil {
		return err
	}
	if err := Authorize(actor, t, action); err != nil {
		c.detail("refused_action", string(action))
		var r *Refusal
		if errors.As(err, &r) && r.OutOfScope {
			// The same answer as for a user that does not exist.
			c.detail("out_of_scope", true)
			ref := target.Username
			if c.Request != nil && c.Request.PathValue("id") != "" {
				ref = c.Request.PathValue("id") // as the caller named it
			}
			return notFound("user", ref)
		}
		if missing := privilege.CanGrant(c.grantable(), t.power()); len(missing) > 0 {
			c.detail("missing_privileges", []string(missing))
		}
		return errf(http.StatusForbidden, CodeForbidden, "%s", err)
	}
	if !c.User.Superuser {
		if r := actor.reachFor(action.requires()); !r.All {
			c.detail("scope", r.Scopes)
		}
	}
	return nil
}
