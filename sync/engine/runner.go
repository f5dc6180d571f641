package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// Triggers recorded in SyncRun.Trigger.
const (
	TriggerSchedule = "schedule"
	TriggerManual   = "manual"
	TriggerStartup  = "startup"
)

// ErrAlreadyRunning is returned by Run when the directory already has a run
// in progress; the returned SyncRun is that run.
var ErrAlreadyRunning = errors.New("a sync of this directory is already running")

// ErrUnknownDirectory is returned for a directory the Runner was not given.
var ErrUnknownDirectory = errors.New("unknown directory")

// Directory is one directory the Runner syncs, as the wiring builds it from
// the configuration.
type Directory struct {
	Name   string
	Source directory.Source
	// Groups are the imported groups, passed to Source.Read.
	Groups []string
	// Mapper is usually a *mapping.Mapper built for this directory.
	Mapper Mapper
	LinkBy mapping.LinkBy
	// Limits bound deactivations per run (the config's max_deactivations).
	Limits Limits
	// Schedule (incremental) and FullSchedule are cron expressions for the
	// Scheduler; empty disables one. RunAtStart runs once when it starts.
	Schedule     string
	FullSchedule string
	RunAtStart   bool
}

// Options tune a Runner. The zero value works (no logs, no metrics).
type Options struct {
	Logger *zap.Logger
	// Registerer receives the sync metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// ProgressEvery is the least time between two progress logs of a
	// read; 0 means 5 s.
	ProgressEvery time.Duration
	// PlanItems caps the items kept in a run record's plan JSON; 0 means
	// 1,000. Counts always cover the whole plan and the record says how
	// many items were left out: a first sync of a large directory would
	// otherwise store (and the CLI print) megabytes of "create" items no
	// one reads.
	PlanItems int
}

// Request asks for one run.
type Request struct {
	Directory string
	// Full forces a full read; without it a run is incremental when the
	// directory has a cursor from an earlier run.
	Full   bool
	DryRun bool
	// Trigger is schedule, manual or startup.
	Trigger string
	// AllowMassDeactivation approves this run's plan beyond the limits.
	// The caller audits who approved it; the apply audit records it too.
	AllowMassDeactivation bool
	// Actor names who asked, for the audit events ("sync" when empty).
	Actor string
}

// Runner runs syncs, one at a time per directory, and records each run.
// It is safe for concurrent use.
type Runner struct {
	st    store.Store
	dirs  map[string]*Directory
	names []string
	log   *zap.Logger
	m     *metrics
	now   func() time.Time
	every time.Duration
	items int

	ctx    context.Context // parent of triggered runs; Close cancels it
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	running map[string]*flight // by directory
	byID    map[string]*flight // runs in progress, by run id
}

// flight is a run in progress; done closes once run and err are final.
type flight struct {
	id   string
	done chan struct{}
	run  store.SyncRun
	err  error
}

// NewRunner returns a Runner for dirs over st.
func NewRunner(st store.Store, dirs []Directory, opts Options) (*Runner, error) {
	if st == nil {
		return nil, errors.New("sync: runner needs a store")
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	r := &Runner{
		st: st, dirs: map[string]*Directory{}, log: opts.Logger, m: m, now: opts.Now,
		every: opts.ProgressEvery, items: opts.PlanItems,
		running: map[string]*flight{}, byID: map[string]*flight{},
	}
	if r.log == nil {
		r.log = zap.NewNop()
	}
	r.log = r.log.Named("sync")
	if r.now == nil {
		r.now = time.Now
	}
	if r.every <= 0 {
		r.every = 5 * time.Second
	}
	if r.items <= 0 {
		r.items = 1000
	}
	var errs []error
	for i := range dirs {
		d := dirs[i]
		switch {
		case d.Name == "":
			errs = append(errs, fmt.Errorf("sync: directory %d has no name", i))
		case d.Source == nil:
			errs = append(errs, fmt.Errorf("sync %s: no source", d.Name))
		case d.Mapper == nil:
			errs = append(errs, fmt.Errorf("sync %s: no mapper", d.Name))
		case r.dirs[d.Name] != nil:
			errs = append(errs, fmt.Errorf("sync %s: directory listed twice", d.Name))
		default:
			r.dirs[d.Name] = &d
			r.names = append(r.names, d.Name)
			m.forDirectory(d.Name)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Strings(r.names)
	r.ctx, r.cancel = context.WithCancel(context.Background())
	return r, nil
}

// Directories lists the directory names, sorted.
func (r *Runner) Directories() []string { return append([]string(nil), r.names...) }

// Directory returns the named directory's settings.
func (r *Runner) Directory(name string) (Directory, bool) {
	d, ok := r.dirs[name]
	if !ok {
		return Directory{}, false
	}
	return *d, true
}

// Run runs one sync and waits for it. When the directory already has a run
// in progress it returns that run (status running) and ErrAlreadyRunning.
// A refused run returns a *RefusedError (errors.Is ErrRefused), a failed
// one its wrapped error; either way the returned SyncRun is the record.
// Cancelling ctx stops the run; it is then recorded as failed and the
// store is left as before.
func (r *Runner) Run(ctx context.Context, req Request) (store.SyncRun, error) {
	f, d, started, err := r.start(ctx, req)
	if err != nil {
		return store.SyncRun{}, err
	}
	if !started {
		return r.current(ctx, f), ErrAlreadyRunning
	}
	r.execute(ctx, f, d, req)
	return f.run, f.err
}

// Trigger starts a run in the background and returns its id at once. When
// the directory already has a run in progress it returns that run's id and
// started=false. Close cancels triggered runs.
func (r *Runner) Trigger(ctx context.Context, req Request) (id string, started bool, err error) {
	f, d, started, err := r.start(ctx, req)
	if err != nil {
		return "", false, err
	}
	if started {
		go r.execute(r.ctx, f, d, req)
	}
	return f.id, started, nil
}

// Wait waits until run id is finished (or ctx ends) and returns its
// record. The run's own outcome is in the record (Status, Error); Wait's
// error is about waiting or reading the record.
func (r *Runner) Wait(ctx context.Context, id string) (store.SyncRun, error) {
	r.mu.Lock()
	f := r.byID[id]
	r.mu.Unlock()
	if f != nil {
		select {
		case <-f.done:
			return f.run, nil
		case <-ctx.Done():
			return store.SyncRun{}, fmt.Errorf("sync: wait for run %s: %w", id, ctx.Err())
		}
	}
	run, err := r.st.GetSyncRun(ctx, id)
	if err != nil {
		return store.SyncRun{}, fmt.Errorf("sync: wait for run %s: %w", id, err)
	}
	return run, nil
}

// Running returns the id of the directory's run in progress, if any.
func (r *Runner) Running(directory string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f := r.running[directory]; f != nil {
		return f.id, true
	}
	return "", false
}

// Close cancels triggered runs and waits for every run in progress to
// record its end; later requests fail.
func (r *Runner) Close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.cancel()
	r.wg.Wait()
}

func (r *Runner) current(ctx context.Context, f *flight) store.SyncRun {
	if run, err := r.st.GetSyncRun(ctx, f.id); err == nil {
		return run
	}
	return store.SyncRun{ID: f.id, Status: store.SyncRunning}
}

// start claims the directory's single flight and records the run as
// running. started is false when another run holds the flight; f is then
// that run.
func (r *Runner) start(ctx context.Context, req Request) (f *flight, d *Directory, started bool, err error) {
	d = r.dirs[req.Directory]
	if d == nil {
		return nil, nil, false, fmt.Errorf("sync %s: %w", req.Directory, ErrUnknownDirectory)
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, nil, false, fmt.Errorf("sync %s: runner closed: %w", d.Name, context.Canceled)
	}
	if cur := r.running[d.Name]; cur != nil {
		r.mu.Unlock()
		return cur, d, false, nil
	}
	f = &flight{id: uuid.NewString(), done: make(chan struct{})}
	r.running[d.Name] = f
	r.byID[f.id] = f
	r.wg.Add(1) // under mu, so never concurrent with Close's Wait at zero
	r.mu.Unlock()

	trigger := req.Trigger
	if trigger == "" {
		trigger = TriggerManual
	}
	f.run = store.SyncRun{ID: f.id, Directory: d.Name, Trigger: trigger, Full: req.Full, DryRun: req.DryRun,
		Status: store.SyncRunning, StartedAt: r.now().UTC()}
	if err := r.st.Tx(ctx, func(tx store.Tx) error { return tx.CreateSyncRun(ctx, f.run) }); err != nil {
		r.release(d.Name, f)
		return nil, nil, false, fmt.Errorf("sync %s: record run: %w", d.Name, err)
	}
	return f, d, true, nil
}

// release frees the directory's flight and wakes waiters.
func (r *Runner) release(name string, f *flight) {
	r.mu.Lock()
	if r.running[name] == f {
		delete(r.running, name)
	}
	delete(r.byID, f.id)
	r.mu.Unlock()
	close(f.done)
	r.wg.Done()
}

// execute is read -> plan -> check -> apply for one claimed run. Every end
// is recorded: succeeded, refused or failed.
func (r *Runner) execute(ctx context.Context, f *flight, d *Directory, req Request) {
	defer r.release(d.Name, f)
	log := r.log.With(zap.String("directory", d.Name), zap.String("run", f.id))
	begin := r.now()
	run := &f.run

	// The record of the end must be written even when ctx was cancelled.
	record := func(run store.SyncRun) error {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		return r.st.Tx(rctx, func(tx store.Tx) error { return tx.UpdateSyncRun(rctx, run) })
	}
	end := func(status store.SyncStatus, err error) {
		run.Status, run.FinishedAt = status, r.now().UTC()
		if err != nil {
			run.Error = err.Error()
		}
		if rerr := record(*run); rerr != nil {
			log.Error("record sync run end", zap.Error(rerr))
			if err == nil {
				err = fmt.Errorf("sync %s: record run: %w", d.Name, rerr)
			}
		}
		f.err = err
		r.m.duration.WithLabelValues(d.Name, string(status)).Observe(r.now().Sub(begin).Seconds())
	}
	failed := func(err error) {
		r.m.failures.WithLabelValues(d.Name).Inc()
		log.Error("sync failed", zap.Error(err), zap.Duration("elapsed", r.now().Sub(begin)))
		end(store.SyncFailed, err)
	}
	// A bug in a source or a mapping must fail this run, recorded, and
	// leave the daemon and the directory's next run alone. (The store
	// rolls back a transaction a panic leaves.)
	defer func() {
		if p := recover(); p != nil {
			log.Error("sync panicked", zap.Any("panic", p), zap.Stack("stack"))
			failed(fmt.Errorf("sync %s: internal error: %v", d.Name, p))
		}
	}()

	state, err := r.st.GetDirectoryState(ctx, d.Name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		failed(fmt.Errorf("sync %s: read state: %w", d.Name, err))
		return
	}
	cursor := state.Cursor
	if req.Full {
		cursor = ""
	}
	run.Full = cursor == ""
	log.Info("sync started", zap.Bool("full", run.Full), zap.Bool("dry_run", req.DryRun), zap.String("trigger", run.Trigger))

	var (
		progressMu sync.Mutex // a Source may report from several goroutines
		last       time.Time
	)
	progress := func(p directory.Progress) {
		progressMu.Lock()
		defer progressMu.Unlock()
		if now := r.now(); now.Sub(last) >= r.every {
			last = now
			log.Info("sync reading", zap.Int("entries", p.Entries), zap.Int("pages", p.Pages), zap.Duration("elapsed", p.Elapsed))
		}
	}
	// A full read takes seconds on a large directory, and so does loading
	// the directory's users from the store: do both at once. (The load is
	// outside the apply transaction either way; see LoadCurrent.) The
	// entries are loaded after the read: the plan shares most of what they
	// hold with the read, and loading them beside it held both copies at
	// once (100,000 users: 435 MB peak instead of ~360 MB).
	var loaded chan loadResult
	if cursor == "" {
		lctx, cancelLoad := context.WithCancel(ctx)
		loaded = make(chan loadResult, 1)
		go func() {
			cur, err := loadUsers(lctx, r.st, d.Name, d.LinkBy)
			loaded <- loadResult{cur, err}
		}()
		defer func() {
			cancelLoad()
			if loaded != nil {
				<-loaded // the store must not be closed under it
			}
		}()
	}
	// An incremental run's directory-wide part of the store load does not
	// depend on the read either: it loads while the directory answers.
	var waitWide func() wide
	if cursor != "" {
		waitWide = startWide(ctx, r.st, d.Name)
		defer waitWide()
	}
	snap, err := d.Source.Read(ctx, directory.ReadRequest{Groups: d.Groups, Cursor: cursor, Progress: progress})
	if err != nil {
		failed(fmt.Errorf("sync %s: read: %w", d.Name, err))
		return
	}
	r.m.entries.WithLabelValues(d.Name).Add(float64(snap.Stats.Entries))
	if stats, err := json.Marshal(snap.Stats); err == nil {
		run.Stats = stats
	}
	run.Full = snap.Complete
	for _, w := range snap.Stats.Warnings {
		log.Warn("directory read warning", zap.String("warning", w))
	}
	log.Info("sync read done", zap.Int("users", len(snap.Users)), zap.Int("groups", len(snap.Groups)),
		zap.Int("entries", snap.Stats.Entries), zap.Int("pages", snap.Stats.Pages), zap.Duration("elapsed", snap.Stats.Elapsed))

	// An incremental read touches few users: load only what concerns
	// them. A complete one needs the whole directory to find leavers.
	stage := time.Now() // stage timings, wall clock whatever the Runner's clock
	var cur Current
	switch {
	case snap.Complete && loaded != nil:
		res := <-loaded
		loaded = nil
		cur, err = res.cur, res.err
		if err == nil {
			err = loadEntries(ctx, r.st, &cur)
		}
	case snap.Complete:
		cur, err = LoadCurrent(ctx, r.st, d.Name, d.LinkBy)
	case waitWide != nil:
		cur, err = loadAffected(ctx, r.st, d.Name, d.LinkBy, snap, d.Mapper, waitWide)
	default:
		cur, err = LoadAffected(ctx, r.st, d.Name, d.LinkBy, snap, d.Mapper)
	}
	if err != nil {
		failed(fmt.Errorf("sync %s: %w", d.Name, err))
		return
	}
	loadTook := time.Since(stage)
	stage = time.Now()
	plan, warns := NewPlan(cur, snap, d.Mapper, r.now())
	// The plan holds every row it writes: what was read and loaded can go
	// before the apply, which needs memory of its own.
	snap, cur = directory.Snapshot{}, Current{}
	log.Info("sync planned", zap.Int("items", len(plan.Items)), zap.Int("entries_changed", plan.EntriesChanged),
		zap.Duration("load", loadTook), zap.Duration("plan", time.Since(stage)))
	plan.RunID, plan.Actor = f.id, req.Actor
	if len(warns) > 0 {
		log.Info("sync plan has warnings", zap.Int("warnings", len(warns)), zap.String("first", warns[0].String()))
	}
	run.Counts = plan.Counts

	limits := d.Limits
	if checkErr := Check(plan, limits, plan.ActiveBefore); checkErr != nil && req.AllowMassDeactivation {
		// Approved beyond the limits; the empty-read refusal still holds.
		limits.AllowMassDeactivation = true
		if Check(plan, limits, plan.ActiveBefore) == nil {
			plan.MassDeactivationApproved = true
			log.Warn("mass deactivation approved", zap.String("actor", req.Actor), zap.String("check", checkErr.Error()))
		}
	}
	checkErr := Check(plan, limits, plan.ActiveBefore)
	// The plan's JSON for the record (a few megabytes for a large first
	// sync) is made while the apply runs; a refused or dry run records it
	// at once.
	planJSON := make(chan []byte, 1)
	go func() {
		pj, err := plan.JSON(r.items)
		if err != nil {
			pj = nil
		}
		planJSON <- pj
	}()
	var jsonOnce sync.Once
	takeJSON := func() {
		jsonOnce.Do(func() {
			if pj := <-planJSON; pj != nil {
				run.Plan = pj
			}
		})
	}
	defer takeJSON() // the encoder ends before the run does
	if checkErr != nil || req.DryRun {
		takeJSON()
	}
	if err := checkErr; err != nil {
		r.m.refusals.WithLabelValues(d.Name).Inc()
		log.Warn("sync refused", zap.Error(err))
		end(store.SyncRefused, err)
		return
	}
	if req.DryRun {
		log.Info("sync dry run done", countFields(plan.Counts, r.now().Sub(begin))...)
		end(store.SyncSucceeded, nil)
		return
	}

	// The changes and the run's record commit together: a run recorded as
	// succeeded has applied, and one that did not apply is not succeeded.
	done := *run
	done.Status, done.FinishedAt = store.SyncSucceeded, r.now().UTC()
	stage = time.Now()
	err = r.st.Tx(ctx, func(tx store.Tx) error {
		counts, err := ApplyTx(ctx, tx, plan)
		if err != nil {
			return err
		}
		takeJSON()
		done.Counts, done.Plan = counts, run.Plan
		if err := tx.UpdateSyncRun(ctx, done); err != nil {
			return fmt.Errorf("sync %s: record run: %w", d.Name, err)
		}
		return nil
	})
	if err != nil {
		takeJSON()
		failed(err)
		return
	}
	*run = done
	f.err = nil
	r.m.duration.WithLabelValues(d.Name, string(store.SyncSucceeded)).Observe(r.now().Sub(begin).Seconds())
	for kind, n := range map[string]int{"created": done.Counts.Created, "updated": done.Counts.Updated,
		"deactivated": done.Counts.Deactivated, "reactivated": done.Counts.Reactivated} {
		r.m.changes.WithLabelValues(d.Name, kind).Add(float64(n))
	}
	r.m.lastSuccess.WithLabelValues(d.Name).Set(float64(done.FinishedAt.Unix()))
	log.Info("sync done", append(countFields(done.Counts, r.now().Sub(begin)), zap.Duration("apply", time.Since(stage)))...)
}

// loadResult is LoadCurrent's answer from the goroutine running it.
type loadResult struct {
	cur Current
	err error
}

func countFields(c store.SyncCounts, elapsed time.Duration) []zap.Field {
	return []zap.Field{zap.Int("created", c.Created), zap.Int("updated", c.Updated), zap.Int("deactivated", c.Deactivated),
		zap.Int("reactivated", c.Reactivated), zap.Int("unchanged", c.Unchanged), zap.Duration("elapsed", elapsed)}
}

// LoadCurrent reads what NewPlan needs about one directory: every user
// (split into the directory's and the others), its entries, its state and
// the profiles' privileges. It reads outside the apply transaction so
// planning does not hold the store's write lock; a user changed meanwhile
// makes the apply fail on its Version and the next run plans again.
func LoadCurrent(ctx context.Context, st store.Reader, dir string, linkBy mapping.LinkBy) (Current, error) {
	cur, err := loadUsers(ctx, st, dir, linkBy)
	if err != nil {
		return Current{}, err
	}
	if err := loadEntries(ctx, st, &cur); err != nil {
		return Current{}, err
	}
	return cur, nil
}

// loadEntries adds the directory's entries to cur.
func loadEntries(ctx context.Context, st store.Reader, cur *Current) error {
	var err error
	if cur.Entries, err = st.ListDirectoryEntries(ctx, cur.Directory); err != nil {
		return fmt.Errorf("load directory entries: %w", err)
	}
	shareGroupAnchors(cur.Entries)
	return nil
}

// loadUsers is LoadCurrent without the entries.
func loadUsers(ctx context.Context, st store.Reader, dir string, linkBy mapping.LinkBy) (Current, error) {
	cur := Current{Directory: dir, LinkBy: linkBy, Profiles: map[string][]string{}}
	users, err := st.ListUsers(ctx, store.UserFilter{})
	if err != nil {
		return Current{}, fmt.Errorf("load users: %w", err)
	}
	// Split in place: the directory's users (most of them) stay in the
	// slice read, the others are copied out. A copy of 100,000 users
	// would hold 50 MB more while the directory is read.
	mine := users[:0]
	for _, u := range users {
		if u.Source == dir {
			mine = append(mine, u)
		} else {
			cur.Others = append(cur.Others, u)
		}
	}
	if len(mine) > 0 {
		cur.Users = mine
	}
	if cur.State, err = st.GetDirectoryState(ctx, dir); err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return Current{}, fmt.Errorf("load directory state: %w", err)
		}
		cur.State = store.DirectoryState{Directory: dir}
	}
	profiles, err := st.ListProfiles(ctx)
	if err != nil {
		return Current{}, fmt.Errorf("load profiles: %w", err)
	}
	for _, p := range profiles {
		cur.Profiles[p.Name] = p.Privileges
	}
	return cur, nil
}

// shareGroupAnchors makes the group anchors the users' entries list one
// string per group: each row read brings its own copies, and a large
// directory's user entries list 450,000 memberships of a few thousand
// groups. What the lists say does not change.
func shareGroupAnchors(entries []store.DirectoryEntry) {
	groups := map[string]string{}
	for i := range entries {
		if e := &entries[i]; e.Kind == store.EntryGroup {
			groups[e.Anchor] = e.Anchor
		}
	}
	if len(groups) == 0 {
		return
	}
	for i := range entries {
		if e := &entries[i]; e.Kind != store.EntryGroup {
			for j, g := range e.Groups {
				if s, ok := groups[g]; ok {
					e.Groups[j] = s
				}
			}
		}
	}
}

// MarkInterrupted records as failed the runs of this Runner's directories
// still marked running that started before olderThan ago and are not
// running in this process: runs whose process was killed. The store is as
// before such a run (its apply was one transaction), only its record was
// left behind. With one replica call it at start with 0; replicas sharing a
// database should pass more than the longest run takes, since another
// replica's run also looks "running" from here.
func (r *Runner) MarkInterrupted(ctx context.Context, olderThan time.Duration) (int, error) {
	cutoff := r.now().Add(-olderThan)
	n := 0
	for _, name := range r.names {
		runs, err := r.st.ListSyncRuns(ctx, store.SyncRunFilter{Directory: name, Limit: 100})
		if err != nil {
			return n, fmt.Errorf("sync %s: list runs: %w", name, err)
		}
		for _, run := range runs {
			if run.Status != store.SyncRunning || run.StartedAt.After(cutoff) {
				continue
			}
			r.mu.Lock()
			mine := r.byID[run.ID] != nil
			r.mu.Unlock()
			if mine {
				continue
			}
			run.Status, run.FinishedAt = store.SyncFailed, r.now().UTC()
			run.Error = "interrupted: the process running it stopped before it finished; nothing of it was applied"
			if err := r.st.Tx(ctx, func(tx store.Tx) error { return tx.UpdateSyncRun(ctx, run) }); err != nil {
				return n, fmt.Errorf("sync %s: mark run %s interrupted: %w", name, run.ID, err)
			}
			r.log.Warn("sync run interrupted", zap.String("directory", name), zap.String("run", run.ID), zap.Time("started", run.StartedAt))
			n++
		}
	}
	return n, nil
}
