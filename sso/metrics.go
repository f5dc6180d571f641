package sso

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	signins  *prometheus.CounterVec // method, outcome
	bypass   *prometheus.CounterVec // outcome
	verify   *prometheus.CounterVec // code
	verifyOK prometheus.Counter     // curried once: the hot path does no label lookup
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		signins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dirbridge", Subsystem: "sso", Name: "signins_total",
			Help: "Sign-in attempts by method and outcome (success, failure, denied).",
		}, []string{"method", "outcome"}),
		bypass: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dirbridge", Subsystem: "sso", Name: "bypass_signins_total",
			Help: "Password sign-ins through the bypass-SSO path while SSO is enforced, by outcome.",
		}, []string{"outcome"}),
		verify: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "dirbridge", Subsystem: "sso", Name: "verify_requests_total",
			Help: "Forward-auth /auth/verify answers by HTTP status.",
		}, []string{"code"}),
	}
	m.verifyOK = m.verify.WithLabelValues("200")
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.signins, m.bypass, m.verify} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("register metrics: %w (one Service per registerer)", err)
			}
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return m, nil
}
