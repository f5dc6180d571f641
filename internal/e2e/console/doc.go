// Package consolee2e holds the end-to-end tests of the administration
// console in a real browser: the daemon (daemon.Run on a config file, a
// SQLite store, a slapd directory on loopback) driven by Debian's headless
// chromium through chromedp. An administrator signs in through the
// password form, imports the directory, creates, deactivates and edits,
// and chooses a directory group to import and syncs its members in; a
// supervisor sees only their team; a user without privileges sees only My
// account; a cross-site form post is refused.
//
// With DIRBRIDGE_SCREENSHOTS set to a directory (make screenshots sets
// docs/console), each main page is saved there as a PNG. It has no code of
// its own; this file exists so the package builds.
package consolee2e
