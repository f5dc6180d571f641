package ldap

import (
	"context"
)

// FindGroup finds one group by DN, name (cn / sAMAccountName) or anchor
// (objectGUID / entryUUID text), as a sync resolves an imported group:
// to choose it for import by its anchor. MemberCount is left zero. Errors
// wrap directory.ErrGroupNotFound or directory.ErrGroupAmbiguous when no
// group or several answer to spec, and directory.ErrUnavailable or
// directory.ErrBindRefused when the directory could not be asked.
func (s *Source) FindGroup(ctx context.Context, spec string) (GroupInfo, error) {
	c, _, err := s.serviceConn(ctx)
	if err != nil {
		return GroupInfo{}, s.errf("find group: %w", err)
	}
	defer closeOnCancel(ctx, c)()
	sr := &searcher{s: s, c: c}
	found, err := sr.resolveGroups(ctx, []string{spec}, s.schema(), nil)
	if err != nil {
		return GroupInfo{}, s.errf("find group: %w", err)
	}
	g := found[0]
	return GroupInfo{Name: g.name, DN: g.dn, Anchor: g.anchor}, nil
}
