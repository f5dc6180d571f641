// Package mapping turns what a directory sync reads into the application's
// users: which profile (one per user), which units (many per user) and
// flags a user gets from their group membership, and which local fields
// (username, e-mail, names, language, application fields) attribute
// templates build from their directory attributes.
//
// Everything here is a pure function over plain structs: no I/O, no clock,
// no logging. Problems are returned as Warning values rather than logged or
// silently merged, so the sync engine can put them in its plan and a dry
// run can show an administrator what a mapping change would do.
package mapping
