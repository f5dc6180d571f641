package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/store"
)

// The sync is the system acting and is not scoped; what a run planned and
// what a directory imported are shown to an administrator whose privilege
// is limited to some teams only for the users of those teams. Counts are
// recomputed from what they may see, so totals do not tell them about
// the rest of the directory either.

// syncReach is how far the caller sees sync runs and import statistics.
func (s *Server) syncReach(ctx context.Context, rd store.Reader, c *caller) (privilege.Reach, error) {
	actor, err := s.actorPrincipal(ctx, rd, c)
	if err != nil {
		return privilege.Reach{}, err
	}
	r := actor.reachFor([]string{privilege.TriggerSync, privilege.ManageUsers})
	if !r.All {
		c.detail("scope", r.Scopes)
	}
	return r, nil
}

// scopedPlanItem is what scoping reads of a plan item.
type scopedPlanItem struct {
	Kind    string `json:"kind"`
	UserID  string `json:"user_id"`
	Changes []struct {
		Field string `json:"field"`
		New   string `json:"new"`
	} `json:"changes"`
}

// visible reports whether a plan item is about a user in reach: the stored
// user's teams, or the teams the plan gives it (a new user, or one moved
// into the caller's team).
func visible(ctx context.Context, rd store.Reader, reach privilege.Reach, raw json.RawMessage) (scopedPlanItem, bool, error) {
	var it scopedPlanItem
	if err := json.Unmarshal(raw, &it); err != nil {
		return it, false, fmt.Errorf("plan item: %w", err)
	}
	if it.UserID != "" {
		u, err := rd.GetUser(ctx, it.UserID)
		switch {
		case err == nil:
			if reach.Covers(u.Units) {
				return it, true, nil
			}
		case !errors.Is(err, store.ErrNotFound):
			return it, false, fmt.Errorf("plan item user %s: %w", it.UserID, err)
		}
	}
	for _, ch := range it.Changes {
		if ch.Field == "units" && ch.New != "" && reach.Covers(strings.Split(ch.New, ", ")) {
			return it, true, nil
		}
	}
	return it, false, nil
}

// scopePlan keeps the items, blocked and skipped entries of a stored plan
// that concern users in reach, drops the warnings (they name users), and
// returns the counts of what is left.
func scopePlan(ctx context.Context, rd store.Reader, reach privilege.Reach, raw json.RawMessage) (json.RawMessage, store.SyncCounts, error) {
	var counts store.SyncCounts
	if len(raw) == 0 {
		return raw, counts, nil
	}
	var plan map[string]json.RawMessage
	if err := json.Unmarshal(raw, &plan); err != nil {
		return nil, counts, fmt.Errorf("plan: %w", err)
	}
	for _, key := range []string{"items", "blocked", "skipped"} {
		var list []json.RawMessage
		if len(plan[key]) > 0 {
			if err := json.Unmarshal(plan[key], &list); err != nil {
				return nil, counts, fmt.Errorf("plan %s: %w", key, err)
			}
		}
		kept := []json.RawMessage{}
		for _, item := range list {
			it, ok, err := visible(ctx, rd, reach, item)
			if err != nil {
				return nil, counts, err
			}
			if !ok {
				continue
			}
			kept = append(kept, item)
			if key == "items" {
				countItem(&counts, it.Kind)
			}
		}
		plan[key], _ = json.Marshal(kept)
	}
	delete(plan, "warnings")
	plan["counts"], _ = json.Marshal(counts)
	plan["scoped"] = json.RawMessage("true")
	out, err := json.Marshal(plan)
	return out, counts, err
}

func countItem(c *store.SyncCounts, kind string) {
	switch kind {
	case "create", "link":
		c.Created++
	case "update":
		c.Updated++
	case "deactivate":
		c.Deactivated++
	case "reactivate":
		c.Reactivated++
	}
}

// scopeStats recomputes a directory's import statistics over the users in
// reach: their entries, how many are mapped and active. Groups are not
// counted for a scoped caller (a group is not in a team).
func scopeStats(ctx context.Context, rd store.Reader, reach privilege.Reach, directory string, all DirectoryStats) (DirectoryStats, error) {
	out := DirectoryStats{Directory: directory, Domains: []string{}, LatestImport: all.LatestImport, Scoped: true}
	users, err := rd.ListUsers(ctx, store.UserFilter{Source: directory, InTeams: true, Teams: reach.Teams})
	if err != nil {
		return out, fmt.Errorf("stats of %s: users in scope: %w", directory, err)
	}
	for _, u := range users {
		if !reach.Covers(u.Units) {
			continue
		}
		out.UsersImported++
		out.UsersMapped++
		if u.State == store.StateActive {
			out.UsersActive++
		}
		if _, domain, ok := strings.Cut(u.UPN, "@"); ok && domain != "" {
			domain = strings.ToLower(domain)
			if !slices.Contains(out.Domains, domain) {
				out.Domains = append(out.Domains, domain)
			}
		}
	}
	slices.Sort(out.Domains)
	return out, nil
}
