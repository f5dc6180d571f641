package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/dirbridge/dirbridge/store"
)

// DirectoryStats are the import statistics of one directory, as the seed
// products show them (GET /api/v1/directories/{name}/stats).
type DirectoryStats struct {
	Directory string `json:"directory"`
	// UsersImported counts imported user entries, mapped or not.
	UsersImported int `json:"users_imported"`
	// UsersMapped counts those linked to a local user.
	UsersMapped int `json:"users_mapped"`
	// UsersActive counts the directory's active local users.
	UsersActive    int `json:"users_active"`
	GroupsImported int `json:"groups_imported"`
	// Domains are the DNS domains of the imported users' DNs
	// (DC=corp,DC=example,DC=com -> corp.example.com), sorted.
	Domains []string `json:"domains"`
	// LatestImport is the end of the last successful run (zero: never);
	// LatestFullImport that of the last successful full run.
	LatestImport     time.Time `json:"latest_import,omitzero"`
	LatestFullImport time.Time `json:"latest_full_import,omitzero"`
}

// Stats reads the import statistics of directory dir.
func Stats(ctx context.Context, st store.Reader, dir string) (DirectoryStats, error) {
	s := DirectoryStats{Directory: dir, Domains: []string{}}
	entries, err := st.ListDirectoryEntries(ctx, dir)
	if err != nil {
		return DirectoryStats{}, fmt.Errorf("directory %s: stats: entries: %w", dir, err)
	}
	domains := map[string]bool{}
	for _, e := range entries {
		if e.Kind == store.EntryGroup {
			s.GroupsImported++
			continue
		}
		s.UsersImported++
		if e.UserID != "" {
			s.UsersMapped++
		}
		if d := domainOf(e.DN); d != "" {
			domains[d] = true
		}
	}
	for d := range domains {
		s.Domains = append(s.Domains, d)
	}
	sort.Strings(s.Domains)
	if s.UsersActive, err = st.CountUsers(ctx, store.UserFilter{Source: dir, State: store.StateActive}); err != nil {
		return DirectoryStats{}, fmt.Errorf("directory %s: stats: active users: %w", dir, err)
	}
	state, err := st.GetDirectoryState(ctx, dir)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return DirectoryStats{}, fmt.Errorf("directory %s: stats: state: %w", dir, err)
	default:
		s.LatestImport, s.LatestFullImport = state.LastSuccessAt, state.LastFullAt
	}
	return s, nil
}

// domainOf turns the DC components of a DN into a DNS name. It reads the
// DN loosely (no escapes inside DC values occur in practice).
func domainOf(dn string) string {
	var parts []string
	for _, rdn := range strings.Split(dn, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(rdn), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "dc") {
			parts = append(parts, strings.ToLower(strings.TrimSpace(v)))
		}
	}
	return strings.Join(parts, ".")
}
