package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	filter "github.com/scim2/filter-parser/v2"
)

// maxOperations bounds one PATCH request.
const maxOperations = 1000

// patchRequest is RFC 7644 section 3.5.2. JSON field names match without
// case, so "Operations" and "operations" both decode.
type patchRequest struct {
	Schemas    []string  `json:"schemas"`
	Operations []patchOp `json:"Operations"`
}

type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	Value json.RawMessage `json:"value"`
}

// decodePatch checks the envelope of a PATCH request.
func decodePatch(body []byte) (patchRequest, error) {
	var req patchRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return req, errorf(http.StatusBadRequest, typeInvalidSyntax, "the body is not a PatchOp: %v", err)
	}
	ok := false
	for _, s := range req.Schemas {
		ok = ok || strings.EqualFold(s, SchemaPatchOp)
	}
	if !ok {
		return req, badValue(`"schemas" must contain %q`, SchemaPatchOp)
	}
	if len(req.Operations) == 0 || len(req.Operations) > maxOperations {
		return req, errorf(http.StatusBadRequest, typeInvalidSyntax, "a PATCH needs 1 to %d operations, got %d", maxOperations, len(req.Operations))
	}
	return req, nil
}

// applyPatch applies every operation to res in order; the caller passes a
// copy and keeps the original when an error comes back. Operation names
// compare without case (Entra sends "Replace" and "Add").
func applyPatch(res object, ops []patchOp) error {
	for i, op := range ops {
		if err := applyOp(res, op); err != nil {
			var se *Error
			if errors.As(err, &se) {
				se.Detail = "operation " + strconv.Itoa(i+1) + ": " + se.Detail
			}
			return err
		}
	}
	normalize(res)
	return nil
}

func applyOp(res object, op patchOp) error {
	kind := strings.ToLower(strings.TrimSpace(op.Op))
	if kind != "add" && kind != "replace" && kind != "remove" {
		return errorf(http.StatusBadRequest, typeInvalidSyntax, "op %q: must be add, replace or remove", op.Op)
	}
	var value any
	if raw := bytes.TrimSpace(op.Value); len(raw) > 0 {
		if err := json.Unmarshal(raw, &value); err != nil {
			return errorf(http.StatusBadRequest, typeInvalidSyntax, "value: %v", err)
		}
	}
	if strings.TrimSpace(op.Path) == "" {
		if kind == "remove" {
			return errorf(http.StatusBadRequest, typeNoTarget, "remove needs a path")
		}
		m, ok := value.(map[string]any)
		if !ok {
			return badValue("%s without a path needs an object value", kind)
		}
		// Each key is itself a path: Entra sends "name.givenName",
		// `emails[type eq "work"].value` and extension URNs as keys.
		for k, v := range m {
			if err := applyKey(res, kind, k, v); err != nil {
				return err
			}
		}
		return nil
	}
	if kind != "remove" && value == nil {
		return badValue("%s of %q needs a value", kind, op.Path)
	}
	return applyPath(res, kind, op.Path, value)
}

// applyKey applies one key of a path-less add or replace.
func applyKey(res object, kind, key string, v any) error {
	lk := strings.ToLower(key)
	switch lk {
	case "schemas":
		return nil
	case "id":
		// Okta repeats the id in a path-less replace of a group; the
		// same id is no change.
		if s, _ := v.(string); s == str(res, "id") {
			return nil
		}
		return errorf(http.StatusBadRequest, typeMutability, `"id" is read-only`)
	}
	if m, ok := v.(map[string]any); ok && strings.HasPrefix(lk, extensionPrefix) && isSchemaURN(res, key) {
		for sk, sv := range m {
			if err := applyPath(res, kind, key+":"+sk, sv); err != nil {
				return err
			}
		}
		return nil
	}
	return applyPath(res, kind, key, v)
}

// listed reports whether uri is in the resource's "schemas".
func listed(res object, uri string) bool {
	for _, s := range list(res, "schemas") {
		if u, _ := s.(string); strings.EqualFold(u, uri) {
			return true
		}
	}
	return false
}

// isSchemaURN tells an extension's whole URN from a URN-prefixed
// attribute path.
func isSchemaURN(res object, key string) bool {
	return strings.EqualFold(key, SchemaEnterprise) || listed(res, key)
}

// applyPath applies add, replace or remove at one RFC 7644 path.
func applyPath(res object, kind, path string, v any) error {
	p, err := filter.ParsePath([]byte(path))
	if err != nil {
		return badPath("path %q: %v", path, err)
	}
	name := p.AttributePath.AttributeName
	switch strings.ToLower(name) {
	case "id", "meta", "groups":
		if p.AttributePath.URI() == "" || isCoreSchema(p.AttributePath.URI()) {
			return errorf(http.StatusBadRequest, typeMutability, "%q is read-only", name)
		}
	case "schemas":
		return nil
	}
	container := res
	if uri := p.AttributePath.URI(); uri != "" && !isCoreSchema(uri) {
		container = sub(res, uri)
		if container == nil {
			if kind == "remove" {
				return nil
			}
			container = object{}
			set(res, uri, container)
		}
	}
	if p.ValueExpression != nil {
		return applyFiltered(container, kind, name, p.ValueExpression, p.SubAttribute, v)
	}
	if p.AttributePath.SubAttribute != nil {
		return applySub(container, kind, name, *p.AttributePath.SubAttribute, v)
	}
	cur, _, exists := find(container, name)
	switch kind {
	case "remove":
		if l, ok := cur.([]any); ok && v != nil {
			set(container, name, without(l, asList(v)))
			return nil
		}
		remove(container, name)
	case "add":
		if l, ok := cur.([]any); ok {
			set(container, name, union(l, asList(v)))
			return nil
		}
		if !exists && multiAttrs[strings.ToLower(name)] {
			set(container, name, union(nil, asList(v)))
			return nil
		}
		fallthrough
	case "replace":
		if cm, ok := cur.(map[string]any); ok {
			if vm, ok := v.(map[string]any); ok {
				for k, e := range vm {
					set(cm, k, e)
				}
				return nil
			}
		}
		set(container, name, v)
	}
	return nil
}

// applySub handles attr.subAttr (name.givenName, manager.value).
func applySub(container object, kind, name, subName string, v any) error {
	cur, _, _ := find(container, name)
	if _, multi := cur.([]any); multi {
		return badPath("%s.%s: %s is multi-valued; select elements with %s[...]", name, subName, name, name)
	}
	m, _ := cur.(map[string]any)
	if m == nil {
		if kind == "remove" {
			return nil
		}
		m = object{}
		set(container, name, m)
	}
	if kind == "remove" {
		remove(m, subName)
		return nil
	}
	set(m, subName, v)
	return nil
}

// applyFiltered handles attr[filter] and attr[filter].sub: Entra's
// emails[type eq "work"].value and members[value eq "..."].
func applyFiltered(container object, kind, name string, expr filter.Expression, subName *string, v any) error {
	elems := list(container, name)
	var hit []int
	for i, el := range elems {
		if m, ok := el.(map[string]any); ok && matches(expr, m) {
			hit = append(hit, i)
		}
	}
	switch {
	case kind == "remove" && subName == nil:
		out := elems[:0:0]
		for i, el := range elems {
			if !containsInt(hit, i) {
				out = append(out, el)
			}
		}
		set(container, name, out)
	case kind == "remove":
		for _, i := range hit {
			remove(elems[i].(map[string]any), *subName)
		}
	case subName != nil:
		if len(hit) == 0 {
			// Nothing selected: create the element the filter describes,
			// as Entra expects for an e-mail of a type not yet present.
			el := seed(expr)
			if el == nil {
				return errorf(http.StatusBadRequest, typeNoTarget, "%s[%v] selects nothing", name, expr)
			}
			el[*subName] = v
			set(container, name, append(elems, el))
			return nil
		}
		for _, i := range hit {
			set(elems[i].(map[string]any), *subName, v)
		}
	default:
		vm, ok := v.(map[string]any)
		if !ok {
			return badValue("%s of %s[...] needs an object value", kind, name)
		}
		if len(hit) == 0 {
			set(container, name, append(elems, vm))
			return nil
		}
		for _, i := range hit {
			if kind == "replace" {
				elems[i] = clone(vm)
				continue
			}
			for k, e := range vm {
				set(elems[i].(map[string]any), k, e)
			}
		}
	}
	return nil
}

// seed builds the element an equality filter (or an and of them)
// describes: type eq "work" gives {"type": "work"}.
func seed(e filter.Expression) object {
	switch x := e.(type) {
	case *filter.AttributeExpression:
		if x.Operator != filter.EQ || x.AttributePath.SubAttribute != nil {
			return nil
		}
		return object{x.AttributePath.AttributeName: x.CompareValue}
	case *filter.LogicalExpression:
		if x.Operator != filter.AND {
			return nil
		}
		l, r := seed(x.Left), seed(x.Right)
		if l == nil || r == nil {
			return nil
		}
		for k, v := range r {
			l[k] = v
		}
		return l
	}
	return nil
}

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}

// sameElement compares two elements of a multi-valued attribute: by
// "value" when both have one (members, emails), otherwise as a whole.
func sameElement(a, b any) bool {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok && bok {
		av, _, ah := find(am, "value")
		bv, _, bh := find(bm, "value")
		if ah && bh {
			return reflect.DeepEqual(av, bv)
		}
	}
	return reflect.DeepEqual(a, b)
}

func union(l, add []any) []any {
	out := append([]any(nil), l...)
	for _, e := range add {
		dup := false
		for _, o := range out {
			if sameElement(o, e) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, e)
		}
	}
	return out
}

func without(l, drop []any) []any {
	out := make([]any, 0, len(l))
	for _, e := range l {
		keep := true
		for _, d := range drop {
			if sameElement(e, d) {
				keep = false
				break
			}
		}
		if keep {
			out = append(out, e)
		}
	}
	return out
}

func containsInt(l []int, v int) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// normalize turns the dialects' spellings into one: "active" as a boolean
// (Entra's "False"), extension schemas listed in "schemas".
func normalize(res object) {
	if v, k, ok := find(res, "active"); ok {
		if b, ok := boolValue(v); ok {
			delete(res, k)
			res["active"] = b
		}
	}
	for k, v := range res {
		if _, isObj := v.(map[string]any); isObj && strings.HasPrefix(strings.ToLower(k), extensionPrefix) && !listed(res, k) {
			res["schemas"] = append(list(res, "schemas"), k)
		}
	}
}
