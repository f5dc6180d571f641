// Package cronspec is dirbridge's one reading of cron expressions. The
// configuration's validation and every scheduler (the sync engine's, the
// expiry notices') parse schedules here, so an expression that passes
// `dirbridge config check` is one the schedulers run, and the two can
// never disagree on a field or a descriptor.
package cronspec

import (
	"fmt"

	"github.com/robfig/cron/v3"
)

// parser reads five fields (minute, hour, day of month, month, day of
// week) or a descriptor such as @daily or @every 10m, as crontab does;
// robfig/cron's optional seconds field is not accepted.
var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Parse reads expr. Its error quotes the expression; callers add the field
// it came from.
func Parse(expr string) (cron.Schedule, error) {
	s, err := parser.Parse(expr)
	if err != nil {
		return nil, fmt.Errorf("invalid cron expression %q: %w", expr, err)
	}
	return s, nil
}

// Option makes a cron.Cron read the expressions given to AddFunc with
// Parse's grammar.
func Option() cron.Option { return cron.WithParser(parser) }
