// Package expirye2e holds the end-to-end tests of password expiry (issue 7)
// against real servers: a Samba AD domain controller whose passwords are
// aged with faketime, OpenLDAP with the ppolicy overlay (ages set through
// pwdChangedTime), a real sync into SQLite, the expiry job delivering
// over STARTTLS to a recording SMTP server, and sign-in through sso.Service.
// It has no code of its own; this file exists so the package builds.
package expirye2e
