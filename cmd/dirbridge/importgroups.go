package main

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dirbridge/dirbridge/admin"
)

// importGroupsCmd is `directory import-groups list|search|add|remove`: the groups
// a directory's sync imports, the config's and those chosen in the store,
// through the daemon's API.
func importGroupsCmd() *cobra.Command {
	c := group(&cobra.Command{Use: "import-groups", Short: "The groups a directory imports: list them with their origin, search the directory, add or remove stored ones (via the API)"})
	list := apiCmd("list DIRECTORY", "List the imported groups: the config file's (origin config) and those chosen through the API (origin store)",
		"  dirbridge directory import-groups list corp --json", cobra.ExactArgs(1), nil,
		func(cmd *cobra.Command, cl *client, a []string, asJSON bool) error {
			return getAndShow(cmd, cl, importGroupsPath(a[0]), asJSON, "GROUP\tORIGIN\tANCHOR\tDN\tADDED BY",
				func(out admin.ImportGroupList) (rows [][]string) {
					for _, g := range out.Items {
						name := g.Name
						if name == "" {
							name = g.Reference
						}
						rows = append(rows, []string{name, g.Origin, g.Anchor, g.DN, g.AddedBy})
					}
					return rows
				})
		})
	add := apiCmd("add DIRECTORY GROUP", "Import a directory group (by DN, name or anchor) from the next sync on (audited)",
		"  dirbridge directory import-groups add corp CC-Supervisors", cobra.ExactArgs(2), nil,
		func(cmd *cobra.Command, cl *client, a []string, asJSON bool) error {
			var g admin.ImportGroup
			if err := cl.do(cmd.Context(), "POST", importGroupsPath(a[0]), admin.ImportGroupInput{Group: a[1]}, &g); err != nil {
				return fmt.Errorf("directory %s: import group %s: %w", a[0], a[1], err)
			}
			if asJSON {
				return printJSON(cmd, g)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "group %s (%s) is imported into %s from the next sync on\n", g.Name, g.DN, a[0])
			return nil
		})
	remove := apiCmd("remove DIRECTORY GROUP", "Stop importing a group chosen through the API (by anchor, name or DN); its members leave at the next sync, within max_deactivations (audited)",
		"  dirbridge directory import-groups remove corp CC-Supervisors", cobra.ExactArgs(2), nil,
		func(cmd *cobra.Command, cl *client, a []string, asJSON bool) error {
			var list admin.ImportGroupList
			if err := cl.do(cmd.Context(), "GET", importGroupsPath(a[0]), nil, &list); err != nil {
				return fmt.Errorf("directory %s: %w", a[0], err)
			}
			anchor := a[1]
			for _, g := range list.Items {
				if g.Anchor != "" && (strings.EqualFold(a[1], g.Anchor) || strings.EqualFold(a[1], g.Name) ||
					strings.EqualFold(a[1], g.DN) || strings.EqualFold(a[1], g.Reference)) {
					anchor = g.Anchor
					break
				}
			}
			if err := cl.do(cmd.Context(), "DELETE", importGroupsPath(a[0])+"/"+url.PathEscape(anchor), nil, nil); err != nil {
				return fmt.Errorf("directory %s: remove import group %s: %w", a[0], a[1], err)
			}
			if asJSON {
				return printJSON(cmd, map[string]string{"removed": anchor})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "group %s is no longer imported into %s; its members leave at the next sync\n", a[1], a[0])
			return nil
		})
	search := apiCmd("search DIRECTORY [TEXT]", "Search the directory itself, live, for groups whose name contains TEXT (all without it): name, direct members, DN, and the origin of those imported already",
		"  dirbridge directory import-groups search corp CC-", cobra.RangeArgs(1, 2), nil,
		func(cmd *cobra.Command, cl *client, a []string, asJSON bool) error {
			q := url.Values{}
			if len(a) == 2 {
				q.Set("search", a[1])
			}
			path := "/api/v1/directories/" + url.PathEscape(a[0]) + "/groups?" + q.Encode()
			var out admin.FoundGroupList
			if err := cl.do(cmd.Context(), "GET", path, nil, &out); err != nil {
				return fmt.Errorf("directory %s: search groups: %w", a[0], err)
			}
			if asJSON {
				return printJSON(cmd, out)
			}
			rows := make([][]string, 0, len(out.Items))
			for _, g := range out.Items {
				rows = append(rows, []string{g.Name, fmt.Sprint(g.MemberCount), g.Origin, g.DN})
			}
			table(cmd, "NAME\tMEMBERS\tIMPORTED\tDN", rows)
			if out.More {
				fmt.Fprintf(cmd.ErrOrStderr(), "%d group(s) shown, more match: narrow the search\n", len(out.Items))
			}
			return nil
		})
	c.AddCommand(list, search, add, remove)
	return c
}

func importGroupsPath(dir string) string {
	return "/api/v1/directories/" + url.PathEscape(dir) + "/import-groups"
}
