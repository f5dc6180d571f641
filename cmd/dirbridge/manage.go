package main

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/dirbridge/dirbridge/admin"
)

// userManageCommands are `users create|update|bulk-generate|set-profile|
// set-teams`: local users and changes to many users, through the API, so
// the same authorization, scope and audit apply as in the console.
func userManageCommands() []*cobra.Command {
	return []*cobra.Command{usersCreateCmd(), usersUpdateCmd(), usersBulkGenerateCmd(), usersSetProfileCmd(), usersSetTeamsCmd()}
}

func usersCreateCmd() *cobra.Command {
	var in admin.CreateUserRequest
	var profile string
	var teams []string
	var inactive, noInvite bool
	return apiCmd("create NAME [--template T] [--email E] [--profile P] [--team T]...", "Create a local user from a template; mails a set-password link (audited)",
		"  dirbridge users create jdoe --template agent --first-name Jane --last-name Doe\n  dirbridge users create kiosk --profile Agent --no-invite",
		cobra.ExactArgs(1),
		func(c *cobra.Command) {
			c.Flags().StringVar(&in.Template, "template", "", "user template (mapping.user_templates)")
			c.Flags().StringVar(&in.Email, "email", "", "e-mail address (default: the template's e-mail domain)")
			c.Flags().StringVar(&in.FirstName, "first-name", "", "first name")
			c.Flags().StringVar(&in.LastName, "last-name", "", "last name")
			c.Flags().StringVar(&in.DisplayName, "display-name", "", "display name (default: first and last name)")
			c.Flags().StringVar(&in.Language, "language", "", "language tag, e.g. fr-CA")
			c.Flags().StringVar(&profile, "profile", "", "profile (overrides the template's)")
			c.Flags().StringSliceVar(&teams, "team", nil, "team (repeatable; overrides the template's)")
			c.Flags().BoolVar(&inactive, "inactive", false, "create the user inactive")
			c.Flags().BoolVar(&noInvite, "no-invite", false, "send no set-password mail (the user signs in through an IdP)")
		},
		func(cmd *cobra.Command, c *client, a []string, asJSON bool) error {
			in.Username = a[0]
			in.Profile, in.Units, in.State = newUserOverrides(cmd, profile, teams, inactive)
			if noInvite {
				f := false
				in.Invite = &f
			}
			var out admin.CreateUserResponse
			if err := c.do(cmd.Context(), "POST", "/api/v1/users", in, &out); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created %s (%s, profile %q, teams %s)\n", out.User.Username, out.User.State, out.User.Profile, strings.Join(out.User.Units, ","))
			switch {
			case out.InviteSent:
				fmt.Fprintf(cmd.OutOrStdout(), "a set-password link was mailed to %s\n", out.User.Email)
			case out.InviteErr != "":
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: %s\n", out.InviteErr)
			}
			return nil
		})
}

func usersUpdateCmd() *cobra.Command {
	var profile string
	var teams []string
	return apiCmd("update NAME [--profile P] [--team T]...", "Change one user's profile or teams (audited)",
		"  dirbridge users update jdoe --profile Supervisor --team \"Floor 2\"",
		cobra.ExactArgs(1),
		func(c *cobra.Command) {
			c.Flags().StringVar(&profile, "profile", "", "new profile (\"\" removes it)")
			c.Flags().StringSliceVar(&teams, "team", nil, "the user's teams (repeatable; replaces them)")
		},
		func(cmd *cobra.Command, c *client, a []string, asJSON bool) error {
			var p admin.UserPatch
			if cmd.Flags().Changed("profile") {
				p.Profile = &profile
			}
			if cmd.Flags().Changed("team") {
				u := cleanUnits(teams)
				p.Units = &u
			}
			if p.Profile == nil && p.Units == nil {
				return errors.New("nothing to change: give --profile and/or --team")
			}
			var d admin.UserDetail
			if err := c.do(cmd.Context(), "PATCH", "/api/v1/users/"+url.PathEscape(a[0]), p, &d); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, d)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: profile %q, teams %s\n", d.Username, d.Profile, strings.Join(d.Units, ","))
			return nil
		})
}

func usersBulkGenerateCmd() *cobra.Command {
	var in admin.BulkGenerateRequest
	var profile string
	var teams []string
	var inactive bool
	return apiCmd("bulk-generate --pattern P --count N [--start S] [--template T] [--dry-run]",
		"Generate numbered local users; random passwords (shown once) must change at first sign-in (audited)",
		"  dirbridge users bulk-generate --pattern 'agent{n:3}' --count 20 --template agent --dry-run\n  dirbridge users bulk-generate --pattern 'agent{n:3}' --count 20 --template agent --json > agents.json",
		cobra.NoArgs,
		func(c *cobra.Command) {
			c.Flags().StringVar(&in.Pattern, "pattern", "", "username pattern: {n} is the number, {n:3} pads it to 3 digits")
			c.Flags().IntVar(&in.Count, "count", 0, "how many users (at most 1000)")
			c.Flags().IntVar(&in.Start, "start", 1, "first number")
			c.Flags().StringVar(&in.Template, "template", "", "user template (mapping.user_templates)")
			c.Flags().StringVar(&in.EmailDomain, "email-domain", "", "e-mail domain (username@domain)")
			c.Flags().StringVar(&profile, "profile", "", "profile (overrides the template's)")
			c.Flags().StringSliceVar(&teams, "team", nil, "team (repeatable; overrides the template's)")
			c.Flags().BoolVar(&inactive, "inactive", false, "create the users inactive")
			c.Flags().BoolVar(&in.DryRun, "dry-run", false, "show the users that would be created; create nothing")
		},
		func(cmd *cobra.Command, c *client, _ []string, asJSON bool) error {
			in.Profile, in.Units, in.State = newUserOverrides(cmd, profile, teams, inactive)
			var out admin.BulkGenerateResponse
			if err := c.do(cmd.Context(), "POST", "/api/v1/bulk/generate-users", in, &out); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, out)
			}
			var rows [][]string
			for _, g := range out.Users {
				pw := g.Password
				if pw == "" {
					pw = "-"
				}
				rows = append(rows, []string{g.User.Username, g.User.Email, g.User.State, g.User.Profile, strings.Join(g.User.Units, ","), pw})
			}
			table(cmd, "USERNAME\tEMAIL\tSTATE\tPROFILE\tTEAMS\tPASSWORD", rows)
			if out.DryRun {
				fmt.Fprintf(cmd.OutOrStdout(), "dry run: %d user(s) would be created\n", len(out.Users))
			} else {
				fmt.Fprintf(cmd.OutOrStdout(), "%d user(s) created; the passwords are shown only now and must be changed at first sign-in\n", len(out.Users))
			}
			return nil
		})
}

// bulkUpdate sends one all-or-nothing change and prints the result.
func bulkUpdate(cmd *cobra.Command, c *client, in admin.BulkUpdateRequest, asJSON bool) error {
	var out admin.BulkUpdateResponse
	if err := c.do(cmd.Context(), "POST", "/api/v1/bulk/update-users", in, &out); err != nil {
		return err
	}
	if asJSON {
		return printJSON(cmd, out)
	}
	var rows [][]string
	for _, u := range out.Users {
		rows = append(rows, []string{u.Username, u.State, u.Profile, strings.Join(u.Units, ",")})
	}
	table(cmd, "USERNAME\tSTATE\tPROFILE\tTEAMS", rows)
	verb := "changed"
	if out.DryRun {
		verb = "would change (dry run)"
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%d user(s) %s\n", len(out.Users), verb)
	return nil
}

func usersSetProfileCmd() *cobra.Command {
	var dry bool
	return apiCmd("set-profile PROFILE NAME... [--dry-run]", "Give many users one profile, all or nothing (audited)",
		"  dirbridge users set-profile Agent jdoe asmith --dry-run\n  dirbridge users set-profile \"\" jdoe   # remove the profile",
		cobra.MinimumNArgs(2),
		func(c *cobra.Command) {
			c.Flags().BoolVar(&dry, "dry-run", false, "check every user and change none")
		},
		func(cmd *cobra.Command, c *client, a []string, asJSON bool) error {
			return bulkUpdate(cmd, c, admin.BulkUpdateRequest{Users: a[1:], Profile: &a[0], DryRun: dry}, asJSON)
		})
}

func usersSetTeamsCmd() *cobra.Command {
	var dry bool
	var teams []string
	return apiCmd("set-teams NAME... --team T... [--dry-run]", "Set the teams of many users, all or nothing (audited)",
		"  dirbridge users set-teams jdoe asmith --team \"Floor 2\" --dry-run\n  dirbridge users set-teams jdoe --team \"\"   # no team",
		cobra.MinimumNArgs(1),
		func(c *cobra.Command) {
			c.Flags().StringSliceVar(&teams, "team", nil, "team (repeatable; replaces the users' teams)")
			c.Flags().BoolVar(&dry, "dry-run", false, "check every user and change none")
		},
		func(cmd *cobra.Command, c *client, a []string, asJSON bool) error {
			if !cmd.Flags().Changed("team") {
				return errors.New("give --team (--team \"\" for none)")
			}
			u := cleanUnits(teams)
			return bulkUpdate(cmd, c, admin.BulkUpdateRequest{Users: a, Units: &u, DryRun: dry}, asJSON)
		})
}

// parseScopes reads --scope privilege=kind[:team,team].
func parseScopes(in []string) (map[string]admin.Scope, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := map[string]admin.Scope{}
	for _, s := range in {
		name, rest, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--scope %q: want privilege=all|own_teams|assigned:TEAM,TEAM", s)
		}
		kind, teams, _ := strings.Cut(rest, ":")
		sc := admin.Scope{Kind: kind}
		if teams != "" {
			sc.Teams = cleanUnits(strings.Split(teams, ","))
		}
		out[name] = sc
	}
	return out, nil
}

// profileFlags are the flags of profiles create and update.
type profileFlags struct {
	description string
	privileges  []string
	mayGrant    []string
	scopes      []string
}

func (f *profileFlags) add(c *cobra.Command) {
	c.Flags().StringVar(&f.description, "description", "", "what the profile is for")
	c.Flags().StringSliceVar(&f.privileges, "privilege", nil, "privilege (repeatable)")
	c.Flags().StringSliceVar(&f.mayGrant, "may-grant", nil, "privilege holders may grant to others (repeatable; default: what they hold)")
	c.Flags().StringArrayVar(&f.scopes, "scope", nil, "limit a scoped privilege: privilege=own_teams or privilege=assigned:TEAM,TEAM (repeatable)")
}

func (f *profileFlags) input(cmd *cobra.Command, name string) (admin.ProfileInput, error) {
	in := admin.ProfileInput{Name: name, Description: f.description, Privileges: cleanUnits(f.privileges)}
	if cmd.Flags().Changed("may-grant") {
		in.MayGrant = cleanUnits(f.mayGrant)
	}
	sc, err := parseScopes(f.scopes)
	in.Scopes = sc
	return in, err
}

func printProfile(cmd *cobra.Command, p admin.Profile, asJSON bool, verb string) error {
	if asJSON {
		return printJSON(cmd, p)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "profile %s %s: %s\n", p.Name, verb, strings.Join(p.Privileges, ", "))
	return nil
}

// profileManageCommands are `profiles create|update|delete|load`.
func profileManageCommands() []*cobra.Command {
	var cf, uf profileFlags
	create := apiCmd("create NAME --privilege P... [--scope P=own_teams] [--may-grant P...]", "Create a profile (audited)",
		"  dirbridge profiles create Supervisor --privilege manage_users --privilege view_audit_log --scope manage_users=own_teams",
		cobra.ExactArgs(1), cf.add,
		func(cmd *cobra.Command, c *client, a []string, asJSON bool) error {
			in, err := cf.input(cmd, a[0])
			if err != nil {
				return err
			}
			var p admin.Profile
			if err := c.do(cmd.Context(), "POST", "/api/v1/profiles", in, &p); err != nil {
				return err
			}
			return printProfile(cmd, p, asJSON, "created")
		})
	update := apiCmd("update NAME --privilege P... [--scope ...] [--may-grant ...]", "Replace a profile's privileges, scopes and description (audited)",
		"  dirbridge profiles update Agent --privilege app_take_calls --description \"Takes calls\"",
		cobra.ExactArgs(1), uf.add,
		func(cmd *cobra.Command, c *client, a []string, asJSON bool) error {
			in, err := uf.input(cmd, a[0])
			if err != nil {
				return err
			}
			var p admin.Profile
			if err := c.do(cmd.Context(), "PUT", "/api/v1/profiles/"+url.PathEscape(a[0]), in, &p); err != nil {
				return err
			}
			return printProfile(cmd, p, asJSON, "updated")
		})
	del := deleteCmd("profile", "/api/v1/profiles/", "Delete a profile nobody holds (audited)", "  dirbridge profiles delete Trainee")
	return []*cobra.Command{create, update, del, profilesLoadCmd()}
}

// profileFile is a file of profiles to load (deploy/admin-profiles.example.yaml).
type profileFile struct {
	Profiles []struct {
		Name        string                 `yaml:"name"`
		Description string                 `yaml:"description"`
		Privileges  []string               `yaml:"privileges"`
		MayGrant    []string               `yaml:"may_grant"`
		Scopes      map[string]admin.Scope `yaml:"scopes"`
	} `yaml:"profiles"`
}

func profilesLoadCmd() *cobra.Command {
	var dry bool
	return apiCmd("load FILE [--dry-run]", "Create or update the profiles of a file, e.g. the shipped deploy/admin-profiles.example.yaml (audited)",
		"  dirbridge profiles load deploy/admin-profiles.example.yaml --dry-run\n  dirbridge profiles load deploy/admin-profiles.example.yaml",
		cobra.ExactArgs(1),
		func(c *cobra.Command) {
			c.Flags().BoolVar(&dry, "dry-run", false, "say what would be created or updated")
		},
		func(cmd *cobra.Command, c *client, a []string, asJSON bool) error {
			raw, err := os.ReadFile(a[0])
			if err != nil {
				return err
			}
			var f profileFile
			dec := yaml.NewDecoder(strings.NewReader(string(raw)))
			dec.KnownFields(true)
			if err := dec.Decode(&f); err != nil {
				return fmt.Errorf("%s: %w", a[0], err)
			}
			var existing admin.ProfileList
			if err := c.do(cmd.Context(), "GET", "/api/v1/profiles", nil, &existing); err != nil {
				return err
			}
			type result struct {
				Name   string `json:"name"`
				Action string `json:"action"`
			}
			var results []result
			for i, p := range f.Profiles {
				if p.Name == "" {
					return fmt.Errorf("%s: profiles[%d].name is required", a[0], i)
				}
				in := admin.ProfileInput{Name: p.Name, Description: p.Description, Privileges: p.Privileges, MayGrant: p.MayGrant, Scopes: p.Scopes}
				if in.Privileges == nil {
					in.Privileges = []string{}
				}
				at := slices.IndexFunc(existing.Items, func(x admin.Profile) bool { return x.Name == p.Name })
				action := "create"
				switch {
				case at >= 0 && existing.Items[at].FromConfig:
					results = append(results, result{p.Name, "skipped: defined in the config file"})
					continue
				case at >= 0:
					action = "update"
				}
				if !dry {
					var err error
					if action == "create" {
						err = c.do(cmd.Context(), "POST", "/api/v1/profiles", in, nil)
					} else {
						err = c.do(cmd.Context(), "PUT", "/api/v1/profiles/"+url.PathEscape(p.Name), in, nil)
					}
					if err != nil {
						return fmt.Errorf("profile %s: %w", p.Name, err)
					}
				}
				results = append(results, result{p.Name, action})
			}
			if asJSON {
				return printJSON(cmd, map[string]any{"dry_run": dry, "profiles": results})
			}
			var rows [][]string
			for _, r := range results {
				rows = append(rows, []string{r.Name, r.Action})
			}
			table(cmd, "PROFILE\tACTION", rows)
			if dry {
				fmt.Fprintln(cmd.OutOrStdout(), "dry run: nothing changed")
			}
			return nil
		})
}

// privilegesCmd is `privileges list`.
func privilegesCmd() *cobra.Command {
	c := group(&cobra.Command{Use: "privileges", Short: "The privilege catalogue: built-in and the application's, by area (via the API)"})
	c.AddCommand(apiCmd("list", "List privileges by area, with what each requires and whether it can be limited to teams",
		"  dirbridge privileges list\n  dirbridge privileges list --json", cobra.NoArgs, nil,
		func(cmd *cobra.Command, cl *client, _ []string, asJSON bool) error {
			return getAndShow(cmd, cl, "/api/v1/privileges", asJSON, "AREA\tPRIVILEGE\tSCOPED\tREQUIRES\tDESCRIPTION",
				func(out admin.PrivilegeCatalogue) (rows [][]string) {
					for _, g := range out.Groups {
						for _, p := range g.Privileges {
							scoped := ""
							if p.Scoped {
								scoped = "yes"
							}
							rows = append(rows, []string{g.Name, p.Name, scoped, strings.Join(p.Requires, ","), p.Description})
						}
					}
					return rows
				})
		}))
	return c
}

// teamsCmd is `teams list|create|update|delete`.
func teamsCmd() *cobra.Command {
	c := group(&cobra.Command{Use: "teams", Short: "Teams, subteams and supervisors (via the API)"})
	list := apiCmd("list", "List teams with parent, subteams, supervisors and members", "  dirbridge teams list --json", cobra.NoArgs, nil,
		func(cmd *cobra.Command, cl *client, _ []string, asJSON bool) error {
			return getAndShow(cmd, cl, "/api/v1/teams", asJSON, "TEAM\tPARENT\tSUBTEAMS\tSUPERVISORS\tMEMBERS",
				func(out admin.TeamList) (rows [][]string) {
					for _, t := range out.Items {
						rows = append(rows, []string{t.Name, t.Parent, strings.Join(t.Subteams, ","), strings.Join(t.Supervisors, ","), fmt.Sprint(t.Members)})
					}
					return rows
				})
		})
	put := func(verb, method string) *cobra.Command {
		var in admin.TeamInput
		return apiCmd(verb+" NAME [--parent P] [--supervisor USER]... [--description D]", strings.ToUpper(verb[:1])+verb[1:]+" a team (audited)",
			"  dirbridge teams "+verb+" \"Floor 2\" --parent Support --supervisor jdoe",
			cobra.ExactArgs(1),
			func(c *cobra.Command) {
				c.Flags().StringVar(&in.Parent, "parent", "", "parent team")
				c.Flags().StringSliceVar(&in.Supervisors, "supervisor", nil, "supervisor username (repeatable)")
				c.Flags().StringVar(&in.Description, "description", "", "what the team is")
			},
			func(cmd *cobra.Command, cl *client, a []string, asJSON bool) error {
				in.Name = a[0]
				if in.Supervisors == nil {
					in.Supervisors = []string{}
				}
				path := "/api/v1/teams"
				if method == "PUT" {
					path += "/" + url.PathEscape(a[0])
				}
				var t admin.Team
				if err := cl.do(cmd.Context(), method, path, in, &t); err != nil {
					return err
				}
				if asJSON {
					return printJSON(cmd, t)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "team %s %sd\n", t.Name, verb)
				return nil
			})
	}
	del := deleteCmd("team", "/api/v1/teams/", "Delete a team without members or subteams (audited)", "  dirbridge teams delete Night")
	c.AddCommand(list, put("create", "POST"), put("update", "PUT"), del)
	return c
}

// getAndShow GETs path into a T and prints it: as JSON for scripts, else
// as the table rows gives under header.
func getAndShow[T any](cmd *cobra.Command, c *client, path string, asJSON bool, header string, rows func(T) [][]string) error {
	var out T
	if err := c.do(cmd.Context(), "GET", path, nil, &out); err != nil {
		return err
	}
	if asJSON {
		return printJSON(cmd, out)
	}
	table(cmd, header, rows(out))
	return nil
}

// deleteCmd is `<kind>s delete NAME`: DELETE prefix+NAME, audited by the
// API.
func deleteCmd(kind, prefix, short, example string) *cobra.Command {
	return apiCmd("delete NAME", short, example, cobra.ExactArgs(1), nil,
		func(cmd *cobra.Command, c *client, a []string, asJSON bool) error {
			if err := c.do(cmd.Context(), "DELETE", prefix+url.PathEscape(a[0]), nil, nil); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, map[string]string{"deleted": a[0]})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s %s deleted\n", kind, a[0])
			return nil
		})
}

// newUserOverrides reads the flags that override a user template, shared
// by users create and bulk-generate: the profile and teams when given,
// and "inactive" when asked.
func newUserOverrides(cmd *cobra.Command, profile string, teams []string, inactive bool) (*string, []string, string) {
	var p *string
	if cmd.Flags().Changed("profile") {
		p = &profile
	}
	var units []string
	if cmd.Flags().Changed("team") {
		units = cleanUnits(teams)
	}
	state := ""
	if inactive {
		state = "inactive"
	}
	return p, units, state
}
