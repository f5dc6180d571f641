// Package backend opens the store backend the configuration names; it is
// the one place the daemon and the CLI choose between them.
package backend

import (
	"context"
	"fmt"

	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/store/sqlite"
)

// Open opens driver ("sqlite", the default when empty, or "postgres") at
// dsn and applies pending migrations.
func Open(ctx context.Context, driver, dsn string) (store.Store, error) {
	switch driver {
	case "", "sqlite":
		s, err := sqlite.Open(ctx, dsn)
		if err != nil {
			return nil, err
		}
		return s, nil
	case "postgres":
		// The PostgreSQL backend is not written yet; say so rather than
		// fall back to SQLite behind the operator's back.
		return nil, fmt.Errorf("store: driver %q is not available yet", driver)
	default:
		return nil, fmt.Errorf("store: unknown driver %q (want sqlite or postgres)", driver)
	}
}
