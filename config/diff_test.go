package config

import (
	"slices"
	"strings"
	"testing"
)

func TestChanged(t *testing.T) {
	a := mustParse(t, minimal)
	b := mustParse(t, "# a comment moves every line\n\n"+minimal)
	if got := Changed(a, b); len(got) != 0 {
		t.Errorf("same values: changed %v", got)
	}
	c := mustParse(t, strings.Replace(minimal, "bind_password: pw", "bind_password: other", 1)+"log: {level: debug}\n")
	if got := Changed(a, c); !slices.Equal(got, []string{"log", "directories"}) {
		t.Errorf("changed = %v", got)
	}
}
