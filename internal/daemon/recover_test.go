package daemon

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestRecoverPanics(t *testing.T) {
	core, logs := observer.New(zap.ErrorLevel)
	h := recoverPanics(zap.New(core), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]int
		m["boom"]++ //nolint:staticcheck // SA5000: a nil-map write on purpose, the handler bug the test recovers from
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	res, err := http.Get(srv.URL + "/login")
	if err != nil {
		t.Fatalf("the connection was dropped instead of answered: %v", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusInternalServerError || !strings.HasPrefix(string(body), "Internal error.") {
		t.Fatalf("answer: %d %q", res.StatusCode, body)
	}
	entries := logs.FilterMessage("request handler panicked").All()
	if len(entries) != 1 || entries[0].ContextMap()["path"] != "/login" || !strings.Contains(entries[0].ContextMap()["stack"].(string), "recover_test.go") {
		t.Fatalf("log: %+v", logs.All())
	}
}
