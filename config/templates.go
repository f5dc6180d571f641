package config

import (
	"errors"

	"github.com/dirbridge/dirbridge/mapping"
)

// checkTemplate parses src with the mapping package's own parser, so the
// helper list (lower, upper, splitDomain, ...) lives in one place and a
// template that passes `config check` is one the sync can run.
func checkTemplate(name, src string) error {
	_, err := mapping.ParseTemplate(name, src)
	if err != nil {
		// mapping wraps as "template NAME: ..."; the path already names it.
		if inner := errors.Unwrap(err); inner != nil {
			return inner
		}
	}
	return err
}
