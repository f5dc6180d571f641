package scim

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

const patchBase = `{
  "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
  "id": "u1",
  "userName": "alice@example.com",
  "active": true,
  "name": {"givenName": "Alice", "familyName": "Liddell"},
  "emails": [{"value": "alice@example.com", "type": "work", "primary": true}]
}`

func mustObject(t *testing.T, s string) object {
	t.Helper()
	var o object
	if err := json.Unmarshal([]byte(s), &o); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return o
}

// TestPatch pins PATCH handling (RFC 7644 section 3.5.2) with the dialects
// the IdPs send: each case lists operations and the values expected after
// them, by path into the result.
func TestPatch(t *testing.T) {
	for _, tc := range []struct {
		name string
		ops  string
		want map[string]any // dotted path -> value; nil value: absent
	}{
		{"replace active lower case", `[{"op":"replace","path":"active","value":false}]`,
			map[string]any{"active": false}},
		{"Entra capitalised Replace with the string False", `[{"op":"Replace","path":"active","value":"False"}]`,
			map[string]any{"active": false}},
		{"Okta path-less replace of active", `[{"op":"replace","value":{"active":true}}]`,
			map[string]any{"active": true}},
		{"Entra path-less replace of several attributes, keys as paths", `[{"op":"Replace","value":{
			"displayName":"Alice L.","name.givenName":"Alicia","emails[type eq \"work\"].value":"alicia@example.com",
			"externalId":"E1","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"42","active":"False"}}]`,
			map[string]any{"displayName": "Alice L.", "name.givenName": "Alicia", "name.familyName": "Liddell",
				"emails.0.value": "alicia@example.com", "externalId": "E1", "active": false,
				SchemaEnterprise + ".employeeNumber": "42"}},
		{"Entra Add of the manager by URN path", `[{"op":"Add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"m-1"}]`,
			map[string]any{SchemaEnterprise + ".manager": "m-1"}},
		{"manager.value under the extension", `[{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value","value":"m-2"}]`,
			map[string]any{SchemaEnterprise + ".manager.value": "m-2"}},
		{"path-less replace of the whole extension object", `[{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Tea"}}}]`,
			map[string]any{SchemaEnterprise + ".department": "Tea"}},
		{"replace a sub-attribute", `[{"op":"replace","path":"name.familyName","value":"Pleasance"}]`,
			map[string]any{"name.familyName": "Pleasance", "name.givenName": "Alice"}},
		{"replace an e-mail selected by filter", `[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"a2@example.com"}]`,
			map[string]any{"emails.0.value": "a2@example.com", "emails.0.type": "work"}},
		{"add an e-mail of a type not present creates it", `[{"op":"Add","path":"emails[type eq \"home\"].value","value":"home@example.com"}]`,
			map[string]any{"emails.1.value": "home@example.com", "emails.1.type": "home"}},
		{"add to a multi-valued attribute appends without duplicates", `[{"op":"add","path":"emails","value":[{"value":"alice@example.com","type":"work"},{"value":"x@example.com"}]}]`,
			map[string]any{"emails.1.value": "x@example.com", "emails.2": nil}},
		{"remove an attribute", `[{"op":"remove","path":"name.givenName"}]`,
			map[string]any{"name.givenName": nil, "name.familyName": "Liddell"}},
		{"remove by value filter", `[{"op":"remove","path":"emails[type eq \"work\"]"}]`,
			map[string]any{"emails.0": nil}},
		{"attribute names without case", `[{"op":"replace","path":"USERNAME","value":"a@example.com"}]`,
			map[string]any{"userName": "a@example.com"}},
		{"operations apply in order", `[{"op":"replace","path":"active","value":false},{"op":"replace","path":"active","value":true}]`,
			map[string]any{"active": true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := mustObject(t, patchBase)
			var ops []patchOp
			if err := json.Unmarshal([]byte(tc.ops), &ops); err != nil {
				t.Fatal(err)
			}
			if err := applyPatch(doc, ops); err != nil {
				t.Fatalf("applyPatch: %v", err)
			}
			for path, want := range tc.want {
				got, ok := lookup(doc, path)
				if want == nil {
					if ok {
						t.Errorf("%s = %#v, want absent", path, got)
					}
					continue
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %#v, want %#v\n%v", path, got, want, doc)
				}
			}
		})
	}
}

// TestPatchGroupMembers pins member changes as Entra and Okta send them.
func TestPatchGroupMembers(t *testing.T) {
	base := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"id":"g1","displayName":"Sales",
		"members":[{"value":"a"},{"value":"b"},{"value":"c"}]}`
	for _, tc := range []struct {
		name, ops string
		want      []string
	}{
		{"Entra Add with $ref null", `[{"op":"Add","path":"members","value":[{"$ref":null,"value":"d"}]}]`, []string{"a", "b", "c", "d"}},
		{"add an existing member is no change", `[{"op":"add","path":"members","value":[{"value":"a"}]}]`, []string{"a", "b", "c"}},
		{"Entra Remove with a value list", `[{"op":"Remove","path":"members","value":[{"$ref":null,"value":"b"}]}]`, []string{"a", "c"}},
		{"Entra and Okta remove by members[value eq]", `[{"op":"remove","path":"members[value eq \"c\"]"}]`, []string{"a", "b"}},
		{"remove of a non-member is no change", `[{"op":"remove","path":"members[value eq \"zz\"]"}]`, []string{"a", "b", "c"}},
		{"replace all members", `[{"op":"replace","path":"members","value":[{"value":"x"}]}]`, []string{"x"}},
		{"remove all members", `[{"op":"remove","path":"members"}]`, nil},
		{"Okta path-less replace repeating the id", `[{"op":"replace","value":{"id":"g1","displayName":"Sales EMEA"}}]`, []string{"a", "b", "c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := mustObject(t, base)
			var ops []patchOp
			if err := json.Unmarshal([]byte(tc.ops), &ops); err != nil {
				t.Fatal(err)
			}
			if err := applyPatch(doc, ops); err != nil {
				t.Fatalf("applyPatch: %v", err)
			}
			ids, err := prepareGroup(doc)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ids, tc.want) {
				t.Fatalf("members = %v, want %v", ids, tc.want)
			}
		})
	}
}

// TestPatchRefusals: each bad operation is a SCIM error of the type RFC
// 7644 names.
func TestPatchRefusals(t *testing.T) {
	for _, tc := range []struct{ name, ops, scimType string }{
		{"unknown op", `[{"op":"move","path":"active","value":true}]`, typeInvalidSyntax},
		{"remove without a path", `[{"op":"remove"}]`, typeNoTarget},
		{"path-less replace of a scalar", `[{"op":"replace","value":true}]`, typeInvalidValue},
		{"id is read-only", `[{"op":"replace","path":"id","value":"other"}]`, typeMutability},
		{"path-less id change", `[{"op":"replace","value":{"id":"other"}}]`, typeMutability},
		{"meta is read-only", `[{"op":"replace","path":"meta.created","value":"x"}]`, typeMutability},
		{"bad path", `[{"op":"replace","path":"emails[type eq","value":"x"}]`, typeInvalidPath},
		{"sub-attribute of a multi-valued attribute", `[{"op":"replace","path":"emails.value","value":"x"}]`, typeInvalidPath},
		{"replace without a value", `[{"op":"replace","path":"active"}]`, typeInvalidValue},
		{"value of the wrong JSON", `[{"op":"replace","path":"active","value":tru}]`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := mustObject(t, patchBase)
			var ops []patchOp
			if err := json.Unmarshal([]byte(tc.ops), &ops); err != nil {
				if tc.scimType == "" {
					return // not even JSON: the request decoder refuses it
				}
				t.Fatal(err)
			}
			err := applyPatch(doc, ops)
			var se *Error
			ok := errors.As(err, &se)
			if !ok || se.Status != 400 || se.Type != tc.scimType {
				t.Fatalf("error %v, want 400 %s", err, tc.scimType)
			}
		})
	}
	// Wrong types are caught when the patched user is checked.
	doc := mustObject(t, patchBase)
	if err := applyPatch(doc, []patchOp{{Op: "replace", Path: "active", Value: json.RawMessage(`"maybe"`)}}); err != nil {
		t.Fatal(err)
	}
	if err := prepareUser(doc); err == nil || !strings.Contains(err.Error(), "active") {
		t.Fatalf("prepareUser after active=maybe: %v", err)
	}
}

// lookup follows a dotted path (object keys without case, list indices);
// the enterprise URN counts as one key.
func lookup(doc object, path string) (any, bool) {
	var cur any = doc
	rest := path
	for rest != "" {
		var key string
		if strings.HasPrefix(rest, SchemaEnterprise) {
			key, rest = SchemaEnterprise, strings.TrimPrefix(strings.TrimPrefix(rest, SchemaEnterprise), ".")
		} else if i := strings.IndexByte(rest, '.'); i >= 0 {
			key, rest = rest[:i], rest[i+1:]
		} else {
			key, rest = rest, ""
		}
		switch c := cur.(type) {
		case map[string]any:
			v, _, ok := find(c, key)
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i := 0
			for _, ch := range key {
				i = i*10 + int(ch-'0')
			}
			if i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}
