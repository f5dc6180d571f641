package sso

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/dirbridge/dirbridge/store"
)

// traceSignIn puts a sign-in's method, outcome and user on the request's
// span (the daemon starts one per sign-in request when tracing is on); a
// refusal marks the span as an error named by its outcome.
func traceSignIn(ctx context.Context, a *attempt, outcome string) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.String("dirbridge.signin.method", a.method),
		attribute.String("dirbridge.signin.outcome", outcome), attribute.String("enduser.id", a.username))
	if outcome != store.OutcomeSuccess {
		span.SetStatus(codes.Error, outcome)
	}
}
