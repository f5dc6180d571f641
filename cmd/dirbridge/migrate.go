package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/pressly/goose/v3"
	"github.com/spf13/cobra"

	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/store/postgres"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

func migrateCmd() *cobra.Command {
	var cfgPath string
	c := &cobra.Command{
		Use:   "migrate --config FILE",
		Short: "Apply store migrations (serve does this too); `migrate status` shows them without applying",
		Example: "  dirbridge migrate status --config /etc/dirbridge/dirbridge.yaml   # what is applied and pending; changes nothing\n" +
			"  dirbridge migrate --config /etc/dirbridge/dirbridge.yaml          # apply the pending ones",
		// A word is a subcommand (status) or an error: an ignored word
		// once made `migrate status` apply the migrations.
		Args:                       noWords,
		SuggestionsMinimumDistance: 2,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, st, err := openFromConfig(cmd.Context(), cfgPath)
			if err != nil {
				return err
			}
			defer st.Close()
			applied, latest, err := st.MigrationVersion(cmd.Context())
			if err != nil {
				return fmt.Errorf("migration version: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "migrations applied: %d of %d\n", applied, latest)
			return nil
		},
	}
	c.Flags().StringVar(&cfgPath, "config", "/etc/dirbridge/dirbridge.yaml", "configuration file")
	c.AddCommand(migrateStatusCmd())
	return c
}

// migration is one migration of the binary's (or, in Unknown, of a newer
// binary's).
type migration struct {
	Version int64  `json:"version"`
	Name    string `json:"name,omitempty"`
}

// migrationReport is what `migrate status` prints.
type migrationReport struct {
	Driver string `json:"driver"`
	// Exists is false when there is no store yet: no SQLite file, or no
	// migration table in the PostgreSQL database.
	Exists bool `json:"exists"`
	// StoreVersion is the highest migration applied; BinaryVersion the
	// highest this binary carries.
	StoreVersion  int64       `json:"store_version"`
	BinaryVersion int64       `json:"binary_version"`
	Applied       []migration `json:"applied"`
	Pending       []migration `json:"pending"`
	// Unknown are applied migrations this binary does not carry: the store
	// was migrated by a newer dirbridge.
	Unknown []migration `json:"unknown,omitempty"`
}

func migrateStatusCmd() *cobra.Command {
	var cfgPath string
	var asJSON bool
	c := &cobra.Command{
		Use:   "status --config FILE [--json]",
		Short: "Show the store's applied and pending migrations, and its version against this binary's; changes nothing",
		Long: "Read the store's migration table without applying anything: a SQLite file that does not exist is not " +
			"created, and a PostgreSQL database is read in a read-only transaction. `dirbridge migrate` (or serve) " +
			"applies what is pending.",
		Example:    "  dirbridge migrate status --config /etc/dirbridge/dirbridge.yaml",
		Args:       cobra.NoArgs,
		SuggestFor: []string{"version", "info", "list"},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			rep, where, err := migrationStatus(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, rep)
			}
			printMigrationReport(cmd, rep, where, cfgPath)
			return nil
		},
	}
	c.Flags().StringVar(&cfgPath, "config", "/etc/dirbridge/dirbridge.yaml", "configuration file")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON for scripts")
	return c
}

// migrationStatus reads the store's applied migrations without migrating.
// store.Open migrates as it opens, so this reads goose's table itself; it
// returns where the store is, for the report (never a PostgreSQL DSN,
// which may hold a password).
func migrationStatus(ctx context.Context, cfg *config.Config) (migrationReport, string, error) {
	rep := migrationReport{Driver: cfg.Store.Driver}
	var files fs.FS
	var applied map[int64]bool
	var where string
	var err error
	switch cfg.Store.Driver {
	case "", config.DriverSQLite:
		rep.Driver = config.DriverSQLite
		files = sqlite.Migrations()
		where, applied, rep.Exists, err = sqliteApplied(ctx, cfg.Store.DSN.Value())
	case config.DriverPostgres:
		files = postgres.Migrations()
		where = "PostgreSQL database of store.dsn"
		applied, rep.Exists, err = postgresApplied(ctx, cfg.Store.DSN.Value())
	default:
		return rep, "", fmt.Errorf("store: unknown driver %q (want sqlite or postgres)", cfg.Store.Driver)
	}
	if err != nil {
		return rep, "", err
	}
	known, err := embeddedMigrations(files)
	if err != nil {
		return rep, "", err
	}
	rep.Applied, rep.Pending = []migration{}, []migration{}
	for _, m := range known {
		rep.BinaryVersion = max(rep.BinaryVersion, m.Version)
		if applied[m.Version] {
			rep.Applied = append(rep.Applied, m)
		} else {
			rep.Pending = append(rep.Pending, m)
		}
		delete(applied, m.Version)
	}
	for v, ok := range applied {
		if ok && v > 0 {
			rep.Unknown = append(rep.Unknown, migration{Version: v})
		}
	}
	sort.Slice(rep.Unknown, func(i, j int) bool { return rep.Unknown[i].Version < rep.Unknown[j].Version })
	for _, m := range append(append([]migration{}, rep.Applied...), rep.Unknown...) {
		rep.StoreVersion = max(rep.StoreVersion, m.Version)
	}
	return rep, where, nil
}

// embeddedMigrations lists a backend's migration files, oldest first.
func embeddedMigrations(files fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil, fmt.Errorf("embedded migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		v, err := goose.NumericComponent(e.Name())
		if err != nil || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		out = append(out, migration{Version: v, Name: strings.TrimSuffix(e.Name(), ".sql")})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// gooseTable is goose's migration table, which both backends keep under
// goose's default name.
const gooseTable = "goose_db_version"

// foldApplied reads goose's rows (version_id, is_applied) in insertion
// order: the last row of a version says whether it is applied.
func foldApplied(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}) (map[int64]bool, error) {
	applied := map[int64]bool{}
	for rows.Next() {
		var v int64
		var ok bool
		if err := rows.Scan(&v, &ok); err != nil {
			return nil, err
		}
		applied[v] = ok
	}
	return applied, rows.Err()
}

// sqliteApplied opens the SQLite file read-only, and not at all when it
// does not exist (opening would create it).
func sqliteApplied(ctx context.Context, dsn string) (where string, applied map[int64]bool, exists bool, err error) {
	base, _, _ := strings.Cut(dsn, "?")
	path := strings.TrimPrefix(base, "file:")
	if path == "" || strings.Contains(path, ":memory:") {
		return path, nil, false, fmt.Errorf("sqlite: store.dsn %q names no file", dsn)
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return path, nil, false, nil
	} else if err != nil {
		return path, nil, false, fmt.Errorf("sqlite: %w", err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return path, nil, false, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, gooseTable).Scan(&n); err != nil {
		return path, nil, false, fmt.Errorf("sqlite: read %s: %w", path, err)
	}
	if n == 0 {
		return path, map[int64]bool{}, false, nil
	}
	rows, err := db.QueryContext(ctx, `SELECT version_id, is_applied FROM `+gooseTable+` ORDER BY id`) //nolint:rowserrcheck // foldApplied returns rows.Err()
	if err != nil {
		return path, nil, false, fmt.Errorf("sqlite: read %s: %w", gooseTable, err)
	}
	defer rows.Close()
	applied, err = foldApplied(rows)
	if err != nil {
		return path, nil, false, fmt.Errorf("sqlite: read %s: %w", gooseTable, err)
	}
	return path, applied, true, nil
}

// postgresApplied reads goose's table in a read-only transaction.
func postgresApplied(ctx context.Context, dsn string) (applied map[int64]bool, exists bool, err error) {
	cc, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx's message can quote the DSN, password included.
		return nil, false, errors.New("postgres: malformed dsn")
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, false, fmt.Errorf("postgres: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, gooseTable).Scan(&exists); err != nil {
		return nil, false, fmt.Errorf("postgres: read %s: %w", gooseTable, err)
	}
	if !exists {
		return map[int64]bool{}, false, nil
	}
	rows, err := tx.Query(ctx, `SELECT version_id, is_applied FROM `+gooseTable+` ORDER BY id`)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: read %s: %w", gooseTable, err)
	}
	defer rows.Close()
	applied, err = foldApplied(rows)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: read %s: %w", gooseTable, err)
	}
	return applied, true, nil
}

func printMigrationReport(cmd *cobra.Command, rep migrationReport, where, cfgPath string) {
	out := cmd.OutOrStdout()
	fmt.Fprintf(out, "store: %s (%s)\n", where, rep.Driver)
	switch {
	case !rep.Exists:
		fmt.Fprintf(out, "no store yet (nothing was created); this binary's version: %d\n", rep.BinaryVersion)
	case len(rep.Unknown) > 0:
		fmt.Fprintf(out, "store version %d is newer than this binary's %d: a newer dirbridge migrated it; run that one\n",
			rep.StoreVersion, rep.BinaryVersion)
	default:
		fmt.Fprintf(out, "store version %d, this binary's %d\n", rep.StoreVersion, rep.BinaryVersion)
	}
	type row struct {
		m     migration
		state string
	}
	var rows []row
	for _, m := range rep.Applied {
		rows = append(rows, row{m, "applied"})
	}
	for _, m := range rep.Unknown {
		rows = append(rows, row{m, "applied, unknown to this binary"})
	}
	for _, m := range rep.Pending {
		rows = append(rows, row{m, "pending"})
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].m.Version < rows[j].m.Version })
	cells := make([][]string, 0, len(rows))
	for _, r := range rows {
		name := r.m.Name
		if name == "" {
			name = "-"
		}
		cells = append(cells, []string{fmt.Sprint(r.m.Version), name, r.state})
	}
	table(cmd, "VERSION\tNAME\tSTATE", cells)
	switch {
	case len(rep.Pending) > 0:
		fmt.Fprintf(out, "%d pending: dirbridge migrate --config %s applies them (serve does too)\n", len(rep.Pending), cfgPath)
	case len(rep.Unknown) == 0:
		fmt.Fprintln(out, "up to date")
	}
}
