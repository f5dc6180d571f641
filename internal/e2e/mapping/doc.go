// Package mappinge2e holds the end-to-end tests of the mapping (issue 4)
// against a real OpenLDAP (slapd with the memberof overlay): a YAML config
// loaded by package config and wired by internal/wire into an
// engine.Runner over a SQLite store, the admin API served over the same
// store, groups changed online between runs, and the store, the plans and
// the audit log checked afterwards. It has no code of its own; this file
// exists so the package builds.
package mappinge2e
