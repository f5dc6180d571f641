// Package engine runs a directory sync as read -> plan -> check -> apply.
//
// Plan is a pure diff between what a directory.Source read and what the
// store holds for that directory: it decides, by anchor, who is created,
// updated (with every changed field and its cause), deactivated (with the
// reason), reactivated or left alone, and which imported users are blocked
// (username collisions, privileged local users). Check is a pure safety
// gate between plan and apply: a suspicious plan (an empty full read, more
// deactivations than the limits allow) is refused before anything is
// written. Apply writes a plan in one store transaction, so a run either
// happens completely or not at all.
//
// Runner records each run (store.SyncRun), keeps one run per directory at a
// time, logs progress and exports metrics; Scheduler triggers runs from
// cron schedules, on only one replica at a time through a store lease that
// expires when its holder dies.
package engine

// Wiring, in the daemon (one Directory per configured directory):
//
//	m, err := mapping.NewMapper(mapping.Config{Directory: d.Name, Rules: rules, ...})
//	runner, err := engine.NewRunner(st, []engine.Directory{{
//		Name: d.Name, Source: ldapSource, Groups: d.Groups, Mapper: m,
//		LinkBy: mapping.LinkBy(d.LinkBy),
//		Limits: engine.Limits{MaxCount: d.MaxDeactivations.Count, MaxPercent: d.MaxDeactivations.Percent},
//		Schedule: d.Schedule, FullSchedule: d.FullSchedule, RunAtStart: d.SyncOnStart,
//	}}, engine.Options{Logger: logger, Registerer: registry})
//	defer runner.Close()
//	sched, err := engine.NewScheduler(runner, st, engine.SchedulerOptions{Logger: logger})
//	sched.Start(ctx)
//	defer sched.Stop()
//
// The admin API then calls runner.Trigger (POST /api/v1/sync returns the
// run id), store.GetSyncRun / ListSyncRuns for the runs, and engine.Stats
// for GET /api/v1/directories/{name}/stats; the in-process CLI calls
// runner.Run and prints the run and its plan (Plan.Summary or the JSON).
