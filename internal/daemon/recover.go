package daemon

import (
	"errors"
	"net/http"

	"go.uber.org/zap"
)

// recoverPanics answers a request whose handler panicked with a plain 500
// and logs the panic with its stack. net/http alone would log it and drop
// the connection, which a browser shows as a network error and a reverse
// proxy as a 502 with no trace in our logs' structure.
func recoverPanics(log *zap.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(p) // a deliberate abort: let net/http drop the connection quietly
			}
			log.Error("request handler panicked", zap.Any("panic", p), zap.String("method", r.Method),
				zap.String("path", r.URL.Path), zap.Stack("stack"))
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("Internal error. The problem has been logged.\n"))
		}()
		next.ServeHTTP(w, r)
	})
}
