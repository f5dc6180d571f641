// Command dirbridge is the dirbridge CLI: the daemon (serve), bootstrap
// commands that work directly on the store (config check, migrate,
// emergency-user, apikeys create --config) and everyday admin commands that
// talk to a running daemon's API (users, profiles, audit), like kubectl.
package main

import (
	"os"

	"github.com/dirbridge/dirbridge/internal/wire"
)

// version is set at build time: -ldflags '-X main.version=...'.
var version = "dev"

func main() {
	wire.Version = version
	if err := newRoot().Execute(); err != nil {
		os.Exit(1)
	}
}
