package scim

import (
	"maps"
	"slices"
	"strings"

	"github.com/dirbridge/dirbridge/internal/adguid"
	"github.com/dirbridge/dirbridge/store"
)

// Local user fields the enterprise extension fills (store.User.Fields).
const (
	FieldEmployeeNumber = "employee_number"
	FieldDepartment     = "department"
	FieldManager        = "manager"
)

// prepareUser checks a user resource from a client and drops what is never
// stored: the password Okta sends on create, and read-only attributes.
func prepareUser(doc object) error {
	if err := checkSchemas(doc, SchemaUser); err != nil {
		return err
	}
	for _, k := range []string{"password", "id", "meta", "groups"} {
		remove(doc, k)
	}
	normalize(doc)
	if err := checkTypes(doc); err != nil {
		return err
	}
	if strings.TrimSpace(str(doc, "userName")) == "" {
		return badValue(`"userName" is required`)
	}
	return nil
}

// active reads "active"; absent means active (RFC 7643 leaves the default
// to the provider; every IdP sends it).
func active(doc object) bool {
	v, _, ok := find(doc, "active")
	if !ok {
		return true
	}
	b, ok := boolValue(v)
	return !ok || b
}

// userFields sets u's profile-independent fields from a SCIM user and
// returns the names of those that changed. State is the caller's.
func userFields(u *store.User, doc object) []string {
	before := *u
	before.Fields = maps.Clone(u.Fields)
	name := sub(doc, "name")
	u.Username = str(doc, "userName")
	u.FirstName, u.LastName = str(name, "givenName"), str(name, "familyName")
	u.DisplayName = firstOf(str(doc, "displayName"), str(name, "formatted"),
		strings.TrimSpace(u.FirstName+" "+u.LastName), u.Username)
	u.Email = primaryEmail(doc)
	u.Language = firstOf(str(doc, "preferredLanguage"), str(doc, "locale"))
	if strings.Contains(u.Username, "@") {
		u.UPN = u.Username
	} else {
		u.UPN = ""
	}
	ent := sub(doc, SchemaEnterprise)
	fields := maps.Clone(u.Fields)
	if fields == nil {
		fields = map[string]string{}
	}
	setField(fields, FieldEmployeeNumber, str(ent, "employeeNumber"))
	setField(fields, FieldDepartment, str(ent, "department"))
	manager := str(sub(ent, "manager"), "value")
	if manager == "" {
		manager = str(ent, "manager") // Entra before its 2020 fix sent the id bare
	}
	setField(fields, FieldManager, manager)
	if len(fields) == 0 {
		fields = nil
	}
	u.Fields = fields

	var changed []string
	diff := func(name, a, b string) {
		if a != b {
			changed = append(changed, name)
		}
	}
	diff("username", before.Username, u.Username)
	diff("display_name", before.DisplayName, u.DisplayName)
	diff("first_name", before.FirstName, u.FirstName)
	diff("last_name", before.LastName, u.LastName)
	diff("email", before.Email, u.Email)
	diff("language", before.Language, u.Language)
	diff("upn", before.UPN, u.UPN)
	for _, f := range []string{FieldEmployeeNumber, FieldDepartment, FieldManager} {
		diff(f, before.Fields[f], u.Fields[f])
	}
	return changed
}

func setField(fields map[string]string, k, v string) {
	if v == "" {
		delete(fields, k)
		return
	}
	fields[k] = v
}

// primaryEmail picks the primary e-mail, else the work one, else the first.
func primaryEmail(doc object) string {
	var work, firstSeen string
	for _, e := range list(doc, "emails") {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		v := str(m, "value")
		if v == "" {
			continue
		}
		if p, _, _ := find(m, "primary"); p != nil {
			if b, ok := boolValue(p); ok && b {
				return v
			}
		}
		if work == "" && strings.EqualFold(str(m, "type"), "work") {
			work = v
		}
		if firstSeen == "" {
			firstSeen = v
		}
	}
	return firstOf(work, firstSeen)
}

func firstOf(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

// immutableAnchor returns the directory anchor (objectGUID text) that the
// user's onPremisesImmutableId names, "" when it has none. Entra sends it
// under whatever extension schema the administrator mapped it to, so every
// extension is searched, and the top level.
func immutableAnchor(doc object) string {
	const attr = "onPremisesImmutableId"
	v := str(doc, attr)
	if v == "" {
		keys := slices.Sorted(maps.Keys(doc))
		for _, k := range keys {
			if m, ok := doc[k].(map[string]any); ok && strings.HasPrefix(strings.ToLower(k), extensionPrefix) {
				if v = str(m, attr); v != "" {
					break
				}
			}
		}
	}
	return adguid.FromImmutableID(v)
}
