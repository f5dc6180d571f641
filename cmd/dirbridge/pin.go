package main

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dirbridge/dirbridge/admin"
)

// pinCommands are `users pin` and `users unpin`: an administrator's
// override of a directory user's profile or units, which the sync then
// leaves alone (its plan says so) until unpinned.
func pinCommands() []*cobra.Command {
	var profile string
	var units []string
	pin := apiCmd("pin NAME [--profile P] [--units a,b]", "Pin a user's profile and/or units so the sync leaves them alone (audited)",
		"  dirbridge users pin jdoe --profile Supervisor\n  dirbridge users pin jdoe --units HQ,Night\n  dirbridge users pin jdoe   # both, at their current values",
		cobra.ExactArgs(1),
		func(c *cobra.Command) {
			c.Flags().StringVar(&profile, "profile", "", "set the profile to P and pin it (\"\" pins no profile)")
			c.Flags().StringSliceVar(&units, "units", nil, "set the units to this list and pin them (\"\" pins no units)")
		},
		func(cmd *cobra.Command, c *client, a []string, asJSON bool) error {
			t := true
			var p admin.UserPatch
			withProfile, withUnits := cmd.Flags().Changed("profile"), cmd.Flags().Changed("units")
			if withProfile {
				p.Profile, p.PinnedProfile = &profile, &t
			}
			if withUnits {
				u := cleanUnits(units)
				p.Units, p.PinnedUnits = &u, &t
			}
			if !withProfile && !withUnits {
				p.PinnedProfile, p.PinnedUnits = &t, &t
			}
			return patchPins(cmd, c, a[0], p, asJSON)
		})

	var unProfile, unUnits bool
	unpin := apiCmd("unpin NAME [--profile] [--units]", "Return a user's profile and/or units to the mapping rules at the next sync (audited)",
		"  dirbridge users unpin jdoe --profile\n  dirbridge users unpin jdoe   # both",
		cobra.ExactArgs(1),
		func(c *cobra.Command) {
			c.Flags().BoolVar(&unProfile, "profile", false, "unpin the profile")
			c.Flags().BoolVar(&unUnits, "units", false, "unpin the units")
		},
		func(cmd *cobra.Command, c *client, a []string, asJSON bool) error {
			f := false
			var p admin.UserPatch
			if unProfile || !unUnits {
				p.PinnedProfile = &f
			}
			if unUnits || !unProfile {
				p.PinnedUnits = &f
			}
			return patchPins(cmd, c, a[0], p, asJSON)
		})
	return []*cobra.Command{pin, unpin}
}

// cleanUnits drops blanks, so --units "" pins an empty list.
func cleanUnits(in []string) []string {
	out := []string{}
	for _, u := range in {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

func patchPins(cmd *cobra.Command, c *client, name string, p admin.UserPatch, asJSON bool) error {
	if name == "" {
		return errors.New("name the user")
	}
	var d admin.UserDetail
	if err := c.do(cmd.Context(), "PATCH", "/api/v1/users/"+url.PathEscape(name), p, &d); err != nil {
		return fmt.Errorf("user %s: %w", name, err)
	}
	if asJSON {
		return printJSON(cmd, d)
	}
	state := func(pinned bool) string {
		if pinned {
			return "pinned (the sync leaves it alone)"
		}
		return "follows the mapping rules"
	}
	table(cmd, "FIELD\tVALUE\tPIN", [][]string{
		{"profile", orDash(d.Profile), state(d.PinnedProfile)},
		{"units", orDash(strings.Join(d.Units, ", ")), state(d.PinnedUnits)},
	})
	return nil
}
