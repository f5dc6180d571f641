package privilege

import (
	"slices"
	"sort"

	"github.com/dirbridge/dirbridge/store"
)

// Scoped privileges (Info.Scoped) are granted with a reach (store.Scope):
// everyone, the holder's own teams, or assigned teams, subteams always
// included. The built-in administrative privileges are scoped; an
// application marks its own.

// Reach is who a holder's scoped privilege reaches: everyone (All), or the
// users of Teams (subteams included). The zero value reaches nobody.
type Reach struct {
	All bool
	// Teams is sorted, without duplicates.
	Teams []string
	// Scopes are the scope kinds that made the reach, for the audit log.
	Scopes []string
}

// Everyone is the reach of an unscoped privilege.
var Everyone = Reach{All: true, Scopes: []string{store.ScopeAll}}

// Covers reports whether a user in units is within r. A user in no team
// is reached only by All.
func (r Reach) Covers(units []string) bool {
	if r.All {
		return true
	}
	for _, u := range units {
		if _, ok := slices.BinarySearch(r.Teams, u); ok {
			return true
		}
	}
	return false
}

// Union is everyone either reach reaches.
func (r Reach) Union(o Reach) Reach {
	out := Reach{All: r.All || o.All, Scopes: union(r.Scopes, o.Scopes)}
	if !out.All {
		out.Teams = union(r.Teams, o.Teams)
	}
	return out
}

func union(a, b []string) []string {
	if len(a)+len(b) == 0 {
		return nil
	}
	out := append(slices.Clone(a), b...)
	sort.Strings(out)
	return slices.Compact(out)
}

// ReachOf is how far holder's priv reaches, given holder's profile (nil
// when it has none, or custom privileges) and every team. A superuser and
// custom privileges reach everyone, as does a privilege the profile gives
// no scope; own_teams is the teams the holder belongs to or supervises;
// assigned the profile's list. Subteams are added to both.
func ReachOf(holder store.User, prof *store.Profile, priv string, teams []store.Team) Reach {
	if holder.Superuser || prof == nil || holder.CustomPrivileges != nil {
		return Everyone
	}
	sc, ok := prof.Scopes[priv]
	if !ok || sc.Kind == "" || sc.Kind == store.ScopeAll {
		return Everyone
	}
	var roots []string
	switch sc.Kind {
	case store.ScopeOwnTeams:
		for _, t := range teams {
			if slices.Contains(holder.Units, t.Name) || slices.Contains(t.Supervisors, holder.ID) {
				roots = append(roots, t.Name)
			}
		}
		// A unit without a team record still counts as the holder's team.
		roots = append(roots, holder.Units...)
	case store.ScopeAssigned:
		roots = sc.Teams
	default:
		// An unknown kind reaches nobody rather than everyone.
		return Reach{Scopes: []string{sc.Kind}}
	}
	return Reach{Teams: withSubteams(roots, teams), Scopes: []string{sc.Kind}}
}

// withSubteams returns roots and every team below them, sorted.
func withSubteams(roots []string, teams []store.Team) []string {
	children := map[string][]string{}
	for _, t := range teams {
		if t.Parent != "" {
			children[t.Parent] = append(children[t.Parent], t.Name)
		}
	}
	seen := map[string]bool{}
	queue := slices.Clone(roots)
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if seen[n] {
			continue
		}
		seen[n] = true
		queue = append(queue, children[n]...)
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
