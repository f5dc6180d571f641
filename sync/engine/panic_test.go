package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
)

// panickySource panics on its first read, then reads like fakeSource.
type panickySource struct {
	fakeSource
	panicked bool
}

func (p *panickySource) Read(ctx context.Context, req directory.ReadRequest) (directory.Snapshot, error) {
	if !p.panicked {
		p.panicked = true
		var users []directory.User
		_ = users[3] // a reader bug: index out of range
	}
	return p.fakeSource.Read(ctx, req)
}

func TestPanicFailsOnlyTheRun(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	src := &panickySource{}
	r, err := NewRunner(st, []Directory{{
		Name: "corp", Source: src, Groups: []string{"CC-Agents", "CC-Supervisors"},
		Mapper: testMapper(t), LinkBy: mapping.LinkByUsername, Limits: Limits{MaxCount: 500, MaxPercent: 10},
	}}, Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)

	run, err := r.Run(ctx, Request{Directory: "corp", Full: true})
	if err == nil || run.Status != store.SyncFailed || !strings.Contains(run.Error, "sync corp: internal error: runtime error: index out of range") {
		t.Fatalf("panicking run = %+v, %v", run, err)
	}
	if got, err := st.GetSyncRun(ctx, run.ID); err != nil || got.Status != store.SyncFailed {
		t.Fatalf("recorded run = %+v, %v", got, err)
	}
	// The directory is free again and the next run works.
	src.push(snapshot(true, dirUser("a-1", "Alice", gAgents)), nil)
	if run, err := r.Run(ctx, Request{Directory: "corp", Full: true}); err != nil || run.Counts.Created != 1 {
		t.Fatalf("next run = %+v, %v", run, err)
	}
}
