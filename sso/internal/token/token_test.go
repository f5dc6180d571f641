package token

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestNew(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		tok, err := New()
		if err != nil {
			t.Fatal(err)
		}
		if !valid(tok) || len(tok) != 43 {
			t.Fatalf("New() = %q: not a 43-character base64url token", tok)
		}
		if seen[tok] {
			t.Fatalf("New() repeated %q", tok)
		}
		seen[tok] = true
	}
}

func TestHash(t *testing.T) {
	// SHA-256 of "abc", unpadded base64url: pinned so stored records stay
	// readable across releases.
	if got, want := Hash("abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"; got != want {
		t.Fatalf("Hash(abc) = %q, want %q", got, want)
	}
	if Hash("a") == Hash("b") {
		t.Fatal("different tokens hash alike")
	}
}

func TestBinding(t *testing.T) {
	good, err := New()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		cookie string // "" for none
		reuse  bool
	}{
		{"no cookie", "", false},
		{"valid cookie reused", good, true},
		{"too short", good[:42], false},
		{"too long", good + "A", false},
		{"not base64url", good[:42] + "+", false},
		{"padding", good[:41] + "==", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/login", nil)
			if tc.cookie != "" {
				r.AddCookie(&http.Cookie{Name: "bind", Value: tc.cookie})
			}
			got, err := Binding(r, "bind")
			if err != nil {
				t.Fatal(err)
			}
			if (got == tc.cookie) != tc.reuse {
				t.Fatalf("Binding = %q with cookie %q: reused %v, want %v", got, tc.cookie, got == tc.cookie, tc.reuse)
			}
			if !valid(got) {
				t.Fatalf("Binding = %q: not a token", got)
			}
		})
	}
}

func TestBound(t *testing.T) {
	tok, err := New()
	if err != nil {
		t.Fatal(err)
	}
	stored := Hash(tok)
	tests := []struct {
		name   string
		cookie *http.Cookie
		want   bool
	}{
		{"same browser", &http.Cookie{Name: "bind", Value: tok}, true},
		{"no cookie", nil, false},
		{"other cookie name", &http.Cookie{Name: "other", Value: tok}, false},
		{"other token", &http.Cookie{Name: "bind", Value: tok[:42] + "x"}, false},
		{"the stored hash itself as cookie", &http.Cookie{Name: "bind", Value: stored}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/callback", nil)
			if tc.cookie != nil {
				r.AddCookie(tc.cookie)
			}
			if got := Bound(r, "bind", stored); got != tc.want {
				t.Fatalf("Bound = %v, want %v", got, tc.want)
			}
		})
	}
	if Bound(httptest.NewRequest(http.MethodGet, "/", nil), "bind", "") {
		t.Fatal("an empty stored hash bound a request without cookie")
	}
}

func TestCookieSafe(t *testing.T) {
	for in, want := range map[string]string{
		"corp":          "corp",
		"Entra ID (eu)": "EntraIDeu",
		"a_b-c.d;e=f":   "a_b-cdef",
		"ünï":           "n",
		"":              "",
	} {
		if got := CookieSafe(in); got != want {
			t.Errorf("CookieSafe(%q) = %q, want %q", in, got, want)
		}
	}
}
