package engine

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
	"github.com/dirbridge/dirbridge/sync/directory"
)

func openStore(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "engine.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// fakeSource answers each Read with the next snapshot (or error) queued,
// and can hold a read until released.
type fakeSource struct {
	mu    sync.Mutex
	queue []fakeRead
	reqs  []directory.ReadRequest
	hold  chan struct{} // when set, Read waits for it to close
	began chan struct{} // when set, Read signals it has begun
}

type fakeRead struct {
	snap directory.Snapshot
	err  error
}

func (f *fakeSource) Name() string { return "corp" }

func (f *fakeSource) push(snap directory.Snapshot, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = append(f.queue, fakeRead{snap, err})
}

func (f *fakeSource) Read(ctx context.Context, req directory.ReadRequest) (directory.Snapshot, error) {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	hold, began := f.hold, f.began
	var r fakeRead
	if len(f.queue) > 0 {
		r, f.queue = f.queue[0], f.queue[1:]
	} else {
		r.err = errors.New("fake: nothing queued")
	}
	f.mu.Unlock()
	if req.Progress != nil {
		req.Progress(directory.Progress{Entries: len(r.snap.Users), Pages: 1})
	}
	if began != nil {
		began <- struct{}{}
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return directory.Snapshot{}, ctx.Err()
		}
	}
	return r.snap, r.err
}

func (f *fakeSource) lastCursor() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs[len(f.reqs)-1].Cursor
}

func newRunner(t *testing.T, st store.Store, src *fakeSource, limits Limits, reg prometheus.Registerer) *Runner {
	t.Helper()
	r, err := NewRunner(st, []Directory{{
		Name: "corp", Source: src, Groups: []string{"CC-Agents", "CC-Supervisors"},
		Mapper: testMapper(t), LinkBy: mapping.LinkByUsername, Limits: limits,
	}}, Options{Registerer: reg, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func usersOf(t *testing.T, st store.Store) map[string]store.User {
	t.Helper()
	us, err := st.ListUsers(context.Background(), store.UserFilter{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.User{}
	for _, u := range us {
		out[u.Username] = u
	}
	return out
}

func TestRunner(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	src := &fakeSource{}
	reg := prometheus.NewRegistry()
	r := newRunner(t, st, src, Limits{MaxCount: 500, MaxPercent: 10}, reg)

	alice, bob, carol := dirUser("a-1", "Alice", gAgents), dirUser("b-2", "Bob", gAgents), dirUser("c-3", "Carol", gSup)

	// 1. First (full) sync creates everyone.
	src.push(snapshot(true, alice, bob, carol), nil)
	run, err := r.Run(ctx, Request{Directory: "corp"})
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != store.SyncSucceeded || !run.Full || run.Counts != (store.SyncCounts{Created: 3}) || len(run.Plan) == 0 {
		t.Fatalf("first run = %+v", run)
	}
	if c := src.lastCursor(); c != "" {
		t.Errorf("first read had cursor %q", c)
	}
	us := usersOf(t, st)
	if len(us) != 3 || us["carol"].Profile != "Supervisor" || us["alice"].Profile != "Agent" || us["alice"].Source != "corp" {
		t.Fatalf("users = %+v", us)
	}
	stats, err := Stats(ctx, st, "corp")
	if err != nil {
		t.Fatal(err)
	}
	if stats.UsersImported != 3 || stats.UsersMapped != 3 || stats.UsersActive != 3 || stats.GroupsImported != 2 ||
		strings.Join(stats.Domains, ",") != "corp.example.com" || !stats.LatestImport.Equal(t0) {
		t.Errorf("stats = %+v", stats)
	}
	stored, err := st.GetSyncRun(ctx, run.ID)
	if err != nil || stored.Status != store.SyncSucceeded || stored.Counts.Created != 3 {
		t.Errorf("stored run = %+v, %v", stored, err)
	}

	// 2. Incremental: the cursor is passed; an incremental read holding one
	// renamed user updates it and deactivates nobody.
	renamed := alice
	renamed.Username, renamed.DN = "Alice.Smith", "CN=Alice Smith,OU=Moved,DC=corp,DC=example,DC=com"
	inc := snapshot(false, renamed)
	inc.Cursor = "c2"
	src.push(inc, nil)
	run, err = r.Run(ctx, Request{Directory: "corp", Trigger: TriggerSchedule})
	if err != nil {
		t.Fatal(err)
	}
	if src.lastCursor() != "c1" || run.Full || run.Counts != (store.SyncCounts{Updated: 1}) {
		t.Fatalf("incremental run = %+v (cursor %q)", run, src.lastCursor())
	}
	us = usersOf(t, st)
	if len(us) != 3 || us["alice.smith"].ID == "" || us["alice.smith"].Anchor != "a-1" {
		t.Fatalf("rename made a second user or lost one: %+v", us)
	}

	// 3. A full read lacking Bob and Carol would deactivate 2 of 3: refused,
	// recorded, nothing changed.
	src.push(snapshot(true, renamed), nil)
	run, err = r.Run(ctx, Request{Directory: "corp", Full: true})
	if !errors.Is(err, ErrRefused) || run.Status != store.SyncRefused ||
		!strings.Contains(run.Error, "plan would deactivate 2 of 3 users (66.7 %); limit is 10 % — nothing applied") {
		t.Fatalf("refused run = %+v, %v", run, err)
	}
	if n, _ := st.CountUsers(ctx, store.UserFilter{State: store.StateActive}); n != 3 {
		t.Fatalf("refused run changed users: %d active", n)
	}
	if got := counterValue(t, r.m.refusals.WithLabelValues("corp")); got != 1 {
		t.Errorf("refusals metric = %v", got)
	}

	// 4. Approved: deactivated, sessions revoked, audited.
	bobID := us["bob"].ID
	if err := st.Tx(ctx, func(tx store.Tx) error {
		return tx.CreateSession(ctx, store.Session{ID: "s1", UserID: bobID, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)})
	}); err != nil {
		t.Fatal(err)
	}
	src.push(snapshot(true, renamed), nil)
	run, err = r.Run(ctx, Request{Directory: "corp", Full: true, AllowMassDeactivation: true, Actor: "admin"})
	if err != nil || run.Counts.Deactivated != 2 {
		t.Fatalf("approved run = %+v, %v", run, err)
	}
	us = usersOf(t, st)
	if us["bob"].State != store.StateInactive || us["bob"].DeactivatedReason != ReasonLeftGroups {
		t.Errorf("bob = %+v", us["bob"])
	}
	if ss, _ := st.ListSessions(ctx, bobID); len(ss) != 0 {
		t.Errorf("bob keeps %d sessions", len(ss))
	}
	evs, err := st.ListAudit(ctx, store.AuditFilter{Action: ActionSyncApply, Limit: 1})
	if err != nil || len(evs) != 1 || evs[0].Actor != "admin" {
		t.Errorf("apply audit = %+v, %v", evs, err)
	}
	if stats, _ := Stats(ctx, st, "corp"); stats.UsersImported != 1 || stats.UsersActive != 1 {
		t.Errorf("stats after leavers = %+v", stats)
	}

	// 5. Bob comes back: reactivated.
	src.push(snapshot(true, renamed, bob), nil)
	run, err = r.Run(ctx, Request{Directory: "corp", Full: true})
	if err != nil || run.Counts.Reactivated != 1 || run.Counts.Unchanged != 1 {
		t.Fatalf("reactivating run = %+v, %v", run, err)
	}

	// 6. A failed read fails the run and changes nothing; so does an empty
	// full read of a populated directory (refused).
	src.push(directory.Snapshot{}, errors.New("ldap: connection reset"))
	run, err = r.Run(ctx, Request{Directory: "corp"})
	if err == nil || run.Status != store.SyncFailed || !strings.Contains(run.Error, "sync corp: read: ldap: connection reset") {
		t.Fatalf("failed read run = %+v, %v", run, err)
	}
	src.push(snapshot(true), nil)
	run, err = r.Run(ctx, Request{Directory: "corp", Full: true, AllowMassDeactivation: true})
	if !errors.Is(err, ErrRefused) || !strings.Contains(run.Error, "full read returned no users") {
		t.Fatalf("empty read run = %+v, %v", run, err)
	}
	if n, _ := st.CountUsers(ctx, store.UserFilter{State: store.StateActive}); n != 2 {
		t.Fatalf("failed runs changed users: %d active", n)
	}

	// 7. A dry run records its plan and changes nothing.
	src.push(snapshot(true, renamed, bob, carol), nil)
	run, err = r.Run(ctx, Request{Directory: "corp", Full: true, DryRun: true})
	if err != nil || run.Counts.Reactivated != 1 || !run.DryRun || !strings.Contains(string(run.Plan), `"reactivate"`) {
		t.Fatalf("dry run = %+v, %v", run, err)
	}
	if usersOf(t, st)["carol"].State != store.StateInactive {
		t.Error("dry run applied")
	}
	if got := counterValue(t, r.m.failures.WithLabelValues("corp")); got != 1 {
		t.Errorf("failures metric = %v", got)
	}
	if mfs, err := reg.Gather(); err != nil || len(mfs) < 5 {
		t.Errorf("gathered %d metric families, %v", len(mfs), err)
	}
}

func TestApplyIsAllOrNothing(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	m := testMapper(t)
	snap := snapshot(true, dirUser("a-1", "Alice", gAgents), dirUser("b-2", "Bob", gAgents), dirUser("c-3", "Carol", gAgents))
	p, _ := NewPlan(Current{Directory: "corp"}, snap, m, t0)
	if p.Counts.Created != 3 {
		t.Fatalf("plan = %s", p.Summary())
	}
	// Someone takes Bob's name between plan and apply: the 2nd create fails.
	if err := st.Tx(ctx, func(tx store.Tx) error {
		return tx.CreateUser(ctx, &store.User{Username: "bob", Source: store.SourceLocal})
	}); err != nil {
		t.Fatal(err)
	}
	_, err := Apply(ctx, st, p)
	// Row by row the engine names the user; in bulk the store does.
	if !errors.Is(err, store.ErrConflict) || !strings.Contains(err.Error(), "sync corp: apply: create ") ||
		!strings.Contains(err.Error(), "create user") || !strings.Contains(err.Error(), "bob") {
		t.Fatalf("apply error = %v", err)
	}
	if us := usersOf(t, st); len(us) != 1 {
		t.Errorf("failed apply left users: %+v", us)
	}
	if es, _ := st.ListDirectoryEntries(ctx, "corp"); len(es) != 0 {
		t.Errorf("failed apply left %d entries", len(es))
	}
	if _, err := st.GetDirectoryState(ctx, "corp"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("failed apply wrote state: %v", err)
	}

	// A user changed since the plan (stale Version) fails the update.
	if err := st.Tx(ctx, func(tx store.Tx) error {
		return tx.DeleteUser(ctx, usersOf(t, st)["bob"].ID)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, st, p); err != nil {
		t.Fatal(err)
	}
	cur, err := LoadCurrent(ctx, st, "corp", mapping.LinkByUsername)
	if err != nil {
		t.Fatal(err)
	}
	moved := snapshot(true, dirUser("a-1", "Alice", gAgents, gSup), dirUser("b-2", "Bob", gAgents, gSup), dirUser("c-3", "Carol", gAgents))
	p2, _ := NewPlan(cur, moved, m, t0)
	if p2.Counts.Updated != 2 {
		t.Fatalf("plan = %s", p2.Summary())
	}
	bob := usersOf(t, st)["bob"]
	bob.DisplayName = "changed by an admin"
	if err := st.Tx(ctx, func(tx store.Tx) error { return tx.UpdateUser(ctx, &bob) }); err != nil {
		t.Fatal(err)
	}
	if _, err := Apply(ctx, st, p2); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale apply error = %v", err)
	}
	if us := usersOf(t, st); us["alice"].Profile != "Agent" || us["bob"].Profile != "Agent" {
		t.Errorf("failed apply changed profiles: alice %s bob %s", us["alice"].Profile, us["bob"].Profile)
	}
}

func TestRunnerSingleFlight(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	src := &fakeSource{hold: make(chan struct{}), began: make(chan struct{}, 1)}
	r := newRunner(t, st, src, defaultLimits(), nil)
	src.push(snapshot(true, dirUser("a-1", "Alice", gAgents)), nil)

	id, started, err := r.Trigger(ctx, Request{Directory: "corp"})
	if err != nil || !started {
		t.Fatalf("trigger: %v %v", started, err)
	}
	<-src.began
	id2, started2, err := r.Trigger(ctx, Request{Directory: "corp", Full: true})
	if err != nil || started2 || id2 != id {
		t.Fatalf("second trigger: %s %v %v, want %s", id2, started2, err, id)
	}
	run, err := r.Run(ctx, Request{Directory: "corp"})
	if !errors.Is(err, ErrAlreadyRunning) || run.ID != id || run.Status != store.SyncRunning {
		t.Fatalf("run while running = %+v, %v", run, err)
	}
	if got, ok := r.Running("corp"); !ok || got != id {
		t.Errorf("Running = %s %v", got, ok)
	}
	close(src.hold)
	run, err = r.Wait(ctx, id)
	if err != nil || run.Status != store.SyncSucceeded || run.Counts.Created != 1 {
		t.Fatalf("waited run = %+v, %v", run, err)
	}
	// Waiting on a finished run reads the record.
	if run, err = r.Wait(ctx, id); err != nil || run.Status != store.SyncSucceeded {
		t.Fatalf("second wait = %+v, %v", run, err)
	}
	if _, _, err := r.Trigger(ctx, Request{Directory: "nope"}); !errors.Is(err, ErrUnknownDirectory) {
		t.Errorf("unknown directory: %v", err)
	}
}

func TestRunnerCloseCancelsRun(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	src := &fakeSource{hold: make(chan struct{}), began: make(chan struct{}, 1)}
	r := newRunner(t, st, src, defaultLimits(), nil)
	src.push(snapshot(true, dirUser("a-1", "Alice", gAgents)), nil)
	id, _, err := r.Trigger(ctx, Request{Directory: "corp"})
	if err != nil {
		t.Fatal(err)
	}
	<-src.began
	r.Close()
	run, err := st.GetSyncRun(ctx, id)
	if err != nil || run.Status != store.SyncFailed || !strings.Contains(run.Error, "context canceled") {
		t.Fatalf("cancelled run = %+v, %v", run, err)
	}

	// A run whose process was killed stays "running" until marked.
	stale := store.SyncRun{ID: "stale", Directory: "corp", Trigger: TriggerSchedule, Status: store.SyncRunning, StartedAt: t0.Add(-2 * time.Hour)}
	if err := st.Tx(ctx, func(tx store.Tx) error { return tx.CreateSyncRun(ctx, stale) }); err != nil {
		t.Fatal(err)
	}
	r2 := newRunner(t, st, src, defaultLimits(), nil)
	if n, err := r2.MarkInterrupted(ctx, 3*time.Hour); err != nil || n != 0 {
		t.Fatalf("young run marked: %d, %v", n, err)
	}
	if n, err := r2.MarkInterrupted(ctx, time.Hour); err != nil || n != 1 {
		t.Fatalf("marked %d, %v", n, err)
	}
	if run, _ := st.GetSyncRun(ctx, "stale"); run.Status != store.SyncFailed || !strings.HasPrefix(run.Error, "interrupted") {
		t.Errorf("stale run = %+v", run)
	}
	if n, _ := st.CountUsers(ctx, store.UserFilter{}); n != 0 {
		t.Errorf("cancelled run created %d users", n)
	}
}

func TestScheduler(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	newSched := func(src *fakeSource, holder string) (*Runner, *Scheduler) {
		r, err := NewRunner(st, []Directory{{
			Name: "corp", Source: src, Groups: []string{"CC-Agents"}, Mapper: testMapper(t), Limits: defaultLimits(),
			Schedule: "@every 1h", FullSchedule: "0 3 * * *", RunAtStart: true,
		}}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewScheduler(r, st, SchedulerOptions{Holder: holder, LeaseTTL: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return r, s
	}
	srcA, srcB := &fakeSource{}, &fakeSource{}
	srcA.push(snapshot(true, dirUser("a-1", "Alice", gAgents)), nil)
	srcB.push(snapshot(true, dirUser("a-1", "Alice", gAgents)), nil)
	ra, a := newSched(srcA, "a")
	rb, b := newSched(srcB, "b")
	defer ra.Close()
	defer rb.Close()

	a.Start(ctx)
	waitFor(t, "a leads", a.Leader)
	b.Start(ctx)
	time.Sleep(250 * time.Millisecond) // b tries at least twice
	if b.Leader() {
		t.Fatal("two leaders")
	}
	// a ran at start; b did not.
	waitFor(t, "startup run", func() bool {
		runs, _ := st.ListSyncRuns(ctx, store.SyncRunFilter{Directory: "corp"})
		return len(runs) == 1 && runs[0].Trigger == TriggerStartup && runs[0].Status == store.SyncSucceeded
	})
	a.Stop()
	waitFor(t, "b takes over", b.Leader)
	b.Stop()
	b.Stop() // idempotent

	_, err := NewScheduler(ra, st, SchedulerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bad, _ := NewRunner(st, []Directory{{Name: "corp", Source: srcA, Mapper: testMapper(t), Schedule: "every day", FullSchedule: "61 * * * *"}}, Options{})
	if _, err := NewScheduler(bad, st, SchedulerOptions{}); err == nil ||
		!strings.Contains(err.Error(), "directories.corp.schedule") || !strings.Contains(err.Error(), "directories.corp.full_schedule") {
		t.Errorf("bad schedules: %v", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// BenchmarkApply100k measures the first import of 100,000 users into an
// empty SQLite store (one transaction), then the no-change second run's
// load + plan + apply.
func BenchmarkApply100k(b *testing.B) {
	ctx := context.Background()
	const n = 100_000
	var users []directory.User
	for i := range n {
		g := gAgents
		if i%10 == 0 {
			g = gSup
		}
		du := dirUser(fmt.Sprintf("anchor-%06d", i), fmt.Sprintf("user%06d", i), g)
		du.Attributes = map[string][]string{"sAMAccountName": {du.Username}, "mail": {du.Email}}
		users = append(users, du)
	}
	snap := snapshot(true, users...)
	m := testMapper(b)
	for b.Loop() {
		b.StopTimer()
		st := openStore(b)
		p, _ := NewPlan(Current{Directory: "corp"}, snap, m, t0)
		b.StartTimer()
		start := time.Now()
		if _, err := Apply(ctx, st, p); err != nil {
			b.Fatal(err)
		}
		first := time.Since(start)
		start = time.Now()
		cur, err := LoadCurrent(ctx, st, "corp", mapping.LinkByUsername)
		if err != nil {
			b.Fatal(err)
		}
		loaded := time.Since(start)
		p2, _ := NewPlan(cur, snap, m, t0)
		planned := time.Since(start) - loaded
		if _, err := Apply(ctx, st, p2); err != nil {
			b.Fatal(err)
		}
		if p2.Counts.Unchanged != n {
			b.Fatalf("second plan %+v", p2.Counts)
		}
		b.ReportMetric(first.Seconds(), "s-first-apply")
		b.ReportMetric(loaded.Seconds(), "s-load")
		b.ReportMetric(planned.Seconds(), "s-replan")
	}
}

// TestCreatesKeepTheirEntries: a plan keeps a new user's row and entry
// with its item (no store.User per create); its lists are made when asked,
// and Apply writes each new user's entry with the ID the store gave it,
// even where an identical unlinked entry was stored before.
func TestCreatesKeepTheirEntries(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	alice := dirUser("a-1", "Alice", gAgents, gSup)
	alice.Password.ChangedAt = t0.Add(-time.Hour + 300*time.Millisecond)
	bob := dirUser("b-2", "Bob", gAgents)
	snap := snapshot(true, alice, bob)
	// Bob's entry is stored already, unlinked and as the read has it.
	stale := store.DirectoryEntry{Directory: "corp", Anchor: "b-2", Kind: store.EntryUser, DN: bob.DN, Name: "Bob",
		Groups: []string{gAgents}, UpdatedAt: t0}
	if err := st.Tx(ctx, func(tx store.Tx) error { return tx.PutDirectoryEntries(ctx, []store.DirectoryEntry{stale}) }); err != nil {
		t.Fatal(err)
	}
	cur, err := LoadCurrent(ctx, st, "corp", mapping.LinkByUsername)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := NewPlan(cur, snap, testMapper(t), t0)
	if p.Counts.Created != 2 || p.EntriesChanged != 4 || len(p.Entries) != 2 { // two creates' entries, two groups'
		t.Fatalf("counts %+v, entries %d of %d\n%s", p.Counts, len(p.Entries), p.EntriesChanged, p.Summary())
	}
	var it Item
	for _, x := range p.Items {
		if x.Anchor == "a-1" {
			it = x
		}
	}
	if it.Kind != KindCreate || it.User != nil {
		t.Fatalf("create item = %+v", it)
	}
	u := it.Row()
	if u.Username != "alice" || u.Source != "corp" || u.Profile != "Supervisor" || u.ID != "" ||
		!u.PasswordChangedAt.Equal(alice.Password.ChangedAt.Truncate(time.Second)) || !u.PasswordExpiresAt.IsZero() || !u.AccountExpiresAt.IsZero() {
		t.Errorf("row = %+v", u)
	}
	if got := it.GroupsGainedList(); !slices.Equal(got, []string{"CC-Agents", "CC-Supervisors"}) {
		t.Errorf("groups gained = %v", got)
	}
	js, err := p.JSON(0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(js), `"groups_gained":["CC-Agents","CC-Supervisors"]`) || !strings.Contains(p.Summary(), "groups gained: CC-Agents, CC-Supervisors") {
		t.Errorf("groups gained not listed:\n%s\n%s", js, p.Summary())
	}
	var anchors []string
	for e := range p.EntriesToWrite() {
		anchors = append(anchors, e.Anchor)
	}
	if !slices.IsSorted(anchors) || len(anchors) != 4 {
		t.Errorf("entries to write = %v", anchors)
	}

	if _, err := Apply(ctx, st, p); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"a-1", "b-2"} {
		us, err := st.FindUsers(ctx, store.KeyAnchor, a)
		if err != nil || len(us) != 1 {
			t.Fatalf("user %s: %v %v", a, us, err)
		}
		e, err := st.GetDirectoryEntry(ctx, "corp", a)
		if err != nil || e.UserID != us[0].ID || len(e.Groups) == 0 {
			t.Errorf("entry %s = %+v (%v), user %s", a, e, err, us[0].ID)
		}
	}
}

func TestSchedulerNext(t *testing.T) {
	st := openStore(t)
	r, err := NewRunner(st, []Directory{
		{Name: "corp", Source: &fakeSource{}, Mapper: testMapper(t), Limits: defaultLimits(), Schedule: "*/15 * * * *", FullSchedule: "0 3 * * *"},
		{Name: "lab", Source: &fakeSource{}, Mapper: testMapper(t), Limits: defaultLimits(), FullSchedule: "30 2 * * 0"},
		{Name: "manual", Source: &fakeSource{}, Mapper: testMapper(t), Limits: defaultLimits()},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewScheduler(r, st, SchedulerOptions{Location: berlin})
	if err != nil {
		t.Fatal(err)
	}
	// Thursday 2026-03-05 10:07 UTC is 11:07 in Berlin.
	now := time.Date(2026, 3, 5, 10, 7, 0, 0, time.UTC)
	next := s.Next(now)
	if _, ok := next["manual"]; ok || len(next) != 2 {
		t.Fatalf("next: %v", next)
	}
	if c := next["corp"]; !c.Incremental.Equal(time.Date(2026, 3, 5, 10, 15, 0, 0, time.UTC)) ||
		!c.Full.Equal(time.Date(2026, 3, 6, 2, 0, 0, 0, time.UTC)) { // 03:00 Berlin
		t.Errorf("corp: %+v", c)
	}
	if l := next["lab"]; !l.Incremental.IsZero() || !l.Full.Equal(time.Date(2026, 3, 8, 1, 30, 0, 0, time.UTC)) {
		t.Errorf("lab: %+v", l)
	}
}
