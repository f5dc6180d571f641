// Package admine2e holds the end-to-end tests of administration: the
// daemon (daemon.Run on a config file, SQLite store) serving the admin API
// on loopback, the dirbridge command built and run against it as an
// administrator's scripts would, and each kind of administrator — a
// superuser, a System Administrator, a Security Administrator, a
// supervisor of one team and an IT administrator with assigned teams —
// trying what they may and may not do. It has no code of its own; this
// file exists so the package builds.
package admine2e
