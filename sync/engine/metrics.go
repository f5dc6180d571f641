package engine

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	duration    *prometheus.HistogramVec // directory, status
	entries     *prometheus.CounterVec   // directory
	changes     *prometheus.CounterVec   // directory, kind
	refusals    *prometheus.CounterVec   // directory
	failures    *prometheus.CounterVec   // directory
	lastSuccess *prometheus.GaugeVec     // directory
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "dirbridge", Subsystem: "sync", Name: "run_duration_seconds",
			Help:    "Duration of sync runs by directory and final status (succeeded, failed, refused).",
			Buckets: prometheus.ExponentialBuckets(0.25, 2, 13), // 0.25 s .. ~17 min
		}, []string{"directory", "status"}),
		entries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dirbridge", Subsystem: "sync", Name: "entries_read_total",
			Help: "Directory entries read by sync runs.",
		}, []string{"directory"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dirbridge", Subsystem: "sync", Name: "changes_total",
			Help: "User changes applied by sync runs, by kind (created, updated, deactivated, reactivated).",
		}, []string{"directory", "kind"}),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dirbridge", Subsystem: "sync", Name: "refusals_total",
			Help: "Sync runs refused by the safety check (empty read, too many deactivations).",
		}, []string{"directory"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dirbridge", Subsystem: "sync", Name: "failures_total",
			Help: "Sync runs that failed (read, store or apply error).",
		}, []string{"directory"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "dirbridge", Subsystem: "sync", Name: "last_success_timestamp_seconds",
			Help: "Unix time of the last successful (non-dry) sync run.",
		}, []string{"directory"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.duration, m.entries, m.changes, m.refusals, m.failures, m.lastSuccess} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("sync: register metrics: %w (one Runner per registerer)", err)
			}
			return nil, fmt.Errorf("sync: register metrics: %w", err)
		}
	}
	return m, nil
}

// forDirectory creates a directory's series at zero, so that rates and
// alerts on refusals and failures work before the first one happens.
func (m *metrics) forDirectory(name string) {
	m.entries.WithLabelValues(name)
	m.refusals.WithLabelValues(name)
	m.failures.WithLabelValues(name)
	for _, kind := range []string{"created", "updated", "deactivated", "reactivated"} {
		m.changes.WithLabelValues(name, kind)
	}
}
