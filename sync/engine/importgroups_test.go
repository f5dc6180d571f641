package engine

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/store"
)

// ImportGroups is the config's groups, then the stored ones by anchor,
// each once; another directory's stored groups are not among them.
func TestImportGroups(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	err := st.Tx(ctx, func(tx store.Tx) error {
		for _, g := range []store.ImportGroup{
			{Directory: "corp", Anchor: "a-sales", Name: "Sales"},
			{Directory: "corp", Anchor: "a-agents", Name: "Agents"},
			{Directory: "lab", Anchor: "a-lab", Name: "Lab"},
		} {
			if err := tx.AddImportGroup(ctx, g); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		dir  Directory
		want []string
	}{
		{"config and store", Directory{Name: "corp", Groups: []string{"CC-Supervisors"}}, []string{"CC-Supervisors", "a-agents", "a-sales"}},
		{"anchor in both", Directory{Name: "corp", Groups: []string{"a-sales"}}, []string{"a-sales", "a-agents"}},
		{"nothing stored", Directory{Name: "hq", Groups: []string{"Staff"}}, []string{"Staff"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ImportGroups(ctx, st, tc.dir)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("ImportGroups = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// A directory with no group in the config and none chosen in the store
// fails its run before reading: nothing is imported, nobody deactivated,
// and the error says where groups are chosen.
func TestRunWithoutGroups(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	src := &fakeSource{}
	r, err := NewRunner(st, []Directory{{Name: "corp", Source: src, Mapper: testMapper(t), Limits: defaultLimits()}}, Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	run, err := r.Run(ctx, Request{Directory: "corp", Full: true})
	if !errors.Is(err, ErrNoGroups) || run.Status != store.SyncFailed || !strings.Contains(run.Error, "import-groups add") {
		t.Fatalf("run %+v, err %v; want it failed with ErrNoGroups", run, err)
	}
	if len(src.reqs) != 0 {
		t.Fatalf("the directory was read %d time(s)", len(src.reqs))
	}
}
