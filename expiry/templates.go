package expiry

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"io/fs"
	"os"
	"strings"
	texttemplate "text/template"
	"time"
)

//go:embed templates/*.tmpl
var builtin embed.FS

// Templates holds the notice templates, per kind and language: "notice"
// for a password about to expire, "account" for an account about to
// expire. A language without its own template uses the kind's default one
// (notice.txt.tmpl / notice.html.tmpl, account.txt.tmpl / ...).
type Templates struct {
	text map[tplKey]*texttemplate.Template // lang "" = default
	html map[tplKey]*htmltemplate.Template
}

// tplKey names a template: base is "notice" or "account"; lang "" is the
// default.
type tplKey struct{ base, lang string }

// Template base names, one per notice kind.
const (
	baseNotice  = "notice"
	baseAccount = "account"
)

// LoadTemplates reads the built-in templates and, when dir is set, the
// administrator's templates there, which replace built-ins of the same
// name. Names: notice.txt.tmpl, notice.html.tmpl, notice.LANG.txt.tmpl,
// notice.LANG.html.tmpl, and the same with account for account-expiry
// notices. The first line of a text template is the subject
// ("Subject: ...").
func LoadTemplates(dir string) (*Templates, error) {
	t := &Templates{text: map[tplKey]*texttemplate.Template{}, html: map[tplKey]*htmltemplate.Template{}}
	sub, _ := fs.Sub(builtin, "templates")
	if err := t.load(sub, "built-in"); err != nil {
		return nil, err
	}
	if dir != "" {
		if err := t.load(os.DirFS(dir), dir); err != nil {
			return nil, err
		}
	}
	for _, base := range []string{baseNotice, baseAccount} {
		if t.text[tplKey{base, ""}] == nil {
			return nil, fmt.Errorf("expiry templates: no %s.txt.tmpl", base)
		}
	}
	return t, nil
}

func (t *Templates) load(fsys fs.FS, where string) error {
	var names []string
	for _, base := range []string{baseNotice, baseAccount} {
		found, err := fs.Glob(fsys, base+"*.tmpl")
		if err != nil {
			return fmt.Errorf("expiry templates %s: %w", where, err)
		}
		names = append(names, found...)
	}
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return fmt.Errorf("expiry templates %s: %w", where, err)
		}
		base, lang, kind, ok := parseName(name)
		if !ok {
			return fmt.Errorf("expiry templates %s: %s: want notice[.LANG].txt.tmpl, notice[.LANG].html.tmpl, or the same with account", where, name)
		}
		key := tplKey{base, lang}
		switch kind {
		case "txt":
			tt, err := texttemplate.New(name).Option("missingkey=error").Parse(string(b))
			if err != nil {
				return fmt.Errorf("expiry templates %s: %w", where, err)
			}
			t.text[key] = tt
		case "html":
			ht, err := htmltemplate.New(name).Option("missingkey=error").Parse(string(b))
			if err != nil {
				return fmt.Errorf("expiry templates %s: %w", where, err)
			}
			t.html[key] = ht
		}
	}
	return nil
}

func parseName(name string) (base, lang, kind string, ok bool) {
	parts := strings.Split(strings.TrimSuffix(name, ".tmpl"), ".")
	if parts[0] != baseNotice && parts[0] != baseAccount {
		return "", "", "", false
	}
	switch len(parts) {
	case 2:
		return parts[0], "", parts[1], parts[1] == "txt" || parts[1] == "html"
	case 3:
		return parts[0], strings.ToLower(parts[1]), parts[2], parts[2] == "txt" || parts[2] == "html"
	}
	return "", "", "", false
}

// templateData is what a notice template sees.
type templateData struct {
	Username          string
	DisplayName       string
	Email             string
	Language          string
	DaysLeft          int
	ExpiresAt         time.Time
	ExpiresDate       string
	ChangePasswordURL string
}

// Render builds the message for one notice.
func (t *Templates) Render(n Notice, cfg Config) (Message, error) {
	loc := cfg.Location
	if loc == nil {
		loc = time.UTC
	}
	data := templateData{
		Username: n.Username, DisplayName: n.DisplayName, Email: n.Email, Language: n.Language,
		DaysLeft: n.DaysLeft, ExpiresAt: n.ExpiresAt.In(loc),
		ExpiresDate:       n.ExpiresAt.In(loc).Format("Monday, 2 January 2006 15:04 MST"),
		ChangePasswordURL: cfg.ChangePasswordURL,
	}
	lang := strings.ToLower(n.Language)
	if i := strings.IndexAny(lang, "-_"); i > 0 {
		lang = lang[:i] // "de-AT" uses "de"
	}
	base := baseNotice
	if n.Kind == KindAccount {
		base = baseAccount
	}
	tt := t.text[tplKey{base, lang}]
	if tt == nil {
		tt = t.text[tplKey{base, ""}]
	}
	var buf bytes.Buffer
	if err := tt.Execute(&buf, data); err != nil {
		return Message{}, fmt.Errorf("text template: %w", err)
	}
	subject, body := splitSubject(buf.String(), n.Kind)
	msg := Message{From: cfg.From, To: []string{n.To}, Subject: subject, Text: body}
	ht := t.html[tplKey{base, lang}]
	if ht == nil && t.text[tplKey{base, lang}] == nil {
		ht = t.html[tplKey{base, ""}]
	}
	if ht != nil {
		buf.Reset()
		if err := ht.Execute(&buf, data); err != nil {
			return Message{}, fmt.Errorf("html template: %w", err)
		}
		msg.HTML = buf.String()
	}
	return msg, nil
}

func splitSubject(s, kind string) (subject, body string) {
	first, rest, _ := strings.Cut(s, "\n")
	if v, ok := strings.CutPrefix(first, "Subject:"); ok {
		return strings.TrimSpace(v), strings.TrimLeft(rest, "\n")
	}
	if kind == KindAccount {
		return "Your account expires soon", s
	}
	return "Your password expires soon", s
}

// SummaryText is the administrators' summary of a run.
func SummaryText(rep Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Password-expiry notices, run at %s\n\n", rep.RunAt.Format(time.RFC3339))
	fmt.Fprintf(&b, "sent: %d, failed: %d, skipped: %d\n", len(rep.Sent), len(rep.Failed), len(rep.Skipped))
	for _, n := range rep.Sent {
		what := "password"
		if n.Kind == KindAccount {
			what = "account"
		}
		fmt.Fprintf(&b, "  sent     %-24s %-8s %2d days left (threshold %d) to %s\n", n.Username, what, n.DaysLeft, n.Threshold, n.To)
	}
	for _, f := range rep.Failed {
		fmt.Fprintf(&b, "  FAILED   %-24s %s\n", f.Username, f.Error)
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(&b, "  skipped  %-24s %s\n", s.Username, s.Reason)
	}
	return b.String()
}
