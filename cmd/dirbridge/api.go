package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/store"
)

func osUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

// client talks to a running daemon: token from DIRBRIDGE_TOKEN, or a key
// from DIRBRIDGE_API_KEY exchanged automatically.
type client struct {
	server string
	token  string
	http   *http.Client
	// key is the API key the token came from; cached says the token was
	// read from the cache (tokencache.go), so a 401 retries with a new one.
	key    string
	cached bool
}

type apiFlags struct {
	server string
	json   bool
}

func (f *apiFlags) add(c *cobra.Command) {
	def := os.Getenv("DIRBRIDGE_SERVER")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	c.Flags().StringVar(&f.server, "server", def, "daemon URL (env DIRBRIDGE_SERVER)")
	c.Flags().BoolVar(&f.json, "json", false, "print JSON for scripts")
}

func (f *apiFlags) client(ctx context.Context) (*client, error) {
	c := &client{server: strings.TrimRight(f.server, "/"), http: &http.Client{Timeout: 60 * time.Second}}
	c.token = os.Getenv("DIRBRIDGE_TOKEN")
	if c.token == "" {
		key := os.Getenv("DIRBRIDGE_API_KEY")
		if key == "" {
			return nil, errors.New("set DIRBRIDGE_TOKEN (a bearer token) or DIRBRIDGE_API_KEY (exchanged for one)")
		}
		c.key = key
		if err := c.exchangeKey(ctx, key, false); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// do sends one API request. A cached token the server no longer accepts
// (revoked, the daemon's keys rotated) is replaced once.
func (c *client) do(ctx context.Context, method, path string, in, out any) error {
	err := c.send(ctx, method, path, in, out)
	if errors.Is(err, errUnauthorized) && c.cached && c.key != "" {
		if err := c.exchangeKey(ctx, c.key, true); err != nil {
			return err
		}
		return c.send(ctx, method, path, in, out)
	}
	return err
}

func (c *client) send(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.server+path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read: %w", method, path, err)
	}
	if res.StatusCode >= 300 {
		var eb admin.ErrorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error.Code != "" {
			if res.StatusCode == http.StatusUnauthorized {
				return fmt.Errorf("%s (%s): %w", eb.Error.Message, eb.Error.Code, errUnauthorized)
			}
			if eb.Error.Field != "" {
				return fmt.Errorf("%s (%s, field %s)", eb.Error.Message, eb.Error.Code, eb.Error.Field)
			}
			return fmt.Errorf("%s (%s)", eb.Error.Message, eb.Error.Code)
		}
		return fmt.Errorf("%s %s: %s", method, path, res.Status)
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

func printJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func table(cmd *cobra.Command, header string, rows [][]string) {
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	_ = tw.Flush()
}

func ts(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

// apiCmd builds one command that calls the API and prints the answer.
func apiCmd(use, short, example string, args cobra.PositionalArgs, setup func(*cobra.Command), run func(cmd *cobra.Command, c *client, args []string, asJSON bool) error) *cobra.Command {
	var f apiFlags
	c := &cobra.Command{Use: use, Short: short, Example: example, Args: args,
		RunE: func(cmd *cobra.Command, a []string) error {
			cl, err := f.client(cmd.Context())
			if err != nil {
				return err
			}
			return run(cmd, cl, a, f.json)
		}}
	f.add(c)
	if setup != nil {
		setup(c)
	}
	return c
}

func apiCommands() []*cobra.Command {
	return []*cobra.Command{usersCmd(), profilesCmd(), auditCmd(), privilegesCmd(), teamsCmd()}
}

// usersCmd is `users ...`: listing, showing and changing users.
func usersCmd() *cobra.Command {
	users := group(&cobra.Command{Use: "users", Short: "Create, list, show and change users (one or many), activate, deactivate, unlock, pin, reset passwords (via the API)"})
	var q, state, profile, source, team string
	var limit, offset, expiringDays int
	var locked bool
	users.AddCommand(
		apiCmd("list", "List users", "  DIRBRIDGE_API_KEY=dbk_... dirbridge users list --state active --profile Agent\n"+
			"  dirbridge users list --locked --json\n  dirbridge users list --expiring-days 7 --source corp", cobra.NoArgs,
			func(c *cobra.Command) {
				c.Flags().StringVar(&q, "query", "", "substring of username, name or e-mail")
				c.Flags().StringVar(&state, "state", "", "active or inactive")
				c.Flags().StringVar(&profile, "profile", "", "profile name")
				c.Flags().StringVar(&source, "source", "", "local or a directory name")
				c.Flags().StringVar(&team, "team", "", "only members of this team")
				c.Flags().BoolVar(&locked, "locked", false, "only users locked out now (failed sign-ins)")
				c.Flags().IntVar(&expiringDays, "expiring-days", 0, "only users whose password or account expires within this many days")
				c.Flags().IntVar(&limit, "limit", 50, "page size")
				c.Flags().IntVar(&offset, "offset", 0, "items to skip")
			},
			func(cmd *cobra.Command, c *client, _ []string, asJSON bool) error {
				v := url.Values{}
				for k, x := range map[string]string{"q": q, "state": state, "profile": profile, "source": source, "team": team} {
					if x != "" {
						v.Set(k, x)
					}
				}
				if locked {
					v.Set("locked", "true")
				}
				if expiringDays > 0 {
					v.Set("expiring_days", fmt.Sprint(expiringDays))
				}
				v.Set("limit", fmt.Sprint(limit))
				v.Set("offset", fmt.Sprint(offset))
				var out admin.UserList
				if err := c.do(cmd.Context(), "GET", "/api/v1/users?"+v.Encode(), nil, &out); err != nil {
					return err
				}
				if asJSON {
					return printJSON(cmd, out)
				}
				var rows [][]string
				for _, u := range out.Items {
					rows = append(rows, []string{u.Username, u.State, u.Source, u.Profile, strings.Join(u.Units, ","), u.Email})
				}
				table(cmd, "USERNAME\tSTATE\tSOURCE\tPROFILE\tUNITS\tEMAIL", rows)
				fmt.Fprintf(cmd.OutOrStdout(), "%d of %d\n", len(out.Items), out.Total)
				return nil
			}),
		apiCmd("show NAME", "Show a user", "  dirbridge users show jdoe", cobra.ExactArgs(1), nil,
			func(cmd *cobra.Command, c *client, a []string, asJSON bool) error {
				var d admin.UserDetail
				if err := c.do(cmd.Context(), "GET", "/api/v1/users/"+url.PathEscape(a[0]), nil, &d); err != nil {
					return err
				}
				if asJSON {
					return printJSON(cmd, d)
				}
				table(cmd, "FIELD\tVALUE", [][]string{{"id", d.ID}, {"username", d.Username}, {"state", d.State},
					{"source", d.Source}, {"profile", d.Profile}, {"privileges", strings.Join(d.Privileges, ", ")},
					{"superuser", fmt.Sprint(d.Superuser)}, {"locked until", ts(d.LockedUntil)}, {"expires", ts(d.ExpiresAt)}})
				return nil
			}),
	)
	for _, action := range []string{"activate", "deactivate", "unlock"} {
		users.AddCommand(apiCmd(action+" NAME", strings.ToUpper(action[:1])+action[1:]+" a user (audited)", "  dirbridge users "+action+" jdoe", cobra.ExactArgs(1), nil,
			func(cmd *cobra.Command, c *client, a []string, asJSON bool) error {
				var out map[string]any
				if err := c.do(cmd.Context(), "POST", "/api/v1/users/"+url.PathEscape(a[0])+"/"+action, nil, &out); err != nil {
					return err
				}
				if asJSON {
					return printJSON(cmd, out)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s done\n", a[0], action)
				return nil
			}))
	}

	users.AddCommand(pinCommands()...)        // pin.go
	users.AddCommand(passwordCommands()...)   // password.go
	users.AddCommand(userManageCommands()...) // manage.go

	return users
}

// profilesCmd is `profiles ...`.
func profilesCmd() *cobra.Command {
	profiles := group(&cobra.Command{Use: "profiles", Short: "List, show, create, update, delete and load profiles (via the API)"})
	profiles.AddCommand(profileManageCommands()...) // manage.go
	profiles.AddCommand(
		apiCmd("list", "List profiles", "  dirbridge profiles list --json", cobra.NoArgs, nil,
			func(cmd *cobra.Command, c *client, _ []string, asJSON bool) error {
				var out admin.ProfileList
				if err := c.do(cmd.Context(), "GET", "/api/v1/profiles", nil, &out); err != nil {
					return err
				}
				if asJSON {
					return printJSON(cmd, out)
				}
				var rows [][]string
				for _, p := range out.Items {
					rows = append(rows, []string{p.Name, fmt.Sprint(p.Users), fmt.Sprint(p.FromConfig), strings.Join(p.Privileges, ", ")})
				}
				table(cmd, "NAME\tUSERS\tFROM CONFIG\tPRIVILEGES", rows)
				return nil
			}),
		apiCmd("show NAME", "Show a profile", "  dirbridge profiles show Agent", cobra.ExactArgs(1), nil,
			func(cmd *cobra.Command, c *client, a []string, asJSON bool) error {
				var p admin.Profile
				if err := c.do(cmd.Context(), "GET", "/api/v1/profiles/"+url.PathEscape(a[0]), nil, &p); err != nil {
					return err
				}
				if asJSON {
					return printJSON(cmd, p)
				}
				table(cmd, "FIELD\tVALUE", [][]string{{"name", p.Name}, {"description", p.Description},
					{"privileges", strings.Join(p.Privileges, ", ")}, {"users", fmt.Sprint(p.Users)}, {"from config", fmt.Sprint(p.FromConfig)}})
				return nil
			}),
	)

	return profiles
}

// auditCmd is `audit list`.
func auditCmd() *cobra.Command {
	audit := group(&cobra.Command{Use: "audit", Short: "Read the audit log (via the API)"})
	var actor, action, target, since, until string
	var alimit, aoffset int
	audit.AddCommand(apiCmd("list", "List audit events, newest first", "  dirbridge audit list --action profile.create --since 2026-01-01T00:00:00Z\n  dirbridge audit list --actor jdoe --since 1h\n  dirbridge audit list --limit 100 --offset 100   # the next page", cobra.NoArgs,
		func(c *cobra.Command) {
			c.Flags().StringVar(&actor, "actor", "", "who acted")
			c.Flags().StringVar(&action, "action", "", "what was done")
			c.Flags().StringVar(&target, "target", "", "what it was done to")
			c.Flags().StringVar(&since, "since", "", "RFC 3339 time, or a duration back from now (90m, 24h, 7d)")
			c.Flags().StringVar(&until, "until", "", "RFC 3339 time, or a duration back from now")
			c.Flags().IntVar(&alimit, "limit", 100, "at most this many (1 to 1000)")
			c.Flags().IntVar(&aoffset, "offset", 0, "skip this many (the next page)")
		},
		func(cmd *cobra.Command, c *client, _ []string, asJSON bool) error {
			v := url.Values{}
			now := time.Now()
			for k, x := range map[string]string{"since": since, "until": until} {
				t, err := pointInTime(x, now)
				if err != nil {
					return fmt.Errorf("--%s: %w", k, err)
				}
				if k == "since" {
					since = t
				} else {
					until = t
				}
			}
			for k, x := range map[string]string{"actor": actor, "action": action, "target": target, "since": since, "until": until} {
				if x != "" {
					v.Set(k, x)
				}
			}
			v.Set("limit", fmt.Sprint(alimit))
			v.Set("offset", fmt.Sprint(aoffset))
			var out admin.AuditList
			if err := c.do(cmd.Context(), "GET", "/api/v1/audit?"+v.Encode(), nil, &out); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, out)
			}
			var rows [][]string
			for _, e := range out.Items {
				rows = append(rows, []string{e.Time.Format(time.RFC3339), e.Actor, e.Action, e.Target, e.Outcome, e.SourceIP, e.Reason})
			}
			table(cmd, "TIME\tACTOR\tACTION\tTARGET\tOUTCOME\tSOURCE IP\tREASON", rows)
			if len(out.Items) == alimit {
				fmt.Fprintf(cmd.OutOrStdout(), "more may follow: --offset %d\n", aoffset+alimit)
			}
			return nil
		}))
	// directory (groups, stats) lives in directory.go: it works with --config too.
	return audit
}

func apikeysCmd() *cobra.Command {
	c := group(&cobra.Command{Use: "apikeys", Short: "Create, list and revoke API keys"})
	var cfgPath, username, name string
	var f apiFlags
	create := &cobra.Command{
		Use:   "create --name NAME [--config FILE --user NAME]",
		Short: "Create an API key; the secret is printed once",
		Long: "With --config and --user the key is created directly in the store (bootstrap: how the first " +
			"administrator gets a key). Without them the running daemon makes a key for the caller.",
		Example: "  dirbridge apikeys create --config /etc/dirbridge/dirbridge.yaml --user admin --name bootstrap\n" +
			"  DIRBRIDGE_TOKEN=dbt_... dirbridge apikeys create --name ci",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if cfgPath != "" {
				if username == "" {
					return errors.New("--user is required with --config")
				}
				_, st, err := openFromConfig(ctx, cfgPath)
				if err != nil {
					return err
				}
				defer st.Close()
				var secret string
				var k store.APIKey
				err = st.Tx(ctx, func(tx store.Tx) error {
					u, err := tx.GetUserByUsername(ctx, username)
					if err != nil {
						return fmt.Errorf("find user %q: %w", username, err)
					}
					secret, k, err = admin.NewAPIKey(ctx, tx, u.ID, name, time.Now())
					if err != nil {
						return err
					}
					return tx.AppendAudit(ctx, &store.AuditEvent{Time: time.Now().UTC(), Actor: "cli:" + osUser(), Action: "apikey.create",
						Target: "user:" + username, Outcome: store.OutcomeSuccess, Details: map[string]any{"key_id": k.ID, "name": name}})
				})
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "key %s for %s (shown once):\n%s\n", k.ID, username, secret)
				return nil
			}
			cl, err := f.client(ctx)
			if err != nil {
				return err
			}
			var out admin.APIKeyCreated
			who := "me"
			if username != "" {
				who = url.PathEscape(username)
			}
			if err := cl.do(ctx, "POST", "/api/v1/users/"+who+"/apikeys", admin.APIKeyInput{Name: name}, &out); err != nil {
				return err
			}
			if f.json {
				return printJSON(cmd, out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "key %s (shown once):\n%s\n", out.ID, out.Secret)
			return nil
		},
	}
	create.Flags().StringVar(&cfgPath, "config", "", "work directly on the store of this config (bootstrap)")
	create.Flags().StringVar(&username, "user", "", "the key's user")
	create.Flags().StringVar(&name, "name", "cli", "a name to recognise the key by")
	f.add(create)

	var luser string
	list := apiCmd("list", "List API keys", "  dirbridge apikeys list --user jdoe", cobra.NoArgs,
		func(c *cobra.Command) { c.Flags().StringVar(&luser, "user", "me", "whose keys") },
		func(cmd *cobra.Command, c *client, _ []string, asJSON bool) error {
			var out admin.APIKeyList
			if err := c.do(cmd.Context(), "GET", "/api/v1/users/"+url.PathEscape(luser)+"/apikeys", nil, &out); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, out)
			}
			var rows [][]string
			for _, k := range out.Items {
				rows = append(rows, []string{k.ID, k.Name, k.CreatedAt.Format(time.RFC3339), ts(k.LastUsedAt), ts(k.RevokedAt)})
			}
			table(cmd, "ID\tNAME\tCREATED\tLAST USED\tREVOKED", rows)
			return nil
		})
	var ruser string
	revoke := apiCmd("revoke KEY-ID [--user NAME]", "Revoke an API key and its tokens (found by its ID; --user checks whose it is)", "  dirbridge apikeys revoke 3f2a...", cobra.ExactArgs(1),
		func(c *cobra.Command) {
			c.Flags().StringVar(&ruser, "user", "", "whose key (optional: the ID alone finds it)")
		},
		func(cmd *cobra.Command, c *client, a []string, asJSON bool) error {
			var out admin.APIKey
			path := "/api/v1/apikeys/" + url.PathEscape(a[0])
			if ruser != "" {
				path = "/api/v1/users/" + url.PathEscape(ruser) + "/apikeys/" + url.PathEscape(a[0])
			}
			if err := c.do(cmd.Context(), "DELETE", path, nil, &out); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "key %s revoked\n", out.ID)
			return nil
		})
	c.AddCommand(create, list, revoke)
	return c
}

// pointInTime reads an RFC 3339 time, or a duration back from now (Go's
// units plus d for days), and returns it as RFC 3339; "" stays "".
func pointInTime(v string, now time.Time) (string, error) {
	if v == "" {
		return "", nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC().Format(time.RFC3339), nil
	}
	d, err := parseAge(v)
	if err != nil {
		return "", fmt.Errorf("%q is neither an RFC 3339 time (2026-01-02T15:04:05Z) nor a duration (90m, 24h, 7d)", v)
	}
	return now.Add(-d).UTC().Format(time.RFC3339), nil
}

// parseAge is time.ParseDuration with days ("7d", "1d12h").
func parseAge(v string) (time.Duration, error) {
	var days time.Duration
	if d, rest, ok := strings.Cut(v, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad days in %q", v)
		}
		days, v = time.Duration(n)*24*time.Hour, rest
		if v == "" {
			return days, nil
		}
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad duration %q", v)
	}
	return days + d, nil
}
