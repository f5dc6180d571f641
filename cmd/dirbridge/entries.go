package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dirbridge/dirbridge/admin"
)

// entriesCmd lists a directory's imported entries and maps, remaps,
// unmaps or creates local users from them through the daemon's API.
func entriesCmd() *cobra.Command {
	c := group(&cobra.Command{
		Use:   "entries",
		Short: "Imported directory entries: list, map, remap, unmap, create local users (via the API)",
		Long: "Work on the users a sync imported. An entry is named by its anchor (objectGUID / entryUUID) or by its " +
			"login name (sAMAccountName / uid). --directory may be left out when the daemon has one directory. " +
			"Every change is audited by the daemon.",
	})
	mapC := entriesLinkCmd("map", "Link an unmapped imported user to an existing local user (audited)",
		"  dirbridge entries map jdoe --user john.doe")
	remap := entriesLinkCmd("remap", "Link an imported user to another local user; the previous one becomes a local account (audited)",
		"  dirbridge entries remap jdoe --user jdoe2")
	c.AddCommand(entriesListCmd(), mapC, remap, entriesUnmapCmd(), entriesCreateCmd())
	return c
}

// addDirectoryFlag adds the --directory flag every entries command takes.
func addDirectoryFlag(x *cobra.Command, dir *string) {
	x.Flags().StringVar(dir, "directory", "", "directory name (default: the daemon's only directory)")
}

// entriesListCmd is `entries list`.
func entriesListCmd() *cobra.Command {
	var dir, kind, mapped string
	return apiCmd("list", "List a directory's imported entries", "  dirbridge entries list --directory corp --mapped false", cobra.NoArgs,
		func(x *cobra.Command) {
			addDirectoryFlag(x, &dir)
			x.Flags().StringVar(&kind, "kind", "user", "user, group or all")
			x.Flags().StringVar(&mapped, "mapped", "", "true: only mapped entries; false: only unmapped ones")
		},
		func(cmd *cobra.Command, c *client, _ []string, asJSON bool) error {
			ctx := cmd.Context()
			d, err := c.directory(ctx, dir)
			if err != nil {
				return err
			}
			v := url.Values{}
			if kind != "all" && kind != "" {
				v.Set("kind", kind)
			}
			if mapped != "" {
				v.Set("mapped", mapped)
			}
			var out admin.DirectoryEntryList
			if err := c.do(ctx, "GET", entriesPath(d)+"?"+v.Encode(), nil, &out); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, out)
			}
			// Show who an entry is mapped to by name, not by id.
			names, err := c.usernames(ctx, d)
			if err != nil {
				return err
			}
			rows := make([][]string, 0, len(out.Items))
			for _, e := range out.Items {
				user := "-"
				if e.UserID != "" {
					user = names[e.UserID]
					if user == "" {
						user = e.UserID
					}
				}
				rows = append(rows, []string{e.Name, e.Kind, user, e.Anchor, e.DN})
			}
			table(cmd, "NAME\tKIND\tUSER\tANCHOR\tDN", rows)
			fmt.Fprintf(cmd.ErrOrStderr(), "%d entr%s\n", len(out.Items), plural(len(out.Items), "y", "ies"))
			return nil
		})
}

// entriesLinkCmd is `entries map` or `entries remap` (action): the two
// differ only in the API action and in what the daemon does with a user
// already linked.
func entriesLinkCmd(action, short, example string) *cobra.Command {
	var dir, mapUser string
	return apiCmd(action+" ENTRY --user NAME", short, example, cobra.ExactArgs(1),
		func(x *cobra.Command) {
			addDirectoryFlag(x, &dir)
			x.Flags().StringVar(&mapUser, "user", "", "the local user (username or id)")
			_ = x.MarkFlagRequired("user")
		},
		func(cmd *cobra.Command, c *client, a []string, asJSON bool) error {
			out, err := c.entryAction(cmd.Context(), dir, a[0], action, admin.MapRequest{User: mapUser})
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s (%s) %sped to local user %s\n", out.Name, out.Anchor, action, mapUser)
			return nil
		})
}

// entryAction runs action (map, remap, unmap) on one imported entry of
// directory dir (the only one when empty), named as the user typed it.
func (c *client) entryAction(ctx context.Context, dir, entry, action string, body any) (admin.DirectoryEntry, error) {
	var out admin.DirectoryEntry
	d, err := c.directory(ctx, dir)
	if err != nil {
		return out, err
	}
	anchors, err := c.resolveEntries(ctx, d, []string{entry})
	if err != nil {
		return out, err
	}
	if err := c.do(ctx, "POST", entriesPath(d)+"/"+url.PathEscape(anchors[0])+"/"+action, body, &out); err != nil {
		return out, fmt.Errorf("%s %s: %w", action, entry, err)
	}
	return out, nil
}

// entriesUnmapCmd is `entries unmap`.
func entriesUnmapCmd() *cobra.Command {
	var dir string
	return apiCmd("unmap ENTRY", "Unlink an imported user; the local user stays as a local account and must set a local password (audited)",
		"  dirbridge entries unmap jdoe", cobra.ExactArgs(1), func(x *cobra.Command) { addDirectoryFlag(x, &dir) },
		func(cmd *cobra.Command, c *client, a []string, asJSON bool) error {
			out, err := c.entryAction(cmd.Context(), dir, a[0], "unmap", nil)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s (%s) unmapped; its local user is now a local account\n", out.Name, out.Anchor)
			return nil
		})
}

// entriesCreateCmd is `entries create`. It exits 1 when any entry was
// refused, after printing the result, so a script notices.
func entriesCreateCmd() *cobra.Command {
	var dir string
	return apiCmd("create ENTRY...", "Create local users from unmapped imported users through the directory's mapping (audited)",
		"  dirbridge entries create jdoe asmith\n  dirbridge entries create --directory corp 3f2a9c1e-...", cobra.MinimumNArgs(1),
		func(x *cobra.Command) { addDirectoryFlag(x, &dir) },
		func(cmd *cobra.Command, c *client, a []string, asJSON bool) error {
			ctx := cmd.Context()
			d, err := c.directory(ctx, dir)
			if err != nil {
				return err
			}
			anchors, err := c.resolveEntries(ctx, d, a)
			if err != nil {
				return err
			}
			var out admin.CreateEntriesResult
			if err := c.do(ctx, "POST", entriesPath(d)+"/create", admin.CreateEntriesRequest{Anchors: anchors}, &out); err != nil {
				return err
			}
			if asJSON {
				if err := printJSON(cmd, out); err != nil {
					return err
				}
			} else {
				printCreateEntries(cmd, out)
			}
			if out.Refused > 0 {
				// A script must notice that some entries were not created.
				cmd.SilenceErrors = true
				return exitError{1}
			}
			return nil
		})
}

// printCreateEntries prints `entries create`'s result as a table: each
// entry's outcome with the profile chosen and why (or why it was refused),
// then the warnings and the totals.
func printCreateEntries(cmd *cobra.Command, out admin.CreateEntriesResult) {
	rows := make([][]string, 0, len(out.Items))
	for _, it := range out.Items {
		user, profile, why := "-", "-", it.Message
		if it.User != nil {
			user, profile, why = it.User.Username, orDash(it.User.Profile), it.ProfileCause
		} else if it.Code != "" {
			why = it.Code + ": " + it.Message
		}
		rows = append(rows, []string{orDash(it.Name), it.Status, user, profile, why})
	}
	table(cmd, "ENTRY\tSTATUS\tUSER\tPROFILE\tWHY", rows)
	for _, w := range out.Warnings {
		fmt.Fprintf(cmd.OutOrStdout(), "warning: %s\n", w)
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%d created, %d refused\n", out.Created, out.Refused)
}

func entriesPath(dir string) string {
	return "/api/v1/directories/" + url.PathEscape(dir) + "/entries"
}

// directory returns dir, or the daemon's only directory when dir is empty.
func (c *client) directory(ctx context.Context, dir string) (string, error) {
	if dir != "" {
		return dir, nil
	}
	var out admin.DirectoryList
	if err := c.do(ctx, "GET", "/api/v1/directories", nil, &out); err != nil {
		return "", fmt.Errorf("list directories: %w", err)
	}
	switch len(out.Items) {
	case 0:
		return "", errors.New("the daemon has no directories")
	case 1:
		return out.Items[0].Name, nil
	}
	names := make([]string, len(out.Items))
	for i, d := range out.Items {
		names[i] = d.Name
	}
	return "", fmt.Errorf("--directory is required: the daemon has %s", strings.Join(names, ", "))
}

// resolveEntries turns each reference into an anchor: an entry's anchor as
// given, else the login name of exactly one user entry (case-insensitive).
func (c *client) resolveEntries(ctx context.Context, dir string, refs []string) ([]string, error) {
	var list admin.DirectoryEntryList
	if err := c.do(ctx, "GET", entriesPath(dir), nil, &list); err != nil {
		return nil, fmt.Errorf("list entries of %s: %w", dir, err)
	}
	out := make([]string, 0, len(refs))
	for _, ref := range refs {
		anchor := ""
		var byName []string
		for _, e := range list.Items {
			if e.Anchor == ref {
				anchor = ref
				break
			}
			if e.Kind == "user" && strings.EqualFold(e.Name, ref) {
				byName = append(byName, e.Anchor)
			}
		}
		switch {
		case anchor != "":
		case len(byName) == 1:
			anchor = byName[0]
		case len(byName) > 1:
			return nil, fmt.Errorf("%q names %d entries of %s (%s); give the anchor", ref, len(byName), dir, strings.Join(byName, ", "))
		default:
			// Unknown: the server says so (create reports it per entry,
			// the others answer not_found).
			anchor = ref
		}
		out = append(out, anchor)
	}
	return out, nil
}

// usernames maps the ids of dir's users to their usernames.
func (c *client) usernames(ctx context.Context, dir string) (map[string]string, error) {
	names := map[string]string{}
	for offset := 0; ; {
		var page admin.UserList
		v := url.Values{"source": {dir}, "limit": {"500"}, "offset": {fmt.Sprint(offset)}}
		if err := c.do(ctx, "GET", "/api/v1/users?"+v.Encode(), nil, &page); err != nil {
			return nil, fmt.Errorf("list users of %s: %w", dir, err)
		}
		for _, u := range page.Items {
			names[u.ID] = u.Username
		}
		offset += len(page.Items)
		if len(page.Items) == 0 || offset >= page.Total {
			return names, nil
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
