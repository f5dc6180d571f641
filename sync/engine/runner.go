package engine

import (
	"context"
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
	// Groups are the imported groups of the configuration; a run adds those
	// chosen in the store (see ImportGroups) and passes all to Source.Read.
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
	cur, err := loadUsers(ctx, st, dir, linkBy, nil)
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

// eachEntry adds the directory's entries to cur, giving each to keep as
// it arrives; size is about how many there are.
func eachEntry(ctx context.Context, st store.Reader, cur *Current, size int, keep func(*store.DirectoryEntry)) error {
	cur.Entries = make([]store.DirectoryEntry, 0, size)
	err := st.EachDirectoryEntry(ctx, cur.Directory, func(e store.DirectoryEntry) error {
		keep(&e)
		cur.Entries = append(cur.Entries, e)
		return nil
	})
	if err != nil {
		return fmt.Errorf("load directory entries: %w", err)
	}
	return nil
}

// loadUsers is LoadCurrent without the entries. keep, when not nil, is
// given each of the directory's users as it arrives.
func loadUsers(ctx context.Context, st store.Reader, dir string, linkBy mapping.LinkBy, keep func(*store.User)) (Current, error) {
	cur := Current{Directory: dir, LinkBy: linkBy, Profiles: map[string][]string{}}
	// Counted first, to read the directory's users (most of the store)
	// into a slice of that size: a growing slice of 100,000 users is
	// copied over and over, old and new copies held at once. The count
	// is a hint; users added in between still fit.
	n, err := st.CountUsers(ctx, store.UserFilter{Source: dir})
	if err != nil {
		return Current{}, fmt.Errorf("load users: %w", err)
	}
	if n > 0 {
		cur.Users = make([]store.User, 0, n)
	}
	err = st.EachUser(ctx, store.UserFilter{}, func(u store.User) error {
		if u.Source != dir {
			cur.Others = append(cur.Others, u)
			return nil
		}
		if keep != nil {
			keep(&u)
		}
		cur.Users = append(cur.Users, u)
		return nil
	})
	if err != nil {
		return Current{}, fmt.Errorf("load users: %w", err)
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
