package daemon

import (
	"encoding/json"
	"io"
	"os"
	"testing"
	"time"
)

// TestJSONLogTimes: JSON log lines carry RFC 3339 times.
func TestJSONLogTimes(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stderr
	os.Stderr = w
	log, _, err := NewLevelLogger("json", "info")
	os.Stderr = saved
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hello")
	_ = log.Sync()
	_ = w.Close()
	line, _ := io.ReadAll(r)
	var rec map[string]any
	if err := json.Unmarshal(line, &rec); err != nil {
		t.Fatalf("log line %q: %v", line, err)
	}
	ts, _ := rec["ts"].(string)
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		t.Errorf("ts %v is not RFC 3339: %v", rec["ts"], err)
	}
}
