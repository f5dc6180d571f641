// Package backend opens the store backend the configuration names; it is
// the one place the daemon and the CLI choose between them.
package backend

import (
	"context"
	"fmt"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/postgres"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

// Options tune a backend beyond its DSN.
type Options struct {
	// MaxOpenConns bounds PostgreSQL's connection pool (store.max_open_conns);
	// 0 keeps the driver's default. SQLite ignores it: it has one writer.
	MaxOpenConns int
}

// Option sets one of Options.
type Option func(*Options)

// WithMaxOpenConns sets Options.MaxOpenConns.
func WithMaxOpenConns(n int) Option { return func(o *Options) { o.MaxOpenConns = n } }

// Open opens driver ("sqlite", the default when empty, or "postgres") at
// dsn and applies pending migrations.
func Open(ctx context.Context, driver, dsn string, opts ...Option) (store.Store, error) {
	var o Options
	for _, f := range opts {
		f(&o)
	}
	switch driver {
	case "", "sqlite":
		s, err := sqlite.Open(ctx, dsn)
		if err != nil {
			return nil, err
		}
		return s, nil
	case "postgres":
		s, err := postgres.Open(ctx, dsn, postgres.WithMaxConns(o.MaxOpenConns))
		if err != nil {
			return nil, err
		}
		return s, nil
	default:
		return nil, fmt.Errorf("store: unknown driver %q (want sqlite or postgres)", driver)
	}
}
