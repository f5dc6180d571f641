package engine

import (
	"context"
	"slices"
	"testing"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestRunSpans: a traced run has a sync.run span with a child per stage;
// a refused run's span is an error.
func TestRunSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	st := openStore(t)
	src := &fakeSource{}
	r := newRunner(t, st, src, Limits{MaxCount: 500, MaxPercent: 10}, nil)
	src.push(snapshot(true, dirUser("a-1", "Alice", gAgents)), nil)
	if _, err := r.Run(context.Background(), Request{Directory: "corp"}); err != nil {
		t.Fatal(err)
	}
	var names []string
	var root sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		names = append(names, s.Name())
		if s.Name() == "sync.run" {
			root = s
		}
	}
	for _, want := range []string{"sync.run", "sync.read", "sync.plan", "sync.apply"} {
		if !slices.Contains(names, want) {
			t.Errorf("spans %q lack %s", names, want)
		}
	}
	if root == nil {
		t.Fatal("no sync.run span")
	}
	for _, s := range rec.Ended() {
		if s.Name() != "sync.run" && s.Parent().SpanID() != root.SpanContext().SpanID() {
			t.Errorf("%s is not a child of sync.run", s.Name())
		}
	}
}
