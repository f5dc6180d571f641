package synce2e

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/dirbridge/dirbridge/internal/wire"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/engine"
)

// A group chosen in the store is imported beside the config's on the next
// run, with no restart, even when that run would be incremental (the
// cursor does not cover the new group, so the read is full). Removing it
// deactivates its members through the usual safety check: refused over
// max_deactivations, applied under it.
func TestStoredImportGroups(t *testing.T) {
	s := sharedSlapd(t)
	ou := s.ou(t, "e2e-chosen")
	base := s.group(t, ou, "chosen-base", users(t, s, ou, "cb-1", "cb-2", "cb-3")...)
	s.group(t, ou, "chosen-extra", users(t, s, ou, "cx-1", "cx-2")...)
	o := s.opts(t)
	o.Groups = []string{base}
	o.MaxCount, o.MaxPercent = 1, 50
	e := newEnv(t, o)
	e.sync(true)
	if got := e.active(); !slices.Equal(got, []string{"cb-1", "cb-2", "cb-3"}) {
		t.Fatalf("active after the first sync = %v", got)
	}

	ctx := context.Background()
	src, err := wire.Source(e.cfg, dirName, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	found, err := src.ListGroups(ctx, "chosen-extra")
	if err != nil || len(found) != 1 {
		t.Fatalf("ListGroups = %+v, %v", found, err)
	}
	chosen := store.ImportGroup{Directory: dirName, Anchor: found[0].Anchor, DN: found[0].DN, Name: found[0].Name, AddedBy: "admin"}
	if err := e.st.Tx(ctx, func(tx store.Tx) error { return tx.AddImportGroup(ctx, chosen) }); err != nil {
		t.Fatal(err)
	}
	run := e.sync(false)
	if !run.Full || run.Counts.Created != 2 {
		t.Errorf("run after choosing a group: full %v, counts %+v", run.Full, run.Counts)
	}
	if got := e.active(); !slices.Equal(got, []string{"cb-1", "cb-2", "cb-3", "cx-1", "cx-2"}) {
		t.Fatalf("active after choosing chosen-extra = %v", got)
	}
	if g := e.groupEntry("chosen-extra"); g.Anchor != chosen.Anchor {
		t.Errorf("group entry anchor %s, want %s", g.Anchor, chosen.Anchor)
	}

	if err := e.st.Tx(ctx, func(tx store.Tx) error { return tx.DeleteImportGroup(ctx, dirName, chosen.Anchor) }); err != nil {
		t.Fatal(err)
	}
	before := e.state()
	run, err = e.run(engine.Request{})
	if !errors.Is(err, engine.ErrRefused) || run.Status != store.SyncRefused || run.Counts.Deactivated != 2 {
		t.Fatalf("removal over the limit of 1: status %s, err %v, counts %+v", run.Status, err, run.Counts)
	}
	e.unchanged(before)

	e.reconfigure(func(o *dirOpts) { o.MaxCount = 2 })
	run = e.sync(false)
	if run.Counts.Deactivated != 2 {
		t.Errorf("removal under the limit: counts %+v", run.Counts)
	}
	if got := e.active(); !slices.Equal(got, []string{"cb-1", "cb-2", "cb-3"}) {
		t.Errorf("active after removing chosen-extra = %v", got)
	}

	// A chosen group deleted from the directory fails the run, which
	// names it and changes nothing (its members are not leavers).
	gone := s.group(t, ou, "chosen-gone", users(t, s, ou, "cg-1")...)
	found, err = src.ListGroups(ctx, "chosen-gone")
	if err != nil || len(found) != 1 {
		t.Fatalf("ListGroups = %+v, %v", found, err)
	}
	chosen = store.ImportGroup{Directory: dirName, Anchor: found[0].Anchor, DN: found[0].DN, Name: found[0].Name, AddedBy: "admin"}
	if err := e.st.Tx(ctx, func(tx store.Tx) error { return tx.AddImportGroup(ctx, chosen) }); err != nil {
		t.Fatal(err)
	}
	e.sync(false)
	s.remove(t, gone)
	before = e.state()
	run, err = e.run(engine.Request{})
	if err == nil || run.Status != store.SyncFailed || !strings.Contains(run.Error, "groups chosen for import in the store: chosen-gone ("+chosen.Anchor+")") {
		t.Fatalf("run without a chosen group: status %s, err %v", run.Status, err)
	}
	e.unchanged(before)
}
