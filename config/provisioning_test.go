package config

import (
	"strings"
	"testing"
)

func TestProvisioningDefaultsAndValidation(t *testing.T) {
	c := mustParse(t, "provisioning: [{name: entra, preset: azuread}]\n")
	p, ok := c.ProvisioningSource("entra")
	if !ok {
		t.Fatal("provisioning source entra not found")
	}
	if p.MaxDeactivationsPerHour != DefaultMaxDeactivationsPerHour || p.MaxRequestBytes != DefaultMaxRequestBytes ||
		p.MaxResults != DefaultMaxResults || !p.LinkDirectoryUsers {
		t.Fatalf("defaults not applied: %+v", p)
	}
	c = mustParse(t, "provisioning: [{name: okta, link_directory_users: false, max_deactivations_per_hour: 0}]\n")
	if p := c.Provisioning[0]; p.Preset != PresetGeneric || p.LinkDirectoryUsers || p.MaxDeactivationsPerHour != 0 {
		t.Fatalf("explicit values not kept: %+v", p)
	}

	for _, tc := range []struct{ src, path, msg string }{
		{"provisioning: [{preset: okta}]\n", "provisioning[0].name", "required"},
		{"provisioning: [{name: Entra}]\n", "provisioning[0].name", "lower-case"},
		{"provisioning: [{name: e}, {name: e}]\n", "provisioning[1].name", "duplicate provisioning source"},
		{"provisioning: [{name: e, preset: google}]\n", "provisioning[0].preset", "must be one of"},
		{"provisioning: [{name: e, default_profile: Nope}]\n", "provisioning[0].default_profile", "unknown profile"},
		{"provisioning: [{name: e, max_deactivations_per_hour: -1}]\n", "provisioning[0].max_deactivations_per_hour", "0 or more"},
		{"provisioning: [{name: e, max_request_bytes: 10}]\n", "provisioning[0].max_request_bytes", "at least 1024"},
		{"provisioning: [{name: e, max_results: -5}]\n", "provisioning[0].max_results", "1 or more"},
		{"provisioning: [{name: e, token_file: /x}]\n", "provisioning[0].token_file", "unknown field"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "dirbridge.yaml")
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not name %s with %q", err, tc.path, tc.msg)
			}
		})
	}
}
