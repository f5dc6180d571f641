package scim

import (
	"net/http"
	"strings"
)

// Schema URNs (RFC 7643 / 7644).
const (
	SchemaUser       = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaGroup      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	SchemaEnterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	SchemaList       = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	SchemaPatchOp    = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SchemaSPConfig   = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	SchemaResType    = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	SchemaSchema     = "urn:ietf:params:scim:schemas:core:2.0:Schema"

	// schemaEntraGroup is the schema Entra ID names beside the core one
	// when it creates a group ("Create Group" in Microsoft's SCIM
	// provisioning request examples).
	schemaEntraGroup = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
	// extensionPrefix starts every extension schema URN; Entra puts custom
	// attributes (onPremisesImmutableId among them) under such a schema.
	extensionPrefix = "urn:ietf:params:scim:schemas:extension:"
)

func isCoreSchema(uri string) bool {
	return strings.EqualFold(uri, SchemaUser) || strings.EqualFold(uri, SchemaGroup)
}

// checkSchemas refuses a resource whose "schemas" lacks the core schema
// of its kind or names a schema this server does not know: an unknown
// schema means attributes it would silently drop.
func checkSchemas(res object, core string) error {
	raw, _, ok := find(res, "schemas")
	if !ok {
		return badValue(`"schemas" is required and must contain %q`, core)
	}
	l, ok := raw.([]any)
	if !ok {
		return badValue(`"schemas" must be an array of URNs`)
	}
	hasCore := false
	for _, s := range l {
		u, ok := s.(string)
		if !ok {
			return badValue(`"schemas" must be an array of URNs`)
		}
		switch {
		case strings.EqualFold(u, core):
			hasCore = true
		case core == SchemaUser && strings.HasPrefix(strings.ToLower(u), extensionPrefix):
		case core == SchemaGroup && strings.EqualFold(u, schemaEntraGroup):
		default:
			return badValue("unknown schema %q for a %s", u, resourceName(core))
		}
	}
	if !hasCore {
		return badValue(`"schemas" must contain %q`, core)
	}
	return nil
}

func resourceName(core string) string {
	if core == SchemaGroup {
		return "Group"
	}
	return "User"
}

// Attribute types the server checks before it stores a resource, by
// lower-cased top-level name. Anything else is kept as sent.
var (
	stringAttrs = map[string]bool{"username": true, "displayname": true, "externalid": true, "nickname": true,
		"title": true, "usertype": true, "preferredlanguage": true, "locale": true, "timezone": true, "profileurl": true}
	complexAttrs = map[string]bool{"name": true, "meta": true}
	multiAttrs   = map[string]bool{"emails": true, "phonenumbers": true, "addresses": true, "members": true,
		"groups": true, "roles": true, "entitlements": true, "ims": true, "photos": true, "x509certificates": true}
)

// maxDepth bounds the nesting of a stored resource: SCIM's deepest is an
// extension's complex attribute inside a resource (3); some slack for
// custom extensions.
const maxDepth = 6

// checkTypes refuses wrong types of the attributes the server reads, so a
// stored resource always maps cleanly.
func checkTypes(res object) error {
	if depth(res) > maxDepth {
		return badValue("the resource nests deeper than %d levels", maxDepth)
	}
	seen := map[string]string{}
	for k := range res {
		if other, dup := seen[strings.ToLower(k)]; dup {
			return errorf(http.StatusBadRequest, typeInvalidSyntax, "attributes %q and %q are the same attribute (names compare without case)", other, k)
		}
		seen[strings.ToLower(k)] = k
	}
	for k, v := range res {
		lk := strings.ToLower(k)
		switch {
		case v == nil:
		case stringAttrs[lk]:
			if _, ok := v.(string); !ok {
				return badValue("%q must be a string", k)
			}
		case complexAttrs[lk]:
			if _, ok := v.(map[string]any); !ok {
				return badValue("%q must be an object", k)
			}
		case multiAttrs[lk]:
			l, ok := v.([]any)
			if !ok {
				return badValue("%q must be an array", k)
			}
			for _, el := range l {
				if _, ok := el.(map[string]any); !ok && lk != "x509certificates" {
					return badValue("every element of %q must be an object", k)
				}
			}
		case lk == "active":
			if _, ok := boolValue(v); !ok {
				return badValue(`"active" must be a boolean`)
			}
		case strings.HasPrefix(lk, extensionPrefix):
			if _, ok := v.(map[string]any); !ok {
				return badValue("extension %q must be an object", k)
			}
		}
	}
	return nil
}

// serviceProviderConfig is RFC 7643 section 5 for this server.
func serviceProviderConfig(base string, maxResults int) object {
	return object{
		"schemas":          []any{SchemaSPConfig},
		"documentationUri": "https://github.com/dirbridge/dirbridge/blob/main/docs/scim.md",
		"patch":            object{"supported": true},
		"bulk":             object{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           object{"supported": true, "maxResults": maxResults},
		"changePassword":   object{"supported": false},
		"sort":             object{"supported": false},
		"etag":             object{"supported": false},
		"authenticationSchemes": []any{object{
			"type": "oauthbearertoken", "name": "Bearer token", "primary": true,
			"description": "A per-source token created with `dirbridge scim token create`.",
		}},
		"meta": object{"resourceType": "ServiceProviderConfig", "location": base + "/ServiceProviderConfig"},
	}
}

func resourceTypes(base string) []any {
	return []any{
		object{"schemas": []any{SchemaResType}, "id": "User", "name": "User", "endpoint": "/Users",
			"description": "User Account", "schema": SchemaUser,
			"schemaExtensions": []any{object{"schema": SchemaEnterprise, "required": false}},
			"meta":             object{"resourceType": "ResourceType", "location": base + "/ResourceTypes/User"}},
		object{"schemas": []any{SchemaResType}, "id": "Group", "name": "Group", "endpoint": "/Groups",
			"description": "Group", "schema": SchemaGroup,
			"meta": object{"resourceType": "ResourceType", "location": base + "/ResourceTypes/Group"}},
	}
}

// attr describes one attribute in a Schemas response.
func attr(name, typ string, multi, required bool, subs ...object) object {
	a := object{"name": name, "type": typ, "multiValued": multi, "required": required,
		"caseExact": false, "mutability": "readWrite", "returned": "default", "uniqueness": "none"}
	if name == "userName" {
		a["uniqueness"] = "server"
	}
	if len(subs) > 0 {
		l := make([]any, len(subs))
		for i, s := range subs {
			l[i] = s
		}
		a["subAttributes"] = l
	}
	return a
}

func schemas(base string) []any {
	multi := func(name string) object {
		return attr(name, "complex", true, false, attr("value", "string", false, false),
			attr("type", "string", false, false), attr("primary", "boolean", false, false))
	}
	user := []any{
		attr("userName", "string", false, true),
		attr("name", "complex", false, false, attr("formatted", "string", false, false),
			attr("familyName", "string", false, false), attr("givenName", "string", false, false)),
		attr("displayName", "string", false, false),
		attr("preferredLanguage", "string", false, false),
		attr("locale", "string", false, false),
		attr("active", "boolean", false, false),
		multi("emails"),
		multi("phoneNumbers"),
		attr("groups", "complex", true, false, attr("value", "string", false, false), attr("display", "string", false, false)),
	}
	group := []any{
		attr("displayName", "string", false, true),
		attr("members", "complex", true, false, attr("value", "string", false, false), attr("display", "string", false, false)),
	}
	enterprise := []any{
		attr("employeeNumber", "string", false, false),
		attr("department", "string", false, false),
		attr("manager", "complex", false, false, attr("value", "string", false, false)),
	}
	mk := func(id, name string, attrs []any) object {
		return object{"schemas": []any{SchemaSchema}, "id": id, "name": name, "attributes": attrs,
			"meta": object{"resourceType": "Schema", "location": base + "/Schemas/" + id}}
	}
	return []any{mk(SchemaUser, "User", user), mk(SchemaGroup, "Group", group), mk(SchemaEnterprise, "EnterpriseUser", enterprise)}
}
