// Package privilege names the privileges dirbridge itself checks, carries
// the application's own privileges next to them, and answers the two
// questions every caller has: what does this user hold (Effective), and may
// this holder grant that (CanGrant). It is pure: no I/O, no config import —
// config converts its privileges into Info values and calls NewCatalogue.
package privilege

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/dirbridge/dirbridge/store"
)

// Built-in privileges: the ones dirbridge's own code checks.
const (
	// BypassSSO allows password sign-in through /login?bypass-sso=1 when
	// SSO is enforced.
	BypassSSO = "bypass_sso"
	// PrivilegedIPAccess allows sign-in from any address despite IP rules.
	PrivilegedIPAccess = "privileged_ip_access"
	// ManageUsers covers activating, deactivating, unlocking, password
	// resets, mapping imported accounts and API keys of other users.
	ManageUsers = "manage_users"
	// ViewUsers lists and reads users without changing them.
	ViewUsers = "view_users"
	// ManageProfiles creates, updates and deletes profiles.
	ManageProfiles = "manage_profiles"
	// TriggerSync starts a sync (or dry run) and reads sync runs and stats;
	// over everyone, it also chooses the directory groups to import.
	TriggerSync = "trigger_sync"
	// ViewAuditLog reads the audit log.
	ViewAuditLog = "view_audit_log"
	// ManageSessions lists and ends other users' sessions (licences).
	ManageSessions = "manage_sessions"
	// GrantAll lets its holder grant privileges it does not hold itself.
	GrantAll = "grant_all"
	// ManageTeams creates and deletes teams, moves them and names their
	// supervisors.
	ManageTeams = "manage_teams"
	// EditOwnDetails lets a user change their own display name, chat
	// nickname and language.
	EditOwnDetails = "edit_own_details"
)

// Display groups of the built-in privileges.
const (
	GroupSystem      = "System Administration"
	GroupSecurity    = "Security"
	GroupSupervision = "Supervision"
	GroupSelfService = "Self-service"
)

// Info describes one privilege for display and validation.
type Info struct {
	Name        string `json:"name"`
	Group       string `json:"group"`
	Description string `json:"description"`
	// BuiltIn is true for privileges dirbridge itself checks.
	BuiltIn bool `json:"built_in"`
	// Scoped privileges are granted with a reach (everyone, own teams,
	// assigned teams) in a profile.
	Scoped bool `json:"scoped"`
	// Requires are privileges a profile must also hold to hold this one.
	Requires []string `json:"requires,omitempty"`
}

var builtins = []Info{
	{Name: BypassSSO, Group: GroupSecurity, Description: "Sign in with a password through the bypass path while single sign-on is enforced.", BuiltIn: true},
	{Name: PrivilegedIPAccess, Group: GroupSecurity, Description: "Sign in from any address, whatever the IP authorisation rules say.", BuiltIn: true},
	{Name: GrantAll, Group: GroupSecurity, Description: "Grant any privilege, including ones not held oneself.", BuiltIn: true},
	{Name: ManageUsers, Group: GroupSystem, Description: "Create, activate, deactivate, unlock and map users; reset passwords; manage API keys.", BuiltIn: true, Scoped: true},
	{Name: ViewUsers, Group: GroupSystem, Description: "List and read users and their profiles.", BuiltIn: true, Scoped: true},
	{Name: ManageTeams, Group: GroupSystem, Description: "Create, move and delete teams and name their supervisors.", BuiltIn: true, Requires: []string{ManageUsers}},
	{Name: ManageProfiles, Group: GroupSystem, Description: "Create, change and delete profiles.", BuiltIn: true, Scoped: true},
	{Name: TriggerSync, Group: GroupSystem, Description: "Start directory syncs and dry runs; read sync runs and statistics; choose the directory groups to import (when it reaches everyone).", BuiltIn: true, Scoped: true},
	{Name: EditOwnDetails, Group: GroupSelfService, Description: "Change one's own display name, chat nickname and language.", BuiltIn: true},
	{Name: ManageSessions, Group: GroupSupervision, Description: "See signed-in users and end their sessions.", BuiltIn: true, Scoped: true},
	{Name: ViewAuditLog, Group: GroupSupervision, Description: "Read the audit log.", BuiltIn: true, Scoped: true},
}

// BuiltIns returns the built-in privileges, in display order.
func BuiltIns() []Info { return slices.Clone(builtins) }

// IsBuiltIn reports whether name is a built-in privilege.
func IsBuiltIn(name string) bool {
	return slices.ContainsFunc(builtins, func(i Info) bool { return i.Name == name })
}

// Set is a sorted set of privilege names without duplicates. The zero value
// is the empty set. Operations return new, normalised sets and never modify
// their operands; they also accept hand-built, unsorted sets such as
// Set(profile.Privileges), since sets are small and a wrong answer here would
// be a privilege bug.
type Set []string

// NewSet builds a set from names in any order, dropping empties and repeats.
func NewSet(names ...string) Set {
	s := make(Set, 0, len(names))
	for _, n := range names {
		if n != "" {
			s = append(s, n)
		}
	}
	sort.Strings(s)
	return Set(slices.Compact([]string(s)))
}

// Has reports whether the set holds name.
func (s Set) Has(name string) bool {
	return slices.Contains(s, name)
}

// Union returns s ∪ o.
func (s Set) Union(o Set) Set { return NewSet(append(slices.Clone([]string(s)), o...)...) }

// Intersect returns s ∩ o.
func (s Set) Intersect(o Set) Set {
	var out []string
	for _, n := range s {
		if o.Has(n) {
			out = append(out, n)
		}
	}
	return NewSet(out...)
}

// Minus returns s \ o.
func (s Set) Minus(o Set) Set {
	var out []string
	for _, n := range s {
		if !o.Has(n) {
			out = append(out, n)
		}
	}
	return NewSet(out...)
}

// Contains reports whether every name of o is in s.
func (s Set) Contains(o Set) bool { return len(o.Minus(s)) == 0 }

// Equal reports whether both sets hold the same names.
func (s Set) Equal(o Set) bool { return slices.Equal(NewSet(s...), NewSet(o...)) }

// String renders "a, b, c" for messages and headers.
func (s Set) String() string { return strings.Join(s, ", ") }

// Catalogue is every privilege a profile may hold: built-ins plus the
// application's own.
type Catalogue struct {
	all   []Info
	index map[string]int
}

// NewCatalogue adds the application's privileges to the built-ins. A name
// that is empty, repeated or shadows a built-in is an error, because a
// profile holding it would be ambiguous.
func NewCatalogue(app []Info) (*Catalogue, error) {
	c := &Catalogue{index: map[string]int{}}
	for _, b := range builtins {
		c.index[b.Name] = len(c.all)
		c.all = append(c.all, b)
	}
	for _, a := range app {
		switch {
		case a.Name == "":
			return nil, fmt.Errorf("privilege: empty name")
		case IsBuiltIn(a.Name):
			return nil, fmt.Errorf("privilege %q: is a built-in privilege", a.Name)
		}
		if _, dup := c.index[a.Name]; dup {
			return nil, fmt.Errorf("privilege %q: declared twice", a.Name)
		}
		a.BuiltIn = false
		c.index[a.Name] = len(c.all)
		c.all = append(c.all, a)
	}
	return c, nil
}

// All returns every privilege: built-ins first, then the application's in
// declaration order.
func (c *Catalogue) All() []Info { return slices.Clone(c.all) }

// Lookup returns the privilege named name.
func (c *Catalogue) Lookup(name string) (Info, bool) {
	i, ok := c.index[name]
	if !ok {
		return Info{}, false
	}
	return c.all[i], true
}

// IsScoped reports whether name is granted with a reach.
func (c *Catalogue) IsScoped(name string) bool {
	i, ok := c.Lookup(name)
	return ok && i.Scoped
}

// MissingPrerequisites returns, for each privilege of s whose
// prerequisites s lacks, the missing names (nil when none lack).
func (c *Catalogue) MissingPrerequisites(s Set) map[string][]string {
	var out map[string][]string
	for _, name := range s {
		i, ok := c.Lookup(name)
		if !ok {
			continue
		}
		for _, req := range i.Requires {
			if !s.Has(req) {
				if out == nil {
					out = map[string][]string{}
				}
				out[name] = append(out[name], req)
			}
		}
	}
	return out
}

// Names is the set of every privilege.
func (c *Catalogue) Names() Set {
	names := make([]string, len(c.all))
	for i, p := range c.all {
		names[i] = p.Name
	}
	return NewSet(names...)
}

// Unknown returns the names of s not in the catalogue.
func (c *Catalogue) Unknown(s Set) Set { return s.Minus(c.Names()) }

// Grouped returns the privileges by display group, groups in first-seen
// order, for listings like the seed products' privilege screens.
func (c *Catalogue) Grouped() (groups []string, by map[string][]Info) {
	by = map[string][]Info{}
	for _, p := range c.all {
		if _, ok := by[p.Group]; !ok {
			groups = append(groups, p.Group)
		}
		by[p.Group] = append(by[p.Group], p)
	}
	return groups, by
}

// Effective is what u holds, with "all" meaning the built-in privileges
// only; use Catalogue.Effective to include the application's.
func Effective(u store.User, p *store.Profile) Set { return effective(u, p, builtinNames()) }

// Effective is what u holds: a superuser holds every privilege of the
// catalogue; otherwise a non-nil CustomPrivileges (the seed products' custom
// profile) replaces the profile; otherwise the profile's privileges;
// otherwise nothing (a profile-less user signs in and holds none). p is the
// user's profile, nil when the user has none; a profile whose name is not the
// user's is ignored rather than trusted.
func (c *Catalogue) Effective(u store.User, p *store.Profile) Set { return effective(u, p, c.Names()) }

func effective(u store.User, p *store.Profile, all Set) Set {
	switch {
	case u.Superuser:
		return NewSet(all...)
	case u.CustomPrivileges != nil:
		return NewSet(u.CustomPrivileges...)
	case p != nil && u.Profile != "" && p.Name == u.Profile:
		return NewSet(p.Privileges...)
	}
	return Set{}
}

func builtinNames() Set {
	names := make([]string, len(builtins))
	for i, b := range builtins {
		names[i] = b.Name
	}
	return NewSet(names...)
}

// CanGrant returns the privileges of wanted that holder may not grant: none
// when holder holds grant_all, otherwise those it does not hold itself.
// An empty result means the grant is allowed; the API answers 403 naming the
// rest, which is how escalation through the API is stopped.
func CanGrant(holder, wanted Set) (missing Set) {
	if holder.Has(GrantAll) {
		return Set{}
	}
	return NewSet(wanted...).Minus(holder)
}

// Grantable is what a holder of held may grant or revoke to others: held
// itself unless its profile lists may-grant privileges (the seed's "may
// grant" setting), then those. grant_all still grants everything.
func Grantable(held Set, mayGrant []string) Set {
	if mayGrant == nil || held.Has(GrantAll) {
		return held
	}
	return NewSet(mayGrant...)
}

// Protected reports whether an account is never bound to an outside
// identity by a claim or attribute that merely matches: a superuser, the
// emergency account, or a holder of bypass_sso or grant_all (privs is what
// u holds). Such an account is linked by an administrator instead — by the
// sync's anchor, an explicit map, or an IdP link — because an automatic
// match would hand whoever controls the matching value (a directory
// operator, an IdP user who sets their own e-mail) the keys to dirbridge.
func Protected(u store.User, privs Set) bool {
	return u.Superuser || u.Emergency || privs.Has(BypassSSO) || privs.Has(GrantAll)
}
