package scim

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
)

// SourcePrefix prefixes a provisioning source's name in its users' Source
// and in the directory its entries are kept under ("scim:entra").
const SourcePrefix = "scim:"

// Prefix is the path the server is mounted at.
const Prefix = "/scim/v2/"

// Source is one configured provisioning source (config.Provisioning).
type Source struct {
	Name   string
	Preset string
	// DefaultProfile is given to users no rule gives a profile.
	DefaultProfile string
	// MaxDeactivationsPerHour: more deactivations within an hour are
	// refused with 429. 0 allows none.
	MaxDeactivationsPerHour int
	// MaxRequestBytes caps a request body; MaxResults a list's page.
	MaxRequestBytes int64
	MaxResults      int
	// LinkDirectoryUsers links a user whose onPremisesImmutableId is a
	// directory user's anchor to that user.
	LinkDirectoryUsers bool
}

// Options are what a Server needs.
type Options struct {
	Store   store.Store
	Sources []Source
	// Rules are the mapping rules in order (mapping.rules); a rule that
	// names a directory applies only to "scim:<name>" of that name.
	Rules []mapping.Rule
	// PublicURL is the externally visible base URL, for meta.location.
	PublicURL  string
	Logger     *zap.Logger
	Registerer prometheus.Registerer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server serves /scim/v2/<source>/ for every configured source.
type Server struct {
	st      store.Store
	sources map[string]*source
	// rules are swapped whole by SetRules (SIGHUP): one request reads
	// them once per mapping.
	rules     atomic.Pointer[[]mapping.Rule]
	publicURL string
	log       *zap.Logger
	now       func() time.Time
	metrics   *metrics
	mux       *http.ServeMux
}

// source is one provisioning source at run time.
type source struct {
	Source
	// dir is the directory name its entries are kept under, and its
	// users' Source: "scim:<name>".
	dir string
	// mu serialises the writes of one source, so a uniqueness check or
	// the deactivation count and the write it allows see the same state.
	mu sync.Mutex
	// act is the last request and refusal, for Status.
	act activity
}

// New builds the server. Sources without a token answer 401 until one is
// created (`dirbridge scim token create`).
func New(o Options) (*Server, error) {
	if o.Store == nil {
		return nil, errors.New("scim: a store is required")
	}
	s := &Server{st: o.Store, sources: map[string]*source{},
		publicURL: strings.TrimRight(o.PublicURL, "/"), log: o.Logger, now: o.Now}
	s.SetRules(o.Rules)
	if s.log == nil {
		s.log = zap.NewNop()
	}
	s.log = s.log.Named("scim")
	if s.now == nil {
		s.now = time.Now
	}
	for _, src := range o.Sources {
		if src.Name == "" {
			return nil, errors.New("scim: a source without a name")
		}
		if _, dup := s.sources[src.Name]; dup {
			return nil, fmt.Errorf("scim: source %q twice", src.Name)
		}
		if src.MaxRequestBytes <= 0 {
			src.MaxRequestBytes = 1 << 20
		}
		if src.MaxResults <= 0 {
			src.MaxResults = 200
		}
		s.sources[src.Name] = &source{Source: src, dir: SourcePrefix + src.Name}
	}
	var err error
	if s.metrics, err = newMetrics(o.Registerer); err != nil {
		return nil, err
	}
	// The refusal series exist at zero from the start, so alerts on them
	// work before the first refusal.
	for name := range s.sources {
		s.metrics.deactRefused.WithLabelValues(name)
		s.metrics.deactivations.WithLabelValues(name)
		s.metrics.authFailures.WithLabelValues(name)
	}
	s.routes()
	return s, nil
}

// SetRules replaces the mapping rules SCIM groups go through (a reload);
// users are re-mapped with them at their next change.
func (s *Server) SetRules(rules []mapping.Rule) {
	r := slices.Clone(rules)
	s.rules.Store(&r)
}

// ServeHTTP serves the SCIM endpoints under Prefix.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// request is one authenticated SCIM request.
type request struct {
	*http.Request
	src  *source
	body []byte
	base string // this source's SCIM base URL
}

type handler func(ctx context.Context, rq *request) (int, any, error)

func (s *Server) routes() {
	s.mux = http.NewServeMux()
	h := func(pattern string, methods map[string]handler) {
		s.mux.Handle(Prefix+"{source}/"+pattern, s.endpoint(methods))
	}
	h("ServiceProviderConfig", map[string]handler{http.MethodGet: s.getSPConfig})
	h("ResourceTypes", map[string]handler{http.MethodGet: s.getResourceTypes})
	h("ResourceTypes/{id}", map[string]handler{http.MethodGet: s.getResourceType})
	h("Schemas", map[string]handler{http.MethodGet: s.getSchemas})
	h("Schemas/{id}", map[string]handler{http.MethodGet: s.getSchema})
	h("Users", map[string]handler{http.MethodGet: s.listUsers, http.MethodPost: s.createUser})
	h("Users/{id}", map[string]handler{http.MethodGet: s.getUser, http.MethodPut: s.replaceUser,
		http.MethodPatch: s.patchUser, http.MethodDelete: s.deleteUser})
	h("Groups", map[string]handler{http.MethodGet: s.listGroups, http.MethodPost: s.createGroup})
	h("Groups/{id}", map[string]handler{http.MethodGet: s.getGroup, http.MethodPut: s.replaceGroup,
		http.MethodPatch: s.patchGroup, http.MethodDelete: s.deleteGroup})
	s.mux.Handle(Prefix, s.endpoint(nil))
}

// endpoint authenticates, bounds the body and answers in the SCIM
// format, whatever the outcome.
func (s *Server) endpoint(methods map[string]handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("source")
		src := s.sources[name]
		status, err := s.serve(w, r, src, methods)
		label := name
		if src == nil {
			label = "unknown"
		} else {
			detail := ""
			var se *Error
			if errors.As(err, &se) {
				detail = se.Detail
			} else if err != nil {
				detail = "internal error"
			}
			src.act.record(s.now(), r.Method, r.URL.Path, status, detail)
		}
		s.metrics.requests.WithLabelValues(label, methodLabel(r.Method), fmt.Sprint(status)).Inc()
		if err != nil && status >= 500 {
			s.log.Error("scim request failed", zap.String("source", label), zap.String("method", r.Method),
				zap.String("path", r.URL.Path), zap.Error(err))
		}
	})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, src *source, methods map[string]handler) (int, error) {
	fail := func(err error) (int, error) {
		writeError(w, err)
		var se *Error
		if errors.As(err, &se) {
			return se.Status, err
		}
		return http.StatusInternalServerError, err
	}
	if src == nil {
		return fail(notFound("provisioning source", r.PathValue("source")))
	}
	if err := s.authenticate(r.Context(), src, r.Header.Get("Authorization")); err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="dirbridge SCIM"`)
		return fail(err)
	}
	if methods == nil {
		return fail(errorf(http.StatusNotFound, "", "no SCIM endpoint at %s", r.URL.Path))
	}
	fn, ok := methods[r.Method]
	if !ok {
		w.Header().Set("Allow", allowed(methods))
		return fail(errorf(http.StatusMethodNotAllowed, "", "%s is not allowed here", r.Method))
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, src.MaxRequestBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return fail(errorf(http.StatusRequestEntityTooLarge, "", "the request body exceeds %d bytes", src.MaxRequestBytes))
		}
		return fail(errorf(http.StatusBadRequest, typeInvalidSyntax, "reading the body: %v", err))
	}
	rq := &request{Request: r, src: src, body: body, base: s.publicURL + Prefix + src.Name}
	status, out, err := fn(r.Context(), rq)
	if err != nil {
		return fail(err)
	}
	if out == nil {
		w.WriteHeader(status)
		return status, nil
	}
	if loc, ok := out.(object); ok && status == http.StatusCreated {
		if m := sub(loc, "meta"); m != nil {
			w.Header().Set("Location", str(m, "location"))
		}
	}
	writeJSON(w, status, out)
	return status, nil
}

// methodLabel keeps the metric's method label to the methods SCIM uses,
// so a client inventing methods cannot grow the series without bound.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return m
	}
	return "other"
}

func allowed(methods map[string]handler) string {
	var l []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if methods[m] != nil {
			l = append(l, m)
		}
	}
	return strings.Join(l, ", ")
}

// authenticate checks a bearer token against the source's stored hash in
// constant time. A source without a token refuses everyone.
func (s *Server) authenticate(ctx context.Context, src *source, header string) error {
	scheme, token, _ := strings.Cut(strings.TrimSpace(header), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return errorf(http.StatusUnauthorized, "", "a bearer token is required")
	}
	stored, err := s.st.GetProvisioningToken(ctx, src.Name)
	if errors.Is(err, store.ErrNotFound) {
		s.log.Warn("scim request refused: the source has no token yet", zap.String("source", src.Name))
		return errorf(http.StatusUnauthorized, "", "invalid bearer token")
	}
	if err != nil {
		return fmt.Errorf("scim %s: read token: %w", src.Name, err)
	}
	want, err := hex.DecodeString(stored.Hash)
	got := sha256.Sum256([]byte(token))
	if err != nil || subtle.ConstantTimeCompare(got[:], want) != 1 {
		s.metrics.authFailures.WithLabelValues(src.Name).Inc()
		s.log.Warn("scim request refused: invalid bearer token", zap.String("source", src.Name))
		return errorf(http.StatusUnauthorized, "", "invalid bearer token")
	}
	return nil
}

func (s *Server) getSPConfig(_ context.Context, rq *request) (int, any, error) {
	return http.StatusOK, serviceProviderConfig(rq.base, rq.src.MaxResults), nil
}

func (s *Server) getResourceTypes(_ context.Context, rq *request) (int, any, error) {
	return http.StatusOK, listResponse(resourceTypes(rq.base), len(resourceTypes(rq.base)), 1), nil
}

func (s *Server) getResourceType(_ context.Context, rq *request) (int, any, error) {
	return byID(resourceTypes(rq.base), rq.PathValue("id"), "resource type")
}

func (s *Server) getSchemas(_ context.Context, rq *request) (int, any, error) {
	l := schemas(rq.base)
	return http.StatusOK, listResponse(l, len(l), 1), nil
}

func (s *Server) getSchema(_ context.Context, rq *request) (int, any, error) {
	return byID(schemas(rq.base), rq.PathValue("id"), "schema")
}

func byID(l []any, id, what string) (int, any, error) {
	for _, e := range l {
		if o, ok := e.(object); ok && strings.EqualFold(str(o, "id"), id) {
			return http.StatusOK, o, nil
		}
	}
	return 0, nil, notFound(what, id)
}

func listResponse(resources []any, total, startIndex int) object {
	if resources == nil {
		resources = []any{}
	}
	return object{"schemas": []any{SchemaList}, "totalResults": total, "startIndex": startIndex,
		"itemsPerPage": len(resources), "Resources": resources}
}
