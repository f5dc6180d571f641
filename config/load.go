// Package config is dirbridge's typed configuration: strict YAML where an
// unknown key is an error at its line, ${VAR} expanded per value after
// parsing, *_file twins for every secret, a Secret type that never prints,
// defaults in one place (defaults.go) and a Validate that reports every
// problem at once with its field path and line, without network I/O.
//
// The reference is docs/configuration.md; deploy/dirbridge.example.yaml is a
// complete, commented example that the tests keep valid.
package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"

	"gopkg.in/yaml.v3"
)

// Load reads, decodes, defaults and validates the file at path. On failure
// the error is an Errors listing every problem (or an I/O error).
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return parse(data, path, filepath.Dir(path))
}

// Parse decodes data as if read from filename, which is used in messages
// and, when it has a directory part, to resolve relative *_file paths.
func Parse(data []byte, filename string) (*Config, error) {
	base := ""
	if filepath.Dir(filename) != "." || filepath.IsAbs(filename) {
		base = filepath.Dir(filename)
	}
	return parse(data, filename, base)
}

func parse(data []byte, filename, baseDir string) (*Config, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%s: %w", filename, err)
	}
	c := &Config{file: filename, lines: map[string]int{}}
	d := &decoder{file: filename, baseDir: baseDir, lines: c.lines, failed: map[string]bool{}}
	if root.Kind != 0 {
		d.decode(&root, reflect.ValueOf(c).Elem(), "")
	}
	c.ApplyDefaults()
	errs := d.errs
	if err := c.Validate(); err != nil {
		var verrs Errors
		if !errors.As(err, &verrs) {
			return nil, err
		}
		// A field that failed to decode holds its zero value; do not also
		// report that zero value as, say, "required".
		for _, ve := range verrs {
			if !coveredBy(ve.Path, d.errs) && !d.failed[ve.Path] {
				errs = append(errs, ve)
			}
		}
	}
	if len(errs) > 0 {
		errs.sortByLine()
		return nil, errs
	}
	return c, nil
}

func coveredBy(path string, errs Errors) bool {
	for _, e := range errs {
		if e.Path != "" && under(path, e.Path) {
			return true
		}
	}
	return false
}

// File is the name the config was loaded from ("" for a config built in code).
func (c *Config) File() string { return c.file }

// Line returns the line where path (e.g. "directories[0].urls[1]") was set,
// or of its nearest ancestor that was; 0 if none was.
func (c *Config) Line(path string) int {
	for p := path; p != ""; p = parentPath(p) {
		if l, ok := c.lines[p]; ok {
			return l
		}
	}
	return 0
}

// set reports whether path was written in the file, so a default never
// overrides an explicit value, even a zero one (count: 0).
func (c *Config) set(path string) bool {
	_, ok := c.lines[path]
	return ok
}
