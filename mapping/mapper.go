package mapping

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// Templates are the attribute templates that build a user's local fields
// from directory attributes (see Template for the language). An empty
// template means "take the directory's own value": Username from the login
// name (sAMAccountName / uid), Email, DisplayName, FirstName and LastName
// from the directory user; Language has no directory default.
type Templates struct {
	Username    string
	Email       string
	DisplayName string
	FirstName   string
	LastName    string
	Language    string
	// Fields are the application-declared extra fields, by field name.
	Fields map[string]string
}

// UserTemplate is a named set of defaults for users of a directory, as in
// the seed CRM's user templates.
//
// State is applied only when a user is created (afterwards the sync owns the
// state: deactivation, reactivation). The other defaults apply on every
// run, as fallbacks: were they applied at creation only, the next sync would
// recompute the user from rules and take them away again.
type UserTemplate struct {
	Name string
	// State of new users; empty means active.
	State store.UserState
	// Language when the language template gives none.
	Language string
	// Units are added after the units the rules give.
	Units []string
	// Profile when no rule gives one; it takes precedence over the
	// directory's default profile, being the more specific choice.
	Profile string
	// EmailDomain fills an empty e-mail address as username@EmailDomain.
	EmailDomain string
}

// Template field names, as the configuration keys templates.
const (
	FieldUsername    = "username"
	FieldEmail       = "email"
	FieldDisplayName = "display_name"
	FieldFirstName   = "first_name"
	FieldLastName    = "last_name"
	FieldLanguage    = "language"
)

// TemplatesFromMap builds Templates from the configuration's maps keyed by
// field name (username, email, display_name, first_name, last_name,
// language; any other key is an application field). Later maps override
// earlier ones key by key, so pass the global templates first and the
// directory's own after them.
func TemplatesFromMap(maps ...map[string]string) Templates {
	var t Templates
	for _, m := range maps {
		for k, v := range m {
			switch k {
			case FieldUsername:
				t.Username = v
			case FieldEmail:
				t.Email = v
			case FieldDisplayName:
				t.DisplayName = v
			case FieldFirstName:
				t.FirstName = v
			case FieldLastName:
				t.LastName = v
			case FieldLanguage:
				t.Language = v
			default:
				if t.Fields == nil {
					t.Fields = map[string]string{}
				}
				t.Fields[k] = v
			}
		}
	}
	return t
}

// Config is the mapping of one directory.
type Config struct {
	// Directory is the directory's configured name.
	Directory string
	// Rules is the ordered rule list: usually CombineRules(directory's own,
	// global). Rules for other directories are skipped but keep their
	// numbers.
	Rules []Rule
	// DefaultProfile is given to users no rule (nor user template) gives a
	// profile; empty means such users have no profile.
	DefaultProfile string
	Templates      Templates
	// UserTemplate is optional.
	UserTemplate *UserTemplate
}

// Mapper maps the users of one directory. It is immutable after NewMapper
// and safe for concurrent use.
//
// The sync engine builds one per directory from the configuration and
// maps each read (see ExampleMapper_MapAll for a runnable version):
//
//	m, err := mapping.NewMapper(mapping.Config{
//		Directory:      dir.Name,
//		Rules:          mapping.CombineRules(dir.Name, dirRules, globalRules),
//		DefaultProfile: dir.DefaultProfile,
//		Templates:      mapping.TemplatesFromMap(cfg.Mapping.Templates, dir.Mapping.Templates),
//		UserTemplate:   userTemplate, // or nil
//	})
//	if err != nil { ... } // a template that does not parse (config check catches it first)
//	results, warnings := m.MapAll(snapshot.Users, importedGroups, linkedByAnchor)
//	for _, r := range results {
//		if r.Blocked {
//			continue // its blocking warnings say why; list them in the plan
//		}
//		// new user: mapping.Link(r, localUsers, linkBy, profilePrivileges)
//		// existing user: a rename must not take a username another user holds
//		// then diff r against the stored user; r.ProfileCause, r.UnitCauses
//		// explain each change in the plan.
//	}
type Mapper struct {
	cfg         Config
	specs       []groupSpec
	username    *Template
	email       *Template
	displayName *Template
	firstName   *Template
	lastName    *Template
	language    *Template
	fields      map[string]*Template
	fieldNames  []string
	// The causes every user mapped by the template or the default
	// profile shares: one string, not one per user of a large read.
	templateCause, defaultCause string
}

// NewMapper parses the templates of cfg. Its error lists every template
// that does not parse, each named by its field path.
func NewMapper(cfg Config) (*Mapper, error) {
	m := &Mapper{cfg: cfg, fields: map[string]*Template{}, specs: compileSpecs(cfg.Rules)}
	var errs []error
	parse := func(path, src string) *Template {
		if strings.TrimSpace(src) == "" {
			return nil
		}
		t, err := ParseTemplate(path, src)
		if err != nil {
			errs = append(errs, err)
		}
		return t
	}
	m.username = parse("templates.username", cfg.Templates.Username)
	m.email = parse("templates.email", cfg.Templates.Email)
	m.displayName = parse("templates.display_name", cfg.Templates.DisplayName)
	m.firstName = parse("templates.first_name", cfg.Templates.FirstName)
	m.lastName = parse("templates.last_name", cfg.Templates.LastName)
	m.language = parse("templates.language", cfg.Templates.Language)
	for name, src := range cfg.Templates.Fields {
		m.fieldNames = append(m.fieldNames, name)
		if t := parse("templates.fields."+name, src); t != nil {
			m.fields[name] = t
		}
	}
	sort.Strings(m.fieldNames)
	if ut := cfg.UserTemplate; ut != nil {
		m.templateCause = fmt.Sprintf("user template %q", ut.Name)
	}
	m.defaultCause = "default profile of directory " + cfg.Directory
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("mapping for directory %s: %w", cfg.Directory, err)
	}
	return m, nil
}

// NoSuperuserRule is the cause of a user the rules do not make a
// superuser (a linked local superuser loses the flag to the rules).
const NoSuperuserRule = "no matching rule sets the superuser flag"

// Result is the local state the sync owns for one directory user.
type Result struct {
	Directory      string
	Anchor         string
	DN             string
	UPN            string
	SAMAccountName string

	Username    string
	DisplayName string
	FirstName   string
	LastName    string
	Email       string
	Language    string
	Fields      map[string]string

	// Profile and its cause (`rule 2 (group CC-Supervisors)`, `pinned`, ...).
	Profile      string
	ProfileCause string
	// ProfilePinned: Profile is the existing user's pinned value.
	ProfilePinned bool
	// Units and, per unit, the causes that added it.
	Units       []string
	UnitCauses  map[string][]string
	UnitsPinned bool
	// Superuser is OR-ed from the rules' superuser flag. SuperuserCause
	// names the first rule that set it, or says that none did, so a plan
	// taking the flag away says why too.
	Superuser      bool
	SuperuserCause string
	// Flags are every flag the rules set.
	Flags map[string]bool
	// Matched lists every matching rule.
	Matched []string

	// State is set only for a new user (from the user template); for an
	// existing user it is empty and the engine keeps the current state.
	State store.UserState

	// Blocked users must be neither created nor updated in this run; the
	// blocking warnings say why.
	Blocked bool
}

// Map maps one directory user whose groups (imported groups, nesting
// already resolved) are userGroups. existing is the local user already
// linked to u's anchor, or nil for a user not yet created; it supplies the
// pinned profile and units. Map cannot see other users: collisions between
// them are found by MapAll.
func (m *Mapper) Map(u directory.User, userGroups []directory.Group, existing *store.User) (Result, []Warning) {
	return m.mapOne(u, groupKeys(userGroups), existing)
}

// mapOne is Map with the user's groups already prepared for matching:
// MapAll prepares each group once, not once per member (a DN parse per
// user and group was most of a large read's mapping time).
func (m *Mapper) mapOne(u directory.User, userGroups []groupKey, existing *store.User) (Result, []Warning) {
	dir := m.cfg.Directory
	r := Result{
		Directory: dir, Anchor: u.Anchor, DN: u.DN, UPN: u.UPN,
		SAMAccountName: u.Username,
	}
	var warns []Warning
	warn := func(code WarningCode, blocking bool, format string, args ...any) {
		warns = append(warns, Warning{
			Code: code, Directory: dir, Anchor: u.Anchor, Username: u.Username,
			Blocking: blocking, Message: fmt.Sprintf(format, args...),
		})
		if blocking {
			r.Blocked = true
		}
	}

	// The attribute view is built only when some template reads it: with
	// no templates (the usual case) every field is the directory's own.
	var attrs map[string][]string
	render := func(t *Template, fallback string, field string) string {
		if t == nil {
			return fallback
		}
		if attrs == nil {
			attrs = foldAttrs(templateAttrs(u))
		}
		s, err := t.execute(attrs)
		if err != nil {
			blocking := field == "username"
			warn(WarnTemplate, blocking, "%s template failed: %v", field, err)
			return ""
		}
		return s
	}
	r.Username = render(m.username, u.Username, "username")
	if strings.TrimSpace(r.Username) == "" && !r.Blocked {
		warn(WarnEmptyUsername, true, "username template produced an empty username")
	}
	r.Email = render(m.email, u.Email, "email")
	r.DisplayName = render(m.displayName, u.DisplayName, "display_name")
	r.FirstName = render(m.firstName, u.FirstName, "first_name")
	r.LastName = render(m.lastName, u.LastName, "last_name")
	r.Language = render(m.language, "", "language")
	if len(m.fieldNames) > 0 {
		r.Fields = make(map[string]string, len(m.fieldNames))
		for _, name := range m.fieldNames {
			r.Fields[name] = render(m.fields[name], "", "fields."+name)
		}
	}

	ut := m.cfg.UserTemplate
	if ut != nil {
		if r.Language == "" {
			r.Language = ut.Language
		}
		if r.Email == "" && ut.EmailDomain != "" && r.Username != "" {
			r.Email = r.Username + "@" + strings.TrimPrefix(ut.EmailDomain, "@")
		}
		if existing == nil {
			r.State = ut.State
		}
	}
	if existing == nil && r.State == "" {
		r.State = store.StateActive
	}

	a, rw := resolve(dir, m.cfg.Rules, m.specs, userGroups, "")
	for i := range rw {
		rw[i].Anchor, rw[i].Username = u.Anchor, u.Username
	}
	warns = append(warns, rw...)
	if a.Profile == "" {
		switch {
		case ut != nil && ut.Profile != "":
			a.Profile, a.ProfileCause = ut.Profile, m.templateCause
		case m.cfg.DefaultProfile != "":
			a.Profile = m.cfg.DefaultProfile
			a.ProfileCause = m.defaultCause
		default:
			a.ProfileCause = "no rule matched; no default profile"
		}
	}
	if ut != nil {
		a = addUnits(a, ut.Units, m.templateCause)
	}
	r.Profile, r.ProfileCause = a.Profile, a.ProfileCause
	r.Units, r.UnitCauses = a.Units, a.UnitCauses
	r.Flags, r.Matched = a.Flags, a.Matched
	r.Superuser, r.SuperuserCause = a.Superuser(), a.FlagCauses[FlagSuperuser]
	if !r.Superuser {
		r.SuperuserCause = NoSuperuserRule
	}

	// Pinned fields keep the administrator's choice; the cause records what
	// the rules would have given so the plan can say so.
	if existing != nil && existing.PinnedProfile {
		if existing.Profile != r.Profile {
			warn(WarnPinned, false, "profile pinned to %q; rules would give %q (%s)", existing.Profile, r.Profile, r.ProfileCause)
		}
		r.ProfileCause = fmt.Sprintf("pinned (rules: %q, %s)", r.Profile, r.ProfileCause)
		r.Profile, r.ProfilePinned = existing.Profile, true
	}
	if existing != nil && existing.PinnedUnits {
		if !sameSet(existing.Units, r.Units) {
			warn(WarnPinned, false, "units pinned to %v; rules would give %v", existing.Units, r.Units)
		}
		r.Units = append([]string(nil), existing.Units...)
		r.UnitCauses = make(map[string][]string, len(r.Units))
		for _, unit := range r.Units {
			r.UnitCauses[unit] = []string{"pinned"}
		}
		r.UnitsPinned = true
	}
	return r, warns
}

// MapAll maps every user of a read. groups must be every imported group of
// the directory (for an incremental read, the stored ones as well): a
// user's groups are found by the anchors in User.Groups and in
// Group.Members, and rules are checked against them. existing holds the
// local users already linked to this directory, by anchor (nil is fine).
//
// Two users mapping to the same username (case-insensitively) are both
// blocked and listed; everyone else proceeds. Results are in input order.
func (m *Mapper) MapAll(users []directory.User, groups []directory.Group, existing map[string]*store.User) ([]Result, []Warning) {
	var warns []Warning
	if len(m.cfg.Rules) > 0 { // no rules, nothing to check (nor to prepare)
		warns = CheckRules(m.cfg.Directory, m.cfg.Rules, groups)
	}
	// Each group is prepared for matching once, when a user is first
	// found in it; a user's groups are then indices into keys.
	keys := &lazyKeys{groups: groups, keys: make([]groupKey, len(groups)), done: make([]bool, len(groups))}
	byAnchor := make(map[string]int, len(groups))
	for i, g := range groups {
		byAnchor[normAnchor(g.Anchor)] = i
	}
	// Groups listing each user as a member: only these users' are kept
	// (the engine maps a large read in chunks, each with every group).
	userIdx := make(map[string]int, len(users))
	var same map[int][]int // users whose anchor another user also has
	for i, u := range users {
		k := quickNorm(u.Anchor)
		if j, ok := userIdx[k]; ok {
			if same == nil {
				same = map[int][]int{}
			}
			same[j] = append(same[j], i)
			continue
		}
		userIdx[k] = i
	}
	via := make([][]int, len(users))
	for gi, g := range groups {
		for _, mem := range g.Members {
			if i, ok := userIdx[quickNorm(mem)]; ok {
				via[i] = append(via[i], gi)
			}
		}
	}
	for i, js := range same {
		for _, j := range js {
			via[j] = via[i]
		}
	}
	results := make([]Result, len(users))
	var ug []groupKey
	for i, u := range users {
		ug = userGroups(ug[:0], u, keys, byAnchor, via[i])
		r, w := m.mapOne(u, ug, existing[u.Anchor])
		results[i] = r
		warns = append(warns, w...)
	}
	warns = append(warns, markCollisions(results)...)
	return results, warns
}

// lazyKeys prepares groups for matching (a DN parse each) on first use:
// a read is mapped against every imported group, thousands on a large
// directory, while an incremental read's few users are in a few.
type lazyKeys struct {
	groups []directory.Group
	keys   []groupKey
	done   []bool
}

func (l *lazyKeys) get(i int) groupKey {
	if !l.done[i] {
		l.keys[i], l.done[i] = groupKeyOf(l.groups[i]), true
	}
	return l.keys[i]
}

// quickNorm is normAnchor without its work for the usual anchor, which
// is already lower-case text without braces or spaces.
func quickNorm(s string) string {
	if s == "" {
		return s
	}
	if s[0] == '{' || s[0] == ' ' || s[len(s)-1] == '}' || s[len(s)-1] == ' ' {
		return normAnchor(s)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c >= 'A' && c <= 'Z') || c >= 0x80 || c < 0x20 {
			return normAnchor(s)
		}
	}
	return s
}

// userGroups appends to out the groups named by u.Groups and those listing
// u as a member, without duplicates, in a stable order.
func userGroups(out []groupKey, u directory.User, keys *lazyKeys, byAnchor map[string]int, viaMembers []int) []groupKey {
	// Most users are in a handful of groups: a linear check beats a map
	// until the list grows.
	var seen map[string]bool
	add := func(i int) {
		k := keys.get(i)
		if seen != nil {
			if !seen[k.anchor] {
				seen[k.anchor] = true
				out = append(out, k)
			}
			return
		}
		for _, o := range out {
			if o.anchor == k.anchor {
				return
			}
		}
		out = append(out, k)
		if len(out) == 16 {
			seen = make(map[string]bool, 32)
			for _, o := range out {
				seen[o.anchor] = true
			}
		}
	}
	for _, a := range u.Groups {
		if i, ok := byAnchor[normAnchor(a)]; ok {
			add(i)
		}
	}
	for _, i := range viaMembers {
		add(i)
	}
	return out
}

// markCollisions blocks every result whose username another unblocked
// result also maps to.
func markCollisions(results []Result) []Warning {
	// The first holder of each name is kept by position; only names held
	// more than once get a list (a list for every name is a small
	// allocation per user, 25 MB for a read of 100,000, for a handful of
	// collisions).
	first := make(map[string]int, len(results))
	shared := map[string][]int{}
	var order []string
	for i, r := range results {
		if r.Blocked || r.Username == "" {
			continue
		}
		k := strings.ToLower(r.Username)
		j, ok := first[k]
		switch {
		case !ok:
			first[k] = i
		case shared[k] == nil:
			order = append(order, k)
			shared[k] = []int{j, i}
		default:
			shared[k] = append(shared[k], i)
		}
	}
	var warns []Warning
	for _, k := range order {
		is := shared[k]
		anchors := map[string]bool{}
		for _, i := range is {
			anchors[results[i].Anchor] = true
		}
		if len(anchors) < 2 {
			continue // the same entry read twice is not two users
		}
		for _, i := range is {
			var others []string
			for _, j := range is {
				if j != i {
					others = append(others, fmt.Sprintf("%s (%s)", results[j].DN, results[j].Anchor))
				}
			}
			results[i].Blocked = true
			warns = append(warns, Warning{
				Code: WarnCollision, Directory: results[i].Directory, Anchor: results[i].Anchor,
				Username: results[i].SAMAccountName, Blocking: true,
				Message: fmt.Sprintf("username %q is also produced for %s; none of them is created or updated", results[i].Username, strings.Join(others, ", ")),
			})
		}
	}
	return warns
}

func addUnits(a Assignment, units []string, cause string) Assignment {
	for _, u := range units {
		if u == "" {
			continue
		}
		kept := ""
		for _, have := range a.Units {
			if strings.EqualFold(have, u) {
				kept = have
			}
		}
		if kept == "" {
			kept = u
			a.Units = append(a.Units, u)
		}
		if a.UnitCauses == nil {
			a.UnitCauses = map[string][]string{}
		}
		a.UnitCauses[kept] = append(a.UnitCauses[kept], cause)
	}
	return a
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[strings.ToLower(s)]++
	}
	for _, s := range b {
		seen[strings.ToLower(s)]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

// templateAttrs is the attribute view templates see: every attribute read,
// plus the directory user's plain fields under their usual LDAP names when
// the reader did not keep those attributes, and `username` (the login name:
// sAMAccountName on AD, uid on LDAP) and `dn`.
func templateAttrs(u directory.User) map[string][]string {
	out := make(map[string][]string, len(u.Attributes)+8)
	have := map[string]bool{}
	for k, v := range u.Attributes {
		out[k] = v
		have[strings.ToLower(k)] = true
	}
	add := func(name, v string) {
		if v != "" && !have[strings.ToLower(name)] {
			out[name] = []string{v}
			have[strings.ToLower(name)] = true
		}
	}
	add("username", u.Username)
	// The login name under its attribute names too: the reader keeps only
	// the attributes listed under directories[].attributes, and the
	// documented `{{lower .sAMAccountName}}` must not render empty (and
	// block every user) for want of that list. An attribute actually read
	// keeps its own value.
	add("sAMAccountName", u.Username)
	add("uid", u.Username)
	add("dn", u.DN)
	add("userPrincipalName", u.UPN)
	add("mail", u.Email)
	add("displayName", u.DisplayName)
	add("givenName", u.FirstName)
	add("sn", u.LastName)
	return out
}
