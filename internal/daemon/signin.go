package daemon

import (
	"net/http"
)

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

// sessionOnly serves GET /api/v1/me on the public listener when the admin
// API lives on the internal one: a browser's session answers, a bearer
// token gets 404 (its API is not here).
func sessionOnly(signin http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			http.NotFound(w, r)
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
