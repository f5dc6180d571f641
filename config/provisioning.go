package config

import "github.com/dirbridge/dirbridge/mapping"

// Provisioning is one SCIM 2.0 provisioning source: an IdP (Entra ID, Okta
// or any SCIM client) that pushes users and groups to /scim/v2/<name>/.
// Its bearer token lives only as a hash in the store (`dirbridge scim token
// create|rotate`), never in the file.
type Provisioning struct {
	// Name identifies the source; its users carry the source "scim:<name>".
	Name string `yaml:"name"`
	// Preset names the client's dialect: azuread | okta | generic. Every
	// dialect is accepted from every client; the preset decides which
	// attribute carries the IdP's stable id (azuread: externalId is the
	// Entra object id) and is shown in the console.
	Preset string `yaml:"preset"`
	// DefaultProfile is given to users no mapping rule gives a profile.
	DefaultProfile string `yaml:"default_profile"`
	// MaxDeactivationsPerHour refuses (429) deactivations beyond this many
	// within one hour, so a runaway scope change at the IdP cannot
	// deactivate everyone. 0 allows none.
	MaxDeactivationsPerHour int `yaml:"max_deactivations_per_hour"`
	// MaxRequestBytes caps a request body.
	MaxRequestBytes int64 `yaml:"max_request_bytes"`
	// MaxResults caps a list response's count.
	MaxResults int `yaml:"max_results"`
	// LinkDirectoryUsers links a user whose onPremisesImmutableId (base64
	// objectGUID) is a directory-synced user's anchor to that user instead
	// of creating another; the directory stays the owner of its fields.
	LinkDirectoryUsers bool `yaml:"link_directory_users"`
}

// ProvisioningSourcePrefix prefixes a provisioning source's name in the
// Source of its users ("scim:entra").
const ProvisioningSourcePrefix = "scim:"

// Defaults of the provisioning section.
const (
	DefaultMaxDeactivationsPerHour = 50
	DefaultMaxRequestBytes         = 1 << 20
	DefaultMaxResults              = 200
)

// ProvisioningSource returns the provisioning source named name.
func (c *Config) ProvisioningSource(name string) (Provisioning, bool) {
	for _, p := range c.Provisioning {
		if p.Name == name {
			return p, true
		}
	}
	return Provisioning{}, false
}

func (c *Config) defaultProvisioning(i int) {
	p := &c.Provisioning[i]
	path := indexPath("provisioning", i)
	def(c, path+".preset", &p.Preset, PresetGeneric)
	def(c, path+".max_deactivations_per_hour", &p.MaxDeactivationsPerHour, DefaultMaxDeactivationsPerHour)
	def(c, path+".max_request_bytes", &p.MaxRequestBytes, DefaultMaxRequestBytes)
	def(c, path+".max_results", &p.MaxResults, DefaultMaxResults)
	def(c, path+".link_directory_users", &p.LinkDirectoryUsers, true)
}

func (v *validator) provisioning() {
	seen := map[string]int{}
	for i, p := range v.c.Provisioning {
		path := indexPath("provisioning", i)
		if v.required(path+".name", p.Name) {
			if !nameRe.MatchString(p.Name) {
				v.add(path+".name", "%q: use lower-case letters, digits, _ and -", p.Name)
			} else if j, dup := seen[p.Name]; dup {
				v.add(path+".name", "duplicate provisioning source %q (also at [%d])", p.Name, j)
			} else {
				seen[p.Name] = i
			}
		}
		v.oneOf(path+".preset", p.Preset, PresetAzureAD, PresetOkta, PresetGeneric)
		v.profileRef(path+".default_profile", p.DefaultProfile)
		if p.MaxDeactivationsPerHour < 0 {
			v.add(path+".max_deactivations_per_hour", "must be 0 or more, got %d", p.MaxDeactivationsPerHour)
		}
		if p.MaxRequestBytes < 1024 {
			v.add(path+".max_request_bytes", "must be at least 1024, got %d", p.MaxRequestBytes)
		}
		if p.MaxResults < 1 {
			v.add(path+".max_results", "must be 1 or more, got %d", p.MaxResults)
		}
	}
}

// ProvisioningRules are the mapping rules SCIM groups go through: the
// global mapping.rules, the same list a directory's groups meet after
// its own rules.
func (c *Config) ProvisioningRules() []mapping.Rule {
	return mappingRules(c.Mapping.Rules)
}
