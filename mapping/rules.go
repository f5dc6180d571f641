package mapping

import (
	"fmt"
	"strings"

	"github.com/dirbridge/dirbridge/internal/ldapdn"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// FlagSuperuser is the rule flag that makes a user a superuser.
const FlagSuperuser = "superuser"

// Rule maps membership of one directory group to a profile, units and
// flags. Rules are kept in configuration order: that order decides which
// rule gives the profile, and rule numbers in causes ("rule 2") are 1-based
// positions in that list, so an administrator can find the rule in the file.
type Rule struct {
	// Name is an optional label shown in causes next to the rule number.
	Name string
	// Ref, when set, is how causes and warnings name the rule instead of
	// "rule N" by position — e.g. "directory rule 1" for a rule from a
	// directory's own list (see CombineRules), so the words lead back to
	// the right place in the configuration file.
	Ref string
	// Group names the group by DN (compared parsed and case-insensitively),
	// by name (cn / sAMAccountName, case-insensitive) or by anchor
	// (objectGUID / entryUUID text, braces optional).
	Group string
	// Directory limits the rule to one directory; empty means every
	// directory.
	Directory string
	// Profile is given by the first matching rule that names one; a rule
	// without a profile only adds units and flags.
	Profile string
	// Units accumulate over every matching rule.
	Units []string
	// Flags are OR-ed over every matching rule (e.g. "superuser": true).
	Flags map[string]bool
}

// Assignment is what the rules give one user, each part with its cause.
type Assignment struct {
	// Profile is empty when no rule gave one and there is no default.
	Profile string
	// ProfileCause says what decided the profile:
	// `rule 2 (group CC-Supervisors)`, `default profile of directory corp`,
	// or `no rule matched; no default profile`.
	ProfileCause string
	// Units are deduplicated (case-insensitively) in rule order.
	Units []string
	// UnitCauses gives, per unit, every rule that added it.
	UnitCauses map[string][]string
	// Flags holds the flags set by some matching rule.
	Flags map[string]bool
	// FlagCauses gives, per flag, the first rule that set it.
	FlagCauses map[string]string
	// Matched are the causes of every matching rule, in rule order.
	Matched []string
}

// Superuser reports whether the superuser flag is set.
func (a Assignment) Superuser() bool { return a.Flags[FlagSuperuser] }

// Resolve applies the rules to one user of directory dir whose groups
// (direct and nested, already resolved by the caller) are userGroups.
//
// The first matching rule that names a profile gives the profile; units
// accumulate over every matching rule, deduplicated, in rule order; flags are
// OR-ed. A user matching no profile-giving rule gets defaultProfile (the
// directory's default_profile) or, when that is empty, no profile at all: a
// profile-less user signs in and holds no privileges.
//
// Rules for another directory are skipped. The only warnings Resolve gives
// concern the rules themselves (a rule naming no group); whether a rule
// names a group that is imported at all is CheckRules' business, since it
// needs every imported group, not one user's.
func Resolve(dir string, rules []Rule, userGroups []directory.Group, defaultProfile string) (Assignment, []Warning) {
	return resolve(dir, rules, compileSpecs(rules), groupKeys(userGroups), defaultProfile)
}

// resolve is Resolve with the rules' group names and the user's groups
// already normalised, so a Mapper normalises each rule once rather than
// once per user and group.
func resolve(dir string, rules []Rule, specs []groupSpec, userGroups []groupKey, defaultProfile string) (Assignment, []Warning) {
	var warns []Warning
	a := Assignment{}
	seenUnit := map[string]string{} // folded -> spelling kept
	for i, r := range rules {
		if !appliesTo(r, dir) {
			continue
		}
		if strings.TrimSpace(r.Group) == "" {
			warns = append(warns, Warning{
				Code: WarnRuleNoGroup, Directory: dir, Rule: i + 1,
				Message: fmt.Sprintf("%s names no group and never matches", ruleLabel(i, r)),
			})
			continue
		}
		g, ok := findGroup(specs[i], userGroups)
		if !ok {
			continue
		}
		cause := ruleCause(i, r, g)
		a.Matched = append(a.Matched, cause)
		if a.Profile == "" && r.Profile != "" {
			a.Profile, a.ProfileCause = r.Profile, cause
		}
		for _, u := range r.Units {
			if u == "" {
				continue
			}
			key := strings.ToLower(u)
			kept, dup := seenUnit[key]
			if !dup {
				seenUnit[key] = u
				kept = u
				a.Units = append(a.Units, u)
			}
			if a.UnitCauses == nil {
				a.UnitCauses = map[string][]string{}
			}
			a.UnitCauses[kept] = append(a.UnitCauses[kept], cause)
		}
		for f, on := range r.Flags {
			if !on {
				continue // OR-ed: a false flag never clears one set elsewhere
			}
			if a.Flags == nil {
				a.Flags, a.FlagCauses = map[string]bool{}, map[string]string{}
			}
			if !a.Flags[f] {
				a.Flags[f], a.FlagCauses[f] = true, cause
			}
		}
	}
	if a.Profile == "" {
		if defaultProfile != "" {
			a.Profile = defaultProfile
			a.ProfileCause = fmt.Sprintf("default profile of directory %s", dir)
		} else {
			a.ProfileCause = "no rule matched; no default profile"
		}
	}
	return a, warns
}

// CheckRules reports rules of directory dir that can never match because
// the group they name is not among the imported groups. Pass every imported
// group (not only those of an incremental read), or the warning is false.
func CheckRules(dir string, rules []Rule, imported []directory.Group) []Warning {
	var warns []Warning
	keys := groupKeys(imported)
	for i, r := range rules {
		if !appliesTo(r, dir) || strings.TrimSpace(r.Group) == "" {
			continue
		}
		if _, ok := findGroup(compileSpec(r.Group), keys); !ok {
			warns = append(warns, Warning{
				Code: WarnUnknownGroup, Directory: dir, Rule: i + 1,
				Message: fmt.Sprintf("%s names group %q, which is not among the imported groups of directory %s", ruleLabel(i, r), r.Group, dir),
			})
		}
	}
	return warns
}

func appliesTo(r Rule, dir string) bool {
	return r.Directory == "" || strings.EqualFold(r.Directory, dir)
}

func ruleLabel(i int, r Rule) string {
	ref := r.Ref
	if ref == "" {
		ref = fmt.Sprintf("rule %d", i+1)
	}
	if r.Name != "" {
		return fmt.Sprintf("%s %q", ref, r.Name)
	}
	return ref
}

// CombineRules builds the rule list of directory dir the way the
// configuration reads: the directory's own rules first (they are more
// specific), then the global ones. Each rule gets a Ref that names it as
// the file does — "directory rule N" or "rule N" — so causes stay
// findable although positions in the combined list differ from the file.
// Global rules limited to another directory are dropped.
func CombineRules(dir string, dirRules, global []Rule) []Rule {
	out := make([]Rule, 0, len(dirRules)+len(global))
	for i, r := range dirRules {
		r.Directory = dir
		if r.Ref == "" {
			r.Ref = fmt.Sprintf("directory rule %d", i+1)
		}
		out = append(out, r)
	}
	for i, r := range global {
		if !appliesTo(r, dir) {
			continue
		}
		if r.Ref == "" {
			r.Ref = fmt.Sprintf("rule %d", i+1)
		}
		out = append(out, r)
	}
	return out
}

// ruleCause names the rule and the group as the directory calls it, which
// reads better in a plan than a DN or GUID the rule may have used.
func ruleCause(i int, r Rule, g directory.Group) string {
	name := g.Name
	if name == "" {
		name = r.Group
	}
	return fmt.Sprintf("%s (group %s)", ruleLabel(i, r), name)
}

// groupSpec is a rule's group name prepared for matching.
type groupSpec struct {
	raw    string
	anchor string
	dn     string // ldapdn.Key; empty when the name is not a DN
}

func compileSpec(spec string) groupSpec {
	spec = strings.TrimSpace(spec)
	s := groupSpec{raw: spec, anchor: normAnchor(spec)}
	if strings.Contains(spec, "=") {
		if dn, err := ldapdn.Key(spec); err == nil {
			s.dn = dn
		}
	}
	return s
}

func compileSpecs(rules []Rule) []groupSpec {
	out := make([]groupSpec, len(rules))
	for i, r := range rules {
		out[i] = compileSpec(r.Group)
	}
	return out
}

// groupKey is a group prepared for matching.
type groupKey struct {
	g      directory.Group
	anchor string
	dn     string // ldapdn.Key; empty when absent or malformed
}

func groupKeys(groups []directory.Group) []groupKey {
	out := make([]groupKey, len(groups))
	for i, g := range groups {
		out[i] = groupKeyOf(g)
	}
	return out
}

func groupKeyOf(g directory.Group) groupKey {
	k := groupKey{g: g, anchor: normAnchor(g.Anchor)}
	if g.DN != "" {
		if dn, err := ldapdn.Key(g.DN); err == nil {
			k.dn = dn
		}
	}
	return k
}

func (s groupSpec) matches(k groupKey) bool {
	switch {
	case s.raw == "":
		return false
	case k.anchor != "" && s.anchor == k.anchor:
		return true
	case k.g.Name != "" && strings.EqualFold(s.raw, k.g.Name):
		return true
	default:
		return s.dn != "" && s.dn == k.dn
	}
}

// findGroup finds the group a rule names among groups.
func findGroup(spec groupSpec, groups []groupKey) (directory.Group, bool) {
	for _, k := range groups {
		if spec.matches(k) {
			return k.g, true
		}
	}
	return directory.Group{}, false
}

// GroupMatches reports whether spec (a DN, a name or an anchor) names g.
func GroupMatches(spec string, g directory.Group) bool {
	return compileSpec(spec).matches(groupKeys([]directory.Group{g})[0])
}

// normAnchor makes GUID text comparable: AD tools print it with or without
// braces and in either case.
func normAnchor(s string) string {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "{")
	s = strings.TrimSuffix(s, "}")
	return strings.ToLower(s)
}
