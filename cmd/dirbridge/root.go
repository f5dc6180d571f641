package main

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/internal/daemon"
	"github.com/dirbridge/dirbridge/internal/password"
	"github.com/dirbridge/dirbridge/internal/wire"
	"github.com/dirbridge/dirbridge/store"
)

// exitError carries an exit status without printing cobra's usage.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func newRoot() *cobra.Command {
	root := group(&cobra.Command{
		Use:           "dirbridge",
		Short:         "Bridge Active Directory/LDAP and single sign-on for an application",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: false,
	})
	// --version prints the first line of `dirbridge version`.
	root.SetVersionTemplate("dirbridge {{.Version}}\n")
	root.SetFlagErrorFunc(flagError)
	root.SetHelpCommand(helpCmd())
	root.AddCommand(serveCmd(), configCmd(), versionCmd(), migrateCmd(), emergencyCmd(), apikeysCmd(), serviceCmd(), syncCmd(), directoryCmd(), expiryCmd())
	root.AddCommand(apiCommands()...)
	root.AddCommand(entriesCmd(), mappingCmd(), ssoCmd(), sessionsCmd(), backupCmd())
	root.AddCommand(healthCmd())
	root.AddCommand(scimCmd())
	root.AddCommand(kerberosCmd())
	initCompletion(root)
	return root
}

func serveCmd() *cobra.Command {
	var cfgPath, logFormat, logLevel string
	c := &cobra.Command{
		Use:     "serve --config FILE [--log-format json|console] [--log-level debug|info|warn|error]",
		Short:   "Run the daemon",
		Example: "  dirbridge serve --config /etc/dirbridge/dirbridge.yaml --log-format console --log-level debug",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			// log.format and runtime.* from the file; a file that does not
			// load is reported by Run itself.
			cfg, cfgErr := config.Load(cfgPath)
			format := logFormat
			if format == "" && cfgErr == nil {
				format = cfg.Log.Format
			}
			log, level, err := daemon.NewLevelLogger(format, logLevel)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			if cfgErr == nil {
				applyMemoryPolicy(cfg.Runtime, os.Getenv, log)
			}
			opts := daemon.Options{ConfigPath: cfgPath, Logger: log, Level: &level, Version: version}
			if logLevel != "" {
				// The flag wins over log.level, at start and on reload.
				opts.Level = nil
			}
			return daemon.Run(cmd.Context(), opts)
		},
	}
	c.Flags().StringVar(&cfgPath, "config", "/etc/dirbridge/dirbridge.yaml", "configuration file")
	c.Flags().StringVar(&logFormat, "log-format", "", "log format, json or console (default: log.format from the config, itself json by default)")
	c.Flags().StringVar(&logLevel, "log-level", "", "log level, debug, info, warn or error; wins over log.level (default: log.level from the config, itself info by default)")
	return c
}

func configCmd() *cobra.Command {
	c := group(&cobra.Command{Use: "config", Short: "Configuration tools"})
	var cfgPath string
	var online, asJSON bool
	check := &cobra.Command{
		Use:   "check --config FILE [--online] [--json]",
		Short: "Validate a configuration and print every problem at once",
		Long: "Validate a configuration file. Every problem is printed with its field path and line; the exit status is 1 if there is any. " +
			"With --online, also reach what it names: every directory server (dial, TLS, the service account's bind, the base DN), " +
			"the SAML IdP's metadata, the OIDC issuer's discovery document and the SMTP relay's greeting.",
		Example: "  dirbridge config check --config /etc/dirbridge/dirbridge.yaml\n  dirbridge config check --config /etc/dirbridge/dirbridge.yaml --online",
		Args:    cobra.NoArgs,
		// `config validate` and the like get "did you mean check?".
		SuggestFor: []string{"validate", "verify", "lint", "test"},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(cfgPath)
			if err == nil && online {
				return reportOnline(cmd, cfgPath, checkOnline(cmd.Context(), cfg), asJSON)
			}
			if err == nil {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: OK\n", cfgPath)
				return nil
			}
			var es config.Errors
			if errors.As(err, &es) {
				for _, e := range es {
					fmt.Fprintln(cmd.ErrOrStderr(), e.Error())
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "%d problem(s) found\n", len(es))
			} else {
				fmt.Fprintln(cmd.ErrOrStderr(), err)
			}
			cmd.SilenceErrors = true
			return exitError{1}
		},
	}
	check.Flags().StringVar(&cfgPath, "config", "/etc/dirbridge/dirbridge.yaml", "configuration file")
	check.Flags().BoolVar(&online, "online", false, "also reach the directories, IdPs and SMTP relay the config names")
	check.Flags().BoolVar(&asJSON, "json", false, "print the --online results as JSON")
	c.AddCommand(check)
	return c
}

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version and build information",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "dirbridge %s\n", version)
			if bi, ok := debug.ReadBuildInfo(); ok {
				fmt.Fprintf(out, "go: %s\n", bi.GoVersion)
				for _, s := range bi.Settings {
					switch s.Key {
					case "vcs.revision", "vcs.time", "vcs.modified", "GOOS", "GOARCH", "CGO_ENABLED":
						fmt.Fprintf(out, "%s: %s\n", s.Key, s.Value)
					}
				}
			}
		},
	}
}

// openFromConfig loads the config and opens its store, for bootstrap
// commands that must work while the daemon or SSO is broken.
func openFromConfig(ctx context.Context, path string) (*config.Config, store.Store, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, nil, fmt.Errorf("load config %s: %w", path, err)
	}
	st, err := wire.Store(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, st, nil
}

// emergencyPrefix starts the break-glass account's default name; a random
// suffix follows, so nobody who has not been told the name can aim wrong
// passwords at it (five lock it, and it is the way in when SSO is down).
const emergencyPrefix = "emergency-"

// emergencyName is a new break-glass account name: the prefix and eight
// random lower-case letters and digits.
func emergencyName() (string, error) {
	const alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random name: %w", err)
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return emergencyPrefix + string(b), nil
}

// emergencyAccounts lists the break-glass accounts (local superusers marked
// Emergency).
func emergencyAccounts(ctx context.Context, rd store.Reader) ([]store.User, error) {
	users, err := rd.ListUsers(ctx, store.UserFilter{Source: store.SourceLocal})
	if err != nil {
		return nil, fmt.Errorf("list local users: %w", err)
	}
	return slices.DeleteFunc(users, func(u store.User) bool { return !u.Emergency }), nil
}

func emergencyCmd() *cobra.Command {
	c := group(&cobra.Command{Use: "emergency-user", Short: "Create or remove the break-glass superuser"})
	var cfgPath, name string
	var ttl time.Duration
	create := &cobra.Command{
		Use:   "create --config FILE [--name NAME] [--ttl 24h]",
		Short: "Create the emergency superuser and print its initial password once",
		Long: "Create a break-glass account with direct superuser privileges (no profile). Its random initial " +
			"password is printed once; it must be changed at first sign-in, and the account expires after --ttl " +
			"(default emergency.ttl from the config, 24h). Its name is random (emergency-xxxxxxxx) unless --name " +
			"gives one, and printed: keep it with the password, since a known name can be locked out by anyone " +
			"posting wrong passwords. There is one such account at a time. Creation, every use and removal are audited.",
		Example: "  dirbridge emergency-user create --config /etc/dirbridge/dirbridge.yaml --ttl 4h",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, st, err := openFromConfig(ctx, cfgPath)
			if err != nil {
				return err
			}
			defer st.Close()
			if ttl == 0 {
				ttl = cfg.Emergency.TTL
			}
			if ttl <= 0 {
				ttl = config.DefaultEmergencyTTL
			}
			pw, err := admin.RandomPassword(24)
			if err != nil {
				return err
			}
			hash, err := password.Hash(pw, wire.PasswordParams(cfg))
			if err != nil {
				return err
			}
			if name == "" {
				if name, err = emergencyName(); err != nil {
					return err
				}
			}
			now := time.Now().UTC()
			u := store.User{Username: name, DisplayName: "Emergency access", State: store.StateActive,
				Source: store.SourceLocal, Superuser: true, PasswordHash: hash, PasswordChangedAt: now,
				MustChangePassword: true, Emergency: true, ExpiresAt: now.Add(ttl)}
			err = st.Tx(ctx, func(tx store.Tx) error {
				existing, err := emergencyAccounts(ctx, tx)
				if err != nil {
					return err
				}
				if len(existing) > 0 {
					return fmt.Errorf("the emergency account %q already exists; remove it first (emergency-user remove)", existing[0].Username)
				}
				if _, err := tx.GetUserByUsername(ctx, name); err == nil {
					return fmt.Errorf("user %q already exists; choose another --name", name)
				}
				if err := tx.CreateUser(ctx, &u); err != nil {
					return fmt.Errorf("create emergency user: %w", err)
				}
				return tx.AppendAudit(ctx, &store.AuditEvent{Time: now, Actor: "cli:" + osUser(), Action: "emergency_user.create",
					Target: "user:" + name, Outcome: store.OutcomeSuccess, Details: map[string]any{"expires_at": u.ExpiresAt}})
			})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "emergency user %q created; expires %s\n", name, u.ExpiresAt.Format(time.RFC3339))
			fmt.Fprintf(out, "initial password (shown once, must be changed at first sign-in): %s\n", pw)
			return nil
		},
	}
	create.Flags().StringVar(&cfgPath, "config", "/etc/dirbridge/dirbridge.yaml", "configuration file")
	create.Flags().DurationVar(&ttl, "ttl", 0, "lifetime of the account (default: emergency.ttl, 24h)")
	create.Flags().StringVar(&name, "name", "", "the account's username (default: emergency- and a random suffix)")
	remove := emergencyRemoveCmd()
	c.AddCommand(create, remove)
	return c
}

// emergencyRemoveCmd is `emergency-user remove`: the break-glass account,
// its sessions and keys go.
func emergencyRemoveCmd() *cobra.Command {
	var cfgPath string
	remove := &cobra.Command{
		Use:   "remove --config FILE",
		Short: "Delete the emergency user and its rights",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			_, st, err := openFromConfig(ctx, cfgPath)
			if err != nil {
				return err
			}
			defer st.Close()
			var removed string
			err = st.Tx(ctx, func(tx store.Tx) error {
				accounts, err := emergencyAccounts(ctx, tx)
				if err != nil {
					return err
				}
				if len(accounts) == 0 {
					return errors.New("there is no emergency account")
				}
				u := accounts[0]
				removed = u.Username
				if _, err := tx.DeleteUserSessions(ctx, u.ID); err != nil {
					return fmt.Errorf("revoke sessions: %w", err)
				}
				keys, err := tx.ListAPIKeys(ctx, u.ID)
				if err != nil {
					return fmt.Errorf("list api keys: %w", err)
				}
				for _, k := range keys {
					if err := admin.RevokeAPIKey(ctx, tx, k.ID, time.Now()); err != nil {
						return err
					}
				}
				if err := tx.DeleteUser(ctx, u.ID); err != nil {
					return fmt.Errorf("delete emergency user: %w", err)
				}
				return tx.AppendAudit(ctx, &store.AuditEvent{Time: time.Now().UTC(), Actor: "cli:" + osUser(), Action: "emergency_user.remove",
					Target: "user:" + u.Username, Outcome: store.OutcomeSuccess})
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "emergency user %q removed\n", removed)
			return nil
		},
	}
	remove.Flags().StringVar(&cfgPath, "config", "/etc/dirbridge/dirbridge.yaml", "configuration file")
	return remove
}
