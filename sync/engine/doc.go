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
