package admin

import (
	"fmt"
	"net/http"
	"time"

	"github.com/dirbridge/dirbridge/expiry"
	"github.com/dirbridge/dirbridge/privilege"
)

// ExpiryList is the users whose password or account expires within the
// asked days (already expired included), soonest first.
type ExpiryList struct {
	Days  int             `json:"days"`
	Items []expiry.Notice `json:"items"`
}

// handleExpiry is the expiry report through the API, so an administrator
// needs neither the config file nor the store on their machine. A scoped
// caller sees their teams' users only.
func (s *Server) handleExpiry(w http.ResponseWriter, r *http.Request, c *caller) error {
	days, err := intQuery(r, "days", 30, 3650)
	if err != nil {
		return err
	}
	if r.URL.Query().Get("days") == "" {
		days = 30
	}
	ctx := r.Context()
	loc := s.timeZone
	if loc == nil {
		loc = time.UTC
	}
	ns, err := expiry.Upcoming(ctx, s.store, s.now(), days, loc)
	if err != nil {
		return fmt.Errorf("expiry report: %w", err)
	}
	actor, err := s.actorPrincipal(ctx, s.store, c)
	if err != nil {
		return err
	}
	out := ExpiryList{Days: days, Items: make([]expiry.Notice, 0, len(ns))}
	reach := actor.reachFor([]string{privilege.ViewUsers, privilege.ManageUsers})
	if !reach.All {
		c.detail("scope", reach.Scopes)
	}
	for _, n := range ns {
		if !reach.All {
			u, err := s.store.GetUser(ctx, n.UserID)
			if err != nil || !reach.Covers(u.Units) {
				continue
			}
		}
		out.Items = append(out.Items, n)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
