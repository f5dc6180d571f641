package scim

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
)

// SchemaError is the URN of a SCIM error response.
const SchemaError = "urn:ietf:params:scim:api:messages:2.0:Error"

// scimType values of RFC 7644 section 3.12.
const (
	typeInvalidFilter = "invalidFilter"
	typeTooMany       = "tooMany"
	typeUniqueness    = "uniqueness"
	typeMutability    = "mutability"
	typeInvalidSyntax = "invalidSyntax"
	typeInvalidPath   = "invalidPath"
	typeNoTarget      = "noTarget"
	typeInvalidValue  = "invalidValue"
)

// Error is a refusal in the SCIM error format. Status is the HTTP status;
// Type the scimType (empty where RFC 7644 names none).
type Error struct {
	Status int
	Type   string
	Detail string
}

func (e *Error) Error() string {
	if e.Type != "" {
		return fmt.Sprintf("scim %d %s: %s", e.Status, e.Type, e.Detail)
	}
	return fmt.Sprintf("scim %d: %s", e.Status, e.Detail)
}

func errorf(status int, scimType, format string, args ...any) *Error {
	return &Error{Status: status, Type: scimType, Detail: fmt.Sprintf(format, args...)}
}

func badValue(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, typeInvalidValue, format, args...)
}

func badPath(format string, args ...any) *Error {
	return errorf(http.StatusBadRequest, typeInvalidPath, format, args...)
}

func notFound(kind, id string) *Error {
	return errorf(http.StatusNotFound, "", "%s %q not found", kind, id)
}

// errorBody is the JSON of an Error.
type errorBody struct {
	Schemas  []string `json:"schemas"`
	Status   string   `json:"status"`
	ScimType string   `json:"scimType,omitempty"`
	Detail   string   `json:"detail,omitempty"`
}

// writeError answers err as a SCIM error: an *Error as itself, anything
// else as a 500 whose detail hides the cause (it is logged by the caller).
func writeError(w http.ResponseWriter, err error) {
	var se *Error
	if !errors.As(err, &se) {
		se = &Error{Status: http.StatusInternalServerError, Detail: "internal error; see the server log"}
	}
	writeJSON(w, se.Status, errorBody{Schemas: []string{SchemaError}, Status: strconv.Itoa(se.Status),
		ScimType: se.Type, Detail: se.Detail})
}

// writeJSON writes v as application/scim+json.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"schemas":["`+SchemaError+`"],"status":"500"}`)
	}
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
