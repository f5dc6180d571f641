package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dirbridge/dirbridge/admin"
)

// sessionsCmd lists and ends sign-in sessions through the API: the
// administrator's answer to "who holds the licences" and "sign her out".
func sessionsCmd() *cobra.Command {
	c := group(&cobra.Command{Use: "sessions", Short: "List and end sign-in sessions, see the licences in use (via the API)"})
	var user string
	list := apiCmd("list [--user NAME]", "List live sessions and the licences they hold",
		"  dirbridge sessions list --user jdoe", cobra.NoArgs,
		func(c *cobra.Command) { c.Flags().StringVar(&user, "user", "", "only this user's sessions") },
		func(cmd *cobra.Command, c *client, _ []string, asJSON bool) error {
			path := "/api/v1/sessions"
			if user != "" {
				path += "?user=" + url.QueryEscape(user)
			}
			var out admin.SessionList
			if err := c.do(cmd.Context(), "GET", path, nil, &out); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, out)
			}
			var rows [][]string
			for _, s := range out.Items {
				method := s.Method
				if s.Bypass {
					method += " (bypass)"
				}
				rows = append(rows, []string{s.ID[:min(12, len(s.ID))], s.Username, method, s.SourceIP,
					ts(&s.CreatedAt), ts(&s.LastSeenAt), ts(&s.ExpiresAt)})
			}
			table(cmd, "ID\tUSER\tMETHOD\tFROM\tSIGNED IN\tLAST SEEN\tEXPIRES", rows)
			fmt.Fprintf(cmd.OutOrStdout(), "%d session(s), %d licence(s) in use\n", len(out.Items), out.LicencesInUse)
			return nil
		})
	var endUser string
	end := apiCmd("end [ID | --user NAME]", "End one session, or every session of a user (audited)",
		"  dirbridge sessions end 3f9a2c...\n  dirbridge sessions end --user jdoe", cobra.MaximumNArgs(1),
		func(c *cobra.Command) { c.Flags().StringVar(&endUser, "user", "", "sign this user out everywhere") },
		func(cmd *cobra.Command, c *client, a []string, asJSON bool) error {
			var path string
			switch {
			case endUser != "" && len(a) == 0:
				path = "/api/v1/users/" + url.PathEscape(endUser) + "/sessions"
			case endUser == "" && len(a) == 1:
				id, err := sessionByPrefix(cmd, c, a[0])
				if err != nil {
					return err
				}
				path = "/api/v1/sessions/" + url.PathEscape(id)
			default:
				return errors.New("give a session ID or --user NAME (one of them)")
			}
			var out admin.SessionsEnded
			if err := c.do(cmd.Context(), "DELETE", path, nil, &out); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d session(s) ended\n", out.Ended)
			return nil
		})
	c.AddCommand(list, end)
	return c
}

// sessionByPrefix resolves the short ID `sessions list` prints (or any
// unique prefix, like git) to the session's full ID among the sessions the
// caller can see. A full ID is used as given.
func sessionByPrefix(cmd *cobra.Command, c *client, prefix string) (string, error) {
	if len(prefix) >= 32 {
		return prefix, nil
	}
	if len(prefix) < 4 {
		return "", fmt.Errorf("session ID %q: give at least 4 characters", prefix)
	}
	var list admin.SessionList
	if err := c.do(cmd.Context(), "GET", "/api/v1/sessions", nil, &list); err != nil {
		return "", err
	}
	var matches []string
	for _, s := range list.Items {
		if strings.HasPrefix(s.ID, prefix) {
			matches = append(matches, s.ID)
		}
	}
	switch len(matches) {
	case 0:
		return prefix, nil // the API answers "not found" with the ID as given
	case 1:
		return matches[0], nil
	}
	return "", fmt.Errorf("session ID %q is ambiguous: %d sessions start with it; give more characters", prefix, len(matches))
}
