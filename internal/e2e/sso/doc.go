// Package ssoe2e holds the end-to-end tests of single sign-on (issues 5, 6
// and 7) through the real daemon: `dirbridge serve` (daemon.Run in
// process) on SQLite with a config file, a slapd directory synced into it,
// SimpleSAMLphp as the SAML IdP, oidc-provider as the OpenID Provider and
// a recording SMTP server, every user driven through the daemon's HTTP
// endpoints with a real cookie jar. It has no code of its own; this file
// exists so the package builds.
package ssoe2e
