package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// execution is one claimed run on its way through execute's stages.
type execution struct {
	r     *Runner
	f     *flight
	d     *Directory
	req   Request
	log   *zap.Logger
	begin time.Time
	run   *store.SyncRun // &f.run
	// recordCtx is the run's context without its cancellation: the record
	// of the end must be written even when the run was cancelled.
	recordCtx context.Context
	// cleanup ends what the stages left running (an incremental run's
	// store load started beside the read); execute defers it, so the store
	// is never closed under a load.
	cleanup []func()
}

// execute is read -> plan -> check -> apply for one claimed run. Every end
// is recorded: succeeded, refused or failed.
func (r *Runner) execute(ctx context.Context, f *flight, d *Directory, req Request) {
	defer r.release(d.Name, f)
	x := &execution{r: r, f: f, d: d, req: req, begin: r.now(), run: &f.run, recordCtx: context.WithoutCancel(ctx),
		log: r.log.With(zap.String("directory", d.Name), zap.String("run", f.id))}
	defer x.recoverPanic()
	defer x.runCleanup()
	// One span for the run and one per stage, when tracing is on (a no-op
	// otherwise), so an operator sees where a slow sync spends its time.
	ctx, span := tracer.Start(ctx, "sync.run", trace.WithAttributes(attribute.String("dirbridge.directory", d.Name),
		attribute.String("dirbridge.sync.run_id", f.id), attribute.Bool("dirbridge.sync.dry_run", req.DryRun),
		attribute.String("dirbridge.sync.trigger", f.run.Trigger)))
	defer func() {
		span.SetAttributes(attribute.Bool("dirbridge.sync.full", x.run.Full), attribute.String("dirbridge.sync.status", string(x.run.Status)))
		if x.run.Status != store.SyncSucceeded {
			span.SetStatus(codes.Error, x.run.Error)
		}
		span.End()
	}()

	rctx, rspan := tracer.Start(ctx, "sync.read")
	in, err := x.read(rctx)
	rspan.End()
	if err != nil {
		x.failed(err)
		return
	}
	_, pspan := tracer.Start(ctx, "sync.plan")
	plan := x.plan(in)
	pspan.SetAttributes(attribute.Int("dirbridge.sync.items", len(plan.Items)))
	pspan.End()
	checkErr := x.guard(&plan)
	rec := x.encodePlan(plan)
	defer rec.take() // the encoder ends before the run does
	if checkErr != nil || req.DryRun {
		rec.take()
	}
	switch {
	case checkErr != nil:
		r.m.refusals.WithLabelValues(d.Name).Inc()
		x.log.Warn("sync refused", zap.Error(checkErr))
		x.end(store.SyncRefused, checkErr)
	case req.DryRun:
		x.log.Info("sync dry run done", countFields(plan.Counts, r.now().Sub(x.begin))...)
		x.end(store.SyncSucceeded, nil)
	default:
		actx, aspan := tracer.Start(ctx, "sync.apply")
		x.apply(actx, plan, rec)
		aspan.End()
	}
}

// tracer starts the sync's spans (a no-op unless tracing is set up).
var tracer = otel.Tracer("github.com/dirbridge/dirbridge/sync/engine")

// recoverPanic fails the run on a panic: a bug in a source or a mapping
// must fail this run, recorded, and leave the daemon and the directory's
// next run alone. (The store rolls back a transaction a panic leaves.)
func (x *execution) recoverPanic() {
	if p := recover(); p != nil {
		x.log.Error("sync panicked", zap.Any("panic", p), zap.Stack("stack"))
		x.failed(fmt.Errorf("sync %s: internal error: %v", x.d.Name, p))
	}
}

func (x *execution) runCleanup() {
	for i := len(x.cleanup) - 1; i >= 0; i-- {
		x.cleanup[i]()
	}
}

// readOut is what the read stage hands the plan: the snapshot and the
// store's state it is planned against.
type readOut struct {
	snap directory.Snapshot
	cur  Current
	load time.Duration // the wait for the store after the read
}

// read reads the directory and loads from the store what the plan needs.
// A run without a cursor (or asked to be full) reads in full.
func (x *execution) read(ctx context.Context) (*readOut, error) {
	state, err := x.r.st.GetDirectoryState(ctx, x.d.Name)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("sync %s: read state: %w", x.d.Name, err)
	}
	cursor := state.Cursor
	if x.req.Full {
		cursor = ""
	}
	x.run.Full = cursor == ""
	x.log.Info("sync started", zap.Bool("full", x.run.Full), zap.Bool("dry_run", x.req.DryRun), zap.String("trigger", x.run.Trigger))

	// An incremental run's directory-wide part of the store load does not
	// depend on the read: it loads while the directory answers. A full
	// run's load waits for the read (see loadFull).
	var waitWide func() wide
	if cursor != "" {
		waitWide = startWide(ctx, x.r.st, x.d.Name)
		x.cleanup = append(x.cleanup, func() { waitWide() })
	}
	groups, err := importGroups(ctx, x.r.st, *x.d)
	if err != nil {
		return nil, fmt.Errorf("sync %s: %w", x.d.Name, err)
	}
	snap, err := x.d.Source.Read(ctx, directory.ReadRequest{Groups: groups.groups, Cursor: cursor, Progress: x.progress()})
	if err != nil {
		return nil, fmt.Errorf("sync %s: read: %w", x.d.Name, groups.explain(err))
	}
	x.noteRead(snap)

	// An incremental read touches few users: load only what concerns
	// them. A complete one needs the whole directory to find leavers.
	stage := time.Now() // stage timings, wall clock whatever the Runner's clock
	var cur Current
	switch {
	case snap.Complete:
		cur, err = x.loadFull(ctx, snap)
	case waitWide != nil:
		cur, err = loadAffected(ctx, x.r.st, x.d.Name, x.d.LinkBy, snap, x.d.Mapper, waitWide)
	default:
		cur, err = LoadAffected(ctx, x.r.st, x.d.Name, x.d.LinkBy, snap, x.d.Mapper)
	}
	if err != nil {
		return nil, fmt.Errorf("sync %s: %w", x.d.Name, err)
	}
	return &readOut{snap: snap, cur: cur, load: time.Since(stage)}, nil
}

// loadFull is LoadCurrent for a complete read, after it: the users, then
// the entries, each row pointed at the read's equal strings as it arrives
// (readSharer). Loading the users beside the read held them (their
// strings twice) beside the reader's own working state: 100,000 users
// peaked some 40 MB higher that way, and the directory answers no faster
// for it.
func (x *execution) loadFull(ctx context.Context, snap directory.Snapshot) (Current, error) {
	share := newReadSharer(snap)
	cur, err := loadUsers(ctx, x.r.st, x.d.Name, x.d.LinkBy, share.user)
	if err != nil {
		return Current{}, err
	}
	// The store holds an entry per user it holds and per group: sized for
	// that, the entries are not copied from one growing slice to the next
	// (and a first run, with nothing stored, reserves nothing).
	if err := eachEntry(ctx, x.r.st, &cur, len(cur.Users)+len(snap.Groups), share.entry); err != nil {
		return Current{}, err
	}
	return cur, nil
}

// progress logs a read's progress at most every r.every.
func (x *execution) progress() func(directory.Progress) {
	var (
		mu   sync.Mutex // a Source may report from several goroutines
		last time.Time
	)
	return func(p directory.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if now := x.r.now(); now.Sub(last) >= x.r.every {
			last = now
			x.log.Info("sync reading", zap.Int("entries", p.Entries), zap.Int("pages", p.Pages), zap.Duration("elapsed", p.Elapsed))
		}
	}
}

// noteRead records and logs what a read returned.
func (x *execution) noteRead(snap directory.Snapshot) {
	x.r.m.entries.WithLabelValues(x.d.Name).Add(float64(snap.Stats.Entries))
	if stats, err := json.Marshal(snap.Stats); err == nil {
		x.run.Stats = stats
	}
	x.run.Full = snap.Complete
	for _, w := range snap.Stats.Warnings {
		x.log.Warn("directory read warning", zap.String("warning", w))
	}
	x.log.Info("sync read done", zap.Int("users", len(snap.Users)), zap.Int("groups", len(snap.Groups)),
		zap.Int("entries", snap.Stats.Entries), zap.Int("pages", snap.Stats.Pages), zap.Duration("elapsed", snap.Stats.Elapsed))
}

// plan makes the run's plan from what was read and loaded, and lets go of
// those: the plan holds every row it writes, and the apply needs memory
// of its own.
func (x *execution) plan(in *readOut) Plan {
	stage := time.Now()
	cur, snap := in.cur, in.snap
	in.snap, in.cur = directory.Snapshot{}, Current{} // NewPlan's alone from here
	plan, warns := NewPlan(cur, snap, x.d.Mapper, x.r.now())
	x.log.Info("sync planned", zap.Int("items", len(plan.Items)), zap.Int("entries_changed", plan.EntriesChanged),
		zap.Duration("load", in.load), zap.Duration("plan", time.Since(stage)))
	plan.RunID, plan.Actor = x.f.id, x.req.Actor
	if len(warns) > 0 {
		x.log.Info("sync plan has warnings", zap.Int("warnings", len(warns)), zap.String("first", warns[0].String()))
	}
	x.run.Counts = plan.Counts
	return plan
}

// guard is the safety check between plan and apply (Check against the
// directory's limits). An administrator's approval lifts the limits for
// this plan, never the refusal of an empty full read.
func (x *execution) guard(plan *Plan) error {
	limits := x.d.Limits
	if checkErr := Check(*plan, limits, plan.ActiveBefore); checkErr != nil && x.req.AllowMassDeactivation {
		limits.AllowMassDeactivation = true
		if Check(*plan, limits, plan.ActiveBefore) == nil {
			plan.MassDeactivationApproved = true
			x.log.Warn("mass deactivation approved", zap.String("actor", x.req.Actor), zap.String("check", checkErr.Error()))
		}
	}
	return Check(*plan, limits, plan.ActiveBefore)
}

// planRecord is the plan's JSON for the run record, encoded in the
// background (a few megabytes for a large first sync) while the apply
// runs; a refused or dry run takes it at once.
type planRecord struct {
	ch   chan []byte
	once sync.Once
	run  *store.SyncRun
}

func (x *execution) encodePlan(plan Plan) *planRecord {
	rec := &planRecord{ch: make(chan []byte, 1), run: x.run}
	go func() {
		pj, err := plan.JSON(x.r.items)
		if err != nil {
			pj = nil
		}
		rec.ch <- pj
	}()
	return rec
}

// take waits for the encoding and puts it into the run record (once).
func (rec *planRecord) take() {
	rec.once.Do(func() {
		if pj := <-rec.ch; pj != nil {
			rec.run.Plan = pj
		}
	})
}

// apply applies the plan and records the run as succeeded in the same
// transaction: a run recorded as succeeded has applied, and one that did
// not apply is not succeeded.
func (x *execution) apply(ctx context.Context, plan Plan, rec *planRecord) {
	done := *x.run
	done.Status, done.FinishedAt = store.SyncSucceeded, x.r.now().UTC()
	stage := time.Now()
	err := x.r.st.Tx(ctx, func(tx store.Tx) error {
		counts, err := ApplyTx(ctx, tx, plan)
		if err != nil {
			return err
		}
		rec.take()
		done.Counts, done.Plan = counts, x.run.Plan
		if err := tx.UpdateSyncRun(ctx, done); err != nil {
			return fmt.Errorf("sync %s: record run: %w", x.d.Name, err)
		}
		return nil
	})
	if err != nil {
		rec.take()
		x.failed(err)
		return
	}
	*x.run = done
	x.f.err = nil
	x.succeeded(time.Since(stage))
}

// succeeded counts an applied run in the metrics and logs its end.
func (x *execution) succeeded(apply time.Duration) {
	m, name, done := x.r.m, x.d.Name, x.run
	m.duration.WithLabelValues(name, string(store.SyncSucceeded)).Observe(x.r.now().Sub(x.begin).Seconds())
	for kind, n := range map[string]int{"created": done.Counts.Created, "updated": done.Counts.Updated,
		"deactivated": done.Counts.Deactivated, "reactivated": done.Counts.Reactivated} {
		m.changes.WithLabelValues(name, kind).Add(float64(n))
	}
	m.lastSuccess.WithLabelValues(name).Set(float64(done.FinishedAt.Unix()))
	x.log.Info("sync done", append(countFields(done.Counts, x.r.now().Sub(x.begin)), zap.Duration("apply", apply))...)
}

// failed records the run as failed with err.
func (x *execution) failed(err error) {
	x.r.m.failures.WithLabelValues(x.d.Name).Inc()
	x.log.Error("sync failed", zap.Error(err), zap.Duration("elapsed", x.r.now().Sub(x.begin)))
	x.end(store.SyncFailed, err)
}

// end records the run's end with status (and err, if any).
func (x *execution) end(status store.SyncStatus, err error) {
	run := x.run
	run.Status, run.FinishedAt = status, x.r.now().UTC()
	if err != nil {
		run.Error = err.Error()
	}
	rctx, cancel := context.WithTimeout(x.recordCtx, 30*time.Second)
	defer cancel()
	if rerr := x.r.st.Tx(rctx, func(tx store.Tx) error { return tx.UpdateSyncRun(rctx, *run) }); rerr != nil {
		x.log.Error("record sync run end", zap.Error(rerr))
		if err == nil {
			err = fmt.Errorf("sync %s: record run: %w", x.d.Name, rerr)
		}
	}
	x.f.err = err
	x.r.m.duration.WithLabelValues(x.d.Name, string(status)).Observe(x.r.now().Sub(x.begin).Seconds())
}
