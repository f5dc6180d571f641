package console

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/admin"
	"github.com/dirbridge/dirbridge/store"
)

func TestDrawRuns(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	end := t0.Add(3 * time.Second)
	runs := []admin.SyncRun{
		{StartedAt: t0, FinishedAt: &end, Status: "succeeded", Counts: store.SyncCounts{Created: 10, Updated: 2}},
		{StartedAt: t0.Add(time.Hour), Status: "refused", Counts: store.SyncCounts{Deactivated: 5}},
	}
	for _, rs := range [][]admin.SyncRun{nil, runs} {
		svg := drawRuns(rs)
		if err := xml.Unmarshal([]byte(svg), new(struct{})); err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
	}
	svg := drawRuns(runs)
	for _, want := range []string{"10 created", "2 updated", "5 deactivated", "3.0 s, succeeded", "refused"} {
		if !strings.Contains(svg, want) {
			t.Errorf("chart lacks %q", want)
		}
	}
}
