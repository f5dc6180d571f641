package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/robfig/cron/v3"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/internal/cronspec"
	"github.com/dirbridge/dirbridge/store"
)

// LeaseName is the store lease that elects the replica running schedules.
const LeaseName = "sync-scheduler"

// SchedulerOptions tune a Scheduler. The zero value works.
type SchedulerOptions struct {
	// Holder names this replica in the lease; empty means hostname, pid
	// and a random suffix (a restarted process is a new holder).
	Holder string
	// LeaseTTL is how long the lease outlives its last renewal: a replica
	// that dies gives up the schedule after at most this long. 0 means 60 s.
	// The lease is renewed every third of it.
	LeaseTTL time.Duration
	// Location interprets the cron expressions; nil means time.Local.
	Location *time.Location
	Logger   *zap.Logger
}

// Scheduler triggers each directory's incremental and full syncs from cron
// expressions, on the one replica holding the store lease. Runs go through
// the Runner, so a scheduled run never overlaps another run of the same
// directory on this replica.
type Scheduler struct {
	r      *Runner
	st     store.Store
	log    *zap.Logger
	holder string
	ttl    time.Duration
	cron   *cron.Cron
	// loc and schedules: the parsed expressions by directory, for Next.
	loc       *time.Location
	schedules map[string]*[2]cron.Schedule // [incremental, full]

	// leaseUntil is the Unix nanosecond time until which this replica
	// holds the lease (0: not held). A job fires only before it.
	leaseUntil atomic.Int64
	startedRun atomic.Bool

	mu      sync.Mutex
	ctx     context.Context // set by Start; cancelled by Stop
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	stopped bool
}

// NewScheduler builds the schedule of every directory of r. Its error
// names every expression that does not parse.
func NewScheduler(r *Runner, st store.Store, opts SchedulerOptions) (*Scheduler, error) {
	s := &Scheduler{r: r, st: st, log: opts.Logger, holder: opts.Holder, ttl: opts.LeaseTTL}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	s.log = s.log.Named("sync-scheduler")
	if s.ttl <= 0 {
		s.ttl = 60 * time.Second
	}
	if s.holder == "" {
		host, _ := os.Hostname()
		s.holder = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), uuid.NewString()[:8])
	}
	loc := opts.Location
	if loc == nil {
		loc = time.Local
	}
	s.cron = cron.New(cron.WithLocation(loc), cronspec.Option())
	s.loc, s.schedules = loc, map[string]*[2]cron.Schedule{}
	var errs []error
	for _, name := range r.Directories() {
		d, _ := r.Directory(name)
		for _, e := range []struct {
			field, expr string
			full        bool
		}{{"schedule", d.Schedule, false}, {"full_schedule", d.FullSchedule, true}} {
			if e.expr == "" {
				continue
			}
			sched, err := cronspec.Parse(e.expr)
			if err != nil {
				errs = append(errs, fmt.Errorf("directories.%s.%s: %w", name, e.field, err))
				continue
			}
			s.cron.Schedule(sched, cron.FuncJob(func() { s.fire(name, e.full) }))
			if s.schedules[name] == nil {
				s.schedules[name] = &[2]cron.Schedule{}
			}
			kind := 0
			if e.full {
				kind = 1
			}
			s.schedules[name][kind] = sched
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("sync scheduler: %w", err)
	}
	return s, nil
}

// Start takes part in the lease election and starts the cron. It returns
// at once; Stop ends both.
func (s *Scheduler) Start(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cancel != nil || s.stopped {
		return
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.ctx = ctx
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.leaseLoop(ctx)
	}()
	s.cron.Start()
}

// Stop stops the cron and the lease loop and gives the lease up so another
// replica takes over at once rather than after the TTL. Runs in progress
// are the Runner's (Runner.Close cancels them).
func (s *Scheduler) Stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.stopped = true
	cancel := s.cancel
	s.mu.Unlock()
	<-s.cron.Stop().Done()
	if cancel != nil {
		cancel()
	}
	s.wg.Wait()
	if s.leaseUntil.Swap(0) != 0 {
		ctx, done := context.WithTimeout(context.Background(), 5*time.Second)
		defer done()
		if err := s.st.ReleaseLease(ctx, LeaseName, s.holder); err != nil {
			s.log.Warn("release scheduler lease", zap.Error(err))
		}
	}
}

// NextRuns are when a directory's schedules fire next after a time; a
// zero time means that schedule is off.
type NextRuns struct {
	Incremental, Full time.Time
}

// Next returns, by directory name, when each scheduled directory's syncs
// fire next after now (directories without a schedule are left out). It
// is the schedule, the same on every replica; only the lease holder runs
// it.
func (s *Scheduler) Next(now time.Time) map[string]NextRuns {
	out := make(map[string]NextRuns, len(s.schedules))
	for name, sc := range s.schedules {
		var n NextRuns
		if sc[0] != nil {
			n.Incremental = sc[0].Next(now.In(s.loc))
		}
		if sc[1] != nil {
			n.Full = sc[1].Next(now.In(s.loc))
		}
		out[name] = n
	}
	return out
}

// Leader reports whether this replica holds the lease now.
func (s *Scheduler) Leader() bool { return time.Now().UnixNano() < s.leaseUntil.Load() }

// Holder is this replica's name in the lease.
func (s *Scheduler) Holder() string { return s.holder }

func (s *Scheduler) leaseLoop(ctx context.Context) {
	tick := time.NewTicker(s.ttl / 3)
	defer tick.Stop()
	for {
		s.renew(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// renew takes or renews the lease. The deadline is counted from before the
// call, so this replica never believes it holds the lease longer than the
// store does.
func (s *Scheduler) renew(ctx context.Context) {
	before := time.Now()
	ok, err := s.st.AcquireLease(ctx, LeaseName, s.holder, s.ttl)
	was := s.Leader()
	switch {
	case err != nil:
		if ctx.Err() == nil {
			s.log.Warn("scheduler lease", zap.Error(err))
		}
		return // keep the deadline already earned; it runs out by itself
	case !ok:
		s.leaseUntil.Store(0)
		if was {
			s.log.Info("scheduler lease lost; another replica runs the schedules")
		}
		return
	}
	s.leaseUntil.Store(before.Add(s.ttl).UnixNano())
	if !was {
		s.log.Info("scheduler lease taken; this replica runs the schedules", zap.String("holder", s.holder))
	}
	if s.startedRun.CompareAndSwap(false, true) {
		for _, name := range s.r.Directories() {
			if d, _ := s.r.Directory(name); d.RunAtStart {
				s.trigger(ctx, name, false, TriggerStartup)
			}
		}
	}
}

func (s *Scheduler) fire(name string, full bool) {
	if !s.Leader() {
		s.log.Debug("schedule skipped: not the leader", zap.String("directory", name), zap.Bool("full", full))
		return
	}
	s.mu.Lock()
	ctx := s.ctx
	s.mu.Unlock()
	if ctx == nil || ctx.Err() != nil {
		return
	}
	s.trigger(ctx, name, full, TriggerSchedule)
}

func (s *Scheduler) trigger(ctx context.Context, name string, full bool, trigger string) {
	log := s.log.With(zap.String("directory", name), zap.Bool("full", full), zap.String("trigger", trigger))
	id, started, err := s.r.Trigger(ctx, Request{Directory: name, Full: full, Trigger: trigger})
	switch {
	case err != nil:
		log.Error("trigger sync", zap.Error(err))
	case started:
		log.Info("sync triggered", zap.String("run", id))
	case full:
		// A full run must not be lost to an incremental one that happened
		// to be running: it settles leavers. Run it once that one ends.
		log.Info("full sync waits for the running sync", zap.String("running", id))
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if _, err := s.r.Wait(ctx, id); err != nil {
				return // Stop
			}
			if s.Leader() && ctx.Err() == nil {
				s.trigger(ctx, name, true, trigger)
			}
		}()
	default:
		log.Info("sync skipped: one is already running", zap.String("running", id))
	}
}
