package engine

import (
	"context"
	"fmt"
	"slices"

	"github.com/dirbridge/dirbridge/store"
)

// ImportGroups returns the groups a run of d imports: d's own (the
// config's), then the groups chosen in the store for d, each named by its
// anchor so a renamed or moved group still resolves. A reference listed
// twice is passed once; one group named two ways (a DN in the config, its
// anchor in the store) is read once by the Source, which resolves both.
// The store is read at every run, so a change takes effect on the next.
func ImportGroups(ctx context.Context, st store.Reader, d Directory) ([]string, error) {
	chosen, err := st.ListImportGroups(ctx, d.Name)
	if err != nil {
		return nil, fmt.Errorf("import groups: %w", err)
	}
	out := slices.Clone(d.Groups)
	for _, g := range chosen {
		if !slices.Contains(out, g.Anchor) {
			out = append(out, g.Anchor)
		}
	}
	return out, nil
}
