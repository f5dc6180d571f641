package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

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
	return loadAffected(ctx, st, dir, linkBy, snap, mapper, startWide(ctx, st, dir))
}

// wide is what an incremental run reads about the whole directory, which
// does not depend on the read: the Runner starts loading it (startWide)
// before reading, so it costs nothing while the directory answers.
type wide struct {
	known, active int
	state         store.DirectoryState
	profiles      map[string][]string
	// heads are the group entries without members.
	heads []store.DirectoryEntry
	err   error
}

// startWide starts loading the directory-wide parts; the returned func
// waits for them (and must be called, to end the loading).
func startWide(ctx context.Context, st store.Reader, dir string) func() wide {
	done := make(chan wide, 1)
	go func() {
		var w wide
		heads := make(chan error, 1)
		go func() {
			var err error
			w.heads, err = st.ListDirectoryGroups(ctx, dir, nil)
			heads <- err
		}()
		w.err = loadCounts(ctx, st, dir, &w)
		if err := <-heads; err != nil && w.err == nil {
			w.err = fmt.Errorf("load directory groups: %w", err)
		}
		done <- w
	}()
	var w *wide
	return func() wide {
		if w == nil {
			v := <-done
			w = &v
		}
		return *w
	}
}

func loadAffected(ctx context.Context, st store.Reader, dir string, linkBy mapping.LinkBy, snap directory.Snapshot, mapper Mapper, waitWide func() wide) (Current, error) {
	defer waitWide() // the loading ends with this call, whatever happens
	l := &affected{ctx: ctx, st: st, cur: Current{Directory: dir, LinkBy: linkBy, Profiles: map[string][]string{}, Partial: true},
		have: map[string]bool{}}
	var anchors []string
	inSnap := make(map[string]bool, len(snap.Users))
	for _, u := range snap.Users {
		if u.Anchor != "" && !inSnap[u.Anchor] {
			inSnap[u.Anchor] = true
			anchors = append(anchors, u.Anchor)
		}
	}
	if err := l.usersByAnchor(anchors); err != nil {
		return Current{}, err
	}
	if err := l.entries(anchors, waitWide); err != nil {
		return Current{}, err
	}
	// Who holds the usernames these users map to (a rename or a new user
	// must not take one), and, linking by e-mail, their addresses.
	if len(anchors) > 0 {
		names, emails := mappedKeys(l.cur, snap, mapper)
		if err := l.usersBy(store.KeyUsername, "username", names); err != nil {
			return Current{}, err
		}
		if linkBy == mapping.LinkByEmail {
			if err := l.usersBy(store.KeyEmail, "e-mail", emails); err != nil {
				return Current{}, err
			}
		}
	}
	w := waitWide()
	if w.err != nil {
		return Current{}, w.err
	}
	l.cur.KnownBefore, l.cur.ActiveBefore, l.cur.State, l.cur.Profiles = w.known, w.active, w.state, w.profiles
	return l.cur, nil
}

// affected is loadAffected's state: the Current being loaded and the user
// IDs already in it.
type affected struct {
	ctx  context.Context
	st   store.Reader
	cur  Current
	have map[string]bool
}

// add adds users not loaded yet, the directory's to Users, the others to
// Others.
func (l *affected) add(us []store.User) {
	for _, u := range us {
		if l.have[u.ID] {
			continue
		}
		l.have[u.ID] = true
		if u.Source == l.cur.Directory {
			l.cur.Users = append(l.cur.Users, u)
		} else {
			l.cur.Others = append(l.cur.Others, u)
		}
	}
}

// usersByAnchor loads the directory's users holding anchors.
func (l *affected) usersByAnchor(anchors []string) error {
	for _, a := range anchors {
		us, err := l.st.FindUsers(l.ctx, store.KeyAnchor, a)
		if err != nil {
			return fmt.Errorf("load users by anchor: %w", err)
		}
		var mine []store.User
		for _, u := range us {
			if u.Source == l.cur.Directory {
				mine = append(mine, u)
			}
		}
		l.add(mine)
	}
	return nil
}

// usersBy loads every user whose key (username, e-mail) is one of values.
func (l *affected) usersBy(key store.UserKey, what string, values []string) error {
	for _, v := range values {
		us, err := l.st.FindUsers(l.ctx, key, v)
		if err != nil {
			return fmt.Errorf("load users by %s: %w", what, err)
		}
		l.add(us)
	}
	return nil
}

// entries loads the entries of the users read and every group entry,
// with the members among those users.
func (l *affected) entries(anchors []string, waitWide func() wide) error {
	ctx, st, dir := l.ctx, l.st, l.cur.Directory
	es, err := st.GetDirectoryEntries(ctx, dir, anchors)
	if err != nil {
		return fmt.Errorf("load directory entries: %w", err)
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
		l.cur.Entries = append(l.cur.Entries, e)
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
		// Cut down by the store: one of them may list most of the
		// directory.
		full, err := st.GetDirectoryGroups(ctx, dir, within, anchors)
		if err != nil {
			return fmt.Errorf("load directory groups: %w", err)
		}
		w := waitWide()
		if w.err != nil {
			return w.err
		}
		gs = slices.Clone(w.heads)
		members := make(map[string][]string, len(full))
		for _, g := range full {
			if len(g.Groups) > 0 {
				members[g.Anchor] = g.Groups
			}
		}
		for i := range gs {
			if m := members[gs[i].Anchor]; m != nil {
				gs[i].Groups = m
			}
		}
	} else if gs, err = st.ListDirectoryGroups(ctx, dir, anchors); err != nil {
		return fmt.Errorf("load directory groups: %w", err)
	}
	l.cur.Entries = append(l.cur.Entries, gs...)
	return nil
}

// loadCounts reads the directory's user counts, its state and the
// profiles' privileges into w.
func loadCounts(ctx context.Context, st store.Reader, dir string, w *wide) error {
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
	w.known, w.active, w.state, w.profiles = known, active, state, privs
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
