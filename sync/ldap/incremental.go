package ldap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/internal/adguid"
	"github.com/dirbridge/dirbridge/internal/ldapdn"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// cursor is the high-water mark handed back to the engine as JSON text.
// On AD it is per domain controller: USNs are local to a DC, so a mark is
// only meaningful with the invocationId it came from (a restored DC gets a
// new one). On generic LDAP it is the newest modifyTimestamp seen, a
// server-side clock, so client clock skew cannot lose changes.
type cursor struct {
	Kind string `json:"kind"`
	DC   string `json:"dc,omitempty"`  // AD: the DC's invocationId
	USN  int64  `json:"usn,omitempty"` // AD: highestCommittedUSN at read start
	Time string `json:"time,omitempty"`
	// Policy is policyMark at read start: the maximum password ages.
	Policy string `json:"policy,omitempty"`
	// Groups is groupsMark of the read's imported groups: an incremental
	// read only sees what changed, so a group added since (or removed)
	// needs a full read.
	Groups string `json:"groups,omitempty"`

	t time.Time // parsed Time
}

func parseCursor(s string) (cursor, error) {
	var c cursor
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return c, fmt.Errorf("cursor: %w", err)
	}
	if c.Time != "" {
		t, err := generalizedTime(c.Time)
		if err != nil {
			return c, fmt.Errorf("cursor: %w", err)
		}
		c.t = t
	}
	return c, nil
}

func (c *cursor) encode() string {
	b, _ := json.Marshal(c)
	return string(b)
}

func (c *cursor) noteTime(v string) {
	if v == "" {
		return
	}
	// In the plain form text order is time order: most values are older
	// than the mark and need no parse.
	if len(v) == 15 && len(c.Time) == 15 && v[14] == 'Z' && c.Time[14] == 'Z' && v <= c.Time {
		return
	}
	t, err := generalizedTime(v)
	if err != nil || !t.After(c.t) {
		return
	}
	c.t, c.Time = t, formatGeneralizedTime(t)
}

func (c *cursor) noteGroup(g *groupRec) {
	if c.Kind == KindLDAP {
		c.noteTime(g.changed)
	}
}

func (c *cursor) noteEntry(e *goldap.Entry, kind string) {
	if kind == KindLDAP {
		c.noteTime(e.GetAttributeValue("modifyTimestamp"))
	}
}

// highWater reads the mark for the cursor a read will hand back. On AD it
// is taken before reading anything: changes during the read are then seen
// again by the next incremental, never lost.
func (s *Source) highWater(ctx context.Context, sr *searcher) (cursor, error) {
	c := cursor{Kind: s.cfg.Kind}
	if s.cfg.Kind != KindAD {
		return c, nil
	}
	root, err := sr.base(ctx, "", []string{"highestCommittedUSN", "dsServiceName"})
	if err != nil {
		return c, fmt.Errorf("root DSE: %w", err)
	}
	if root == nil {
		return c, fmt.Errorf("root DSE: not readable")
	}
	usn, err := strconv.ParseInt(root.GetAttributeValue("highestCommittedUSN"), 10, 64)
	if err != nil {
		return c, fmt.Errorf("root DSE: highestCommittedUSN %q: %w", root.GetAttributeValue("highestCommittedUSN"), err)
	}
	c.USN = usn
	svc := root.GetAttributeValue("dsServiceName")
	c.DC = svc
	if svc != "" {
		ntds, err := sr.base(ctx, svc, []string{"invocationId"})
		if err != nil {
			return c, fmt.Errorf("DC settings %s: %w", svc, err)
		}
		if ntds != nil {
			if raw := ntds.GetRawAttributeValue("invocationId"); raw != nil {
				if id, err := adguid.Text(raw); err == nil {
					c.DC = id
				}
			}
		}
	}
	return c, nil
}

// maxIncrementalChanges is where an incremental read gives way to a full
// one: past it, holding the changed entries and walking their groups costs
// more than one streamed pass.
const maxIncrementalChanges = 10000

var errTooManyChanges = errors.New("too many changes for an incremental read")

// readIncremental returns what changed since cur: users whose entries
// changed, and — because memberOf is a back-link that does not move a
// user's uSNChanged — every imported group touched by a changed group, with
// its complete current member list and those members. Users who left such
// a group are absent from its Members; the Snapshot is not Complete, so
// nobody is deactivated for being absent from Users.
//
// The stages run in this order: find what changed (ending early when
// nothing did), re-read the imported groups a changed group reaches, then
// the changed users not already read with those groups, then the deleted.
func (s *Source) readIncremental(ctx context.Context, st *readState, cur cursor, mark *cursor) (directory.Snapshot, error) {
	sc := s.schema()
	changed := s.changedSince(cur, mark)
	ch, err := s.findChanges(ctx, st.sr, sc, changed, mark)
	if err != nil {
		return directory.Snapshot{}, err
	}
	if len(ch.groups) == 0 && len(ch.users) == 0 {
		if len(ch.deleted) == 0 {
			s.log.Info("incremental read: nothing changed")
		}
		return directory.Snapshot{Complete: false, Users: ch.deleted}, nil
	}

	inc, err := s.newIncremental(ctx, st, sc, ch.groups)
	if err != nil {
		return directory.Snapshot{}, err
	}
	affected, err := inc.affectedImported(ctx, ch.groups)
	if err != nil {
		return directory.Snapshot{}, err
	}
	snap := directory.Snapshot{Complete: false}
	// have holds the users already read with an affected group: a changed
	// user among them is not read a second time.
	have := map[string]bool{}
	if len(affected) > 0 {
		if snap.Groups, snap.Users, err = inc.readAffected(ctx, affected); err != nil {
			return directory.Snapshot{}, err
		}
		for _, u := range snap.Users {
			have[u.DN] = true
		}
	}
	if snap.Users, err = inc.appendChangedUsers(ctx, snap.Users, ch.users, changed, have); err != nil {
		return directory.Snapshot{}, err
	}
	snap.Users = append(snap.Users, ch.deleted...)
	s.log.Info("incremental read", zap.Int("changed_users", len(ch.users)), zap.Int("deleted_users", len(ch.deleted)),
		zap.Int("users", len(snap.Users)), zap.Int("groups", len(snap.Groups)))
	return snap, nil
}

// changedSince returns the filter term for entries changed since cur. On
// AD that is a USN above the cursor's; on generic LDAP a modifyTimestamp
// from the cursor's time less the configured overlap (changes within the
// same second, clock skew between servers), and mark starts from the
// cursor's time so it never moves backwards.
func (s *Source) changedSince(cur cursor, mark *cursor) string {
	if s.cfg.Kind == KindAD {
		return "(uSNChanged>=" + strconv.FormatInt(cur.USN+1, 10) + ")"
	}
	mark.t, mark.Time = cur.t, cur.Time
	since := cur.t.Add(-s.cfg.IncrementalOverlap)
	if cur.Time == "" {
		since = time.Unix(0, 0)
	}
	return "(modifyTimestamp>=" + formatGeneralizedTime(since) + ")"
}

// changedGroup is a group changed since the cursor, with the parents its
// memberOf names (kept for the upward walk, which then needs no read).
type changedGroup struct {
	key     string
	parents []string
}

// changes is what the first searches of an incremental read found.
type changes struct {
	groups  []changedGroup
	users   []*goldap.Entry
	deleted []directory.User // AD tombstones, Deleted set
}

// findChanges runs the searches for what changed: groups, users, and on AD
// deleted users. They come first so that when nothing changed (the usual
// case for a frequent schedule) the read ends at the cost of a few empty
// searches. More than maxIncrementalChanges changed users ends the search
// at once with errTooManyChanges, before the entries pile up in memory.
func (s *Source) findChanges(ctx context.Context, sr *searcher, sc schema, changed string, mark *cursor) (changes, error) {
	var ch changes
	err := sr.paged(ctx, "changed groups", s.cfg.GroupBaseDN, "(&"+sc.groupFilter+changed+")",
		[]string{"memberOf", "modifyTimestamp"}, func(e *goldap.Entry) error {
			mark.noteEntry(e, s.cfg.Kind)
			ch.groups = append(ch.groups, changedGroup{mustDNKey(e.DN), e.GetAttributeValues("memberOf")})
			return nil
		})
	if err != nil {
		return changes{}, err
	}
	tooMany := false
	err = sr.paged(ctx, "changed users", s.cfg.UserBaseDN, "(&"+sc.userFilter+changed+")", s.changedUserAttrs(), func(e *goldap.Entry) error {
		mark.noteEntry(e, s.cfg.Kind)
		ch.users = append(ch.users, e)
		if len(ch.users) > maxIncrementalChanges {
			tooMany = true
			return errStop
		}
		return nil
	})
	if err != nil {
		return changes{}, err
	}
	if tooMany {
		return changes{}, errTooManyChanges
	}
	if s.cfg.Kind == KindAD {
		if ch.deleted, err = s.deletedUsers(ctx, sr, changed); err != nil {
			return changes{}, err
		}
	}
	return ch, nil
}

// incremental is what the stages of one incremental read share once some
// change was found: the imported groups, their positions by key, and the
// upward walk whose cache of parents every stage fills and reuses.
type incremental struct {
	s           *Source
	st          *readState
	sr          *searcher
	sc          schema
	imported    []*groupRec
	importedIdx map[string]int // group key -> index in imported
	up          *upward
}

// newIncremental resolves the imported groups and seeds the upward walk
// with the changed groups' parents. Imported groups named by DN are read
// only when a change reaches them: with thousands imported, a read of each
// would be most of an incremental's time.
func (s *Source) newIncremental(ctx context.Context, st *readState, sc schema, changedGroups []changedGroup) (*incremental, error) {
	sr := st.sr
	imported, err := sr.lazyGroups(ctx, st.req.Groups, sc)
	if err != nil {
		return nil, err
	}
	importedIdx := map[string]int{}
	for i, g := range imported {
		importedIdx[g.key] = i
	}
	up := &upward{sr: sr, parents: map[string][]string{}, entries: map[string]*goldap.Entry{},
		attrs: append([]string{"memberOf"}, s.groupAttrs(sc, false)...)}
	for _, cg := range changedGroups {
		up.parents[cg.key] = cg.parents
	}
	return &incremental{s: s, st: st, sr: sr, sc: sc, imported: imported, importedIdx: importedIdx, up: up}, nil
}

// markImported sets in[i] for every imported group i among keys.
func (inc *incremental) markImported(in map[int]bool, keys map[string]bool) {
	for k := range keys {
		if i, ok := inc.importedIdx[k]; ok {
			in[i] = true
		}
	}
}

// affectedImported returns the imported groups (by index) that a changed
// group is, or sits inside. It stops walking once every imported group is
// affected: nothing further can change the answer.
func (inc *incremental) affectedImported(ctx context.Context, changedGroups []changedGroup) (map[int]bool, error) {
	affected := map[int]bool{}
	for _, cg := range changedGroups {
		if len(affected) == len(inc.imported) {
			break
		}
		if i, ok := inc.importedIdx[cg.key]; ok {
			affected[i] = true
		}
		anc, err := inc.up.ancestors(ctx, cg.key)
		if err != nil {
			return nil, err
		}
		inc.markImported(affected, anc)
	}
	return affected, nil
}

// readAffected re-reads the group structure below the imported groups and
// returns the affected ones whole, with every member: a membership changed
// somewhere inside them, and memberOf moved no user's change mark. The
// structure is read from the imported groups down when that closure is
// small, otherwise in one pass over every group.
func (inc *incremental) readAffected(ctx context.Context, affected map[int]bool) ([]directory.Group, []directory.User, error) {
	sr, sc := inc.sr, inc.sc
	idx, err := sr.closureIndex(ctx, sc, inc.imported)
	if err != nil {
		return nil, nil, err
	}
	if idx == nil {
		if idx, err = sr.groupIndex(ctx, sc); err != nil {
			return nil, nil, err
		}
	}
	for _, g := range inc.imported {
		if ig := idx[g.key]; ig != nil && g.anchor == "" {
			g.dn, g.anchor, g.name, g.changed = ig.dn, ig.anchor, ig.name, ig.changed
		}
		if err := sr.ensureGroup(ctx, g, sc); err != nil {
			return nil, nil, err
		}
	}
	groups, userGroups, err := sr.completeGroups(ctx, sc, idx, inc.imported)
	if err != nil {
		return nil, nil, err
	}
	// Only the members of an affected group are read.
	want := map[string][]int32{}
	for k, gi := range userGroups {
		for _, i := range gi {
			if affected[int(i)] {
				want[k] = gi
				break
			}
		}
	}
	users, err := inc.s.readUsers(ctx, inc.st, sc, want, inc.imported, &cursor{})
	if err != nil {
		return nil, nil, err
	}
	var out []directory.Group
	for i := range groups {
		if affected[i] {
			out = append(out, groups[i])
		}
	}
	fillMembers(out, users)
	inc.s.log.Info("incremental: imported groups changed", zap.Int("groups", len(out)), zap.Int("members", len(users)))
	return out, users, nil
}

// appendChangedUsers appends to out the changed users (except those in
// have, already read) that are in an imported group, with their own
// attributes and groups from memberOf (and on AD the primary group, which
// memberOf leaves out). Every changed user's groups, and the groups above
// them, are read together first, before the walk needs them one by one.
func (inc *incremental) appendChangedUsers(ctx context.Context, out []directory.User, entries []*goldap.Entry, changed string, have map[string]bool) ([]directory.User, error) {
	disabled, err := inc.disabledAmong(ctx, entries, changed)
	if err != nil {
		return nil, err
	}
	userParents, err := inc.prefetchParents(ctx, entries, have)
	if err != nil {
		return nil, err
	}
	for ui, e := range entries {
		if have[e.DN] {
			continue
		}
		in, err := inc.importedAbove(ctx, userParents[ui])
		if err != nil {
			return nil, err
		}
		if len(in) == 0 {
			continue
		}
		u, err := inc.s.toUser(e, inc.sc)
		if err != nil {
			inc.st.warnings = append(inc.st.warnings, err.Error())
			continue
		}
		if disabled[mustDNKey(e.DN)] {
			u.Disabled = true
		}
		for i, g := range inc.imported {
			if in[i] {
				inc.up.fill(inc.s, g, inc.sc)
				if err := inc.sr.ensureGroup(ctx, g, inc.sc); err != nil {
					return nil, err
				}
				u.Groups = append(u.Groups, g.anchor)
			}
		}
		out = append(out, u)
	}
	return out, nil
}

// disabledAmong returns the keys of the changed users the configured
// disabled filter matches, with one search (none when no user changed or
// no filter is set).
func (inc *incremental) disabledAmong(ctx context.Context, entries []*goldap.Entry, changed string) (map[string]bool, error) {
	disabled := map[string]bool{}
	cfg := inc.s.cfg
	if cfg.DisabledFilter == "" || len(entries) == 0 {
		return disabled, nil
	}
	err := inc.sr.paged(ctx, "changed disabled users", cfg.UserBaseDN, "(&"+inc.sc.userFilter+changed+cfg.DisabledFilter+")",
		[]string{"1.1"}, func(e *goldap.Entry) error { disabled[mustDNKey(e.DN)] = true; return nil })
	if err != nil {
		return nil, err
	}
	return disabled, nil
}

// prefetchParents returns each changed user's parent group DNs (by the
// entries' positions; nil for those in have) and reads those groups and
// the groups above them in batches, so the walk that follows finds them
// cached instead of making a round trip per group.
func (inc *incremental) prefetchParents(ctx context.Context, entries []*goldap.Entry, have map[string]bool) ([][]string, error) {
	primaryDNs := map[string]string{}
	userParents := make([][]string, len(entries))
	var direct []string
	for i, e := range entries {
		if have[e.DN] {
			continue
		}
		parents, err := inc.sr.parentGroups(ctx, inc.sc, e, primaryDNs)
		if err != nil {
			return nil, err
		}
		userParents[i] = parents
		direct = append(direct, parents...)
	}
	if err := inc.up.prefetch(ctx, direct); err != nil {
		return nil, err
	}
	return userParents, nil
}

// importedAbove returns the imported groups (by index) that are among
// parents or above them.
func (inc *incremental) importedAbove(ctx context.Context, parents []string) (map[int]bool, error) {
	in := map[int]bool{}
	for _, p := range parents {
		pk := mustDNKey(p)
		if i, ok := inc.importedIdx[pk]; ok {
			in[i] = true
		}
		anc, err := inc.up.ancestorsOf(ctx, pk, p)
		if err != nil {
			return nil, err
		}
		inc.markImported(in, anc)
	}
	return in, nil
}

// deletedUsers finds users deleted since the cursor: AD keeps a tombstone
// with the objectGUID, visible with the show-deleted control. They are
// returned with Deleted set, whatever groups they were in (a tombstone
// has no memberships left); the engine acts on anchors it knows.
func (s *Source) deletedUsers(ctx context.Context, sr *searcher, changed string) ([]directory.User, error) {
	var out []directory.User
	f := "(&(isDeleted=TRUE)(objectClass=user)(!(objectClass=computer))" + changed + ")"
	err := sr.pagedWith(ctx, "deleted users", s.cfg.BaseDN, f, []string{"objectGUID", "sAMAccountName", "whenChanged"},
		[]goldap.Control{&goldap.ControlMicrosoftShowDeleted{}}, func(e *goldap.Entry) error {
			raw := e.GetRawAttributeValue("objectGUID")
			if raw == nil {
				return nil
			}
			anchor, err := adguid.Text(raw)
			if err != nil {
				return nil
			}
			u := directory.User{Anchor: anchor, DN: e.DN, Username: e.GetAttributeValue("sAMAccountName"), Deleted: true}
			u.ChangedAt, _ = generalizedTime(e.GetAttributeValue("whenChanged"))
			out = append(out, u)
			return nil
		})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// upward walks groups' memberOf towards the top, caching each group's
// parents, so a changed entry's imported groups are found without reading
// the whole group structure.
type upward struct {
	sr      *searcher
	parents map[string][]string // group key -> parent DNs
	// attrs are what a group is read with: memberOf, and what an imported
	// group needs (anchor, name), so a group met on the way up is not
	// read again for those; entries keeps the groups read, by key.
	attrs   []string
	entries map[string]*goldap.Entry
}

// fill completes an imported group lazyGroups left unread from the entry
// the walk read, when it read one.
func (u *upward) fill(s *Source, g *groupRec, sc schema) {
	if g.anchor != "" {
		return
	}
	e := u.entries[g.key]
	if e == nil {
		return
	}
	anchor, err := s.anchorOf(e, sc)
	if err != nil {
		return // ensureGroup reads it again and reports the problem
	}
	g.dn, g.anchor, g.name, g.changed = e.DN, anchor, s.groupName(e, sc), e.GetAttributeValue("modifyTimestamp")
}

// prefetchBatch bounds the groups one prefetch search asks for, so the
// filter stays a modest request on any server.
const prefetchBatch = 200

// prefetch reads, a level at a time, the groups at and above dns that walk
// would otherwise read one base search each: one search per level and
// batch, for the groups' first RDN values (cn, an indexed equality on AD
// and in every OpenLDAP set-up we know), kept only where the DN is one
// asked for. A changed user in a dozen groups nested two deep then costs
// two searches instead of two dozen round trips. A group the search does
// not return (outside the base, a server that cannot answer the filter)
// is left for walk's own base read, so the answer never depends on it.
func (u *upward) prefetch(ctx context.Context, dns []string) error {
	level := map[string]string{} // key -> DN, groups not read yet
	asked := map[string]bool{}   // asked for once: found, or left to walk
	for _, dn := range dns {
		k := mustDNKey(dn)
		if _, read := u.parents[k]; !read {
			level[k] = dn
		}
	}
	for len(level) > 0 {
		for k := range level {
			asked[k] = true
		}
		found, err := u.sr.byFirstRDN(ctx, level, u.attrs)
		if err != nil {
			if errors.Is(err, directory.ErrUnavailable) || ctx.Err() != nil {
				return err
			}
			// A server that refuses the filter (a limit, a policy) has
			// not failed the read: walk reads the groups one by one.
			u.sr.s.log.Debug("groups above changed entries: batched read refused, reading one by one", zap.Error(err))
			return nil
		}
		next := map[string]string{}
		for k, e := range found {
			parents := e.GetAttributeValues("memberOf")
			u.parents[k], u.entries[k] = parents, e
			for _, p := range parents {
				pk := mustDNKey(p)
				if _, read := u.parents[pk]; !read && !asked[pk] {
					next[pk] = p
				}
			}
		}
		level = next
	}
	return nil
}

// byFirstRDN searches the base for the entries named by want (key -> DN)
// by their first RDN's value, in batches, and returns those whose DN is
// one of want's. Entries with an unusable DN are skipped (left unread).
func (r *searcher) byFirstRDN(ctx context.Context, want map[string]string, attrs []string) (map[string]*goldap.Entry, error) {
	found := map[string]*goldap.Entry{}
	var terms []string
	seen := map[string]bool{}
	flush := func() error {
		if len(terms) == 0 {
			return nil
		}
		filter := "(|" + strings.Join(terms, "") + ")"
		terms, seen = terms[:0], map[string]bool{}
		return r.paged(ctx, "groups above changed entries", r.s.cfg.BaseDN, filter, attrs, func(e *goldap.Entry) error {
			if k := mustDNKey(e.DN); want[k] != "" {
				found[k] = e
			}
			return nil
		})
	}
	for _, dn := range want {
		typ, val, ok := firstRDN(dn)
		if !ok {
			continue
		}
		term := "(" + typ + "=" + goldap.EscapeFilter(val) + ")"
		if seen[strings.ToLower(term)] {
			continue
		}
		seen[strings.ToLower(term)] = true
		terms = append(terms, term)
		if len(terms) == prefetchBatch {
			if err := flush(); err != nil {
				return nil, err
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return found, nil
}

// firstRDN returns the type and value of a DN's first attribute
// assertion ("cn", "Sales" of "cn=Sales+ou=x,dc=y"): enough to find the
// entry among few, not to name it.
func firstRDN(dn string) (typ, val string, ok bool) {
	if ldapdn.Plain(dn) {
		rdn, _, _ := strings.Cut(dn, ",")
		typ, val, _ = strings.Cut(rdn, "=")
		return typ, val, true
	}
	parsed, err := goldap.ParseDN(dn)
	if err != nil || len(parsed.RDNs) == 0 || len(parsed.RDNs[0].Attributes) == 0 {
		return "", "", false
	}
	av := parsed.RDNs[0].Attributes[0]
	if !ldapdn.IsAttrType(av.Type) {
		return "", "", false
	}
	return av.Type, av.Value, true
}

// ancestors returns every group above key (cycles end where they began).
func (u *upward) ancestors(ctx context.Context, key string) (map[string]bool, error) {
	return u.walk(ctx, key, "")
}

// ancestorsOf is ancestors for a group known by DN whose parents may not
// have been read.
func (u *upward) ancestorsOf(ctx context.Context, key, dn string) (map[string]bool, error) {
	return u.walk(ctx, key, dn)
}

func (u *upward) walk(ctx context.Context, key, dn string) (map[string]bool, error) {
	seen := map[string]bool{}
	type item struct{ key, dn string }
	queue := []item{{key, dn}}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		parents, ok := u.parents[it.key]
		if !ok {
			if it.dn == "" {
				continue
			}
			attrs := u.attrs
			if attrs == nil {
				attrs = []string{"memberOf"}
			}
			e, err := u.sr.base(ctx, it.dn, attrs)
			if err != nil {
				return nil, err
			}
			if e != nil {
				parents = e.GetAttributeValues("memberOf")
				if u.entries != nil {
					u.entries[it.key] = e
				}
			}
			u.parents[it.key] = parents
		}
		for _, p := range parents {
			pk := mustDNKey(p)
			if !seen[pk] {
				seen[pk] = true
				queue = append(queue, item{pk, p})
			}
		}
	}
	return seen, nil
}

// maxClosureGroups bounds the groups closureIndex reads one by one; past
// it one streamed pass over every group is cheaper.
const maxClosureGroups = 500

// closureIndex reads only the imported groups and the groups nested in
// them, one base read each, so an incremental read on a large directory
// does not re-read every group when one small group changed. It returns nil
// (and no error) when the closure is larger than maxClosureGroups.
func (r *searcher) closureIndex(ctx context.Context, sc schema, imported []*groupRec) (map[string]*groupRec, error) {
	// Which DNs are groups: a cheap pass returning DNs only.
	isGroup := map[string]bool{}
	err := r.paged(ctx, "group names", r.s.cfg.GroupBaseDN, sc.groupFilter, []string{"1.1"}, func(e *goldap.Entry) error {
		isGroup[mustDNKey(e.DN)] = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	idx := map[string]*groupRec{}
	queue := make([]string, 0, len(imported))
	for _, g := range imported {
		if _, ok := idx[g.key]; !ok {
			idx[g.key] = nil
			queue = append(queue, g.key)
		}
	}
	attrs := r.s.groupAttrs(sc, true)
	for i := 0; i < len(queue); i++ {
		if len(queue) > maxClosureGroups {
			return nil, nil
		}
		e, err := r.base(ctx, queue[i], attrs)
		if err != nil {
			return nil, err
		}
		if e == nil {
			return nil, fmt.Errorf("group %s vanished during the read", queue[i])
		}
		g, incomplete, err := r.s.readGroupEntry(e, sc)
		if err != nil {
			return nil, err
		}
		if incomplete {
			if err := r.completeMembers(ctx, g, sc); err != nil {
				return nil, err
			}
		}
		g.key = queue[i]
		idx[g.key] = g
		for _, m := range g.members {
			if _, seen := idx[m]; !seen && isGroup[m] {
				idx[m] = nil
				queue = append(queue, m)
			}
		}
	}
	return idx, nil
}

// lazyGroups is resolveGroups for an incremental read: groups named by DN
// get their key at once and are read (ensureGroup) only when a change
// reaches them; groups named by name or GUID are searched for as usual.
func (r *searcher) lazyGroups(ctx context.Context, specs []string, sc schema) ([]*groupRec, error) {
	var out []*groupRec
	seen := map[string]bool{}
	for _, spec := range specs {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue
		}
		var g *groupRec
		if !looksLikeUUID(spec) && isDN(spec) {
			if k, err := dnKey(spec); err == nil {
				g = &groupRec{dn: spec, key: k}
			}
		}
		if g == nil {
			gs, err := r.resolveGroups(ctx, []string{spec}, sc, nil)
			if err != nil {
				return nil, err
			}
			g = gs[0]
		}
		if !seen[g.key] {
			seen[g.key] = true
			out = append(out, g)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no groups to import")
	}
	return out, nil
}

// ensureGroup reads the anchor and name of an imported group lazyGroups
// left unread. A group that is not there fails the read, as in
// resolveGroups.
func (r *searcher) ensureGroup(ctx context.Context, g *groupRec, sc schema) error {
	if g.anchor != "" {
		return nil
	}
	e, err := r.base(ctx, g.dn, r.s.groupAttrs(sc, false))
	if err != nil {
		return fmt.Errorf("group %q: %w", g.dn, err)
	}
	if e == nil {
		return fmt.Errorf("group %q: not found under %s", g.dn, r.s.cfg.BaseDN)
	}
	anchor, err := r.s.anchorOf(e, sc)
	if err != nil {
		return fmt.Errorf("group %q: %w", g.dn, err)
	}
	g.dn, g.anchor, g.name, g.changed = e.DN, anchor, r.s.groupName(e, sc), e.GetAttributeValue("modifyTimestamp")
	return nil
}
