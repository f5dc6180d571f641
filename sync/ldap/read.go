package ldap

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/internal/adguid"
	"github.com/dirbridge/dirbridge/internal/ldapdn"
	"github.com/dirbridge/dirbridge/internal/pwdexpiry"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// schema is what differs between AD and generic LDAP: attribute names and
// object class tests, not tactics.
type schema struct {
	anchor      string
	groupFilter string
	userFilter  string
	memberAttrs []string
	nameAttrs   []string // group names, most specific first
	changed     string   // whenChanged / modifyTimestamp
}

func (s *Source) schema() schema {
	var sc schema
	if s.cfg.Kind == KindAD {
		sc = schema{
			anchor:      "objectGUID",
			groupFilter: "(objectClass=group)",
			userFilter:  "(&(objectCategory=person)(objectClass=user))",
			memberAttrs: []string{"member"},
			nameAttrs:   []string{"sAMAccountName", "cn"},
			changed:     "whenChanged",
		}
	} else {
		sc = schema{
			anchor:      "entryUUID",
			groupFilter: "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))",
			userFilter:  "(|(objectClass=inetOrgPerson)(objectClass=posixAccount))",
			memberAttrs: []string{"member", "uniqueMember"},
			nameAttrs:   []string{"cn"},
			changed:     "modifyTimestamp",
		}
	}
	if s.cfg.UserFilter != "" {
		sc.userFilter = "(&" + sc.userFilter + s.cfg.UserFilter + ")"
	}
	return sc
}

// userAttrs are the attributes a user entry is read with: only what the
// sync needs (reading "*" costs several times more on a large directory).
func (s *Source) userAttrs(withMemberOf bool) []string {
	var a []string
	if s.cfg.Kind == KindAD {
		a = []string{"objectGUID", "objectSid", "sAMAccountName", "userPrincipalName", "mail", "givenName", "sn",
			"displayName", "userAccountControl", "accountExpires", "pwdLastSet", "whenChanged", "uSNChanged"}
		if s.cfg.ReadPasswordExpiry {
			a = append(a, "msDS-UserPasswordExpiryTimeComputed")
		}
	} else {
		a = []string{"entryUUID", "uid", "cn", "mail", "givenName", "sn", "displayName", "modifyTimestamp",
			"pwdChangedTime", "pwdReset", "pwdAccountLockedTime"}
		if s.readsPPolicy() {
			a = append(a, "pwdPolicySubentry")
		}
	}
	if withMemberOf {
		a = append(a, "memberOf")
	}
	return append(a, s.cfg.ExtraAttributes...)
}

// groupRec is a group as read: member values are DN keys.
type groupRec struct {
	dn, key, anchor, name string
	changed               string // modifyTimestamp (generic LDAP cursor)
	members               []string
}

// groupAttrs are the attributes a group is read with.
func (s *Source) groupAttrs(sc schema, withMembers bool) []string {
	a := append([]string{sc.anchor, sc.changed}, sc.nameAttrs...)
	if s.cfg.Kind == KindAD {
		a = append(a, "uSNChanged")
	}
	if withMembers {
		for _, m := range sc.memberAttrs {
			a = append(a, s.memberAttr(m))
		}
	}
	return a
}

func (s *Source) anchorOf(e *goldap.Entry, sc schema) (string, error) {
	if s.cfg.Kind == KindAD {
		raw := e.GetRawAttributeValue("objectGUID")
		if raw == nil {
			return "", fmt.Errorf("%s: no objectGUID", e.DN)
		}
		return adguid.Text(raw)
	}
	v := strings.ToLower(e.GetAttributeValue(sc.anchor))
	if v == "" {
		return "", fmt.Errorf("%s: no %s", e.DN, sc.anchor)
	}
	return v, nil
}

func (s *Source) groupName(e *goldap.Entry, sc schema) string {
	for _, a := range sc.nameAttrs {
		if v := e.GetAttributeValue(a); v != "" {
			return v
		}
	}
	return e.DN
}

// readGroupEntry makes a groupRec from a group entry; members still in
// further ranges are fetched by the caller (not inside a running search:
// a second request on the connection while the first one's results wait
// unread could stall both).
func (s *Source) readGroupEntry(e *goldap.Entry, sc schema) (*groupRec, bool, error) {
	anchor, err := s.anchorOf(e, sc)
	if err != nil {
		return nil, false, err
	}
	g := &groupRec{dn: e.DN, key: mustDNKey(e.DN), anchor: anchor, name: s.groupName(e, sc), changed: e.GetAttributeValue("modifyTimestamp")}
	incomplete := false
	for _, m := range sc.memberAttrs {
		vals, more, err := rangedValues(e, m)
		if err != nil {
			return nil, false, fmt.Errorf("group %s: %w", e.DN, err)
		}
		if more >= 0 {
			incomplete = true
			continue
		}
		for _, v := range vals {
			g.members = append(g.members, mustDNKey(v))
		}
	}
	return g, incomplete, nil
}

// completeMembers re-reads the member attributes of a group whose first
// response was a partial range, following ranges to the end.
func (r *searcher) completeMembers(ctx context.Context, g *groupRec, sc schema) error {
	attrs := make([]string, 0, len(sc.memberAttrs))
	for _, m := range sc.memberAttrs {
		attrs = append(attrs, r.s.memberAttr(m))
	}
	e, err := r.base(ctx, g.dn, attrs)
	if err != nil {
		return err
	}
	if e == nil {
		return fmt.Errorf("group %s vanished during the read", g.dn)
	}
	g.members = g.members[:0]
	for _, m := range sc.memberAttrs {
		vals, err := r.allMembers(ctx, e, m)
		if err != nil {
			return err
		}
		for _, v := range vals {
			g.members = append(g.members, mustDNKey(v))
		}
	}
	return nil
}

// groupsUnder reads the given groups' transitive closure starting from the
// whole group index: every group under GroupBaseDN with its members.
func (r *searcher) groupIndex(ctx context.Context, sc schema) (map[string]*groupRec, error) {
	idx := make(map[string]*groupRec)
	var partial []*groupRec
	err := r.paged(ctx, "groups", r.s.cfg.GroupBaseDN, sc.groupFilter, r.s.groupAttrs(sc, true), func(e *goldap.Entry) error {
		g, incomplete, err := r.s.readGroupEntry(e, sc)
		if err != nil {
			return err
		}
		idx[g.key] = g
		if incomplete {
			partial = append(partial, g)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, g := range partial {
		if err := r.completeMembers(ctx, g, sc); err != nil {
			return nil, err
		}
	}
	return idx, nil
}

// resolveGroups finds each configured group by DN, GUID/UUID text or name.
// A group that is not found fails the read: leaving it out would make its
// members look like leavers.
// With idx (a full read's group index), DNs and GUIDs are found there
// without a request each: thousands of imported groups cost nothing.
func (r *searcher) resolveGroups(ctx context.Context, specs []string, sc schema, idx map[string]*groupRec) ([]*groupRec, error) {
	var out []*groupRec
	seen := map[string]bool{}
	var byAnchor map[string]*groupRec
	for _, spec := range specs {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue
		}
		if idx != nil {
			var g *groupRec
			switch {
			case looksLikeUUID(spec):
				if byAnchor == nil {
					byAnchor = make(map[string]*groupRec, len(idx))
					for _, g := range idx {
						byAnchor[g.anchor] = g
					}
				}
				g = byAnchor[strings.ToLower(strings.Trim(spec, "{}"))]
			case isDN(spec):
				if k, err := dnKey(spec); err == nil {
					g = idx[k]
				}
			}
			if g != nil {
				if !seen[g.key] {
					seen[g.key] = true
					out = append(out, g)
				}
				continue
			}
		}
		var found []*goldap.Entry
		collect := func(e *goldap.Entry) error { found = append(found, e); return nil }
		attrs := r.s.groupAttrs(sc, false)
		switch {
		case looksLikeUUID(spec):
			var f string
			if r.s.cfg.Kind == KindAD {
				b, _ := adguid.Bytes(spec)
				f = "(&" + sc.groupFilter + "(objectGUID=" + escapeBytes(b) + "))"
			} else {
				f = "(&" + sc.groupFilter + "(entryUUID=" + goldap.EscapeFilter(strings.ToLower(spec)) + "))"
			}
			if err := r.paged(ctx, "group "+spec, r.s.cfg.BaseDN, f, attrs, collect); err != nil {
				return nil, err
			}
		case isDN(spec):
			e, err := r.base(ctx, spec, attrs)
			if err != nil {
				return nil, fmt.Errorf("group %q: %w", spec, err)
			}
			if e != nil {
				found = append(found, e)
			}
		default:
			var ors strings.Builder
			for _, a := range sc.nameAttrs {
				ors.WriteString("(" + a + "=" + goldap.EscapeFilter(spec) + ")")
			}
			f := "(&" + sc.groupFilter + "(|" + ors.String() + "))"
			if err := r.paged(ctx, "group "+spec, r.s.cfg.BaseDN, f, attrs, collect); err != nil {
				return nil, err
			}
		}
		switch len(found) {
		case 0:
			return nil, fmt.Errorf("group %q: %w under %s", spec, directory.ErrGroupNotFound, r.s.cfg.BaseDN)
		case 1:
		default:
			dns := make([]string, len(found))
			for i, e := range found {
				dns[i] = e.DN
			}
			return nil, fmt.Errorf("group %q: %w: %d groups match (%s): name it by DN", spec, directory.ErrGroupAmbiguous, len(found), strings.Join(dns, "; "))
		}
		anchor, err := r.s.anchorOf(found[0], sc)
		if err != nil {
			return nil, fmt.Errorf("group %q: %w", spec, err)
		}
		g := &groupRec{dn: found[0].DN, key: mustDNKey(found[0].DN), anchor: anchor, name: r.s.groupName(found[0], sc)}
		if seen[g.key] {
			continue
		}
		seen[g.key] = true
		out = append(out, g)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no groups to import")
	}
	return out, nil
}

// isDN tells a DN from a group name: it parses and its first RDN has a
// type=value pair. "Sales=EMEA" would pass too; name such a group by GUID.
func isDN(s string) bool {
	if !strings.Contains(s, "=") {
		return false
	}
	if ldapdn.Plain(s) {
		return true
	}
	dn, err := goldap.ParseDN(s)
	if err != nil || len(dn.RDNs) == 0 {
		return false
	}
	for _, rdn := range dn.RDNs {
		for _, a := range rdn.Attributes {
			if !ldapdn.IsAttrType(a.Type) {
				return false
			}
		}
	}
	return true
}

// closure returns the keys of every group inside root (root included),
// walking nested groups iteratively; a cycle ends where it started.
func closure(idx map[string]*groupRec, root string) []string {
	seen := map[string]bool{root: true}
	out := []string{root}
	for i := 0; i < len(out); i++ {
		g := idx[out[i]]
		if g == nil {
			continue
		}
		for _, m := range g.members {
			if _, isGroup := idx[m]; isGroup && !seen[m] {
				seen[m] = true
				out = append(out, m)
			}
		}
	}
	return out
}

// readState carries one read's counters and progress reporting.
type readState struct {
	s        *Source
	req      directory.ReadRequest
	start    time.Time
	lastProg time.Time
	sr       *searcher
	warnings []string
	// server is the URL the read is connected to; pre, when set, is the
	// user pass running beside the group pass (prefetchUsers).
	server string
	pre    *userPrefetch
}

func (st *readState) progress() {
	now := time.Now()
	if now.Sub(st.lastProg) < st.s.cfg.ProgressEvery {
		return
	}
	st.lastProg = now
	p := directory.Progress{Entries: st.sr.entries, Pages: st.sr.pages, Elapsed: now.Sub(st.start)}
	st.s.log.Info("read progress", zap.Int("entries", p.Entries), zap.Int("pages", p.Pages), zap.Duration("elapsed", p.Elapsed))
	if st.req.Progress != nil {
		st.req.Progress(p)
	}
}

// Read returns the imported groups and their transitive members. An empty
// cursor (or one from another domain controller) asks for a full read.
// Errors name the directory and the step; a read cut short by an outage,
// a timeout or ctx is an error, never a partial Snapshot.
func (s *Source) Read(ctx context.Context, req directory.ReadRequest) (directory.Snapshot, error) {
	start := time.Now()
	// The read's connection decodes results itself (dialRead).
	c, server, err := s.readConn(ctx)
	if err != nil {
		return directory.Snapshot{}, s.errf("read: %w", err)
	}
	defer closeOnCancel(ctx, c)()
	st := &readState{s: s, req: req, start: start, lastProg: start, server: server}
	st.sr = &searcher{s: s, c: c, onPage: st.progress}
	full := req.Cursor == ""
	mode := "full"
	if !full {
		mode = "incremental"
	}
	s.log.Info("read started", zap.String("server", server), zap.String("mode", mode), zap.Int("groups", len(req.Groups)))

	mark, err := s.highWater(ctx, st.sr)
	if err != nil {
		return directory.Snapshot{}, s.errf("read: %w", err)
	}
	if mark.Policy, err = s.policyMark(ctx, st.sr); err != nil {
		return directory.Snapshot{}, s.errf("read: %w", err)
	}
	mark.Groups = groupsMark(req.Groups)
	var snap directory.Snapshot
	if !full {
		cur, perr := parseCursor(req.Cursor)
		switch {
		case perr != nil:
			st.warnings = append(st.warnings, fmt.Sprintf("cursor unreadable (%v): full read", perr))
			full = true
		case cur.Kind != s.cfg.Kind || (s.cfg.Kind == KindAD && cur.DC != mark.DC):
			st.warnings = append(st.warnings, "cursor is from another server or directory kind: full read")
			s.log.Info("cursor from another domain controller: full read", zap.String("cursor_dc", cur.DC), zap.String("dc", mark.DC))
			full = true
		case s.cfg.Kind == KindAD && cur.USN > mark.USN:
			st.warnings = append(st.warnings, "domain controller's USN went backwards (restored?): full read")
			full = true
		case cur.Groups != mark.Groups:
			// A cursor from before the mark existed counts as changed.
			st.warnings = append(st.warnings, "imported groups changed since the cursor: full read")
			s.log.Info("imported groups changed since the cursor: full read", zap.String("directory", s.cfg.Name))
			full = true
		case cur.Policy != "" && cur.Policy != mark.Policy:
			// A new maximum age changes everyone's expiry and no user
			// entry: only a read of every user carries it.
			st.warnings = append(st.warnings, "maximum password age changed: full read")
			s.log.Info("password policy changed since the cursor: full read", zap.String("directory", s.cfg.Name))
			full = true
		default:
			snap, err = s.readIncremental(ctx, st, cur, &mark)
			if errors.Is(err, errTooManyChanges) {
				// A full read is always a valid answer, and Complete says so.
				st.warnings = append(st.warnings, fmt.Sprintf("more than %d users changed: full read", maxIncrementalChanges))
				s.log.Info("many changes since the cursor: full read instead", zap.Int("limit", maxIncrementalChanges))
				full, err = true, nil
			}
		}
	}
	if full {
		if mode == "incremental" {
			mode = "full, cursor not usable"
		}
		snap, err = s.readFull(ctx, st, &mark)
	}
	if err != nil {
		return directory.Snapshot{}, s.errf("read (%s): %w", mode, err)
	}
	if s.cfg.Kind == KindAD && !s.cfg.ReadPasswordExpiry {
		if err := s.domainExpiry(ctx, st.sr, snap.Users); err != nil {
			return directory.Snapshot{}, s.errf("read (%s): %w", mode, err)
		}
	}
	if s.readsPPolicy() {
		w, err := s.ppolicyExpiry(ctx, st.sr, snap.Users)
		if err != nil {
			return directory.Snapshot{}, s.errf("read (%s): %w", mode, err)
		}
		st.warnings = append(st.warnings, w...)
	}
	snap.Cursor = mark.encode()
	snap.Stats = directory.Stats{
		Entries:  st.sr.entries,
		Pages:    st.sr.pages,
		Searches: st.sr.searches,
		Elapsed:  time.Since(start),
		Server:   server,
		Domains:  s.domains(),
		Warnings: st.warnings,
	}
	if st.sr.referrals > 0 {
		s.log.Debug("continuation references skipped", zap.Int("count", st.sr.referrals))
	}
	s.log.Info("read finished", zap.Bool("complete", snap.Complete), zap.Int("users", len(snap.Users)),
		zap.Int("groups", len(snap.Groups)), zap.Int("entries", st.sr.entries), zap.Int("pages", st.sr.pages),
		zap.Int("searches", st.sr.searches),
		zap.Duration("elapsed", snap.Stats.Elapsed))
	return snap, nil
}

// groupsMark fingerprints the imported groups as asked for, in any order:
// equal marks mean an incremental read covers the same groups as the
// cursor's read.
func groupsMark(specs []string) string {
	keys := make([]string, 0, len(specs))
	for _, g := range specs {
		if g = strings.ToLower(strings.TrimSpace(g)); g != "" {
			keys = append(keys, g)
		}
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	sum := sha256.Sum256([]byte(strings.Join(keys, "\n")))
	return hex.EncodeToString(sum[:8])
}

// domains is the DNS name of the base DN's dc= components.
func (s *Source) domains() []string {
	dn, err := goldap.ParseDN(s.cfg.BaseDN)
	if err != nil {
		return nil
	}
	var parts []string
	for _, rdn := range dn.RDNs {
		for _, a := range rdn.Attributes {
			if strings.EqualFold(a.Type, "dc") {
				parts = append(parts, strings.ToLower(a.Value))
			}
		}
	}
	if len(parts) == 0 {
		return nil
	}
	return []string{strings.Join(parts, ".")}
}

// readFull reads every imported group's closure and every member.
func (s *Source) readFull(ctx context.Context, st *readState, mark *cursor) (directory.Snapshot, error) {
	sc := s.schema()
	sr := st.sr
	var idx map[string]*groupRec
	var imported []*groupRec
	var err error
	if len(st.req.Groups) > s.fewGroups && st.server != "" {
		// Many imported groups: the group pass and the user pass are both
		// long. Run the user pass beside it on a second connection.
		pctx, cancel := context.WithCancel(ctx)
		st.pre = s.prefetchUsers(pctx, st.server, sc)
		defer func() {
			cancel()
			<-st.pre.done
		}()
	}
	if len(st.req.Groups) <= s.fewGroups {
		// A few imported groups: read them and what is nested in them,
		// not every group of the directory with all its members.
		if imported, err = sr.resolveGroups(ctx, st.req.Groups, sc, nil); err != nil {
			return directory.Snapshot{}, err
		}
		if idx, err = sr.closureIndex(ctx, sc, imported); err != nil {
			return directory.Snapshot{}, err
		}
	}
	if idx == nil {
		if idx, err = sr.groupIndex(ctx, sc); err != nil {
			return directory.Snapshot{}, err
		}
		if imported, err = sr.resolveGroups(ctx, st.req.Groups, sc, idx); err != nil {
			return directory.Snapshot{}, err
		}
	}
	for _, g := range idx {
		mark.noteGroup(g)
	}
	groups, userGroups, err := sr.completeGroups(ctx, sc, idx, imported)
	if err != nil {
		return directory.Snapshot{}, err
	}
	users, err := s.readUsers(ctx, st, sc, userGroups, imported, mark)
	if err != nil {
		return directory.Snapshot{}, err
	}
	fillMembers(groups, users)
	return directory.Snapshot{Complete: true, Users: users, Groups: groups}, nil
}

// completeGroups finishes a read's group index and expands it, for full
// and incremental reads alike: an imported group missing from idx (it
// lies outside GroupBaseDN) is read with all its members and added, AD
// primary-group members are added, and each imported group's nested
// closure is resolved (see expand).
func (r *searcher) completeGroups(ctx context.Context, sc schema, idx map[string]*groupRec, imported []*groupRec) ([]directory.Group, map[string][]int32, error) {
	for _, g := range imported {
		if _, ok := idx[g.key]; !ok {
			if err := r.completeMembers(ctx, g, sc); err != nil {
				return nil, nil, err
			}
			idx[g.key] = g
		}
	}
	if err := r.addPrimaryGroupMembers(ctx, sc, idx, imported); err != nil {
		return nil, nil, err
	}
	groups, userGroups := expand(idx, imported)
	return groups, userGroups, nil
}

// expand resolves each imported group's nested closure and returns the
// Groups (members still empty) and, per candidate user DN key, the indices
// of the imported groups the user belongs to.
func expand(idx map[string]*groupRec, imported []*groupRec) ([]directory.Group, map[string][]int32) {
	groups := make([]directory.Group, len(imported))
	userGroups := make(map[string][]int32)
	for i, g := range imported {
		groups[i] = directory.Group{Anchor: g.anchor, DN: g.dn, Name: g.name}
		for _, k := range closure(idx, g.key) {
			ng := idx[k]
			if k != g.key {
				groups[i].Nested = append(groups[i].Nested, ng.dn)
			}
			for _, m := range ng.members {
				if _, isGroup := idx[m]; isGroup {
					continue
				}
				ug := userGroups[m]
				if len(ug) == 0 || ug[len(ug)-1] != int32(i) {
					userGroups[m] = append(ug, int32(i))
				}
			}
		}
	}
	return groups, userGroups
}

func fillMembers(groups []directory.Group, users []directory.User) {
	byAnchor := make(map[string]int, len(groups))
	for i, g := range groups {
		byAnchor[g.Anchor] = i
	}
	for _, u := range users {
		for _, ga := range u.Groups {
			if i, ok := byAnchor[ga]; ok {
				groups[i].Members = append(groups[i].Members, u.Anchor)
			}
		}
	}
}

// readUsers streams every user under UserBaseDN and keeps the candidates.
// One streamed pass is cheaper than a lookup per member once groups are
// large, and costs a few pages when they are not.
func (s *Source) readUsers(ctx context.Context, st *readState, sc schema, userGroups map[string][]int32, imported []*groupRec, mark *cursor) ([]directory.User, error) {
	sr := st.sr
	disabled := map[string]bool{}
	if s.cfg.DisabledFilter != "" && st.pre == nil {
		f := "(&" + sc.userFilter + s.cfg.DisabledFilter + ")"
		err := sr.paged(ctx, "disabled users", s.cfg.UserBaseDN, f, []string{"1.1"}, func(e *goldap.Entry) error {
			disabled[mustDNKey(e.DN)] = true
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	users := make([]directory.User, 0, len(userGroups))
	found := 0
	add := func(u directory.User, err error, key string, gi []int32) {
		found++
		if err != nil {
			st.warnings = append(st.warnings, err.Error())
			return
		}
		if disabled[key] {
			u.Disabled = true
		}
		u.Groups = make([]string, len(gi))
		for j, i := range gi {
			u.Groups[j] = imported[i].anchor
		}
		users = append(users, u)
	}
	keep := func(e *goldap.Entry, key string, gi []int32) {
		u, err := s.toUser(e, sc)
		add(u, err, key, gi)
	}
	if pre := st.pre; pre != nil {
		// Every user is read beside the groups: keep the members, chunk by
		// chunk as the pass goes on. (The disabled users were read first.)
		for n := 0; ; n++ {
			chunks := pre.take()
			if n == 0 {
				for k := range pre.disabled {
					disabled[k] = true
				}
			}
			if chunks == nil {
				break
			}
			for _, chunk := range chunks {
				for i := range chunk {
					p := &chunk[i]
					if gi, ok := userGroups[p.key]; ok {
						add(p.u, p.err, p.key, gi)
					}
				}
			}
		}
		if pre.err != nil {
			return nil, pre.err
		}
		sr.entries += pre.entries
		sr.pages += pre.pages
		mark.noteTime(pre.mark.Time)
	} else if len(userGroups) <= s.lookupMax {
		// Few members: look each up rather than stream every user of a
		// large domain to find them.
		entries, err := sr.lookup(ctx, userGroups, s.cfg.UserBaseDN, sc.userFilter, s.userAttrs(false))
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			key := mustDNKey(e.DN)
			mark.noteEntry(e, s.cfg.Kind)
			keep(e, key, userGroups[key])
		}
		if s.cfg.Kind == KindLDAP {
			// The cursor is the newest change seen; with lookups only the
			// members were seen, so catch up with whatever is newer.
			if err := s.catchUp(ctx, sr, sc, mark); err != nil {
				return nil, err
			}
		}
	} else {
		err := sr.paged(ctx, "users", s.cfg.UserBaseDN, sc.userFilter, s.userAttrs(false), func(e *goldap.Entry) error {
			key := mustDNKey(e.DN)
			mark.noteEntry(e, s.cfg.Kind)
			if gi, ok := userGroups[key]; ok {
				keep(e, key, gi)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if missing := len(userGroups) - found; missing > 0 {
		st.warnings = append(st.warnings, fmt.Sprintf("%d members of imported groups are not users under %s (computers, contacts, foreign principals, or outside the user base); they are not imported", missing, s.cfg.UserBaseDN))
	}
	return users, nil
}

// toUser converts a user entry. AD and generic LDAP differ only here.
func (s *Source) toUser(e *goldap.Entry, sc schema) (directory.User, error) {
	anchor, err := s.anchorOf(e, sc)
	if err != nil {
		return directory.User{}, fmt.Errorf("user skipped: %w", err)
	}
	u := directory.User{
		Anchor:      anchor,
		DN:          e.DN,
		Email:       e.GetAttributeValue("mail"),
		DisplayName: e.GetAttributeValue("displayName"),
		FirstName:   e.GetAttributeValue("givenName"),
		LastName:    e.GetAttributeValue("sn"),
	}
	if len(s.cfg.ExtraAttributes) > 0 {
		u.Attributes = make(map[string][]string, len(s.cfg.ExtraAttributes))
		for _, a := range s.cfg.ExtraAttributes {
			if v := e.GetEqualFoldAttributeValues(a); len(v) > 0 {
				u.Attributes[a] = v
			}
		}
	}
	if s.cfg.Kind == KindAD {
		if err := adUser(e, &u); err != nil {
			return directory.User{}, fmt.Errorf("user %s skipped: %w", e.DN, err)
		}
		return u, nil
	}
	u.Username = e.GetAttributeValue("uid")
	if u.Username == "" {
		u.Username = e.GetAttributeValue("cn")
	}
	if u.DisplayName == "" {
		u.DisplayName = e.GetAttributeValue("cn")
	}
	u.ChangedAt, _ = generalizedTime(e.GetAttributeValue("modifyTimestamp"))
	changed, _ := generalizedTime(e.GetAttributeValue("pwdChangedTime"))
	u.Password = pwdexpiry.LDAPPassword(changed, e.GetAttributeValue("pwdReset"))
	s.notePolicyDN(e, &u)
	if e.GetAttributeValue("pwdAccountLockedTime") != "" && s.cfg.DisabledFilter == "" {
		// ppolicy's permanent lock ("000001010000Z") is the usual way to
		// disable an account on OpenLDAP; a timed lock-out expires.
		u.Disabled = strings.HasPrefix(e.GetAttributeValue("pwdAccountLockedTime"), "000001010000")
	}
	return u, nil
}

func adUser(e *goldap.Entry, u *directory.User) error {
	u.Username = e.GetAttributeValue("sAMAccountName")
	u.UPN = e.GetAttributeValue("userPrincipalName")
	if raw := e.GetRawAttributeValue("objectSid"); raw != nil {
		sid, err := sidText(raw)
		if err != nil {
			return err
		}
		u.SID = sid
	}
	uac := int64(0)
	if v := e.GetAttributeValue("userAccountControl"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("userAccountControl %q: %w", v, err)
		}
		uac = n
	}
	u.Disabled = uac&uacAccountDisable != 0
	if t, never, err := pwdexpiry.FileTime(e.GetAttributeValue("accountExpires")); err != nil {
		return fmt.Errorf("accountExpires: %w", err)
	} else if !never {
		u.AccountExpiresAt = t
	}
	pw, err := pwdexpiry.ADPassword(pwdexpiry.AD{
		UserAccountControl: uac,
		PwdLastSet:         e.GetAttributeValue("pwdLastSet"),
		ExpiryComputed:     e.GetAttributeValue("msDS-UserPasswordExpiryTimeComputed"),
	})
	if err != nil {
		return err
	}
	u.Password = pw
	u.ChangedAt, _ = generalizedTime(e.GetAttributeValue("whenChanged"))
	return nil
}

// catchUp moves a generic LDAP mark to the newest modifyTimestamp among
// users changed at or after it (usually none or a few).
func (s *Source) catchUp(ctx context.Context, sr *searcher, sc schema, mark *cursor) error {
	if mark.Time == "" {
		return nil
	}
	f := "(&" + sc.userFilter + "(modifyTimestamp>=" + mark.Time + "))"
	return sr.paged(ctx, "newest change", s.cfg.UserBaseDN, f, []string{"modifyTimestamp"}, func(e *goldap.Entry) error {
		mark.noteEntry(e, s.cfg.Kind)
		return nil
	})
}

// domainExpiry fills Password.ExpiresAt from pwdLastSet and the domain's
// maxPwdAge, the cheap alternative to msDS-UserPasswordExpiryTimeComputed
// (which is exact — it honours fine-grained password policies — but costs
// about a millisecond per entry on some DCs).
func (s *Source) domainExpiry(ctx context.Context, sr *searcher, users []directory.User) error {
	if len(users) == 0 {
		return nil
	}
	dom, err := sr.base(ctx, s.cfg.BaseDN, []string{"maxPwdAge"})
	if err != nil {
		return fmt.Errorf("domain password policy: %w", err)
	}
	if dom == nil {
		return nil
	}
	v := dom.GetAttributeValue("maxPwdAge")
	if v == "" {
		return nil // the base DN is not the domain head: no policy to apply
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return fmt.Errorf("maxPwdAge %q: %w", v, err)
	}
	for i := range users {
		pwdexpiry.DomainMaxAge(&users[i].Password, n)
	}
	return nil
}

// userPrefetch is a full read's user pass run on a second connection while
// the first reads the groups: on a large directory the two passes are the
// read's two long searches, and each leaves the server and this process
// idle in turn. Every user under UserBaseDN is converted and handed over
// in chunks; readUsers keeps the members, taking each chunk as it comes
// once the groups are known, while the pass goes on. It is used only with
// many imported groups, where most users are usually members.
type userPrefetch struct {
	done chan struct{}
	mu   sync.Mutex
	// ready holds the chunks converted and not yet taken: one growing
	// slice of 100,000 large structs would be copied over and over.
	ready [][]prefetchedUser
	more  chan struct{} // a chunk was added to ready
	// disabled is complete before the first chunk is handed over.
	disabled map[string]bool
	mark     cursor // the newest change among users (generic LDAP)
	entries  int
	pages    int
	err      error
}

// take returns the chunks converted since the last call, waiting for one
// if there are none, and nil once the pass has ended (see err).
func (p *userPrefetch) take() [][]prefetchedUser {
	for {
		p.mu.Lock()
		cs := p.ready
		p.ready = nil
		p.mu.Unlock()
		if len(cs) > 0 {
			return cs
		}
		select {
		case <-p.more:
		case <-p.done:
			p.mu.Lock()
			cs, p.ready = p.ready, nil
			p.mu.Unlock()
			return cs
		}
	}
}

// hand makes chunk available to take.
func (p *userPrefetch) hand(chunk []prefetchedUser) {
	if len(chunk) == 0 {
		return
	}
	p.mu.Lock()
	p.ready = append(p.ready, chunk)
	p.mu.Unlock()
	select {
	case p.more <- struct{}{}:
	default: // already signalled
	}
}

// prefetchChunk is how many converted users the prefetch hands over at once.
const prefetchChunk = 4096

type prefetchedUser struct {
	key string
	u   directory.User
	err error // the user could not be converted (a warning if a member)
}

func (s *Source) prefetchUsers(ctx context.Context, server string, sc schema) *userPrefetch {
	p := &userPrefetch{done: make(chan struct{}), more: make(chan struct{}, 1), disabled: map[string]bool{}, mark: cursor{Kind: s.cfg.Kind}}
	go func() {
		defer close(p.done)
		c, err := s.bindURL(ctx, server)
		if err != nil {
			p.err = fmt.Errorf("second connection: %w", err)
			return
		}
		defer closeOnCancel(ctx, c)()
		sr := &searcher{s: s, c: c}
		defer func() { p.entries, p.pages = sr.entries, sr.pages }()
		if s.cfg.DisabledFilter != "" {
			f := "(&" + sc.userFilter + s.cfg.DisabledFilter + ")"
			p.err = sr.paged(ctx, "disabled users", s.cfg.UserBaseDN, f, []string{"1.1"}, func(e *goldap.Entry) error {
				p.disabled[mustDNKey(e.DN)] = true
				return nil
			})
			if p.err != nil {
				return
			}
		}
		var chunk []prefetchedUser
		p.err = sr.paged(ctx, "users", s.cfg.UserBaseDN, sc.userFilter, s.userAttrs(false), func(e *goldap.Entry) error {
			p.mark.noteEntry(e, s.cfg.Kind)
			u, err := s.toUser(e, sc)
			if chunk == nil {
				chunk = make([]prefetchedUser, 0, prefetchChunk)
			}
			chunk = append(chunk, prefetchedUser{key: mustDNKey(e.DN), u: u, err: err})
			if len(chunk) == cap(chunk) {
				p.hand(chunk)
				chunk = nil
			}
			return nil
		})
		p.hand(chunk)
	}()
	return p
}

// bindURL connects to one server with the read's client and binds as the
// service account, as connect does for the first that answers.
func (s *Source) bindURL(ctx context.Context, server string) (conn, error) {
	c, err := s.dial(ctx, server, dialRead)
	if err != nil {
		return nil, err
	}
	if s.cfg.BindDN == "" {
		return c, nil
	}
	setTimeout(c, s.cfg.ConnectTimeout)
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	err = c.Bind(s.cfg.BindDN, s.cfg.BindPassword)
	stop()
	setTimeout(c, s.cfg.ReadTimeout)
	if err != nil {
		_ = c.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%s: bind as %s: %w", server, s.cfg.BindDN, err)
	}
	return c, nil
}
