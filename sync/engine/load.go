package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// LoadAffected reads what NewPlan needs for an incomplete (incremental)
// snapshot, and no more: the directory's users and entries for the
// anchors the snapshot holds, every stored group with its members cut down
// to those anchors, the users holding the usernames (and, when linking by
// e-mail, the addresses) those users map to, and the directory's user
// counts. A no-change incremental of a large directory is then a few small
// queries instead of a load of the whole directory.
//
// The plan it gives is the plan LoadCurrent's Current would give for the
// same snapshot: an incomplete snapshot deactivates nobody for being
// absent, so nothing outside what it touches plays a part. It must not be
// used for a complete snapshot (NewPlan refuses to deactivate leavers on a
// partial Current).
func LoadAffected(ctx context.Context, st store.Reader, dir string, linkBy mapping.LinkBy, snap directory.Snapshot, mapper Mapper) (Current, error) {
	cur := Current{Directory: dir, LinkBy: linkBy, Profiles: map[string][]string{}, Partial: true}
	// The directory-wide parts (counts, state, profiles) do not depend on
	// the read: they load beside the per-user lookups (the store's reads
	// run on a pool of connections).
	var side sync.WaitGroup
	var sideErr error
	var whole Current // only its counts, state and profiles are set
	side.Add(1)
	go func() {
		defer side.Done()
		sideErr = loadCounts(ctx, st, dir, &whole)
	}()
	waitSide := func() error {
		side.Wait()
		cur.KnownBefore, cur.ActiveBefore, cur.State, cur.Profiles = whole.KnownBefore, whole.ActiveBefore, whole.State, whole.Profiles
		return sideErr
	}
	defer side.Wait()
	var anchors []string
	inSnap := make(map[string]bool, len(snap.Users))
	for _, u := range snap.Users {
		if u.Anchor != "" && !inSnap[u.Anchor] {
			inSnap[u.Anchor] = true
			anchors = append(anchors, u.Anchor)
		}
	}

	have := map[string]bool{} // user IDs loaded
	add := func(us []store.User) {
		for _, u := range us {
			if have[u.ID] {
				continue
			}
			have[u.ID] = true
			if u.Source == dir {
				cur.Users = append(cur.Users, u)
			} else {
				cur.Others = append(cur.Others, u)
			}
		}
	}
	for _, a := range anchors {
		us, err := st.FindUsers(ctx, store.KeyAnchor, a)
		if err != nil {
			return Current{}, fmt.Errorf("load users by anchor: %w", err)
		}
		var mine []store.User
		for _, u := range us {
			if u.Source == dir {
				mine = append(mine, u)
			}
		}
		add(mine)
	}

	if dl, ok := st.(store.DirectoryLookup); ok {
		es, err := dl.GetDirectoryEntries(ctx, dir, anchors)
		if err != nil {
			return Current{}, fmt.Errorf("load directory entries: %w", err)
		}
		// A stored group lists a user only if the user's stored entry lists
		// the group (a sync writes both from one read, and an entry is
		// only removed with the user's removal or a full read that
		// rewrites every group). So when every user read has an entry,
		// only the groups their entries name can hold them: those are
		// read whole, the rest by name only (their member lists run to
		// tens of megabytes on a large directory).
		var within []string
		seenGroup := map[string]bool{}
		withEntry := 0
		for _, e := range es {
			if e.Kind == store.EntryGroup {
				continue
			}
			cur.Entries = append(cur.Entries, e)
			withEntry++
			for _, g := range e.Groups {
				if !seenGroup[g] {
					seenGroup[g] = true
					within = append(within, g)
				}
			}
		}
		var gs []store.DirectoryEntry
		if withEntry == len(anchors) {
			var headsErr error
			heads := make(chan struct{})
			go func() {
				defer close(heads)
				gs, headsErr = dl.ListDirectoryGroups(ctx, dir, nil)
			}()
			full, err := dl.GetDirectoryEntries(ctx, dir, within)
			<-heads
			if err == nil {
				err = headsErr
			}
			if err != nil {
				return Current{}, fmt.Errorf("load directory groups: %w", err)
			}
			members := make(map[string][]string, len(full))
			for _, g := range full {
				if g.Kind != store.EntryGroup {
					continue
				}
				var in []string
				for _, m := range g.Groups {
					if inSnap[m] {
						in = append(in, m)
					}
				}
				members[g.Anchor] = in
			}
			for i := range gs {
				if m := members[gs[i].Anchor]; m != nil {
					gs[i].Groups = m
				}
			}
		} else if gs, err = dl.ListDirectoryGroups(ctx, dir, anchors); err != nil {
			return Current{}, fmt.Errorf("load directory groups: %w", err)
		}
		cur.Entries = append(cur.Entries, gs...)
	} else {
		all, err := st.ListDirectoryEntries(ctx, dir)
		if err != nil {
			return Current{}, fmt.Errorf("load directory entries: %w", err)
		}
		for _, e := range all {
			switch {
			case e.Kind == store.EntryGroup:
				members := make([]string, 0, len(anchors))
				for _, m := range e.Groups {
					if inSnap[m] {
						members = append(members, m)
					}
				}
				if e.Groups == nil {
					members = nil
				}
				e.Groups = members
				cur.Entries = append(cur.Entries, e)
			case inSnap[e.Anchor]:
				cur.Entries = append(cur.Entries, e)
			}
		}
	}

	// Who holds the usernames these users map to (a rename or a new user
	// must not take one), and, linking by e-mail, their addresses.
	if len(anchors) > 0 {
		names, emails := mappedKeys(cur, snap, mapper)
		for _, n := range names {
			us, err := st.FindUsers(ctx, store.KeyUsername, n)
			if err != nil {
				return Current{}, fmt.Errorf("load users by username: %w", err)
			}
			add(us)
		}
		if linkBy == mapping.LinkByEmail {
			for _, e := range emails {
				us, err := st.FindUsers(ctx, store.KeyEmail, e)
				if err != nil {
					return Current{}, fmt.Errorf("load users by e-mail: %w", err)
				}
				add(us)
			}
		}
	}

	if err := waitSide(); err != nil {
		return Current{}, err
	}
	return cur, nil
}

// loadCounts fills in what LoadAffected reads about the whole directory:
// its user counts, its state and the profiles' privileges.
func loadCounts(ctx context.Context, st store.Reader, dir string, cur *Current) error {
	known, err := st.CountUsers(ctx, store.UserFilter{Source: dir})
	if err != nil {
		return fmt.Errorf("count users: %w", err)
	}
	active, err := st.CountUsers(ctx, store.UserFilter{Source: dir, State: store.StateActive})
	if err != nil {
		return fmt.Errorf("count active users: %w", err)
	}
	state, err := st.GetDirectoryState(ctx, dir)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("load directory state: %w", err)
		}
		state = store.DirectoryState{Directory: dir}
	}
	profiles, err := st.ListProfiles(ctx)
	if err != nil {
		return fmt.Errorf("load profiles: %w", err)
	}
	privs := make(map[string][]string, len(profiles))
	for _, p := range profiles {
		privs[p.Name] = p.Privileges
	}
	cur.KnownBefore, cur.ActiveBefore, cur.State, cur.Profiles = known, active, state, privs
	return nil
}

// mappedKeys maps the snapshot's present users as NewPlan will and
// returns the usernames and e-mail addresses they map to, folded and
// without repeats.
func mappedKeys(cur Current, snap directory.Snapshot, mapper Mapper) (names, emails []string) {
	byAnchor := make(map[string]*store.User, len(cur.Users))
	for i := range cur.Users {
		if a := cur.Users[i].Anchor; a != "" {
			byAnchor[a] = &cur.Users[i]
		}
	}
	present := make([]directory.User, 0, len(snap.Users))
	seen := map[string]bool{}
	for _, u := range snap.Users {
		if u.Anchor == "" || seen[u.Anchor] || u.Deleted {
			continue
		}
		seen[u.Anchor] = true
		present = append(present, u)
	}
	if len(present) == 0 {
		return nil, nil
	}
	results, _ := mapper.MapAll(present, planGroups(cur, snap), byAnchor)
	seenName, seenEmail := map[string]bool{}, map[string]bool{}
	for _, r := range results {
		if n := strings.ToLower(r.Username); n != "" && !seenName[n] {
			seenName[n] = true
			names = append(names, n)
		}
		if e := strings.ToLower(r.Email); e != "" && !seenEmail[e] {
			seenEmail[e] = true
			emails = append(emails, e)
		}
	}
	return names, emails
}
