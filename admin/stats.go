package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dirbridge/dirbridge/store"
)

// Stats computes a directory's import statistics from the store (the
// figures the seed products show: users imported, mapped, active, groups
// imported, domains used, latest import). The CLI uses it directly for
// `directory stats --config`.
func Stats(ctx context.Context, rd store.Reader, directory string) (DirectoryStats, error) {
	out := DirectoryStats{Directory: directory, Domains: []string{}}
	entries, err := rd.ListDirectoryEntries(ctx, directory)
	if err != nil {
		return out, fmt.Errorf("stats of %s: list entries: %w", directory, err)
	}
	for _, e := range entries {
		switch e.Kind {
		case store.EntryGroup:
			out.GroupsImported++
		case store.EntryUser:
			out.UsersImported++
			if d := domainOf(e); d != "" && !slices.Contains(out.Domains, d) {
				out.Domains = append(out.Domains, d)
			}
			if e.UserID != "" {
				out.UsersMapped++
			}
		}
	}
	out.UsersActive, err = rd.CountUsers(ctx, store.UserFilter{Source: directory, State: store.StateActive})
	if err != nil {
		return out, fmt.Errorf("stats of %s: count active users: %w", directory, err)
	}
	slices.Sort(out.Domains)
	st, err := rd.GetDirectoryState(ctx, directory)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return out, fmt.Errorf("stats of %s: state: %w", directory, err)
	default:
		out.LatestImport = timePtr(st.LastSuccessAt)
	}
	return out, nil
}

// domainOf is the DNS domain of an entry: from its DN's DC components
// (DC=corp,DC=example,DC=com -> corp.example.com), else its UPN suffix.
func domainOf(e store.DirectoryEntry) string {
	var dcs []string
	for _, rdn := range strings.Split(e.DN, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(rdn), "=")
		if ok && strings.EqualFold(k, "dc") {
			dcs = append(dcs, strings.ToLower(v))
		}
	}
	if len(dcs) > 0 {
		return strings.Join(dcs, ".")
	}
	for _, upn := range e.Attributes["userPrincipalName"] {
		if _, d, ok := strings.Cut(upn, "@"); ok {
			return strings.ToLower(d)
		}
	}
	return ""
}
