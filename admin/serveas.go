package admin

import (
	"context"
	"net/http"
)

// asUserKey carries the id of the user ServeAs acts for. The type is
// unexported, so no request from outside can carry one.
type asUserKey struct{}

// ServeAs serves an /api/v1 request for the user with id userID, who has
// signed in by other means (the console's browser session). The request
// goes through the same routes, authorization, scope checks and audit as
// a bearer-token call: the user is read afresh, must be usable and must
// hold the route's privileges; audit events name it, without an API key.
//
// The caller is responsible for having authenticated userID and for
// protecting state-changing requests against cross-site forgery.
func (s *Server) ServeAs(w http.ResponseWriter, r *http.Request, userID string) {
	r = r.WithContext(context.WithValue(r.Context(), asUserKey{}, userID))
	r.Header.Del("Authorization")
	s.mux.ServeHTTP(w, r)
}
