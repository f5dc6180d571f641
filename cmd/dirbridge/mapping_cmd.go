package main

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/internal/ldapdn"
	"github.com/dirbridge/dirbridge/internal/wire"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// mappingTest is the --json shape of `dirbridge mapping test`.
type mappingTest struct {
	Directory string          `json:"directory"`
	User      mappingTestUser `json:"user"`
	// Groups are the imported groups the user belongs to, directly or
	// through nesting, by name.
	Groups []string `json:"groups"`
	// Matched lists every rule that matched, in rule order.
	Matched []string `json:"matched_rules"`
	Profile string   `json:"profile"`
	// ProfileFrom is rule, user_template, default_profile or none.
	ProfileFrom  string             `json:"profile_from"`
	ProfileCause string             `json:"profile_cause"`
	Units        []mappingTestUnit  `json:"units"`
	Superuser    bool               `json:"superuser"`
	SuperCause   string             `json:"superuser_cause,omitempty"`
	Flags        map[string]bool    `json:"flags,omitempty"`
	Fields       []mappingTestField `json:"fields"`
	// State is what a new user would get (the user template's state).
	State string `json:"state"`
	// Blocked: a sync would neither create nor update this user; the
	// warnings say why.
	Blocked  bool     `json:"blocked"`
	Warnings []string `json:"warnings"`
}

type mappingTestUser struct {
	Anchor   string `json:"anchor"`
	DN       string `json:"dn"`
	Username string `json:"username"`
	UPN      string `json:"upn,omitempty"`
	Email    string `json:"email,omitempty"`
	Disabled bool   `json:"disabled,omitempty"`
}

type mappingTestUnit struct {
	Unit   string   `json:"unit"`
	Causes []string `json:"causes"`
}

type mappingTestField struct {
	Field string `json:"field"`
	Value string `json:"value"`
	// Source is the template that built the value, or the directory
	// attribute or default it came from.
	Source string `json:"source"`
}

func mappingCmd() *cobra.Command {
	c := group(&cobra.Command{Use: "mapping", Short: "Try the mapping rules and templates"})
	var cfgPath, dir, user string
	var api apiFlags
	test := &cobra.Command{
		Use:   "test --user NAME [--config FILE [--directory D] | --server URL] [--json]",
		Short: "Show what the mapping gives one directory user: profile, units, fields, and the rule or template behind each",
		Long: "Read the directory's imported groups from the live directory with the config's settings, exactly as a full " +
			"sync reads them (nested membership resolved), find the user (login name, UPN, e-mail, DN or anchor) and run the " +
			"config's mapping on it. Prints the profile and the rule that decided it (or that no rule matched and the default " +
			"applied), every unit with the rules that added it, every field with the template or attribute it came from, and " +
			"the warnings (a username another user also maps to blocks both). Nothing is written. Pinned profiles and units " +
			"are the store's business and are not shown. The exit status is 1 when the user is not found or would be blocked. " +
			"Without --config, the daemon's API answers instead (GET /api/v1/users/{id}/explain) from what the last sync " +
			"stored, with the stored and pinned profile and units beside: nothing but an API key is needed on the machine.",
		Example: "  dirbridge mapping test --config /etc/dirbridge/dirbridge.yaml --user jdoe\n" +
			"  dirbridge mapping test --config dirbridge.yaml --directory corp --user jdoe@corp.example.com --json",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			asJSON := api.json
			if cfgPath == "" {
				return explainThroughAPI(cmd, &api, user)
			}
			cfg, err := loadConfig(cfgPath)
			if err != nil {
				return err
			}
			if dir, err = pickDirectory(cfg, dir); err != nil {
				return err
			}
			d, _ := cfg.Directory(dir)
			mc, err := cfg.MappingConfig(dir)
			if err != nil {
				return err
			}
			m, err := mapping.NewMapper(mc)
			if err != nil {
				return err
			}
			src, err := wire.Source(cfg, dir, zap.NewNop())
			if err != nil {
				return err
			}
			snap, err := src.Read(ctx, directory.ReadRequest{Groups: d.Groups})
			if err != nil {
				return fmt.Errorf("directory %s: read: %w", dir, err)
			}
			i, err := findDirectoryUser(snap.Users, user)
			if err != nil {
				return fmt.Errorf("directory %s: %w (imported groups: %s)", dir, err, strings.Join(d.Groups, ", "))
			}
			// Every user is mapped so that collisions with others show.
			results, warns := m.MapAll(snap.Users, snap.Groups, nil)
			out := describeMapping(mc, d, snap, snap.Users[i], results[i], warns)
			if asJSON {
				if err := printJSON(cmd, out); err != nil {
					return err
				}
			} else {
				printMappingTest(cmd, out)
			}
			if out.Blocked {
				cmd.SilenceErrors = true
				return exitError{1}
			}
			return nil
		},
	}
	test.Flags().StringVar(&cfgPath, "config", "", "configuration file: read the live directory (default: ask the daemon at --server)")
	test.Flags().StringVar(&dir, "directory", "", "directory name (default: the only one; with --config)")
	test.Flags().StringVar(&user, "user", "", "the directory user: login name, UPN, e-mail, DN or anchor (through the API: username or ID)")
	api.add(test)
	_ = test.MarkFlagRequired("user")
	c.AddCommand(test)
	return c
}

// findDirectoryUser finds ref among the users of the imported groups.
func findDirectoryUser(users []directory.User, ref string) (int, error) {
	ref = strings.TrimSpace(ref)
	dnKey, _ := ldapdn.Key(ref)
	var hits []int
	for i, u := range users {
		switch {
		case strings.EqualFold(u.Username, ref), strings.EqualFold(u.UPN, ref), strings.EqualFold(u.Email, ref),
			strings.EqualFold(strings.Trim(u.Anchor, "{}"), strings.Trim(ref, "{}")):
			hits = append(hits, i)
		case dnKey != "" && strings.Contains(ref, "="):
			if k, err := ldapdn.Key(u.DN); err == nil && k == dnKey {
				hits = append(hits, i)
			}
		}
	}
	switch len(hits) {
	case 0:
		return 0, fmt.Errorf("user %q is not a member of any imported group; a sync would not import them", ref)
	case 1:
		return hits[0], nil
	}
	var dns []string
	for _, i := range hits {
		dns = append(dns, users[i].DN)
	}
	return 0, fmt.Errorf("%q matches %d users (%s); give the DN or anchor", ref, len(hits), strings.Join(dns, "; "))
}

func describeMapping(mc mapping.Config, d config.Directory, snap directory.Snapshot, u directory.User, r mapping.Result, warns []mapping.Warning) mappingTest {
	out := mappingTest{
		Directory: mc.Directory,
		User: mappingTestUser{Anchor: u.Anchor, DN: u.DN, Username: u.Username, UPN: u.UPN, Email: u.Email,
			Disabled: u.Disabled},
		Groups:  []string{},
		Matched: append([]string{}, r.Matched...),
		Profile: r.Profile, ProfileCause: r.ProfileCause,
		Units:     []mappingTestUnit{},
		Superuser: r.Superuser, SuperCause: r.SuperuserCause, Flags: r.Flags,
		State: string(r.State), Blocked: r.Blocked, Warnings: []string{},
	}
	for _, g := range snap.Groups {
		if slices.Contains(u.Groups, g.Anchor) || slices.Contains(g.Members, u.Anchor) {
			out.Groups = append(out.Groups, g.Name)
		}
	}
	sort.Strings(out.Groups)
	ut := mc.UserTemplate
	switch {
	case slices.Contains(r.Matched, r.ProfileCause):
		out.ProfileFrom = "rule"
	case ut != nil && r.ProfileCause == fmt.Sprintf("user template %q", ut.Name):
		out.ProfileFrom = "user_template"
	case r.Profile != "":
		out.ProfileFrom = "default_profile"
	default:
		out.ProfileFrom = "none"
	}
	for _, unit := range r.Units {
		out.Units = append(out.Units, mappingTestUnit{Unit: unit, Causes: r.UnitCauses[unit]})
	}

	t := mc.Templates
	src := func(tmpl, fallback string) string {
		if strings.TrimSpace(tmpl) != "" {
			return "template " + tmpl
		}
		return fallback
	}
	login := "directory login name (uid)"
	if d.Kind == "ad" {
		login = "directory login name (sAMAccountName)"
	}
	emailSrc := src(t.Email, "directory attribute mail")
	if ut != nil && ut.EmailDomain != "" && r.Email != "" && strings.TrimSpace(t.Email) == "" && u.Email == "" {
		emailSrc = fmt.Sprintf("user template %q email_domain", ut.Name)
	}
	langSrc := src(t.Language, "none (no template)")
	if ut != nil && ut.Language != "" && r.Language == ut.Language {
		langSrc = fmt.Sprintf("user template %q (when the template gives none)", ut.Name)
	}
	out.Fields = []mappingTestField{
		{mapping.FieldUsername, r.Username, src(t.Username, login)},
		{mapping.FieldEmail, r.Email, emailSrc},
		{mapping.FieldDisplayName, r.DisplayName, src(t.DisplayName, displayNameSource(u))},
		{mapping.FieldFirstName, r.FirstName, src(t.FirstName, "directory attribute givenName")},
		{mapping.FieldLastName, r.LastName, src(t.LastName, "directory attribute sn")},
		{mapping.FieldLanguage, r.Language, langSrc},
	}
	names := make([]string, 0, len(r.Fields))
	for k := range r.Fields {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		out.Fields = append(out.Fields, mappingTestField{"fields." + k, r.Fields[k], src(t.Fields[k], "none (no template)")})
	}
	for _, w := range warns {
		if w.Anchor == "" || w.Anchor == u.Anchor {
			out.Warnings = append(out.Warnings, w.String())
		}
	}
	if u.Disabled {
		// A disabled user is not created; an existing one is deactivated.
		out.State = stateDisabled
		out.Warnings = append(out.Warnings, "the user is disabled in the directory: a sync does not create them and deactivates them if they exist")
	}
	return out
}

// stateDisabled is the state `mapping test` reports for a user disabled
// in the directory: no state a new user could get, since none is created.
const stateDisabled = "not created (disabled in the directory; an existing user is deactivated)"

// displayNameSource names the attribute the reader took the display name
// from: displayName, or cn when displayName is empty.
func displayNameSource(u directory.User) string {
	if v := u.Attributes["displayName"]; len(v) > 0 && v[0] != "" {
		return "directory attribute displayName"
	}
	for k, v := range u.Attributes {
		if strings.EqualFold(k, "displayName") && len(v) > 0 && v[0] != "" {
			return "directory attribute displayName"
		}
	}
	if u.DisplayName != "" {
		return "directory attribute cn (displayName is empty)"
	}
	return "directory attribute displayName (empty), else cn (empty)"
}

func printMappingTest(cmd *cobra.Command, t mappingTest) {
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "User %s in directory %s\n  dn: %s\n  anchor: %s\n", t.User.Username, t.Directory, t.User.DN, t.User.Anchor)
	fmt.Fprintf(w, "  imported groups (direct and nested): %s\n", orDash(strings.Join(t.Groups, ", ")))
	if len(t.Matched) == 0 {
		fmt.Fprintln(w, "  matching rules: none")
	} else {
		fmt.Fprintf(w, "  matching rules: %s\n", strings.Join(t.Matched, "; "))
	}
	fmt.Fprintf(w, "profile %s: %s\n", show(t.Profile), t.ProfileCause)
	if len(t.Units) == 0 {
		fmt.Fprintln(w, "units: none")
	}
	for _, u := range t.Units {
		fmt.Fprintf(w, "unit %s: %s\n", u.Unit, strings.Join(u.Causes, ", "))
	}
	if t.Superuser {
		fmt.Fprintf(w, "superuser: %s\n", t.SuperCause)
	}
	var flags []string
	for f, on := range t.Flags {
		if on && f != mapping.FlagSuperuser {
			flags = append(flags, f)
		}
	}
	if len(flags) > 0 {
		sort.Strings(flags)
		fmt.Fprintf(w, "flags: %s\n", strings.Join(flags, ", "))
	}
	rows := make([][]string, 0, len(t.Fields))
	for _, f := range t.Fields {
		rows = append(rows, []string{f.Field, show(f.Value), f.Source})
	}
	table(cmd, "FIELD\tVALUE\tFROM", rows)
	fmt.Fprintf(w, "state of a new user: %s\n", t.State)
	for _, x := range t.Warnings {
		fmt.Fprintf(w, "warning: %s\n", x)
	}
	if t.Blocked {
		fmt.Fprintln(w, "BLOCKED: a sync would neither create nor update this user (see the warnings)")
	}
}

// show quotes an empty value so it is visible.
func show(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// explainThroughAPI is `mapping test` answered by the daemon from what the
// last sync stored.
func explainThroughAPI(cmd *cobra.Command, api *apiFlags, user string) error {
	c, err := api.client(cmd.Context())
	if err != nil {
		return err
	}
	var ex admin.Explanation
	if err := c.do(cmd.Context(), "GET", "/api/v1/users/"+url.PathEscape(user)+"/explain", nil, &ex); err != nil {
		return err
	}
	if api.json {
		return printJSON(cmd, ex)
	}
	w := cmd.OutOrStdout()
	fmt.Fprintf(w, "User %s in directory %s (from the last sync)\n  dn: %s\n  anchor: %s\n", ex.Username, ex.Directory, ex.DN, ex.Anchor)
	fmt.Fprintf(w, "  imported groups: %s\n  matching rules: %s\n", show(strings.Join(ex.Groups, ", ")), show(strings.Join(ex.Matched, "; ")))
	fmt.Fprintf(w, "profile %s: %s\n", show(ex.Profile), ex.ProfileCause)
	if ex.StoredProfile != ex.Profile || ex.PinnedProfile {
		fmt.Fprintf(w, "  stored profile: %s (pinned: %v)\n", show(ex.StoredProfile), ex.PinnedProfile)
	}
	for _, u := range ex.Units {
		fmt.Fprintf(w, "unit %s: %s\n", u.Unit, strings.Join(u.Causes, "; "))
	}
	fmt.Fprintf(w, "  stored units: %s (pinned: %v)\n", show(strings.Join(ex.StoredUnits, ", ")), ex.PinnedUnits)
	for _, warn := range ex.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	return nil
}
