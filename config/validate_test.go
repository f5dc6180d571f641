package config

import (
	"errors"
	"strings"
	"testing"
)

// dir is a valid directory entry; extra lines are appended to it.
func dir(extra string) string {
	return minimal + extra
}

func groups(list string) string {
	return strings.Replace(minimal, "groups: [CC-Agents]", "groups: "+list, 1)
}

func TestValidateCases(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  string
		want string // "" = valid; otherwise a substring of the one error expected
	}{
		// Valid corners.
		{"minimal", minimal, ""},
		{"ldap with start_tls", strings.Replace(minimal, "ldaps://dc1", "ldap://dc1", 1) + "    start_tls: true\n", ""},
		{"ad upn bind", strings.Replace(minimal, `"CN=svc,DC=corp,DC=example,DC=com"`, "svc@corp.example.com", 1), ""},
		{"group by guid and dn", groups("['{6F9619FF-8B86-D011-B42D-00C04FC964FF}', 'CN=A,DC=corp,DC=example,DC=com', CC-Agents]"), ""},
		{"anonymous bind", strings.Replace(strings.Replace(minimal, "    bind_dn: \"CN=svc,DC=corp,DC=example,DC=com\"\n", "", 1), "    bind_password: pw\n", "", 1), ""},
		{"schedules off", dir("    schedule: \"\"\n    full_schedule: \"\"\n"), ""},
		{"cron descriptor", dir("    schedule: \"@every 10m\"\n    full_schedule: \"@daily\"\n"), ""},
		{"percent 100", dir("    max_deactivations: {count: 0, percent: 100}\n"), ""},
		{"postgres", "store: {driver: postgres, dsn: postgres://x@db/x}\n", ""},
		{"listen host", "server: {listen: \"127.0.0.1:9000\"}\n", ""},
		{"listen v6", "server: {listen: \"[::1]:9000\"}\n", ""},
		{"oidc azuread tenant", "server: {public_url: https://s.example.com}\nsso: {enforce: true, oidc: {preset: azuread, tenant_id: t, client_id: c, client_secret: s}}\n", ""},
		{"saml loopback http metadata", "server: {public_url: https://s.example.com}\nsso: {saml: {idp_metadata_url: http://127.0.0.1:9999/md, entity_id: e}}\n", ""},
		{"oidc loopback http issuer", "server: {public_url: https://s.example.com}\nsso: {oidc: {issuer: http://127.0.0.1:9999, client_id: c, client_secret: s}}\n", ""},
		{"saml file", "server: {public_url: https://s.example.com}\nsso: {saml: {preset: okta, idp_metadata_file: idp.xml, cert_file: c, key_file: k, sign_requests: true}}\n", ""},
		{"ip rule any", "policy: {ip_rules: [{name: x, effect: deny, addresses: ['*']}]}\n", ""},
		{"inactive rule without addresses", "policy: {ip_rules: [{name: x, state: inactive}]}\n", ""},
		{"app privilege in profile", "privileges: [{name: view_reports}]\nprofiles: [{name: P, privileges: [view_reports, bypass_sso]}]\n", ""},
		{"flags superuser", "profiles: [{name: P}]\nmapping: {rules: [{group: G, flags: {superuser: true}}]}\n", ""},
		{"same group in two directories", dir("") + "mapping: {rules: [{group: G, directory: corp, units: [a]}, {group: G, units: [b]}]}\n", ""},
		{"extra field template", "mapping: {fields: [team], templates: {team: '{{.department}}', username: '{{lower .sAMAccountName}}'}}\n", ""},
		{"client cert via proxy header", "server: {trusted_proxies: [10.0.0.1]}\npolicy: {client_cert: {enabled: true, header: X-Client-Cert}}\n", ""},
		{"expiry enabled", "server: {public_url: https://s.example.com}\nsmtp: {host: mail, from: a@example.com}\nexpiry: {enabled: true, time_zone: Europe/Paris}\n", ""},
		{"smtp none on loopback with password", "smtp: {host: 127.0.0.1, tls: none, username: u, password: p, from: a@example.com}\n", ""},

		// One mistake each.
		{"kind", strings.Replace(minimal, "kind: ad", "kind: AD", 1), `directories[0].kind: must be one of ad, ldap, got "AD"`},
		{"kind missing", strings.Replace(minimal, "    kind: ad\n", "", 1), "directories[0].kind: required: one of ad, ldap"},
		{"no urls", strings.Replace(minimal, "    urls: [ldaps://dc1.corp.example.com]\n", "", 1), "directories[0].urls: at least one"},
		{"url scheme", strings.Replace(minimal, "ldaps://dc1", "http://dc1", 1), "directories[0].urls[0]: scheme must be ldap or ldaps"},
		{"url path", strings.Replace(minimal, "ldaps://dc1.corp.example.com", "ldaps://dc1.corp.example.com/DC=x", 1), "must not have a path"},
		{"start_tls with ldaps", dir("    start_tls: true\n"), "start_tls applies to ldap:// URLs"},
		{"base_dn missing", strings.Replace(minimal, "    base_dn: \"DC=corp,DC=example,DC=com\"\n", "", 1), "directories[0].base_dn: required"},
		{"base_dn bad", strings.Replace(minimal, `base_dn: "DC=corp,DC=example,DC=com"`, `base_dn: "DC=corp,DC"`, 1), "directories[0].base_dn: invalid DN"},
		{"bind dn ldap upn", strings.Replace(strings.Replace(minimal, `"CN=svc,DC=corp,DC=example,DC=com"`, "svc@corp", 1), "kind: ad", "kind: ldap", 1), "directories[0].bind_dn: must be a DN"},
		{"password without dn", strings.Replace(minimal, "    bind_dn: \"CN=svc,DC=corp,DC=example,DC=com\"\n", "", 1), "directories[0].bind_dn: required when bind_password is set"},
		{"no groups: chosen from the console", strings.Replace(minimal, "    groups: [CC-Agents]\n", "", 1), ""},
		{"empty group", groups("['']"), "directories[0].groups[0]: must not be empty"},
		{"group bad dn", groups("['CN=A,,DC=x']"), "directories[0].groups[0]: invalid DN"},
		{"duplicate directory", minimal + strings.Replace(minimal, "directories:\n", "", 1), `directories[1].name: duplicate directory name "corp"`},
		{"directory name", strings.Replace(minimal, "name: corp", "name: Corp Domain", 1), "directories[0].name: \"Corp Domain\": use lower-case"},
		{"directory local", strings.Replace(minimal, "name: corp", "name: local", 1), `"local" is reserved`},
		{"directory idp", strings.Replace(minimal, "name: corp", "name: idp", 1), `"idp" is reserved`},
		{"page size", dir("    page_size: -1\n"), "directories[0].page_size: must be between 1 and 100000"},
		{"range size", dir("    range_size: -5\n"), "directories[0].range_size: must be 0"},
		{"cron", dir("    schedule: \"every day\"\n"), "directories[0].schedule: invalid cron expression"},
		{"percent", dir("    max_deactivations: {percent: -1}\n"), "directories[0].max_deactivations.percent: must be between 0 and 100"},
		{"count", dir("    max_deactivations: {count: -1}\n"), "directories[0].max_deactivations.count: must be 0 or more"},
		{"timeout", dir("    connect_timeout: 0s\n"), "directories[0].connect_timeout: must be a positive duration"},
		{"duration syntax", dir("    read_timeout: 1d\n"), `directories[0].read_timeout: invalid duration "1d"`},
		{"int syntax", dir("    page_size: many\n"), `directories[0].page_size: expected an integer, got "many"`},
		{"bool syntax", dir("    start_tls: yes\n"), `directories[0].start_tls: expected true or false, got "yes"`},
		{"list expected", strings.Replace(minimal, "urls: [ldaps://dc1.corp.example.com]", "urls: ldaps://dc1.corp.example.com", 1), "directories[0].urls: expected a list"},
		{"mapping expected", "server: :8080\n", "server: expected a mapping"},
		{"scalar expected", "log: {level: [info]}\n", "log.level: expected a single value, got a list"},
		{"filter", dir("    user_filter: \"department=Sales\"\n"), "directories[0].user_filter: invalid LDAP filter"},
		{"disabled filter on ad", dir("    disabled_filter: \"(x=*)\"\n"), "directories[0].disabled_filter: applies to kind ldap only"},
		{"password policy on ad", dir("    read_password_expiry: true\n    password_policy_dn: cn=default,ou=policies,dc=x\n"), "directories[0].password_policy_dn: applies to kind ldap only"},
		{"password policy without expiry", strings.Replace(minimal, "kind: ad", "kind: ldap", 1) + "    password_policy_dn: cn=default,ou=policies,dc=x\n", "directories[0].password_policy_dn: has no effect without read_password_expiry: true"},
		{"password policy dn", strings.Replace(minimal, "kind: ad", "kind: ldap", 1) + "    read_password_expiry: true\n    password_policy_dn: 'cn=a,,dc=x'\n", "directories[0].password_policy_dn: invalid DN"},
		{"attribute", dir("    attributes: ['bad attr']\n"), "directories[0].attributes[0]: invalid attribute name"},
		{"link_by", dir("    link_by: upn\n"), "directories[0].link_by: must be one of username, email, none"},
		{"user_template", dir("    user_template: nope\n"), `directories[0].user_template: unknown user template "nope"`},
		{"default profile", dir("    default_profile: Agent\n"), `directories[0].default_profile: unknown profile "Agent"`},
		{"client cert pair", dir("    client_cert_file: c.pem\n"), "directories[0].client_key_file: required when client_cert_file is set"},

		{"unknown privilege", "profiles: [{name: P, privileges: [view_reports]}]\n", `profiles[0].privileges[0]: unknown privilege "view_reports"`},
		{"duplicate privilege in profile", "profiles: [{name: P, privileges: [bypass_sso, bypass_sso]}]\n", `profiles[0].privileges[1]: duplicate privilege "bypass_sso"`},
		{"profile name", "profiles: [{privileges: [bypass_sso]}]\n", "profiles[0].name: required"},
		{"missing prerequisite (built-in)", "profiles: [{name: P, privileges: [manage_teams]}]\n", "profiles[0].privileges: manage_teams requires manage_users, which the profile lacks"},
		{"missing prerequisite (declared)", "privileges: [{name: a}, {name: b, requires: [a]}]\nprofiles: [{name: P, privileges: [b]}]\n", "profiles[0].privileges: b requires a, which the profile lacks"},
		{"unknown prerequisite", "privileges: [{name: b, requires: [nope]}]\n", `privileges[0].requires[0]: unknown privilege "nope"`},
		{"duplicate profile", "profiles: [{name: P}, {name: p}]\n", `profiles[1].name: duplicate profile "p"`},
		{"privilege name", "privileges: [{name: 'View Reports'}]\n", `privileges[0].name: "View Reports": use lower-case`},
		{"builtin redeclared", "privileges: [{name: grant_all}]\n", `privileges[0].name: "grant_all" is a built-in privilege`},

		{"rule unknown profile", "mapping: {rules: [{group: G, profile: Agent}]}\n", `mapping.rules[0].profile: unknown profile "Agent"`},
		{"rule no group", "profiles: [{name: P}]\nmapping: {rules: [{profile: P}]}\n", "mapping.rules[0].group: required"},
		{"duplicate rule", "profiles: [{name: P}]\nmapping: {rules: [{group: G, profile: P}, {group: ' g ', units: [x]}]}\n", "mapping.rules[1]: duplicate rule: mapping.rules[0] already matches group"},
		{"duplicate rule name", "profiles: [{name: P}]\nmapping: {rules: [{name: a, group: G, profile: P}, {name: a, group: H, profile: P}]}\n", `mapping.rules[1].name: duplicate rule name "a"`},
		{"rule unknown directory", "profiles: [{name: P}]\nmapping: {rules: [{group: G, directory: hr, profile: P}]}\n", `mapping.rules[0].directory: unknown directory "hr"`},
		{"rule unknown flag", "mapping: {rules: [{group: G, flags: {admin: true}}]}\n", `mapping.rules[0].flags.admin: unknown flag "admin"`},
		{"rule does nothing", "mapping: {rules: [{group: G}]}\n", "mapping.rules[0]: rule gives no profile, units or flags"},
		{"rule empty unit", "mapping: {rules: [{group: G, units: ['']}]}\n", "mapping.rules[0].units[0]: must not be empty"},
		{"directory rule duplicate", dir("    mapping: {rules: [{group: G, units: [a]}, {group: G, units: [b]}]}\n"), "directories[0].mapping.rules[1]: duplicate rule"},
		{"template parse", "mapping: {templates: {username: '{{lower .sAMAccountName'}}\n", "mapping.templates.username: does not parse"},
		{"template func", "mapping: {templates: {email: '{{nope .mail}}'}}\n", `mapping.templates.email: does not parse: template: email:1: function "nope" not defined`},
		{"directory template parse", dir("    mapping: {templates: {email: '{{end}}'}}\n"), "directories[0].mapping.templates.email: does not parse"},
		{"template unknown field", "mapping: {templates: {nickname: x}}\n", `mapping.templates.nickname: unknown field "nickname"`},
		{"field name", "mapping: {fields: [Team]}\n", `mapping.fields[0]: invalid field name "Team"`},
		{"user template state", "mapping: {user_templates: [{name: t, state: on}]}\n", "mapping.user_templates[0].state: must be one of active, inactive"},
		{"user template dup", "mapping: {user_templates: [{name: t}, {name: t}]}\n", `mapping.user_templates[1].name: duplicate user template "t"`},
		{"user template profile", "mapping: {user_templates: [{name: t, profile: X}]}\n", `mapping.user_templates[0].profile: unknown profile "X"`},

		{"enforce without idp", "sso: {enforce: true}\n", "sso.enforce: needs sso.saml, sso.oidc or sso.kerberos"},
		{"kerberos valid", minimal + "sso: {enforce: true, kerberos: {keytab_file: k, service_principal: HTTP/s.example.com@CORP.EXAMPLE.COM, realms: [{realm: CORP.EXAMPLE.COM}]}}\n", ""},
		{"kerberos no keytab", minimal + "sso: {kerberos: {service_principal: HTTP/s.example.com@CORP.EXAMPLE.COM, realms: [{realm: CORP.EXAMPLE.COM}]}}\n", "sso.kerberos: set keytab_file or keytab"},
		{"kerberos both keytabs", minimal + "sso: {kerberos: {keytab: a2V5, keytab_file: k, service_principal: HTTP/s.example.com@CORP.EXAMPLE.COM, realms: [{realm: CORP.EXAMPLE.COM}]}}\n", "sso.kerberos.keytab_file: set either keytab_file or keytab"},
		{"kerberos spn", minimal + "sso: {kerberos: {keytab_file: k, service_principal: s.example.com, realms: [{realm: CORP.EXAMPLE.COM}]}}\n", `sso.kerberos.service_principal: must look like HTTP/host@REALM, got "s.example.com"`},
		{"kerberos no realms", minimal + "sso: {kerberos: {keytab_file: k, service_principal: HTTP/s.example.com@CORP.EXAMPLE.COM}}\n", "sso.kerberos.realms: name at least one realm"},
		{"kerberos realm directory", minimal + "sso: {kerberos: {keytab_file: k, service_principal: HTTP/s.example.com@CORP.EXAMPLE.COM, realms: [{realm: CORP.EXAMPLE.COM, directory: hr}]}}\n", `sso.kerberos.realms[0].directory: "hr" is not a configured directory`},
		{"kerberos skew", minimal + "sso: {kerberos: {keytab_file: k, service_principal: HTTP/s.example.com@CORP.EXAMPLE.COM, realms: [{realm: CORP.EXAMPLE.COM}], max_clock_skew: 1h}}\n", "sso.kerberos.max_clock_skew: must be between 0s and 15m"},
		{"sso needs public url", "sso: {saml: {idp_metadata_file: x}}\n", "sso.saml: needs server.public_url"},
		{"saml preset", "server: {public_url: https://s.example.com}\nsso: {saml: {preset: adfs, idp_metadata_file: x}}\n", "sso.saml.preset: must be one of azuread, okta, generic"},
		{"saml no metadata", "server: {public_url: https://s.example.com}\nsso: {saml: {preset: okta}}\n", "sso.saml: set idp_metadata_url or idp_metadata_file"},
		{"saml metadata url", "server: {public_url: https://s.example.com}\nsso: {saml: {idp_metadata_url: idp.example.com/md}}\n", `sso.saml.idp_metadata_url: must be an https URL, got "idp.example.com/md"`},
		{"saml encryption needs key", "server: {public_url: https://s.example.com}\nsso: {saml: {idp_metadata_file: x, require_encryption: true}}\n", "sso.saml.require_encryption: needs cert_file and key_file"},
		{"saml skew", "server: {public_url: https://s.example.com}\nsso: {saml: {idp_metadata_file: x, clock_skew: 1h}}\n", "sso.saml.clock_skew: must be between 0s and 3m"},
		{"saml nameid", "server: {public_url: https://s.example.com}\nsso: {saml: {idp_metadata_file: x, nameid_format: upn}}\n", "sso.saml.nameid_format: must be one of"},
		{"saml claim key", "server: {public_url: https://s.example.com}\nsso: {saml: {idp_metadata_file: x, claims: {roles: r}}}\n", `sso.saml.claims.roles: unknown claim key "roles"`},
		{"oidc issuer", "server: {public_url: https://s.example.com}\nsso: {oidc: {client_id: c, client_secret: s}}\n", "sso.oidc.issuer: required"},
		{"oidc azuread issuer", "server: {public_url: https://s.example.com}\nsso: {oidc: {preset: azuread, client_id: c, client_secret: s}}\n", "sso.oidc.issuer: required (or set tenant_id"},
		{"saml http metadata", "server: {public_url: https://s.example.com}\nsso: {saml: {idp_metadata_url: http://idp.example.com/md}}\n", `sso.saml.idp_metadata_url: must be an https URL, got "http://idp.example.com/md" (plain http only on loopback`},
		{"saml fingerprint", "server: {public_url: https://s.example.com}\nsso: {saml: {idp_metadata_file: x, idp_cert_sha256: [\"ab:cd\"]}}\n", `sso.saml.idp_cert_sha256[0]: must be a SHA-256 fingerprint: 64 hex digits, colons allowed, got "ab:cd"`},
		{"oidc http issuer", "server: {public_url: https://s.example.com}\nsso: {oidc: {issuer: http://idp.example.com, client_id: c, client_secret: s}}\n", "sso.oidc.issuer: must be an https URL"},
		{"oidc secret", "server: {public_url: https://s.example.com}\nsso: {oidc: {issuer: https://idp.example.com, client_id: c}}\n", "sso.oidc.client_secret: required"},
		{"oidc alg none", "server: {public_url: https://s.example.com}\nsso: {oidc: {issuer: https://idp.example.com, client_id: c, client_secret: s, allowed_algs: [None]}}\n", `sso.oidc.allowed_algs[0]: "none" is never allowed`},
		{"oidc scopes", "server: {public_url: https://s.example.com}\nsso: {oidc: {issuer: https://idp.example.com, client_id: c, client_secret: s, scopes: [email]}}\n", `sso.oidc.scopes: must include "openid"`},
		{"match_by", "sso: {match_by: [mail]}\n", `sso.match_by[0]: must be one of upn, email, immutable_id, username, nameid, got "mail"`},
		{"match_by empty", "sso: {match_by: []}\n", "sso.match_by: at least one key is required"},
		{"redirect host", "sso: {allowed_redirect_hosts: ['https://crm.example.com']}\n", "sso.allowed_redirect_hosts[0]: must be a host name"},
		{"session timeouts", "sso: {sessions: {idle_timeout: -1m}}\n", "sso.sessions.idle_timeout: must be a positive duration"},
		{"cookie name", "sso: {sessions: {cookie_name: 'a b'}}\n", "sso.sessions.cookie_name: must be a cookie token"},
		{"verify cache", "sso: {sessions: {verify_cache: 5m}}\n", "sso.sessions.verify_cache: must be between 0s and 1m"},

		{"licenses", "licenses: {concurrent: -3}\n", "licenses.concurrent: must be 0 (unlimited) or more"},
		{"password min length", "policy: {password: {min_length: 0}}\n", "policy.password.min_length: must be at least 1, got 0"},
		{"password min digits", "policy: {password: {min_digits: -1}}\n", "policy.password.min_digits: must be 0 or more"},
		{"username min length", "policy: {username: {min_length: 0}}\n", "policy.username.min_length: must be at least 1"},
		{"lockout attempts", "policy: {lockout: {max_attempts: -1}}\n", "policy.lockout.max_attempts: must be at least 1"},
		{"lockout window", "policy: {lockout: {lock_for: 0s}}\n", "policy.lockout.lock_for: must be a positive duration"},
		{"throttle", "policy: {throttle: {per_minute: -1}}\n", "policy.throttle.per_minute: must be 0 (off) or more"},
		{"throttle burst", "policy: {throttle: {burst: 0}}\n", "policy.throttle.burst: must be at least 1"},
		{"graph groups", "server: {public_url: https://s.example.com}\nsso: {oidc: {issuer: https://idp.example.com, client_id: c, client_secret: s, graph_groups: true}}\n", "sso.oidc.graph_groups: applies to the azuread preset only"},
		{"reset needs smtp", "policy: {password_reset: {enabled: true}}\n", "policy.password_reset.enabled: needs smtp.host"},
		{"active rule no address", "policy: {ip_rules: [{name: x}]}\n", "policy.ip_rules[0].addresses: an active rule needs at least one address"},
		{"ip rule address", "policy: {ip_rules: [{name: x, addresses: ['10.0.0.0/33']}]}\n", `policy.ip_rules[0].addresses[0]: invalid CIDR "10.0.0.0/33"`},
		{"ip rule wildcard", "policy: {ip_rules: [{name: x, addresses: ['10.*.0.1']}]}\n", "policy.ip_rules[0].addresses[0]: invalid wildcard"},
		{"ip rule state", "policy: {ip_rules: [{name: x, state: on, addresses: [10.0.0.1]}]}\n", "policy.ip_rules[0].state: must be one of active, inactive"},
		{"ip rule name", "policy: {ip_rules: [{addresses: [10.0.0.1]}]}\n", "policy.ip_rules[0].name: required"},
		{"ip rule dup", "policy: {ip_rules: [{name: a, addresses: [10.0.0.1]}, {name: a, addresses: [10.0.0.2]}]}\n", `policy.ip_rules[1].name: duplicate IP rule "a"`},
		{"ip rule profile", "policy: {ip_rules: [{name: a, addresses: [10.0.0.1], profiles: [Agent]}]}\n", `policy.ip_rules[0].profiles[0]: unknown profile "Agent"`},
		{"client cert map", "policy: {client_cert: {map_by: dn}}\n", "policy.client_cert.map_by: must be one of upn, email, cn"},
		{"client cert header needs proxies", "policy: {client_cert: {enabled: true, header: X-Cert}}\n", "policy.client_cert.header: needs server.trusted_proxies"},
		{"argon2 time", "policy: {argon2: {time: 0}}\n", "policy.argon2.time: must be between 1 and 64, got 0"},
		{"argon2 memory", "policy: {argon2: {memory_kib: 5000000}}\n", "policy.argon2.memory_kib: must be at most 4194304"},
		{"argon2 uint", "policy: {argon2: {threads: 300}}\n", `policy.argon2.threads: expected a non-negative integer up to 255, got "300"`},
		{"ipv6 prefix", "policy: {throttle: {ipv6_prefix: 8}}\n", "policy.throttle.ipv6_prefix: must be between 32 and 128, got 8"},
		{"argon2 concurrency", "policy: {argon2: {max_concurrent: 0}}\n", "policy.argon2.max_concurrent: must be at least 1"},

		{"trusted proxy", "server: {trusted_proxies: [proxy]}\n", `server.trusted_proxies[0]: must be an IP address or CIDR, got "proxy"`},
		{"listen", "server: {listen: \"localhost\"}\n", "server.listen: must be host:port"},
		{"listen port", "server: {listen: \":99999\"}\n", `server.listen: invalid port "99999"`},
		{"internal listen", "server: {internal_listen: \"localhost\"}\n", "server.internal_listen: must be host:port"},
		{"internal listen same as listen", "server: {listen: \":8080\", internal_listen: \":8080\"}\n", `server.internal_listen: must differ from server.listen`},
		{"read timeout", "server: {read_timeout: -1s}\n", "server.read_timeout: must be a positive duration"},
		{"public url", "server: {public_url: /sso}\n", "server.public_url: must be an absolute http(s) URL"},
		{"tls pair", "server: {tls: {key_file: k}}\n", "server.tls.cert_file: required when key_file is set"},
		{"client ca without tls", "server: {tls: {client_ca_file: ca}}\n", "server.tls.client_ca_file: needs server.tls.cert_file"},
		{"log format", "log: {format: text}\n", "log.format: must be one of json, console"},
		{"store driver", "store: {driver: sqlite3}\n", "store.driver: must be one of sqlite, postgres"},
		{"postgres dsn", "store: {driver: postgres}\n", "store.dsn: required for driver postgres"},
		{"store conns", "store: {max_open_conns: 0}\n", "store.max_open_conns: must be at least 1"},
		{"gc percent", "runtime: {gc_percent: 0}\n", "runtime.gc_percent: must be 1 or more, got 0"},
		{"memory limit", "runtime: {memory_limit_mib: -1}\n", "runtime.memory_limit_mib: must be 0 (no limit) or more"},

		{"warn days", "expiry: {warn_days: [7, -1]}\n", "expiry.warn_days[1]: must be at least 1 day"},
		{"warn days dup", "expiry: {warn_days: [7, 7]}\n", "expiry.warn_days[1]: duplicate threshold 7"},
		{"expiry schedule", "expiry: {schedule: '0 25 * * *'}\n", "expiry.schedule: invalid cron expression"},
		{"time zone", "expiry: {time_zone: Europe/Atlantis}\n", `expiry.time_zone: unknown time zone "Europe/Atlantis"`},
		{"redirect_to", "expiry: {redirect_to: admin}\n", `expiry.redirect_to: invalid e-mail address "admin"`},
		{"summary to", "expiry: {admin_summary_to: [a@example.com, b]}\n", "expiry.admin_summary_to[1]: invalid e-mail address"},
		{"expiry needs smtp", "server: {public_url: https://s.example.com}\nexpiry: {enabled: true}\n", "expiry.enabled: needs smtp.host"},
		{"expiry needs url", "smtp: {host: mail, from: a@example.com}\nexpiry: {enabled: true}\n", "expiry.change_password_url: required when expiry is enabled"},
		{"smtp tls", "smtp: {tls: ssl}\n", "smtp.tls: must be one of starttls, tls, none"},
		{"smtp port", "smtp: {port: 0}\n", "smtp.port: must be between 1 and 65535"},
		{"smtp from", "smtp: {host: mail}\n", "smtp.from: required when smtp.host is set"},
		{"smtp plain password", "smtp: {host: mail.example.com, tls: none, username: u, password: p, from: a@example.com}\n", "smtp.tls: none would send the SMTP password in clear"},
		{"api ttl", "api: {token_ttl: -1h}\n", "api.token_ttl: must be a positive duration"},
		{"emergency ttl", "emergency: {ttl: 0s}\n", "emergency.ttl: must be a positive duration"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.src), "dirbridge.yaml")
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected errors:\n%v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error %T: %v", err, err)
			}
			if len(es) != 1 || !strings.Contains(es[0].Error(), tc.want) {
				t.Errorf("got:\n%v\nwant exactly one error containing %q", err, tc.want)
			}
			if es[0].Line == 0 {
				t.Errorf("no line in %v", es[0])
			}
		})
	}
}

// TestValidateCodeBuilt covers configs built in Go: no file, no lines.
func TestValidateCodeBuilt(t *testing.T) {
	c := &Config{Directories: []Directory{{Name: "corp", Kind: "ad", URLs: []string{"ftp://x"}, BaseDN: "DC=x", Groups: []string{"G"}}}}
	c.ApplyDefaults()
	err := c.Validate()
	if err == nil || err.Error() != `directories[0].urls[0]: scheme must be ldap or ldaps, got "ftp://x"` {
		t.Errorf("got %v", err)
	}
}
