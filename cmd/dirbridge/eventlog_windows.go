//go:build windows

package main

import (
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sys/windows/svc/eventlog"
)

// withEventLog tees warnings and errors of log to the Windows Event Log
// source `service install` registers: the service manager discards stderr,
// so a start that fails before log.file is open (a config that does not
// load, a store that does not open) is still seen in the Event Viewer.
// Everything else goes to log.file when the config sets one. close
// releases the Event Log handle.
func withEventLog(log *zap.Logger) (_ *zap.Logger, close func()) {
	el, err := eventlog.Open(serviceName)
	if err != nil {
		return log, func() {}
	}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	core := &eventLogCore{LevelEnabler: zapcore.WarnLevel, enc: enc, el: el}
	return log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return zapcore.NewTee(c, core) })),
		func() { _ = el.Close() }
}

// eventLogCore writes each entry as one Event Log record: warnings as
// Warning, errors and worse as Error, the JSON line as the message.
type eventLogCore struct {
	zapcore.LevelEnabler
	enc zapcore.Encoder
	el  *eventlog.Log
}

func (c *eventLogCore) With(fields []zapcore.Field) zapcore.Core {
	enc := c.enc.Clone()
	for _, f := range fields {
		f.AddTo(enc)
	}
	return &eventLogCore{LevelEnabler: c.LevelEnabler, enc: enc, el: c.el}
}

func (c *eventLogCore) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(e.Level) {
		return ce.AddCore(e, c)
	}
	return ce
}

func (c *eventLogCore) Write(e zapcore.Entry, fields []zapcore.Field) error {
	buf, err := c.enc.EncodeEntry(e, fields)
	if err != nil {
		return err
	}
	defer buf.Free()
	const eventID = 1
	if e.Level >= zapcore.ErrorLevel {
		return c.el.Error(eventID, buf.String())
	}
	return c.el.Warning(eventID, buf.String())
}

func (c *eventLogCore) Sync() error { return nil }
