package harness

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"
)

func TestStartChromium(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `<!doctype html><title>harness</title><p id="p">hello</p>`)
	}))
	defer srv.Close()
	b := StartChromium(t, 800, 600)
	if err := chromedp.Do(b.Ctx, chromedp.Navigate(srv.URL)); err != nil {
		t.Fatal(err)
	}
	txt, err := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS("#p")))
	if err != nil || txt != "hello" {
		t.Fatalf("text %q, %v", txt, err)
	}
}
