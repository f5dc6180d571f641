package daemon

import (
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/dirbridge/dirbridge/config"
)

// newFileLogger logs to lc.File in lc.Format, rotating it by size
// (lumberjack: the full file is renamed with a timestamp and a new one
// started; lc.MaxBackups and lc.MaxAgeDays bound the old ones). The file is
// created with mode 0600 and opened now, so a path the daemon cannot write
// fails the start instead of losing every log line. close flushes and
// closes it.
func newFileLogger(lc config.Log, level zap.AtomicLevel) (log *zap.Logger, close func(), err error) {
	if err := os.MkdirAll(filepath.Dir(lc.File), 0o750); err != nil {
		return nil, nil, fmt.Errorf("log.file: %w", err)
	}
	f, err := os.OpenFile(lc.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("log.file: %w", err)
	}
	_ = f.Close()
	lj := &lumberjack.Logger{Filename: lc.File, MaxSize: lc.MaxSizeMiB, MaxBackups: lc.MaxBackups, MaxAge: lc.MaxAgeDays}
	zc := zapConfig(lc.Format)
	zc.Level = level
	ws := zapcore.Lock(zapcore.AddSync(lj))
	enc := zapcore.NewJSONEncoder(zc.EncoderConfig)
	if zc.Encoding == "console" {
		enc = zapcore.NewConsoleEncoder(zc.EncoderConfig)
	}
	log, err = zc.Build(zap.AddStacktrace(zap.ErrorLevel), zap.ErrorOutput(ws),
		zap.WrapCore(func(zapcore.Core) zapcore.Core { return zapcore.NewCore(enc, ws, zc.Level) }))
	if err != nil {
		_ = lj.Close()
		return nil, nil, fmt.Errorf("build file logger: %w", err)
	}
	return log, func() { _ = log.Sync(); _ = lj.Close() }, nil
}

// fileLevel is the file logger's level: the shared one when Run applies
// log.level (so SIGHUP reaches the file too); otherwise the level of the
// logger Run was given (serve --log-level wins over log.level), or
// log.level when Run was given none.
func fileLevel(shared *zap.AtomicLevel, given *zap.Logger, configured string) zap.AtomicLevel {
	if shared != nil {
		return *shared
	}
	if given != nil {
		if l := given.Level(); l != zapcore.InvalidLevel {
			return zap.NewAtomicLevelAt(l)
		}
	}
	if l, err := zap.ParseAtomicLevel(configured); err == nil {
		return l
	}
	return zap.NewAtomicLevel()
}
