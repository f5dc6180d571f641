package policy

import (
	"net/netip"

	"github.com/dirbridge/dirbridge/internal/clientip"
)

// ClientIP is clientip.Parse, kept for callers in sso; the rule itself
// lives in internal/clientip so the admin API reads proxies the same way.
func ClientIP(remoteAddr, xff string, trusted []netip.Prefix) netip.Addr {
	return clientip.Parse(remoteAddr, xff, trusted)
}
