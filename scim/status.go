package scim

import (
	"sort"
	"sync"
	"time"
)

// SourceStatus is what the console shows of a provisioning source: its
// settings and the last request and refusal this process saw.
type SourceStatus struct {
	Name   string `json:"name"`
	Preset string `json:"preset"`
	// LastRequestAt is zero until the first request since start.
	LastRequestAt time.Time `json:"last_request_at,omitzero"`
	LastMethod    string    `json:"last_method,omitempty"`
	LastPath      string    `json:"last_path,omitempty"`
	LastStatus    int       `json:"last_status,omitempty"`
	// LastErrorAt, LastError: the latest request answered 400 or above.
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	Requests    int64     `json:"requests"`
	Errors      int64     `json:"errors"`
}

// activity records a source's requests for Status.
type activity struct {
	mu sync.Mutex
	st SourceStatus
}

func (a *activity) record(at time.Time, method, path string, status int, detail string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.st.LastRequestAt, a.st.LastMethod, a.st.LastPath, a.st.LastStatus = at.UTC(), method, path, status
	a.st.Requests++
	if status >= 400 {
		a.st.LastErrorAt, a.st.LastError = at.UTC(), detail
		a.st.Errors++
	}
}

// Status returns every source's status, by name. The figures are this
// process's since it started (each replica has its own).
func (s *Server) Status() []SourceStatus {
	out := make([]SourceStatus, 0, len(s.sources))
	for _, src := range s.sources {
		src.act.mu.Lock()
		st := src.act.st
		src.act.mu.Unlock()
		st.Name, st.Preset = src.Name, src.Preset
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
