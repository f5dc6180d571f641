package sso

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dirbridge/dirbridge/store"
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
	// Every series exists at zero from the start, so a rate or an alert on
	// refusals works before the first one happens.
	outcomes := []string{store.OutcomeSuccess, store.OutcomeFailure, store.OutcomeDenied}
	for _, method := range []string{MethodPassword, MethodBypass, MethodSAML, MethodOIDC, MethodCert, MethodKerberos} {
		for _, o := range outcomes {
			m.signins.WithLabelValues(method, o)
		}
	}
	for _, o := range outcomes {
		m.bypass.WithLabelValues(o)
	}
	for _, code := range []string{"401", "403", "500"} {
		m.verify.WithLabelValues(code)
	}
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
