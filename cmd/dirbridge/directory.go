package main

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/internal/wire"
	"github.com/dirbridge/dirbridge/sync/engine"
)

// directoryCmd groups the directory tools: groups reads the directory
// itself (to choose what to import), stats reads the store, directly with
// --config or through the daemon's API, and import-groups chooses the
// groups to import beside the config's, through the API.
func directoryCmd() *cobra.Command {
	c := group(&cobra.Command{Use: "directory", Short: "Directory groups (to choose imports), the groups imported, and import statistics"})
	c.AddCommand(directoryGroupsCmd(), directoryStatsCmd(), importGroupsCmd())
	return c
}

func directoryGroupsCmd() *cobra.Command {
	var cfgPath, dir, search string
	var asJSON bool
	c := &cobra.Command{
		Use:   "groups --config FILE [--directory NAME] [--search TEXT] [--json]",
		Short: "List the directory's groups (name, DN, direct member count) to choose which to import",
		Long: "Connect to the directory with the config's settings and list its groups whose name contains --search " +
			"(all groups without it), sorted by name. Put a group's name, DN or anchor under directories[].groups to import it.",
		Example: "  dirbridge directory groups --config /etc/dirbridge/dirbridge.yaml --directory corp --search CC-",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			if dir, err = pickDirectory(cfg, dir); err != nil {
				return err
			}
			src, err := wire.Source(cfg, dir, zap.NewNop())
			if err != nil {
				return err
			}
			groups, err := src.ListGroups(ctx, search)
			if err != nil {
				return fmt.Errorf("directory %s: %w", dir, err)
			}
			if asJSON {
				if groups == nil {
					return printJSON(cmd, []any{})
				}
				return printJSON(cmd, groups)
			}
			rows := make([][]string, 0, len(groups))
			for _, g := range groups {
				rows = append(rows, []string{g.Name, fmt.Sprint(g.MemberCount), g.DN})
			}
			table(cmd, "NAME\tMEMBERS\tDN", rows)
			fmt.Fprintf(cmd.ErrOrStderr(), "%d group(s)\n", len(groups))
			return nil
		},
	}
	c.Flags().StringVar(&cfgPath, "config", "/etc/dirbridge/dirbridge.yaml", "configuration file")
	c.Flags().StringVar(&dir, "directory", "", "directory name (default: the only one)")
	c.Flags().StringVar(&search, "search", "", "only groups whose name contains this text")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON for scripts")
	return c
}

func directoryStatsCmd() *cobra.Command {
	var cfgPath string
	var f apiFlags
	c := &cobra.Command{
		Use:   "stats [NAME] [--config FILE | --server URL] [--json]",
		Short: "Import statistics of a directory (users imported, mapped, active; groups; domains; latest import)",
		Long: "Print a directory's import statistics. With --config they are read from the config's store directly " +
			"(works while the daemon is down); otherwise from the daemon's API at --server.",
		Example: "  dirbridge directory stats corp\n  dirbridge directory stats --config /etc/dirbridge/dirbridge.yaml",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			var st admin.DirectoryStats
			if cfgPath != "" {
				cfg, s, err := openFromConfig(ctx, cfgPath)
				if err != nil {
					return err
				}
				defer s.Close()
				if name, err = pickDirectory(cfg, name); err != nil {
					return err
				}
				es, err := engine.Stats(ctx, s, name)
				if err != nil {
					return fmt.Errorf("directory %s: stats: %w", name, err)
				}
				st = admin.DirectoryStats{Directory: es.Directory, UsersImported: es.UsersImported, UsersMapped: es.UsersMapped,
					UsersActive: es.UsersActive, GroupsImported: es.GroupsImported, Domains: es.Domains}
				if !es.LatestImport.IsZero() {
					t := es.LatestImport
					st.LatestImport = &t
				}
			} else {
				if name == "" {
					return fmt.Errorf("name the directory (dirbridge directory stats NAME) when asking the daemon")
				}
				cl, err := f.client(ctx)
				if err != nil {
					return err
				}
				if err := cl.do(ctx, "GET", "/api/v1/directories/"+url.PathEscape(name)+"/stats", nil, &st); err != nil {
					return fmt.Errorf("directory %s: stats: %w", name, err)
				}
			}
			if f.json {
				return printJSON(cmd, st)
			}
			table(cmd, "FIELD\tVALUE", [][]string{{"directory", st.Directory},
				{"users imported", fmt.Sprint(st.UsersImported)}, {"users mapped", fmt.Sprint(st.UsersMapped)},
				{"users active", fmt.Sprint(st.UsersActive)}, {"groups imported", fmt.Sprint(st.GroupsImported)},
				{"domains", strings.Join(st.Domains, ", ")}, {"latest import", ts(st.LatestImport)}})
			return nil
		},
	}
	c.Flags().StringVar(&cfgPath, "config", "", "read the statistics from this config's store instead of the API")
	f.add(c)
	return c
}

// loadConfig loads a config for commands that need no store.
func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, fmt.Errorf("load config %s: %w", path, err)
	}
	return cfg, nil
}
