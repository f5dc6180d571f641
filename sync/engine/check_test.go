package engine

import (
	"errors"
	"testing"

	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/store"
)

// defaultLimits are the limits a directory gets when its config sets no
// max_deactivations: the config's defaults, never a copy of the numbers.
func defaultLimits() Limits {
	return Limits{MaxCount: config.DefaultMaxDeactivationCount, MaxPercent: config.DefaultMaxDeactivationPercent}
}

func TestCheck(t *testing.T) {
	plan := func(complete bool, read, deactivate int) Plan {
		return Plan{Directory: "corp", Complete: complete, UsersRead: read, Counts: store.SyncCounts{Deactivated: deactivate}}
	}
	tests := []struct {
		name   string
		plan   Plan
		limits Limits
		active int
		want   string // "" = allowed; else the exact message
	}{
		{"nothing to deactivate", plan(true, 10, 0), Limits{}, 10, ""},
		{"zero limits allow no deactivation", plan(true, 999, 1), Limits{}, 1000,
			"sync corp: plan would deactivate 1 of 1,000 users (0.1 %); limits are 0 users and 0 % — nothing applied"},
		{"within defaults", plan(true, 4000, 400), defaultLimits(), 4100, ""},
		{"percent over default", plan(true, 3288, 812), Limits{MaxCount: 1000, MaxPercent: 10}, 4100,
			"sync corp: plan would deactivate 812 of 4,100 users (19.8 %); limit is 10 % — nothing applied"},
		{"count over", plan(true, 99000, 600), Limits{MaxCount: 500, MaxPercent: 10}, 100000,
			"sync corp: plan would deactivate 600 of 100,000 users (0.6 %); limit is 500 users — nothing applied"},
		{"both over", plan(true, 100, 900), Limits{MaxCount: 500, MaxPercent: 10}, 1000,
			"sync corp: plan would deactivate 900 of 1,000 users (90.0 %); limits are 500 users and 10 % — nothing applied"},
		{"exactly at the limit", plan(true, 90, 10), Limits{MaxCount: 10, MaxPercent: 10}, 100, ""},
		{"limits switched off", plan(true, 1, 99), Limits{MaxCount: -1, MaxPercent: 100}, 100, ""},
		{"admin approval", plan(true, 3288, 812), Limits{AllowMassDeactivation: true}, 4100, ""},
		{"empty full read of a populated directory", plan(true, 0, 4100), Limits{AllowMassDeactivation: true}, 4100,
			"sync corp: full read returned no users but the directory has 4,100 active users; an unreachable group or a wrong group list would deactivate everyone — nothing applied"},
		{"empty full read of an empty directory", plan(true, 0, 0), Limits{}, 0, ""},
		{"empty incremental read", plan(false, 0, 0), Limits{}, 4100, ""},
		{"small directory, one leaver over 10 %", plan(true, 4, 1), defaultLimits(), 5,
			"sync corp: plan would deactivate 1 of 5 users (20.0 %); limit is 10 % — nothing applied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Check(tt.plan, tt.limits, tt.active)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("allowed, want %q", tt.want)
			}
			if !errors.Is(err, ErrRefused) {
				t.Errorf("error %v is not ErrRefused", err)
			}
			if err.Error() != tt.want {
				t.Errorf("message\n got %s\nwant %s", err, tt.want)
			}
		})
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 12: "12", 999: "999", 1000: "1,000", 4100: "4,100", 100000: "100,000", 1234567: "1,234,567", -4100: "-4,100"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %s, want %s", n, got, want)
		}
	}
}
