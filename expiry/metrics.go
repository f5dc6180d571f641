package expiry

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts notices sent, failed and skipped.
type Metrics struct {
	notices *prometheus.CounterVec
}

// NewMetrics registers the expiry counters on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{notices: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "dirbridge", Subsystem: "expiry", Name: "notices_total",
		Help: "Password-expiry notices by outcome (sent, failed, skipped) and reason.",
	}, []string{"outcome", "reason"})}
	// At zero from the start: an alert on failed deliveries works before
	// the first one.
	m.notices.WithLabelValues("sent", "")
	m.notices.WithLabelValues("failed", "delivery")
	if reg != nil {
		reg.MustRegister(m.notices)
	}
	return m
}

func (m *Metrics) sent() {
	if m != nil {
		m.notices.WithLabelValues("sent", "").Inc()
	}
}

func (m *Metrics) failed() {
	if m != nil {
		m.notices.WithLabelValues("failed", "delivery").Inc()
	}
}

func (m *Metrics) skipped(reason string) {
	if m != nil {
		m.notices.WithLabelValues("skipped", reason).Inc()
	}
}
