// Package scim is dirbridge's SCIM 2.0 service provider (RFC 7643 / 7644):
// Entra ID, Okta or any SCIM client pushes users and groups to
// /scim/v2/<source>/, and they land in the same model as directory users.
//
// A provisioning source is kept like a directory named "scim:<source>":
// every SCIM resource is a store.DirectoryEntry of that directory whose
// anchor is the resource's SCIM id and whose "scim" attribute holds the
// resource as the client last sent it (passwords stripped). A SCIM user
// is mapped to a local user (entry.UserID) with the source "scim:<source>",
// or — when its onPremisesImmutableId is a directory-synced user's
// objectGUID — linked to that directory user, whose fields the directory
// keeps owning. A SCIM group's members are its entry's Groups (member SCIM
// ids), and group membership goes through the mapping rules exactly as a
// directory group's does (profile, teams, flags).
//
// Clients are lenient in the ways the IdPs really are: PATCH "op" values in
// any case ("Replace", "Add"), "active" as the string "False", a path-less
// replace whose keys are themselves paths, member removal by
// members[value eq "..."]. Filters and PATCH paths are parsed by
// github.com/scim2/filter-parser/v2 and evaluated here over the stored
// documents, attribute names case-insensitively.
//
// Every refusal is a SCIM error (urn:ietf:params:scim:api:messages:2.0:Error
// with scimType where RFC 7644 names one) and changes nothing; every change
// is audited with the source as the actor; deactivations are limited per
// source and hour.
package scim
