package daemon

import (
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/config"
	"github.com/dirbridge/dirbridge/internal/wire"
	"github.com/dirbridge/dirbridge/mapping"
	"github.com/dirbridge/dirbridge/store"
	"github.com/dirbridge/dirbridge/sync/directory"
	"github.com/dirbridge/dirbridge/sync/engine"
	"github.com/dirbridge/dirbridge/sync/ldap"
)

// swapMapper is a directory's mapper that a SIGHUP reload can replace
// while the Runner holds it. A run loads the pointer once per MapAll, so
// one plan never mixes old and new rules.
type swapMapper struct {
	p atomic.Pointer[mapping.Mapper]
}

func (s *swapMapper) MapAll(users []directory.User, groups []directory.Group, existing map[string]*store.User) ([]mapping.Result, []mapping.Warning) {
	return s.p.Load().MapAll(users, groups, existing)
}

// syncParts is the wired sync engine with the handles reload needs.
type syncParts struct {
	runner  *engine.Runner
	sources map[string]*ldap.Source
	mappers map[string]*swapMapper
}

// buildSync is wire.Runner with reloadable mappers: one LDAP/AD source and
// one mapper per directory.
func buildSync(cfg *config.Config, st store.Store, log *zap.Logger, reg prometheus.Registerer) (syncParts, error) {
	p := syncParts{sources: map[string]*ldap.Source{}, mappers: map[string]*swapMapper{}}
	dirs := make([]engine.Directory, 0, len(cfg.Directories))
	for _, d := range cfg.Directories {
		src, err := ldap.New(wire.LDAPConfig(d, log))
		if err != nil {
			return syncParts{}, fmt.Errorf("directory %s: %w", d.Name, err)
		}
		ed, err := wire.Directory(cfg, d, src)
		if err != nil {
			return syncParts{}, err
		}
		m := &swapMapper{}
		m.p.Store(ed.Mapper.(*mapping.Mapper))
		ed.Mapper = m
		p.sources[d.Name], p.mappers[d.Name] = src, m
		dirs = append(dirs, ed)
	}
	r, err := engine.NewRunner(st, dirs, engine.Options{Logger: log, Registerer: reg})
	if err != nil {
		return syncParts{}, fmt.Errorf("sync runner: %w", err)
	}
	p.runner = r
	return p, nil
}

// reloadMappers builds every directory's mapper from cfg and swaps them in
// only when all build: a reload never leaves half the directories on new
// rules. Directories added or removed need a restart and are left alone.
func (p syncParts) reloadMappers(cfg *config.Config) (int, error) {
	next := map[string]*mapping.Mapper{}
	for name := range p.mappers {
		if _, ok := cfg.Directory(name); !ok {
			continue
		}
		m, err := wire.Mapper(cfg, name)
		if err != nil {
			return 0, err
		}
		next[name] = m
	}
	for name, m := range next {
		p.mappers[name].p.Store(m)
	}
	return len(next), nil
}
