// Package tracing sets up OpenTelemetry for the daemon: an OTLP/HTTP
// exporter when tracing.otlp_endpoint is set (the global tracer provider
// stays a no-op otherwise), and the HTTP middleware that starts a span for
// each sign-in request. Packages start their own spans with otel.Tracer;
// nothing here is needed for that.
package tracing

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/dirbridge/dirbridge/config"
)

// Setup installs the global tracer provider for cfg and returns the
// function that flushes and stops it. Without an endpoint it changes
// nothing and the returned function does nothing.
func Setup(ctx context.Context, cfg config.Tracing, version string) (func(context.Context) error, error) {
	if cfg.OTLPEndpoint == "" {
		return func(context.Context) error { return nil }, nil
	}
	opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(cfg.OTLPEndpoint)}
	if len(cfg.Headers) > 0 {
		opts = append(opts, otlptracehttp.WithHeaders(cfg.Headers))
	}
	exp, err := otlptracehttp.New(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("tracing: exporter for %s: %w", cfg.OTLPEndpoint, err)
	}
	res := resource.NewSchemaless(attribute.String("service.name", "dirbridge"), attribute.String("service.version", version))
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	return func(ctx context.Context) error {
		// Spans started after the flush go nowhere, as without tracing.
		defer otel.SetTracerProvider(noop.NewTracerProvider())
		return tp.Shutdown(ctx)
	}, nil
}

// signInPaths are the requests that sign someone in; each gets a span.
// Everything else (above all /auth/verify, the hot path) is left alone.
var signInPaths = []string{"/login", "/saml/acs", "/oidc/callback", "/kerberos/login", "/password/"}

// traced reports the span name for a request, or "" for none.
func traced(r *http.Request) string {
	for _, p := range signInPaths {
		if r.URL.Path == p || (strings.HasSuffix(p, "/") && strings.HasPrefix(r.URL.Path, p)) ||
			strings.HasPrefix(r.URL.Path, p+"/") {
			return "sso.signin"
		}
	}
	return ""
}

// Middleware starts a span for each sign-in request (continuing a trace
// the caller sent in traceparent); sso records the method, the outcome
// and the user on it.
func Middleware(next http.Handler) http.Handler {
	tracer := otel.Tracer("github.com/dirbridge/dirbridge/sso")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := traced(r)
		if name == "" {
			next.ServeHTTP(w, r)
			return
		}
		ctx := otel.GetTextMapPropagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span := tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path)))
		defer span.End()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
