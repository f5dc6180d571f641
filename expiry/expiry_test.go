package expiry

import (
	"strings"
	"testing"
	"time"
)

func TestDaysLeft(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 10, 22, 30, 0, 0, time.UTC) // 23:30 in Berlin
	tests := []struct {
		name    string
		expires time.Time
		loc     *time.Location
		want    int
	}{
		{"same day later", now.Add(time.Hour), time.UTC, 0},
		{"next morning UTC", time.Date(2026, 3, 11, 6, 0, 0, 0, time.UTC), time.UTC, 1},
		{"just past midnight in Berlin is tomorrow", time.Date(2026, 3, 10, 23, 30, 0, 0, time.UTC), berlin, 1},
		{"same instant in UTC is today", time.Date(2026, 3, 10, 23, 30, 0, 0, time.UTC), time.UTC, 0},
		{"two weeks", now.Add(14 * 24 * time.Hour), time.UTC, 14},
		{"expired yesterday", now.Add(-24 * time.Hour), time.UTC, -1},
		{"across DST change", time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC), berlin, 22},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DaysLeft(tt.expires, now, tt.loc); got != tt.want {
				t.Fatalf("DaysLeft = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestThreshold(t *testing.T) {
	warn := []int{14, 7, 3, 1}
	tests := []struct {
		left   int
		want   int
		wantOK bool
	}{
		{30, 0, false}, {15, 0, false}, {14, 14, true}, {8, 14, true}, {7, 7, true},
		{5, 7, true}, {3, 3, true}, {2, 3, true}, {1, 1, true}, {0, 1, true}, {-1, 0, false},
	}
	for _, tt := range tests {
		got, ok := threshold(warn, tt.left)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("threshold(%d) = %d,%v want %d,%v", tt.left, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestRenderLanguages(t *testing.T) {
	tpl, err := LoadTemplates("")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{From: "it@example.com", ChangePasswordURL: "https://sso.example.com/password", Location: time.UTC}
	n := Notice{Username: "jdoe", DisplayName: "Jane Doe", ExpiresAt: time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC), DaysLeft: 3, To: "jdoe@example.com"}

	msg, err := tpl.Render(n, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "Your password expires in 3 days" {
		t.Errorf("subject = %q", msg.Subject)
	}
	for _, want := range []string{"Jane Doe", "jdoe", "Friday, 1 May 2026", "https://sso.example.com/password"} {
		if !strings.Contains(msg.Text, want) || !strings.Contains(msg.HTML, want) {
			t.Errorf("message lacks %q:\n%s\n%s", want, msg.Text, msg.HTML)
		}
	}

	n.Language, n.DaysLeft = "de-AT", 1
	msg, err = tpl.Render(n, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "Ihr Passwort läuft morgen ab" {
		t.Errorf("german subject = %q", msg.Subject)
	}
	if msg.HTML != "" {
		t.Errorf("a language with only a text template must not get the English HTML part")
	}
}

func TestLoadTemplatesOverride(t *testing.T) {
	dir := t.TempDir()
	if err := writeFile(dir+"/notice.txt.tmpl", "Subject: Custom {{.DaysLeft}}\n\nbody {{.Username}}\n"); err != nil {
		t.Fatal(err)
	}
	tpl, err := LoadTemplates(dir)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := tpl.Render(Notice{Username: "u", DaysLeft: 2}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject != "Custom 2" || !strings.Contains(msg.Text, "body u") {
		t.Fatalf("override not used: %+v", msg)
	}

	bad := t.TempDir()
	if err := writeFile(bad+"/notice.txt.tmpl", "{{.Nope"); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTemplates(bad); err == nil {
		t.Fatal("a template that does not parse must be an error")
	}
}
