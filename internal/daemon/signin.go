package daemon

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/internal/wire"
	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/sso"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/ldap"
)

// buildSignIn makes the sign-in service: password sign-in through the
// directories' sources, the configured SAML and OIDC methods, the
// forgotten-password mailer and certificate sign-in (internal/wire).
func buildSignIn(cfg *config.Config, st store.Store, log *zap.Logger, hasher sso.PasswordHasher,
	sources map[string]*ldap.Source, cat *privilege.Catalogue, reg prometheus.Registerer) (*sso.Service, error) {
	checkers := map[string]sso.PasswordChecker{}
	changers := map[string]sso.PasswordChanger{}
	for name, src := range sources {
		checkers[name], changers[name] = src, src
	}
	return wire.SSO(cfg, wire.SSODeps{Store: st, Logger: log, Hasher: hasher, Directories: checkers, Changers: changers,
		Extend: func(o *sso.Options) { o.Catalogue, o.Registerer = cat, reg }})
}

// meHandler shares GET /api/v1/me between the admin API (a bearer token)
// and the sign-in service (a session cookie): a caller with an
// Authorization header asks as an API client, a browser as itself.
func meHandler(api, signin http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			api.ServeHTTP(w, r)
			return
		}
		signin.ServeHTTP(w, r)
	})
}

// verifyFast sends forward-auth sub-requests (GET /auth/verify, one per
// request the proxy serves) straight to the sign-in service, past the
// generic request counter and the mux: that hot path has its own metric
// (dirbridge_sso_verify_requests_total) and must stay cheap.
func verifyFast(signin, rest http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/auth/verify" && r.Method == http.MethodGet {
			signin.ServeHTTP(w, r)
			return
		}
		rest.ServeHTTP(w, r)
	})
}
