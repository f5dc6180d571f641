package ldap

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"
	"go.uber.org/zap"
)

// AD lists a user's membership of its primary group nowhere on the group:
// the group's member attribute leaves out every user whose primaryGroupID
// is the group's RID (the last sub-authority of the group's objectSid), and
// the user's memberOf leaves the group out too. Importing Domain Users (RID
// 513, every user's default primary group), or any group an administrator
// made some users' primary group, would otherwise miss those users. So the
// reader asks for them separately: which imported (or nested) groups are
// somebody's primary group, and who.

// maxSIDLookups bounds the groups whose objectSid is read one by one; with
// more, one paged pass over the groups reads them all.
const maxSIDLookups = 200

// maxRIDFilter bounds the RIDs put in one (|(primaryGroupID=...)...)
// filter; with more, one paged pass over the users reads primaryGroupID.
const maxRIDFilter = 50

// pgAttrs are what a primary-group member search reads of a user: the RID
// and the user's own SID, whose domain part tells which domain the RID is
// relative to.
var pgAttrs = []string{"primaryGroupID", "objectSid"}

// splitSID returns the domain part of a binary SID as text (S-1-5-21-a-b-c)
// and its last sub-authority (the RID).
func splitSID(b []byte) (domain string, rid uint32, err error) {
	text, err := sidText(b)
	if err != nil {
		return "", 0, err
	}
	if b[1] == 0 {
		return "", 0, fmt.Errorf("objectSid %s: no sub-authority", text)
	}
	i := strings.LastIndexByte(text, '-')
	return text[:i], binary.LittleEndian.Uint32(b[len(b)-4:]), nil
}

// sidKey names a group by its domain and RID.
func sidKey(domain string, rid uint32) string {
	return domain + "/" + strconv.FormatUint(uint64(rid), 10)
}

// addPrimaryGroupMembers adds to every group in the imported groups'
// closure the users (under UserBaseDN, matching the user filter) whose
// primary group it is, as member DN keys, before the closure is expanded:
// so such users count as members of the group and of every group it is
// nested in. Only AD has primary groups; elsewhere it does nothing.
func (r *searcher) addPrimaryGroupMembers(ctx context.Context, sc schema, idx map[string]*groupRec, imported []*groupRec) error {
	if r.s.cfg.Kind != KindAD || len(imported) == 0 {
		return nil
	}
	want := map[string]bool{}
	for _, g := range imported {
		for _, k := range closure(idx, g.key) {
			if idx[k] != nil {
				want[k] = true
			}
		}
	}
	bySID, rids, err := r.groupSIDs(ctx, sc, idx, want)
	if err != nil {
		return fmt.Errorf("primary groups: %w", err)
	}
	if len(bySID) == 0 {
		return nil
	}
	filter := sc.userFilter
	if len(rids) <= maxRIDFilter {
		var ors strings.Builder
		for rid := range rids {
			ors.WriteString("(primaryGroupID=" + strconv.FormatUint(uint64(rid), 10) + ")")
		}
		filter = "(&" + sc.userFilter + "(|" + ors.String() + "))"
	}
	added := 0
	err = r.paged(ctx, "primary group members", r.s.cfg.UserBaseDN, filter, pgAttrs, func(e *goldap.Entry) error {
		rid, err := strconv.ParseUint(e.GetAttributeValue("primaryGroupID"), 10, 32)
		if err != nil {
			return nil // no primary group (or not a number): nothing to add
		}
		domain, _, err := splitSID(e.GetRawAttributeValue("objectSid"))
		if err != nil {
			return nil
		}
		if g := bySID[sidKey(domain, uint32(rid))]; g != nil {
			g.members = append(g.members, mustDNKey(e.DN))
			added++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("primary groups: %w", err)
	}
	r.s.log.Debug("primary group members", zap.Int("groups", len(bySID)), zap.Int("members", added))
	return nil
}

// groupSIDs reads the objectSid of the groups in want and returns them by
// sidKey, with the set of RIDs.
func (r *searcher) groupSIDs(ctx context.Context, sc schema, idx map[string]*groupRec, want map[string]bool) (map[string]*groupRec, map[uint32]bool, error) {
	bySID := make(map[string]*groupRec, len(want))
	rids := map[uint32]bool{}
	note := func(key string, e *goldap.Entry) {
		raw := e.GetRawAttributeValue("objectSid")
		if raw == nil {
			return
		}
		domain, rid, err := splitSID(raw)
		if err != nil {
			return
		}
		bySID[sidKey(domain, rid)] = idx[key]
		rids[rid] = true
	}
	todo := want
	if len(want) > maxSIDLookups {
		// Many groups: one pass over the group base reads every SID.
		todo = map[string]bool{}
		for k := range want {
			todo[k] = true
		}
		err := r.paged(ctx, "group SIDs", r.s.cfg.GroupBaseDN, sc.groupFilter, []string{"objectSid"}, func(e *goldap.Entry) error {
			k := mustDNKey(e.DN)
			if todo[k] {
				note(k, e)
				delete(todo, k)
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	// Few groups, or imported groups outside GroupBaseDN: one read each.
	for k := range todo {
		e, err := r.base(ctx, idx[k].dn, []string{"objectSid"})
		if err != nil {
			return nil, nil, err
		}
		if e != nil {
			note(k, e)
		}
	}
	return bySID, rids, nil
}

// changedUserAttrs are the attributes an incremental read reads changed
// users with: userAttrs with memberOf, and on AD primaryGroupID, since
// memberOf leaves the primary group out.
func (s *Source) changedUserAttrs() []string {
	a := s.userAttrs(true)
	if s.cfg.Kind == KindAD {
		a = append(a, "primaryGroupID")
	}
	return a
}

// parentGroups are the DNs of the groups user entry e is directly in: its
// memberOf, and on AD its primary group, found by the SID made of the
// user's domain and primaryGroupID (cache holds earlier answers by SID).
func (r *searcher) parentGroups(ctx context.Context, sc schema, e *goldap.Entry, cache map[string]string) ([]string, error) {
	parents := e.GetAttributeValues("memberOf")
	if r.s.cfg.Kind != KindAD {
		return parents, nil
	}
	rid, err := strconv.ParseUint(e.GetAttributeValue("primaryGroupID"), 10, 32)
	if err != nil {
		return parents, nil
	}
	raw := e.GetRawAttributeValue("objectSid")
	domain, _, err := splitSID(raw)
	if err != nil {
		return parents, nil
	}
	key := sidKey(domain, uint32(rid))
	dn, ok := cache[key]
	if !ok {
		sid := append([]byte(nil), raw...)
		binary.LittleEndian.PutUint32(sid[len(sid)-4:], uint32(rid))
		f := "(&" + sc.groupFilter + "(objectSid=" + escapeBytes(sid) + "))"
		err := r.paged(ctx, "primary group "+key, r.s.cfg.BaseDN, f, []string{"1.1"}, func(g *goldap.Entry) error {
			dn = g.DN
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("primary group of %s: %w", e.DN, err)
		}
		cache[key] = dn
	}
	if dn != "" {
		parents = append(parents, dn)
	}
	return parents, nil
}

// addPrimaryCounts adds to each listed AD group's MemberCount the users
// whose primary group it is, so the listing an administrator chooses from
// does not show Domain Users as (nearly) empty. groupFilter is the
// listing's own filter: one more pass over the same groups reads their
// SIDs, then one search finds the users.
func (r *searcher) addPrimaryCounts(ctx context.Context, sc schema, groupFilter string, groups []GroupInfo) error {
	if r.s.cfg.Kind != KindAD || len(groups) == 0 {
		return nil
	}
	byDN := make(map[string]int, len(groups))
	for i, g := range groups {
		byDN[mustDNKey(g.DN)] = i
	}
	bySID := map[string]int{}
	rids := map[uint32]bool{}
	err := r.paged(ctx, "group SIDs", r.s.cfg.GroupBaseDN, groupFilter, []string{"objectSid"}, func(e *goldap.Entry) error {
		i, ok := byDN[mustDNKey(e.DN)]
		if !ok {
			return nil
		}
		domain, rid, err := splitSID(e.GetRawAttributeValue("objectSid"))
		if err != nil {
			return nil
		}
		bySID[sidKey(domain, rid)] = i
		rids[rid] = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("primary groups: %w", err)
	}
	if len(rids) == 0 {
		return nil
	}
	filter := sc.userFilter
	if len(rids) <= maxRIDFilter {
		var ors strings.Builder
		for rid := range rids {
			ors.WriteString("(primaryGroupID=" + strconv.FormatUint(uint64(rid), 10) + ")")
		}
		filter = "(&" + sc.userFilter + "(|" + ors.String() + "))"
	}
	err = r.paged(ctx, "primary group members", r.s.cfg.UserBaseDN, filter, pgAttrs, func(e *goldap.Entry) error {
		rid, err := strconv.ParseUint(e.GetAttributeValue("primaryGroupID"), 10, 32)
		if err != nil {
			return nil
		}
		domain, _, err := splitSID(e.GetRawAttributeValue("objectSid"))
		if err != nil {
			return nil
		}
		if i, ok := bySID[sidKey(domain, uint32(rid))]; ok {
			groups[i].MemberCount++
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("primary groups: %w", err)
	}
	return nil
}
