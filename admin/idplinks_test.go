package admin_test

import (
	"testing"

	"github.com/dirbridge/dirbridge/admin"
)

func TestIdPLinks(t *testing.T) {
	e := newEnv(t)
	e.user("agent", "", false)
	uma := e.token("uma")   // manage_users, not a superuser
	root := e.token("root") // superuser
	pete := e.token("pete") // neither
	const entra = "https://login.microsoftonline.com/t-1/v2.0"

	// A user administrator links an ordinary user; a second link at the
	// same IdP, or the same subject on someone else, is a conflict.
	var l admin.IdPLink
	e.do("POST", "/api/v1/users/nobody/idp-links", uma, admin.IdPLinkInput{Issuer: entra, Subject: "t-1/o-nobody"}, 201, &l)
	if l.Issuer != entra || l.Subject != "t-1/o-nobody" || l.CreatedAt.IsZero() {
		t.Fatalf("link %+v", l)
	}
	e.do("POST", "/api/v1/users/nobody/idp-links", uma, admin.IdPLinkInput{Issuer: entra, Subject: "t-1/o-other"}, 409, nil)
	e.do("POST", "/api/v1/users/agent/idp-links", uma, admin.IdPLinkInput{Issuer: entra, Subject: "t-1/o-nobody"}, 409, nil)
	e.do("POST", "/api/v1/users/nobody/idp-links", uma, admin.IdPLinkInput{Issuer: entra}, 400, nil)

	var list admin.IdPLinkList
	e.do("GET", "/api/v1/users/nobody/idp-links", uma, nil, 200, &list)
	if len(list.Items) != 1 || list.Items[0].Subject != "t-1/o-nobody" {
		t.Fatalf("links %+v", list.Items)
	}
	e.do("GET", "/api/v1/users/nobody/idp-links", pete, nil, 403, nil)

	// Linking a subject the caller controls onto a better-privileged
	// account would be a takeover: only someone who could grant all the
	// target holds may do it.
	e.do("POST", "/api/v1/users/root/idp-links", uma, admin.IdPLinkInput{Issuer: entra, Subject: "t-1/o-uma"}, 403, nil)
	e.do("POST", "/api/v1/users/alice/idp-links", uma, admin.IdPLinkInput{Issuer: entra, Subject: "t-1/o-uma"}, 403, nil)
	e.do("POST", "/api/v1/users/root/idp-links", root, admin.IdPLinkInput{Issuer: entra, Subject: "t-1/o-root"}, 201, nil)
	e.do("DELETE", "/api/v1/users/root/idp-links?issuer="+entra, uma, nil, 403, nil)

	e.do("DELETE", "/api/v1/users/nobody/idp-links?issuer="+entra, uma, nil, 204, nil)
	e.do("DELETE", "/api/v1/users/nobody/idp-links?issuer="+entra, uma, nil, 404, nil)
	e.do("DELETE", "/api/v1/users/nobody/idp-links", uma, nil, 400, nil)

	if ev := e.audit("user.idp_link"); len(ev) != 7 {
		t.Errorf("user.idp_link audit events: %d, want every attempt (7): %+v", len(ev), ev)
	}
	if ev := e.audit("user.idp_unlink"); len(ev) < 3 {
		t.Errorf("user.idp_unlink audit events: %+v", ev)
	}
}
