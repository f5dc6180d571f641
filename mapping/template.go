package mapping

import (
	"fmt"
	"sort"
	"strings"
	"text/template"
	"text/template/parse"
)

// Template is a parsed attribute template such as
// `{{lower .sAMAccountName}}` or
// `{{or .mail (printf "%s@corp.example.com" .sAMAccountName)}}`.
//
// Inside a template, `.name` is the first value of the directory attribute
// `name`, looked up case-insensitively (LDAP attribute names are
// case-insensitive, and AD returns them in whatever case the schema uses).
// A missing attribute renders as the empty string, never "<no value>", so
// `or` and `default` fall through to the next choice.
//
// Helpers:
//
//	lower S, upper S, trim S         case and surrounding space
//	trimPrefix P S, trimSuffix X S   strip a fixed prefix / suffix
//	replace OLD NEW S                every OLD in S becomes NEW
//	default DEF S                    S, or DEF when S is empty / blank
//	or A B ...                       the first non-empty argument (built-in)
//	splitDomain UPN                  "jdoe@corp.example.com" -> "corp.example.com"
//	userPart UPN                     "jdoe@corp.example.com" -> "jdoe"; "CORP\jdoe" -> "jdoe"
//	attr NAME                        first value of an attribute whose name is
//	                                 not a Go identifier ("msDS-cloudExtensionAttribute1")
//	all NAME                         every value of a multi-valued attribute ([]string)
//	join SEP LIST                    join a list such as (all "proxyAddresses")
//	first LIST                       the first element of a list, or ""
//	printf, index, len, eq, ne, ...  the text/template built-ins
//
// Every helper takes its subject last so it reads well in a pipeline:
// `{{.mail | lower | replace "@old.example" "@new.example"}}`.
type Template struct {
	name string
	src  string
	tmpl *template.Template
	// fields are the attribute names the template reads as `.name`; Execute
	// fills exactly these so that none is ever missing.
	fields []string
	// perEntry is set when the template calls attr or all, which must be
	// bound to the entry being rendered; other templates skip that cost.
	perEntry bool
}

// ParseTemplate parses src as an attribute template. name appears in
// errors (the config package passes the field path, e.g.
// "mapping.templates.username").
func ParseTemplate(name, src string) (*Template, error) {
	t, err := template.New(name).
		Option("missingkey=zero").
		Funcs(staticFuncs).
		Funcs(placeholderAttrFuncs).
		Parse(src)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", name, err)
	}
	set, funcs := map[string]bool{}, map[string]bool{}
	for _, tt := range t.Templates() {
		if tt.Tree != nil && tt.Root != nil {
			collectFields(tt.Root, set, funcs)
		}
	}
	fields := make([]string, 0, len(set))
	for f := range set {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	perEntry := funcs["attr"] || funcs["all"]
	return &Template{name: name, src: src, tmpl: t, fields: fields, perEntry: perEntry}, nil
}

// MustParseTemplate is ParseTemplate for templates fixed in code and tests;
// it panics on a parse error.
func MustParseTemplate(name, src string) *Template {
	t, err := ParseTemplate(name, src)
	if err != nil {
		panic(err)
	}
	return t
}

// Name is the name given to ParseTemplate.
func (t *Template) Name() string { return t.name }

// String returns the template source.
func (t *Template) String() string { return t.src }

// Execute renders the template against the attributes of one directory
// entry. The result is trimmed of surrounding white space, since YAML block
// scalars and template actions easily leave a stray newline that would
// otherwise end up in a username.
func (t *Template) Execute(attrs map[string][]string) (string, error) {
	if t == nil || t.tmpl == nil {
		return "", nil
	}
	return t.execute(foldAttrs(attrs))
}

// execute renders against attributes already indexed by foldAttrs, so a
// caller rendering several templates for one entry folds once.
func (t *Template) execute(lookup map[string][]string) (string, error) {
	if t == nil || t.tmpl == nil {
		return "", nil
	}
	data := make(map[string]string, len(t.fields))
	for _, f := range t.fields {
		data[f] = first(lookup[strings.ToLower(f)])
	}
	tmpl := t.tmpl
	if t.perEntry {
		// attr and all need this entry's attributes; a clone per call keeps
		// Execute safe for concurrent use without shared mutable state.
		var err error
		if tmpl, err = t.tmpl.Clone(); err != nil {
			return "", fmt.Errorf("template %s: %w", t.name, err)
		}
		tmpl.Funcs(template.FuncMap{
			"attr": func(name string) string { return first(lookup[strings.ToLower(name)]) },
			"all": func(name string) []string {
				return append([]string(nil), lookup[strings.ToLower(name)]...)
			},
		})
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, data); err != nil {
		return "", fmt.Errorf("template %s: %w", t.name, err)
	}
	return strings.TrimSpace(b.String()), nil
}

// foldAttrs indexes attributes by lower-case name. When a directory returns
// the same attribute under two spellings, the values are merged in order.
func foldAttrs(attrs map[string][]string) map[string][]string {
	out := make(map[string][]string, len(attrs))
	keys := make([]string, 0, len(attrs))
	for k := range attrs {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic merge order
	for _, k := range keys {
		lk := strings.ToLower(k)
		out[lk] = append(out[lk], attrs[k]...)
	}
	return out
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

// placeholderAttrFuncs exist only so that parsing knows the names; Execute
// replaces them with functions bound to the entry being rendered.
var placeholderAttrFuncs = template.FuncMap{
	"attr": func(string) string { return "" },
	"all":  func(string) []string { return nil },
}

var staticFuncs = template.FuncMap{
	"lower":      strings.ToLower,
	"upper":      strings.ToUpper,
	"trim":       strings.TrimSpace,
	"trimPrefix": func(prefix, s string) string { return strings.TrimPrefix(s, prefix) },
	"trimSuffix": func(suffix, s string) string { return strings.TrimSuffix(s, suffix) },
	"replace":    func(old, new, s string) string { return strings.ReplaceAll(s, old, new) },
	"default": func(def, s string) string {
		if strings.TrimSpace(s) == "" {
			return def
		}
		return s
	},
	"splitDomain": SplitDomain,
	"userPart":    UserPart,
	"join":        func(sep string, list []string) string { return strings.Join(list, sep) },
	"first":       first,
}

// SplitDomain returns the domain of a UPN or e-mail address
// ("jdoe@corp.example.com" -> "corp.example.com"), or the NetBIOS domain of
// a down-level logon name ("CORP\jdoe" -> "CORP"); "" when there is none.
func SplitDomain(s string) string {
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		return s[i+1:]
	}
	if i := strings.IndexByte(s, '\\'); i >= 0 {
		return s[:i]
	}
	return ""
}

// UserPart returns the local part of a UPN or e-mail address
// ("jdoe@corp.example.com" -> "jdoe") or the user of a down-level logon name
// ("CORP\jdoe" -> "jdoe"); a plain name is returned unchanged.
func UserPart(s string) string {
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		return s[:i]
	}
	if i := strings.IndexByte(s, '\\'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// collectFields records the first identifier of every `.field` the template
// reads, wherever it appears (actions, pipelines, if/range/with, nested
// templates), and in funcs the name of every function it calls.
func collectFields(n parse.Node, set, funcs map[string]bool) {
	switch n := n.(type) {
	case nil:
	case *parse.ListNode:
		if n == nil {
			return
		}
		for _, c := range n.Nodes {
			collectFields(c, set, funcs)
		}
	case *parse.ActionNode:
		collectFields(n.Pipe, set, funcs)
	case *parse.PipeNode:
		if n == nil {
			return
		}
		for _, c := range n.Cmds {
			collectFields(c, set, funcs)
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			collectFields(a, set, funcs)
		}
	case *parse.IdentifierNode:
		funcs[n.Ident] = true
	case *parse.FieldNode:
		if len(n.Ident) > 0 {
			set[n.Ident[0]] = true
		}
	case *parse.ChainNode:
		collectFields(n.Node, set, funcs)
	case *parse.IfNode:
		collectBranch(&n.BranchNode, set, funcs)
	case *parse.RangeNode:
		collectBranch(&n.BranchNode, set, funcs)
	case *parse.WithNode:
		collectBranch(&n.BranchNode, set, funcs)
	case *parse.TemplateNode:
		collectFields(n.Pipe, set, funcs)
	}
}

func collectBranch(b *parse.BranchNode, set, funcs map[string]bool) {
	collectFields(b.Pipe, set, funcs)
	collectFields(b.List, set, funcs)
	collectFields(b.ElseList, set, funcs)
}
