package main

import (
	"os"
	"runtime/debug"

	"go.uber.org/zap"

	"github.com/dirbridge/dirbridge/config"
)

// applyMemoryPolicy sets the process-wide memory policy from runtime.* in
// the config: the collector's target (runtime.gc_percent) and the soft
// memory limit (runtime.memory_limit_mib). These are globals of the whole
// process, so only the entry points that run syncs and sign-ins (serve,
// sync) call this, once, at start; no package of dirbridge sets them. An
// operator's GOGC or GOMEMLIMIT in the environment wins: Go has applied it
// already and it is left alone. getenv is os.Getenv outside tests.
func applyMemoryPolicy(rt config.Runtime, getenv func(string) string, log *zap.Logger) {
	if getenv == nil {
		getenv = os.Getenv
	}
	fields := make([]zap.Field, 0, 2)
	if v := getenv("GOGC"); v != "" {
		fields = append(fields, zap.String("gogc", v+" (environment)"))
	} else {
		debug.SetGCPercent(rt.GCPercent)
		fields = append(fields, zap.Int("gogc", rt.GCPercent))
	}
	switch v := getenv("GOMEMLIMIT"); {
	case v != "":
		fields = append(fields, zap.String("gomemlimit", v+" (environment)"))
	case rt.MemoryLimitMiB > 0:
		debug.SetMemoryLimit(int64(rt.MemoryLimitMiB) << 20)
		fields = append(fields, zap.Int("gomemlimit_mib", rt.MemoryLimitMiB))
	}
	log.Debug("memory policy", fields...)
}
