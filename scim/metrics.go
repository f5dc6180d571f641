package scim

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	requests      *prometheus.CounterVec
	authFailures  *prometheus.CounterVec
	deactRefused  *prometheus.CounterVec
	deactivations *prometheus.CounterVec
}

// newMetrics registers the SCIM metrics with reg (nil: kept unregistered).
func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dirbridge", Subsystem: "scim",
			Name: "requests_total", Help: "SCIM requests by provisioning source, method and status code."},
			[]string{"source", "method", "code"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dirbridge", Subsystem: "scim",
			Name: "auth_failures_total", Help: "SCIM requests refused for an invalid bearer token, by source."},
			[]string{"source"}),
		deactRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dirbridge", Subsystem: "scim",
			Name: "deactivations_refused_total", Help: "Deactivations refused by a source's hourly limit."},
			[]string{"source"}),
		deactivations: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dirbridge", Subsystem: "scim",
			Name: "deactivations_total", Help: "Users deactivated through SCIM, by source."},
			[]string{"source"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.requests, m.authFailures, m.deactRefused, m.deactivations} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				continue
			}
			return nil, fmt.Errorf("scim metrics: %w", err)
		}
	}
	return m, nil
}
