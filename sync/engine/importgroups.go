package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// ImportGroups returns the groups a run of d imports: d's own (the
// config's), then the groups chosen in the store for d, each named by its
// anchor so a renamed or moved group still resolves. A reference listed
// twice is passed once; one group named two ways (a DN in the config, its
// anchor in the store) is read once by the Source, which resolves both.
// The store is read at every run, so a change takes effect on the next.
func ImportGroups(ctx context.Context, st store.Reader, d Directory) ([]string, error) {
	set, err := importGroups(ctx, st, d)
	return set.groups, err
}

// importSet is a run's imported groups and those of them chosen in the
// store, to name them when the directory no longer has one.
type importSet struct {
	groups []string
	chosen []store.ImportGroup
}

func importGroups(ctx context.Context, st store.Reader, d Directory) (importSet, error) {
	chosen, err := st.ListImportGroups(ctx, d.Name)
	if err != nil {
		return importSet{}, fmt.Errorf("import groups: %w", err)
	}
	out := slices.Clone(d.Groups)
	for _, g := range chosen {
		if !slices.Contains(out, g.Anchor) {
			out = append(out, g.Anchor)
		}
	}
	if len(out) == 0 {
		return importSet{}, ErrNoGroups
	}
	return importSet{groups: out, chosen: chosen}, nil
}

// ErrNoGroups fails a run of a directory that imports no group: none in
// the config and none chosen in the store. The directory is not read,
// and nobody is deactivated.
var ErrNoGroups = errors.New("no groups to import: list them under directories[].groups, or choose them on the console's Directories page or with dirbridge directory import-groups add")

// explain adds to a read's error, when a group was not found, which
// groups were chosen in the store (the Source names them by anchor only)
// and how to stop importing one that is gone.
func (s importSet) explain(err error) error {
	if len(s.chosen) == 0 || !errors.Is(err, directory.ErrGroupNotFound) {
		return err
	}
	names := make([]string, len(s.chosen))
	for i, g := range s.chosen {
		names[i] = fmt.Sprintf("%s (%s)", g.Name, g.Anchor)
	}
	return fmt.Errorf("%w; groups chosen for import in the store: %s — stop importing one that is gone on the console's Directories page or with dirbridge directory import-groups remove",
		err, strings.Join(names, ", "))
}
