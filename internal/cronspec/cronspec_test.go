package cronspec

import (
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

func TestParse(t *testing.T) {
	from := time.Date(2025, 3, 10, 12, 7, 0, 0, time.UTC) // a Monday
	for _, tc := range []struct {
		expr string
		next time.Time // zero: must not parse
	}{
		{"*/15 * * * *", time.Date(2025, 3, 10, 12, 15, 0, 0, time.UTC)},
		{"0 3 * * *", time.Date(2025, 3, 11, 3, 0, 0, 0, time.UTC)},
		{"0 8 * * 1-5", time.Date(2025, 3, 11, 8, 0, 0, 0, time.UTC)},
		{"@daily", time.Date(2025, 3, 11, 0, 0, 0, 0, time.UTC)},
		{"@every 10m", from.Add(10 * time.Minute)},
		{"0 0 3 * * *", time.Time{}}, // a seconds field is not crontab's
		{"61 * * * *", time.Time{}},
		{"every day", time.Time{}},
		{"", time.Time{}},
	} {
		s, err := Parse(tc.expr)
		if tc.next.IsZero() {
			if err == nil || !strings.Contains(err.Error(), tc.expr) {
				t.Errorf("Parse(%q): err %v, want an error quoting the expression", tc.expr, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.expr, err)
			continue
		}
		if got := s.Next(from); !got.Equal(tc.next) {
			t.Errorf("Parse(%q).Next = %s, want %s", tc.expr, got, tc.next)
		}
	}
}

// TestOption: a cron.Cron built with Option refuses what Parse refuses.
func TestOption(t *testing.T) {
	c := cron.New(Option())
	if _, err := c.AddFunc("0 0 3 * * *", func() {}); err == nil {
		t.Error("six fields accepted by a Cron with Option")
	}
	if _, err := c.AddFunc("@hourly", func() {}); err != nil {
		t.Errorf("@hourly: %v", err)
	}
}
