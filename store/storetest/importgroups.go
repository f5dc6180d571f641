package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/store"
)

// testImportGroups pins the chosen import groups: per directory, ordered by
// name, a second add of one anchor is ErrConflict and leaves the
// transaction usable, a delete of what is not there is ErrNotFound, a
// rolled-back add leaves nothing, and bad keys are refused.
func testImportGroups(t *testing.T, s store.Store) {
	ctx := context.Background()
	got, err := s.ListImportGroups(ctx, "corp")
	noErr(t, "ListImportGroups before any", err)
	equal(t, "import groups before any", len(got), 0)

	sales := store.ImportGroup{Directory: "corp", Anchor: "6f1c2a5e-0000-4000-8000-000000000001",
		DN: `cn=Sales\2C EMEA,ou=Groups,dc=example,dc=test`, Name: "Sales, EMEA", AddedBy: "admin", AddedAt: ts(1)}
	agents := store.ImportGroup{Directory: "corp", Anchor: "6f1c2a5e-0000-4000-8000-000000000002",
		DN: "cn=Agents,ou=Groups,dc=example,dc=test", Name: "Agents", AddedBy: "api-key:ci", AddedAt: ts(2)}
	other := store.ImportGroup{Directory: "lab", Anchor: sales.Anchor, DN: "cn=Sales,dc=lab", Name: "Sales", AddedBy: "admin"}
	before := time.Now().Add(-time.Second)
	tx(t, s, func(tx store.Tx) error {
		for _, g := range []store.ImportGroup{sales, agents, other} {
			if err := tx.AddImportGroup(ctx, g); err != nil {
				return err
			}
		}
		// A second add conflicts and the transaction goes on.
		isErr(t, "AddImportGroup twice", tx.AddImportGroup(ctx, sales), store.ErrConflict)
		in, err := tx.ListImportGroups(ctx, "corp")
		if err != nil {
			return err
		}
		equal(t, "import groups seen inside the transaction", len(in), 2)
		return nil
	})
	got, err = s.ListImportGroups(ctx, "corp")
	noErr(t, "ListImportGroups", err)
	equal(t, "import groups of corp", got, []store.ImportGroup{agents, sales})
	lab, err := s.ListImportGroups(ctx, "lab")
	noErr(t, "ListImportGroups of lab", err)
	if len(lab) != 1 || lab[0].AddedAt.Before(before) || lab[0].AddedAt.Location() != time.UTC {
		t.Fatalf("import groups of lab = %+v", lab)
	}

	errRollback := errors.New("abandoned")
	err = s.Tx(ctx, func(tx store.Tx) error {
		if err := tx.AddImportGroup(ctx, store.ImportGroup{Directory: "corp", Anchor: "rolled-back"}); err != nil {
			return err
		}
		if err := tx.DeleteImportGroup(ctx, "corp", agents.Anchor); err != nil {
			return err
		}
		return errRollback
	})
	isErr(t, "rolled-back add", err, errRollback)
	got, err = s.ListImportGroups(ctx, "corp")
	noErr(t, "ListImportGroups after rollback", err)
	equal(t, "import groups after a rollback", got, []store.ImportGroup{agents, sales})

	tx(t, s, func(tx store.Tx) error { return tx.DeleteImportGroup(ctx, "corp", agents.Anchor) })
	got, err = s.ListImportGroups(ctx, "corp")
	noErr(t, "ListImportGroups after delete", err)
	equal(t, "import groups after delete", got, []store.ImportGroup{sales})
	err = s.Tx(ctx, func(tx store.Tx) error { return tx.DeleteImportGroup(ctx, "corp", agents.Anchor) })
	isErr(t, "DeleteImportGroup of a removed group", err, store.ErrNotFound)
	err = s.Tx(ctx, func(tx store.Tx) error { return tx.DeleteImportGroup(ctx, "corp", "bad\x00anchor") })
	isErr(t, "DeleteImportGroup of a NUL anchor", err, store.ErrNotFound)

	for _, bad := range []store.ImportGroup{
		{Directory: "", Anchor: "a"},
		{Directory: "corp", Anchor: ""},
		{Directory: "corp", Anchor: "a\x00b"},
		{Directory: "corp", Anchor: "a", Name: "\xff"},
	} {
		if err := s.Tx(ctx, func(tx store.Tx) error { return tx.AddImportGroup(ctx, bad) }); err == nil {
			t.Fatalf("AddImportGroup(%+q) succeeded", bad)
		}
	}
	got, err = s.ListImportGroups(ctx, "bad\x00dir")
	noErr(t, "ListImportGroups of a NUL directory", err)
	equal(t, "import groups of a NUL directory", len(got), 0)
}
