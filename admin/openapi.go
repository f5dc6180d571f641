package admin

import (
	"encoding/json"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"
)

// OpenAPI builds the OpenAPI 3 document from the route table, so every
// registered route is documented and nothing else is.
func (s *Server) OpenAPI() map[string]any {
	g := &schemaGen{schemas: map[string]any{}}
	errRef := g.schema(reflect.TypeOf(ErrorBody{}))
	paths := map[string]any{}
	for _, rt := range s.routes {
		op := map[string]any{
			"operationId": rt.Name,
			"summary":     rt.Summary,
		}
		var params []any
		for _, seg := range strings.Split(rt.Path, "/") {
			if strings.HasPrefix(seg, "{") {
				params = append(params, map[string]any{
					"name": strings.Trim(seg, "{}"), "in": "path", "required": true,
					"schema": map[string]any{"type": "string"},
				})
			}
		}
		for _, q := range rt.Query {
			params = append(params, map[string]any{
				"name": q.Name, "in": "query", "description": q.Doc,
				"schema": map[string]any{"type": q.Type},
			})
		}
		if len(params) > 0 {
			op["parameters"] = params
		}
		if rt.Req != nil {
			op["requestBody"] = map[string]any{
				"required": true,
				"content":  map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.Req))}},
			}
		}
		ok := map[string]any{"description": http.StatusText(rt.Status)}
		if rt.Resp != nil {
			ok["content"] = map[string]any{"application/json": map[string]any{"schema": g.schema(reflect.TypeOf(rt.Resp))}}
		}
		errResp := func(desc string) any {
			return map[string]any{"description": desc, "content": map[string]any{"application/json": map[string]any{"schema": errRef}}}
		}
		responses := map[string]any{itoa(rt.Status): ok}
		if rt.Req != nil || len(rt.Query) > 0 {
			responses["400"] = errResp("Bad input; error.field names it")
		}
		if !rt.Public {
			op["security"] = []any{map[string]any{"bearer": []any{}}}
			if rt.Name == "getMe" {
				// The sign-in service answers the same route for a browser
				// session (the daemon sends each to its owner).
				op["security"] = []any{map[string]any{"bearer": []any{}}, map[string]any{"session": []any{}}}
			}
			responses["401"] = errResp("Missing, invalid, expired or revoked token")
			responses["403"] = errResp("The caller lacks a privilege")
			if len(rt.Privs) > 0 {
				op["x-privileges"] = rt.Privs
			}
		} else {
			// Public: no credentials at all.
			op["security"] = []any{}
			if rt.Method == http.MethodPost {
				responses["401"] = errResp("Unknown or revoked API key")
			}
		}
		if strings.Contains(rt.Path, "{") {
			responses["404"] = errResp("Not found")
		}
		if rt.mutating() {
			responses["409"] = errResp("Conflict (taken, in use, changed meanwhile)")
			op["x-audit-action"] = rt.Action
		}
		for status, desc := range rt.Errs {
			responses[itoa(status)] = errResp(desc)
		}
		item, _ := paths[rt.Path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[rt.Path] = item
		}
		if !slices.ContainsFunc(slices.Collect(maps.Keys(responses)), func(code string) bool { return code[0] == '4' }) {
			responses["4XX"] = errResp("The request was refused")
		}
		op["responses"] = responses
		item[strings.ToLower(rt.Method)] = op
	}
	return map[string]any{
		"openapi": "3.0.3",
		"info": map[string]any{
			"title":       "dirbridge admin API",
			"version":     "v1",
			"description": "Exchange an API key for a bearer token at POST /api/v1/tokens; tokens expire after 2 hours. Errors are {\"error\":{\"code\",\"message\",\"field\"}}.",
		},
		"servers": []any{map[string]any{"url": "/", "description": "the daemon serving this document"}},
		"paths":   paths,
		"components": map[string]any{
			"schemas": g.schemas,
			"securitySchemes": map[string]any{
				"bearer": map[string]any{"type": "http", "scheme": "bearer",
					"description": "A token from POST /api/v1/tokens (an API key exchanged), valid 2 hours."},
				"session": map[string]any{"type": "apiKey", "in": "cookie", "name": "__Host-dirbridge_session",
					"description": "The browser's sign-in session (dirbridge_session without HTTPS); GET /api/v1/me only."},
			},
		},
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request, c *caller) error {
	writeJSON(w, http.StatusOK, s.OpenAPI())
	return nil
}

// schemaGen derives JSON schemas from the wire types' json tags.
type schemaGen struct {
	schemas map[string]any
}

var (
	timeType = reflect.TypeOf(time.Time{})
	rawType  = reflect.TypeOf(json.RawMessage{})
)

func (g *schemaGen) schema(t reflect.Type) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	case rawType:
		return map[string]any{"description": "free-form JSON"}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice, reflect.Array:
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Struct:
		name := t.Name()
		ref := map[string]any{"$ref": "#/components/schemas/" + name}
		if _, done := g.schemas[name]; done {
			return ref
		}
		g.schemas[name] = nil // placeholder against recursion
		props := map[string]any{}
		var required []string
		g.fields(t, props, &required)
		obj := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
		if len(required) > 0 {
			obj["required"] = required
		}
		g.schemas[name] = obj
		return ref
	}
	return map[string]any{}
}

func (g *schemaGen) fields(t reflect.Type, props map[string]any, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			g.fields(f.Type, props, required)
			continue
		}
		if name == "" {
			name = f.Name
		}
		props[name] = g.schema(f.Type)
		if !strings.Contains(opts, "omitempty") && f.Type.Kind() != reflect.Pointer {
			*required = append(*required, name)
		}
	}
}
