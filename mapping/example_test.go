package mapping_test

import (
	"fmt"

	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

func ExampleMapper_MapAll() {
	m, err := mapping.NewMapper(mapping.Config{
		Directory: "corp",
		Rules: mapping.CombineRules("corp", nil, []mapping.Rule{
			{Group: "CC-Admins", Profile: "System Administrator", Units: []string{"HQ"}},
			{Group: "CN=CC-Supervisors,OU=Groups,DC=corp,DC=example,DC=com", Profile: "Supervisor", Units: []string{"Floor 2"}},
			{Group: "CC-Agents", Profile: "Agent", Units: []string{"Inbound"}},
		}),
		DefaultProfile: "Guest",
		Templates: mapping.TemplatesFromMap(map[string]string{
			"username": "{{lower .sAMAccountName}}",
			"email":    `{{or .mail (printf "%s@corp.example.com" (lower .sAMAccountName))}}`,
		}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	groups := []directory.Group{
		{Anchor: "g-agents", Name: "CC-Agents", DN: "CN=CC-Agents,OU=Groups,DC=corp,DC=example,DC=com"},
		{Anchor: "g-sup", Name: "CC-Supervisors", DN: "CN=CC-Supervisors,OU=Groups,DC=corp,DC=example,DC=com"},
	}
	users := []directory.User{
		{Anchor: "u1", Username: "JDoe", Groups: []string{"g-agents", "g-sup"}, Attributes: map[string][]string{"sAMAccountName": {"JDoe"}}},
		{Anchor: "u2", Username: "ASmith", Groups: []string{"g-agents"}, Attributes: map[string][]string{"sAMAccountName": {"ASmith"}, "mail": {"anna.smith@corp.example.com"}}},
		{Anchor: "u3", Username: "asmith", Groups: []string{"g-agents"}, Attributes: map[string][]string{"sAMAccountName": {"asmith"}}},
	}
	existing := map[string]*store.User{"u1": {Profile: "Agent", PinnedProfile: false}}

	results, warnings := m.MapAll(users, groups, existing)
	for _, r := range results {
		if r.Blocked {
			fmt.Printf("%s: blocked\n", r.Anchor)
			continue
		}
		fmt.Printf("%s: %s <%s> profile %s: %s; units %v\n", r.Anchor, r.Username, r.Email, r.Profile, r.ProfileCause, r.Units)
	}
	for _, w := range warnings {
		fmt.Println(w.Code)
	}
	// Output:
	// u1: jdoe <jdoe@corp.example.com> profile Supervisor: rule 2 (group CC-Supervisors); units [Floor 2 Inbound]
	// u2: blocked
	// u3: blocked
	// unknown_group
	// username_collision
	// username_collision
}
