package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// Error codes are part of the API contract: scripts match on them, so they
// never change meaning. Messages are for people and may be reworded.
const (
	CodeBadRequest       = "bad_request"          // malformed input in general
	CodeInvalidJSON      = "invalid_json"         // body is not valid JSON
	CodeUnknownField     = "unknown_field"        // body has a field the endpoint does not take
	CodeInvalidField     = "invalid_field"        // a field has a wrong type or value
	CodeTooLarge         = "body_too_large"       // body exceeds the size limit
	CodeUnauthorized     = "unauthorized"         // no, bad, expired or revoked credentials
	CodeForbidden        = "forbidden"            // authenticated but lacking a privilege
	CodeEscalation       = "privilege_escalation" // granting privileges the caller does not hold
	CodeNotFound         = "not_found"            // no such object
	CodeRouteNotFound    = "route_not_found"      // no such endpoint
	CodeMethodNotAllowed = "method_not_allowed"   // endpoint exists, method does not
	CodeConflict         = "conflict"             // name taken, concurrent update lost
	CodeInUse            = "in_use"               // object still referenced (profile with users)
	CodeConfigManaged    = "config_managed"       // object owned by the config file
	CodeNotImplemented   = "not_implemented"      // feature not available in this build/config
	CodeUnavailable      = "unavailable"          // a dependency is down; retry later
	CodeInternal         = "internal"             // our fault; details are in the server log
)

// Error is the body of every error response:
// {"error":{"code":"...","message":"...","field":"..."}}.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Field names the offending input (a JSON field or query parameter).
	Field string `json:"field,omitempty"`
}

// ErrorBody wraps Error as it appears on the wire.
type ErrorBody struct {
	Error Error `json:"error"`
}

// apiError is an error that knows its HTTP status; handlers return it and
// the wrapper writes it.
type apiError struct {
	Status int
	E      Error
}

func (e *apiError) Error() string {
	if e.E.Field != "" {
		return fmt.Sprintf("%d %s: %s (field %s)", e.Status, e.E.Code, e.E.Message, e.E.Field)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.E.Code, e.E.Message)
}

func errf(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, E: Error{Code: code, Message: fmt.Sprintf(format, args...)}}
}

func fieldErr(field, format string, args ...any) *apiError {
	e := errf(http.StatusBadRequest, CodeInvalidField, format, args...)
	e.E.Field = field
	return e
}

func notFound(kind, name string) *apiError {
	return errf(http.StatusNotFound, CodeNotFound, "%s %q not found", kind, name)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the status is sent; a broken connection is the client's business
}

func writeError(w http.ResponseWriter, e *apiError) {
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="dirbridge"`)
	}
	writeJSON(w, e.Status, ErrorBody{Error: e.E})
}

// decodeJSON reads one JSON value into dst strictly: unknown fields, a
// wrong type, trailing data and oversized bodies are client errors (400 or
// 413) naming the field where possible — never a 500.
func decodeJSON(w http.ResponseWriter, r *http.Request, maxBytes int64, dst any) *apiError {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return errf(http.StatusUnsupportedMediaType, CodeBadRequest, "Content-Type must be application/json, not %q", ct)
	}
	body := http.MaxBytesReader(w, r.Body, maxBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return jsonError(err)
		}
		return errf(http.StatusBadRequest, CodeInvalidJSON, "request body must hold a single JSON value")
	}
	return nil
}

func jsonError(err error) *apiError {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return errf(http.StatusRequestEntityTooLarge, CodeTooLarge, "request body exceeds %d bytes", tooBig.Limit)
	case errors.Is(err, io.EOF):
		return errf(http.StatusBadRequest, CodeInvalidJSON, "request body is empty; a JSON object is required")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errf(http.StatusBadRequest, CodeInvalidJSON, "request body is truncated JSON")
	case errors.As(err, &syn):
		return errf(http.StatusBadRequest, CodeInvalidJSON, "invalid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		e := fieldErr(field, "%s must be %s, not %s", field, jsonKind(typ.Type.Kind().String()), typ.Value)
		return e
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for this; the message format is
		// stable since Go 1.10.
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		e := errf(http.StatusBadRequest, CodeUnknownField, "unknown field %q", name)
		e.E.Field = name
		return e
	default:
		return errf(http.StatusBadRequest, CodeInvalidJSON, "invalid JSON: %v", err)
	}
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "int", "int64", "int32", "uint", "uint32", "uint64", "float64":
		return "a number"
	default:
		return k
	}
}
