package ldap

import (
	"testing"
	"time"
)

// TestPlainGeneralizedTime pins the fast path against time.Parse.
func TestPlainGeneralizedTime(t *testing.T) {
	for _, s := range []string{"20261123122700Z", "20240229235960Z", "19700101000000Z", "20250231120000Z",
		"20261323122700Z", "2026112312270aZ", "20261123122700", "20261123122700.5Z", "20261123122700+0100"} {
		want, werr := time.Parse("20060102150405Z0700", s)
		got, ok := plainGeneralizedTime(s)
		switch {
		case ok && (werr != nil || !got.Equal(want)):
			t.Errorf("%s: fast %v, time.Parse %v %v", s, got, want, werr)
		case !ok && werr == nil && len(s) == 15:
			t.Errorf("%s: fast path refused what time.Parse reads", s)
		}
		if g, err := generalizedTime(s); (err == nil) != (werr == nil || ok) && len(s) == 15 {
			t.Errorf("%s: generalizedTime = %v, %v", s, g, err)
		}
	}
}
