package scim

import (
	"net/http"
	"strings"
	"unicode/utf8"

	filter "github.com/scim2/filter-parser/v2"
)

// maxFilterLen bounds a filter's text; IdPs send short equality probes.
const maxFilterLen = 2048

// parseFilter parses a filter query parameter (RFC 7644 section 3.4.2.2);
// "" is no filter (nil).
func parseFilter(s string) (filter.Expression, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	if len(s) > maxFilterLen {
		return nil, errorf(http.StatusBadRequest, typeInvalidFilter, "filter is %d bytes; at most %d", len(s), maxFilterLen)
	}
	if e := parseProbe(s); e != nil {
		return e, nil
	}
	e, err := filter.ParseFilter([]byte(s))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, typeInvalidFilter, "filter %q: %v", s, err)
	}
	return e, nil
}

// parseProbe parses the one filter shape the IdPs send before every
// create, `attribute eq "value"` with a plain attribute name and a value
// without escapes, into what filter.ParseFilter makes of it; anything
// else is nil, for the full parser. The library's parser allocates a node
// per character and was a fifth of a provisioning run's time.
func parseProbe(s string) filter.Expression {
	name, rest, ok := strings.Cut(s, " ")
	if !ok || !isAttrName(name) || len(rest) < 5 || !strings.EqualFold(rest[:3], "eq ") {
		return nil
	}
	value := rest[3:]
	if len(value) < 2 || value[0] != '"' || value[len(value)-1] != '"' {
		return nil
	}
	value = value[1 : len(value)-1]
	for _, r := range value {
		// RFC 7159's unescaped characters, as the library's grammar
		// reads them: no quote, no backslash, no control character.
		if r < 0x20 || r == '"' || r == '\\' || r == utf8.RuneError {
			return nil
		}
	}
	return &filter.AttributeExpression{AttributePath: filter.AttributePath{AttributeName: name},
		Operator: filter.EQ, CompareValue: value}
}

// isAttrName reports whether s is an ATTRNAME of RFC 7644 (ALPHA
// *(nameChar)) without the "$" of $ref.
func isAttrName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alpha := ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
		if !alpha && (i == 0 || (c != '-' && c != '_' && (c < '0' || c > '9'))) {
			return false
		}
	}
	return true
}

// matches evaluates e against res, a resource (or, inside a value path, one
// element of a multi-valued attribute). Attribute names compare without
// case; string values too, except those RFC 7643 makes case-exact (id,
// externalId, references).
func matches(e filter.Expression, res object) bool {
	switch x := e.(type) {
	case nil:
		return true
	case *filter.LogicalExpression:
		if x.Operator == filter.AND {
			return matches(x.Left, res) && matches(x.Right, res)
		}
		return matches(x.Left, res) || matches(x.Right, res)
	case *filter.NotExpression:
		return !matches(x.Expression, res)
	case *filter.ValuePath:
		for _, el := range resolve(res, x.AttributePath) {
			if m, ok := el.(map[string]any); ok && matches(x.ValueFilter, m) {
				return true
			}
		}
		return false
	case *filter.AttributeExpression:
		return compareAttr(x, res)
	}
	return false
}

// resolve returns every value an attribute path names in res, flattening
// multi-valued attributes: emails.value gives each e-mail's value.
func resolve(res object, p filter.AttributePath) []any {
	root := res
	if uri := p.URI(); uri != "" && !isCoreSchema(uri) {
		if root = sub(res, uri); root == nil {
			return nil
		}
	}
	v, _, ok := find(root, p.AttributeName)
	if !ok || v == nil {
		return nil
	}
	vals, multi := v.([]any)
	if !multi {
		vals = []any{v}
	}
	if p.SubAttribute == nil {
		return vals
	}
	var out []any
	for _, el := range vals {
		if m, ok := el.(map[string]any); ok {
			if sv, _, ok := find(m, *p.SubAttribute); ok && sv != nil {
				out = append(out, sv)
			}
		}
	}
	return out
}

// caseExact reports whether the attribute's string values compare with
// case (RFC 7643: id, externalId and the value/$ref of references).
func caseExact(p filter.AttributePath) bool {
	name := strings.ToLower(p.AttributeName)
	if p.SubAttribute != nil {
		s := strings.ToLower(*p.SubAttribute)
		return s == "$ref" || (s == "value" && (name == "members" || name == "groups" || name == "manager"))
	}
	return name == "id" || name == "externalid"
}

func compareAttr(x *filter.AttributeExpression, res object) bool {
	vals := resolve(res, x.AttributePath)
	if x.Operator == filter.PR {
		for _, v := range vals {
			if present(v) {
				return true
			}
		}
		return false
	}
	if x.Operator == filter.NE {
		return !anyMatch(vals, filter.EQ, x.CompareValue, caseExact(x.AttributePath))
	}
	return anyMatch(vals, x.Operator, x.CompareValue, caseExact(x.AttributePath))
}

func anyMatch(vals []any, op filter.CompareOperator, want any, exact bool) bool {
	for _, v := range vals {
		if compare(v, op, want, exact) {
			return true
		}
	}
	return false
}

func present(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case string:
		return t != ""
	case []any:
		return len(t) > 0
	case map[string]any:
		return len(t) > 0
	}
	return true
}

// compare applies one comparison operator to a stored value.
func compare(got any, op filter.CompareOperator, want any, exact bool) bool {
	switch w := want.(type) {
	case string:
		g, ok := got.(string)
		if !ok {
			return false
		}
		if !exact {
			g, w = strings.ToLower(g), strings.ToLower(w)
		}
		switch op {
		case filter.EQ:
			return g == w
		case filter.CO:
			return strings.Contains(g, w)
		case filter.SW:
			return strings.HasPrefix(g, w)
		case filter.EW:
			return strings.HasSuffix(g, w)
		case filter.GT:
			return g > w
		case filter.GE:
			return g >= w
		case filter.LT:
			return g < w
		case filter.LE:
			return g <= w
		}
	case bool:
		g, ok := boolValue(got)
		return ok && op == filter.EQ && g == w
	case nil:
		return op == filter.EQ && got == nil
	default:
		wf, ok := number(w)
		gf, ok2 := number(got)
		if !ok || !ok2 {
			return false
		}
		switch op {
		case filter.EQ:
			return gf == wf
		case filter.GT:
			return gf > wf
		case filter.GE:
			return gf >= wf
		case filter.LT:
			return gf < wf
		case filter.LE:
			return gf <= wf
		}
	}
	return false
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

// boolValue reads a boolean as JSON or as the strings "True"/"False"
// (Entra ID sends "active": "False").
func boolValue(v any) (bool, bool) {
	switch b := v.(type) {
	case bool:
		return b, true
	case string:
		switch strings.ToLower(strings.TrimSpace(b)) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}
