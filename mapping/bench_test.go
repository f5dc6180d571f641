package mapping

import (
	"fmt"
	"testing"

	"github.com/dirbridge/dirbridge/sync/directory"
)

// BenchmarkMapAll maps 10,000 users through five rules and six templates,
// the size of a large contact centre; a full sync must not be dominated by
// mapping.
func BenchmarkMapAll(b *testing.B) {
	m, err := NewMapper(Config{
		Directory: "corp",
		Rules: []Rule{
			{Group: "CC-Admins", Profile: "Admin"},
			{Group: "CN=CC-Supervisors,OU=Groups,DC=corp,DC=example,DC=com", Profile: "Supervisor"},
			{Group: gAgents.Anchor, Profile: "Agent", Units: []string{"Inbound"}},
			{Group: "CC-Agents", Units: []string{"All"}},
			{Group: "Floor 2, East", Units: []string{"East"}},
		},
		Templates: Templates{
			Username:    "{{lower .sAMAccountName}}",
			Email:       `{{or .mail (printf "%s@corp.example.com" (lower .sAMAccountName))}}`,
			DisplayName: "{{.displayName}}",
			FirstName:   "{{.givenName}}",
			LastName:    "{{.sn}}",
			Fields:      map[string]string{"domain": "{{splitDomain .userPrincipalName}}"},
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	groups := []directory.Group{gAgents, gSup, gAdmins, gFloor}
	users := make([]directory.User, 10000)
	for i := range users {
		users[i] = user(fmt.Sprintf("anchor-%d", i), fmt.Sprintf("User%05d", i), groups[i%len(groups)].Anchor, gAgents.Anchor)
	}
	b.ResetTimer()
	for b.Loop() {
		res, _ := m.MapAll(users, groups, nil)
		if len(res) != len(users) {
			b.Fatal("short")
		}
	}
}
