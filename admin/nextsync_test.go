package admin_test

import (
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/admin"
)

func TestDirectoriesShowNextScheduledSyncs(t *testing.T) {
	var asked time.Time
	e := newEnvWith(t, func(o *admin.Options) {
		o.Directories = []string{"corp", "lab"}
		o.NextSyncs = func(now time.Time) map[string]admin.NextSync {
			asked = now
			return map[string]admin.NextSync{"corp": {Incremental: now.Add(8 * time.Minute), Full: now.Add(17 * time.Hour)}}
		}
	})
	var dl admin.DirectoryList
	e.do("GET", "/api/v1/directories", e.token("alice"), nil, 200, &dl)
	now := e.clk.Now()
	if !asked.Equal(now) || len(dl.Items) != 2 {
		t.Fatalf("asked at %v; directories %+v", asked, dl.Items)
	}
	corp, lab := dl.Items[0], dl.Items[1]
	if corp.NextSyncAt == nil || !corp.NextSyncAt.Equal(now.Add(8*time.Minute)) || corp.NextFullSyncAt == nil || !corp.NextFullSyncAt.Equal(now.Add(17*time.Hour)) {
		t.Errorf("corp: %+v", corp)
	}
	if lab.NextSyncAt != nil || lab.NextFullSyncAt != nil {
		t.Errorf("lab has no schedule: %+v", lab)
	}
}
