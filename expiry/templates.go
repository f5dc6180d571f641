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

// Templates holds the notice templates, per language. A language without
// its own template uses the default one (notice.txt.tmpl / notice.html.tmpl).
type Templates struct {
	text map[string]*texttemplate.Template // "" = default
	html map[string]*htmltemplate.Template
}

// LoadTemplates reads the built-in templates and, when dir is set, the
// administrator's templates there, which replace built-ins of the same
// name. Names: notice.txt.tmpl, notice.html.tmpl, notice.LANG.txt.tmpl,
// notice.LANG.html.tmpl. The first line of a text template is the subject
// ("Subject: ...").
func LoadTemplates(dir string) (*Templates, error) {
	t := &Templates{text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}}
	sub, _ := fs.Sub(builtin, "templates")
	if err := t.load(sub, "built-in"); err != nil {
		return nil, err
	}
	if dir != "" {
		if err := t.load(os.DirFS(dir), dir); err != nil {
			return nil, err
		}
	}
	if t.text[""] == nil {
		return nil, fmt.Errorf("expiry templates: no notice.txt.tmpl")
	}
	return t, nil
}

func (t *Templates) load(fsys fs.FS, where string) error {
	names, err := fs.Glob(fsys, "notice*.tmpl")
	if err != nil {
		return fmt.Errorf("expiry templates %s: %w", where, err)
	}
	for _, name := range names {
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return fmt.Errorf("expiry templates %s: %w", where, err)
		}
		lang, kind, ok := parseName(name)
		if !ok {
			return fmt.Errorf("expiry templates %s: %s: want notice[.LANG].txt.tmpl or notice[.LANG].html.tmpl", where, name)
		}
		switch kind {
		case "txt":
			tt, err := texttemplate.New(name).Option("missingkey=error").Parse(string(b))
			if err != nil {
				return fmt.Errorf("expiry templates %s: %w", where, err)
			}
			t.text[lang] = tt
		case "html":
			ht, err := htmltemplate.New(name).Option("missingkey=error").Parse(string(b))
			if err != nil {
				return fmt.Errorf("expiry templates %s: %w", where, err)
			}
			t.html[lang] = ht
		}
	}
	return nil
}

func parseName(name string) (lang, kind string, ok bool) {
	parts := strings.Split(strings.TrimSuffix(name, ".tmpl"), ".")
	switch {
	case len(parts) == 2 && parts[0] == "notice":
		return "", parts[1], parts[1] == "txt" || parts[1] == "html"
	case len(parts) == 3 && parts[0] == "notice":
		return strings.ToLower(parts[1]), parts[2], parts[2] == "txt" || parts[2] == "html"
	}
	return "", "", false
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
	tt := t.text[lang]
	if tt == nil {
		tt = t.text[""]
	}
	var buf bytes.Buffer
	if err := tt.Execute(&buf, data); err != nil {
		return Message{}, fmt.Errorf("text template: %w", err)
	}
	subject, body := splitSubject(buf.String())
	msg := Message{From: cfg.From, To: []string{n.To}, Subject: subject, Text: body}
	ht := t.html[lang]
	if ht == nil && t.text[lang] == nil {
		ht = t.html[""]
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

func splitSubject(s string) (subject, body string) {
	first, rest, _ := strings.Cut(s, "\n")
	if v, ok := strings.CutPrefix(first, "Subject:"); ok {
		return strings.TrimSpace(v), strings.TrimLeft(rest, "\n")
	}
	return "Your password expires soon", s
}

// SummaryText is the administrators' summary of a run.
func SummaryText(rep Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Password-expiry notices, run at %s\n\n", rep.RunAt.Format(time.RFC3339))
	fmt.Fprintf(&b, "sent: %d, failed: %d, skipped: %d\n", len(rep.Sent), len(rep.Failed), len(rep.Skipped))
	for _, n := range rep.Sent {
		fmt.Fprintf(&b, "  sent     %-24s %2d days left (threshold %d) to %s\n", n.Username, n.DaysLeft, n.Threshold, n.To)
	}
	for _, f := range rep.Failed {
		fmt.Fprintf(&b, "  FAILED   %-24s %s\n", f.Username, f.Error)
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(&b, "  skipped  %-24s %s\n", s.Username, s.Reason)
	}
	return b.String()
}
