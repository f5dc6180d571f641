// Package synce2e holds the end-to-end tests of the directory sync (issue
// 3) against real servers: a real OpenLDAP (slapd, memberof overlay) and a
// real Samba AD domain controller, read through the same path the daemon
// takes — a YAML config loaded by package config, wired by internal/wire
// into an engine.Runner over a SQLite store — with the store checked
// afterwards. It has no code of its own; this file exists so the package
// builds.
package synce2e
