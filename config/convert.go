package config

import (
	"fmt"
	"maps"

	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/privilege"
	"github.com/dirbridge/dirbridge/store"
)

// This file offers lookups and converts sections into the plain types of the
// pure packages config already depends on (mapping, privilege, store), so
// those never import config. Sections for packages with runtime state
// (sync/ldap, expiry, sso, admin) are converted where the daemon is wired:
// their fields correspond one to one and config stays free of their
// dependencies.

// Directory returns the directory named name.
func (c *Config) Directory(name string) (Directory, bool) {
	for _, d := range c.Directories {
		if d.Name == name {
			return d, true
		}
	}
	return Directory{}, false
}

// Profile returns the config profile named name.
func (c *Config) Profile(name string) (Profile, bool) {
	for _, p := range c.Profiles {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}

// Catalogue returns the built-in privileges plus the declared ones.
func (c *Config) Catalogue() (*privilege.Catalogue, error) {
	app := make([]privilege.Info, len(c.Privileges))
	for i, p := range c.Privileges {
		app[i] = privilege.Info{Name: p.Name, Group: p.Group, Description: p.Description, Scoped: p.Scoped, Requires: p.Requires}
	}
	cat, err := privilege.NewCatalogue(app)
	if err != nil {
		return nil, fmt.Errorf("config: privileges: %w", err)
	}
	return cat, nil
}

// StoreProfiles returns the config's profiles as the store keeps them,
// marked FromConfig, for creating or updating at start.
func (c *Config) StoreProfiles() []store.Profile {
	out := make([]store.Profile, len(c.Profiles))
	for i, p := range c.Profiles {
		out[i] = store.Profile{
			Name:        p.Name,
			Description: p.Description,
			Privileges:  privilege.NewSet(p.Privileges...),
			FromConfig:  true,
		}
	}
	return out
}

// MappingConfig is the mapping of directory dir: its own rules before the
// global ones (mapping.CombineRules), the global templates overridden by the
// directory's, its default profile and user template.
func (c *Config) MappingConfig(dir string) (mapping.Config, error) {
	d, ok := c.Directory(dir)
	if !ok {
		return mapping.Config{}, fmt.Errorf("config: unknown directory %q", dir)
	}
	t := mapping.TemplatesFromMap(c.Mapping.Templates, d.Mapping.Templates)
	mc := mapping.Config{
		Directory:      d.Name,
		Rules:          mapping.CombineRules(d.Name, mappingRules(d.Mapping.Rules), mappingRules(c.Mapping.Rules)),
		DefaultProfile: d.DefaultProfile,
		Templates:      t,
	}
	if d.UserTemplate != "" {
		for _, ut := range c.Mapping.UserTemplates {
			if ut.Name == d.UserTemplate {
				mc.UserTemplate = &mapping.UserTemplate{
					Name:        ut.Name,
					State:       store.UserState(ut.State),
					Language:    ut.Language,
					Units:       append([]string(nil), ut.Units...),
					Profile:     ut.Profile,
					EmailDomain: ut.EmailDomain,
				}
			}
		}
		if mc.UserTemplate == nil {
			return mapping.Config{}, fmt.Errorf("config: directory %s: unknown user template %q", dir, d.UserTemplate)
		}
	}
	return mc, nil
}

func mappingRules(rs []Rule) []mapping.Rule {
	out := make([]mapping.Rule, len(rs))
	for i, r := range rs {
		out[i] = mapping.Rule{
			Name:      r.Name,
			Group:     r.Group,
			Directory: r.Directory,
			Profile:   r.Profile,
			Units:     append([]string(nil), r.Units...),
			Flags:     maps.Clone(r.Flags),
		}
	}
	return out
}
