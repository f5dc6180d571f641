package expiry

import (
	"context"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/internal/cronspec"
)

// leaseName is the store lease that lets one replica run the job.
const leaseName = "expiry-job"

// Scheduler runs the job on a cron schedule. Replicas sharing a store
// compete for a lease each time; the lease expires by itself if its holder
// dies, so a killed node never blocks later runs.
type Scheduler struct {
	job      *Job
	cron     *cron.Cron
	holder   string
	leaseTTL time.Duration
	now      func() time.Time
	log      *zap.Logger
	ctx      context.Context
	cancel   context.CancelFunc
}

// NewScheduler parses spec (five-field cron as internal/cronspec reads it, in loc) and returns
// a scheduler; holder names this replica in the lease.
func NewScheduler(job *Job, spec string, loc *time.Location, holder string, now func() time.Time) (*Scheduler, error) {
	if loc == nil {
		loc = time.UTC
	}
	if now == nil {
		now = time.Now
	}
	s := &Scheduler{job: job, holder: holder, leaseTTL: 30 * time.Minute, now: now, log: job.log}
	// Recover: a bug in one run is logged and the next day's run still
	// happens, instead of the panic ending the daemon.
	cronLog := cron.PrintfLogger(zap.NewStdLog(s.log.Named("cron")))
	s.cron = cron.New(cron.WithLocation(loc), cronspec.Option(), cron.WithChain(cron.Recover(cronLog), cron.SkipIfStillRunning(cron.DiscardLogger)))
	if _, err := s.cron.AddFunc(spec, s.tick); err != nil {
		return nil, fmt.Errorf("expiry schedule %q: %w", spec, err)
	}
	return s, nil
}

// Start begins scheduling; Stop ends it.
func (s *Scheduler) Start(ctx context.Context) {
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.cron.Start()
}

// Stop cancels a running job and waits for it to return.
func (s *Scheduler) Stop() {
	if s.cancel != nil {
		s.cancel()
	}
	<-s.cron.Stop().Done()
}

func (s *Scheduler) tick() {
	ctx := s.ctx
	ok, err := s.job.store.AcquireLease(ctx, leaseName, s.holder, s.leaseTTL)
	if err != nil {
		s.log.Error("expiry job: lease", zap.Error(err))
		return
	}
	if !ok {
		s.log.Debug("expiry job runs on another replica")
		return
	}
	defer func() {
		if err := s.job.store.ReleaseLease(context.WithoutCancel(ctx), leaseName, s.holder); err != nil {
			s.log.Warn("expiry job: release lease", zap.Error(err))
		}
	}()
	if _, err := s.job.Run(ctx, s.now(), false); err != nil {
		s.log.Error("expiry job failed", zap.Error(err))
	}
}
