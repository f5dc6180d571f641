package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/engine"
)

// TestSyncRunsAndShow reads recorded runs through the daemon's API: the
// history with counts, one run with its plan, and the refusals.
func TestSyncRunsAndShow(t *testing.T) {
	ctx := context.Background()
	st := openTestStore(t)
	a, err := admin.New(admin.Options{Store: st, Directories: []string{"corp", "lab"}})
	if err != nil {
		t.Fatal(err)
	}
	e := serveAPI(t, st, a)

	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	plan, _ := json.Marshal(engine.Plan{Directory: "corp", Complete: true, UsersRead: 3, GroupsRead: 1,
		Counts: store.SyncCounts{Created: 2, Unchanged: 1},
		Items:  []engine.Item{{Kind: engine.KindCreate, Username: "ann"}, {Kind: engine.KindCreate, Username: "ben"}}})
	runs := []store.SyncRun{
		{ID: "run-1", Directory: "corp", Trigger: "manual", Full: true, Status: store.SyncSucceeded, StartedAt: t0,
			FinishedAt: t0.Add(1500 * time.Millisecond), Counts: store.SyncCounts{Created: 2, Unchanged: 1}, Plan: plan},
		{ID: "run-2", Directory: "lab", Trigger: "schedule", Status: store.SyncFailed, StartedAt: t0.Add(time.Hour),
			FinishedAt: t0.Add(time.Hour + time.Second), Error: "read: ldap: connection refused"},
		{ID: "run-3", Directory: "corp", Trigger: "schedule", DryRun: true, Status: store.SyncRefused, StartedAt: t0.Add(2 * time.Hour),
			FinishedAt: t0.Add(2*time.Hour + time.Second), Counts: store.SyncCounts{Deactivated: 3},
			Error: "plan would deactivate 3 of 3 users (100.0 %); limit is 10 % — nothing applied"},
	}
	err = st.Tx(ctx, func(tx store.Tx) error {
		for _, r := range runs {
			if err := tx.CreateSyncRun(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	api := e.api

	// Newest first, every run's counts; a long error is clipped.
	out := api("sync", "runs")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[1], "run-3") || !strings.HasPrefix(lines[3], "run-1") {
		t.Fatalf("sync runs:\n%s", out)
	}
	for _, want := range []string{"CREATED", "DEACTIVATED", "full", "incremental, dry run", "refused", "1.5s",
		"read: ldap: connection refused", "plan would deactivate 3 of 3 users (100.0 %); limit is 10 %…"} {
		if !strings.Contains(out, want) {
			t.Errorf("sync runs: no %q in\n%s", want, out)
		}
	}
	if f := strings.Fields(lines[3]); len(f) != 13 || f[7] != "2" || f[11] != "1" {
		t.Errorf("run-1's counts (created 2, unchanged 1): %q", lines[3])
	}

	var list admin.SyncRunList
	if err := json.Unmarshal([]byte(api("sync", "runs", "--directory", "corp", "--limit", "1", "--json")), &list); err != nil ||
		len(list.Items) != 1 || list.Items[0].ID != "run-3" || list.Items[0].Counts.Deactivated != 3 {
		t.Fatalf("sync runs --directory corp --limit 1 --json: %v %+v", err, list)
	}
	if out := api("sync", "runs", "--directory", "lab"); !strings.Contains(out, "run-2") || strings.Contains(out, "run-1") {
		t.Fatalf("sync runs --directory lab:\n%s", out)
	}

	// One run with its plan, readable and as the API returns it.
	out = api("sync", "show", "run-1")
	for _, want := range []string{"sync run run-1 of corp (full): succeeded", "Plan for directory corp", "create ann",
		"trigger manual, started 2026-03-02T08:00:00Z, took 1.5s"} {
		if !strings.Contains(out, want) {
			t.Errorf("sync show: no %q in\n%s", want, out)
		}
	}
	var one admin.SyncRun
	if err := json.Unmarshal([]byte(api("sync", "show", "run-1", "--json")), &one); err != nil || one.ID != "run-1" || len(one.Plan) == 0 {
		t.Fatalf("sync show --json: %v %+v", err, one)
	}
	if out := api("sync", "show", "run-2"); !strings.Contains(out, "failed: read: ldap: connection refused") {
		t.Fatalf("sync show of a failed run:\n%s", out)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"sync", "show", "nope"}, "sync run nope:"},
		{[]string{"sync", "runs", "--directory", "elsewhere"}, "unknown directory"},
		{[]string{"sync", "runs", "--limit", "0"}, "--limit must be between 1 and 1000"},
		{[]string{"sync", "show"}, "accepts 1 arg(s), received 0"},
	} {
		if _, _, err := run(t, append(tc.args, "--server", e.srv.URL)...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: want an error with %q, got %v", tc.args, tc.want, err)
		}
	}
	// Reading runs recorded none.
	if got, err := st.ListSyncRuns(ctx, store.SyncRunFilter{}); err != nil || len(got) != len(runs) {
		t.Fatalf("runs after reading them: %d %v", len(got), err)
	}
}
