package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/sso"
)

// apiError is a refusal from the admin API, with its status and the
// field it names.
type apiError struct {
	Status int
	Body   admin.Error
}

func (e *apiError) Error() string {
	return fmt.Sprintf("api %d %s: %s", e.Status, e.Body.Code, e.Body.Message)
}

// forbidden reports whether err is the API refusing the caller (no
// privilege, or out of scope).
func forbidden(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && (ae.Status == http.StatusForbidden || ae.Status == http.StatusUnauthorized)
}

// fieldErrors turns an API refusal that names a field into a message for
// that field; other refusals go under "" (the form as a whole).
func fieldErrors(err error) map[string]string {
	var ae *apiError
	if !errors.As(err, &ae) {
		return nil
	}
	return map[string]string{ae.Body.Field: ae.Body.Message}
}

// bufferedResponse is the http.ResponseWriter the API writes into.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// call runs one /api/v1 request as the session's user and decodes the
// answer into out (when not nil). The request keeps the browser's peer
// address and forwarding headers, so the audit log records the same
// source IP as for the sign-in. A refusal is an *apiError.
func (c *Console) call(r *http.Request, s *sso.BrowserSession, method, path string, query url.Values, in, out any) error {
	var body io.Reader = http.NoBody
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encode: %w", method, path, err)
		}
		body = bytes.NewReader(b)
	}
	target := path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	// A path on this server, never dialled: ServeAs serves it in-process.
	req, err := http.NewRequestWithContext(r.Context(), method, target, body) //nolint:gosec // G704: served in-process by ServeAs, not sent
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.RemoteAddr = r.RemoteAddr
	req.Host = r.Host
	if v := r.Header.Get("X-Forwarded-For"); v != "" {
		req.Header.Set("X-Forwarded-For", v)
	}
	req.Header.Set("User-Agent", r.UserAgent())
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res := &bufferedResponse{header: http.Header{}}
	c.api.ServeAs(res, req, s.User.ID)
	if res.status == 0 {
		res.status = http.StatusOK
	}
	if res.status >= 400 {
		var eb admin.ErrorBody
		if err := json.Unmarshal(res.body.Bytes(), &eb); err != nil || eb.Error.Code == "" {
			eb.Error = admin.Error{Code: "internal", Message: http.StatusText(res.status)}
		}
		return &apiError{Status: res.status, Body: eb.Error}
	}
	if out != nil && res.body.Len() > 0 {
		if err := json.Unmarshal(res.body.Bytes(), out); err != nil {
			return fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

// get is call for a GET.
func (c *Console) get(r *http.Request, s *sso.BrowserSession, path string, query url.Values, out any) error {
	return c.call(r, s, http.MethodGet, path, query, nil, out)
}

// asAPIError is errors.As for *apiError.
func asAPIError(err error, target **apiError) bool { return errors.As(err, target) }
