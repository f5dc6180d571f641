package daemon

import (
	"context"
	"time"

	sddaemon "github.com/coreos/go-systemd/v22/daemon"
	"go.uber.org/zap"
)

// A service manager that started dirbridge with Type=notify (systemd) learns
// its state through the socket in NOTIFY_SOCKET: READY=1 once the store is
// migrated and the listener accepts connections (so units ordered After=
// dirbridge find it serving), STOPPING=1 when shutdown begins, and
// WATCHDOG=1 keep-alives when the unit sets WatchdogSec=. Without
// NOTIFY_SOCKET (a terminal, a container, Windows) every call does nothing.

// notifyReady tells the service manager the daemon is serving on addr.
func notifyReady(log *zap.Logger, addr string) {
	notify(log, sddaemon.SdNotifyReady+"\nSTATUS=serving on "+addr)
}

// notifyStopping tells the service manager shutdown has begun.
func notifyStopping(log *zap.Logger) {
	notify(log, sddaemon.SdNotifyStopping+"\nSTATUS=shutting down")
}

func notify(log *zap.Logger, state string) {
	sent, err := sddaemon.SdNotify(false, state)
	switch {
	case err != nil:
		log.Warn("service manager notification failed", zap.Error(err))
	case sent:
		log.Debug("service manager notified", zap.String("state", state))
	}
}

// watchdog sends WATCHDOG=1 at half the interval the service manager asks
// for (WATCHDOG_USEC, for this process per WATCHDOG_PID) until ctx ends.
// It proves the process still schedules goroutines and runs its main loop;
// it deliberately does not depend on the store or the directories, whose
// outages /readyz reports and a restart would not cure.
func watchdog(ctx context.Context, log *zap.Logger) {
	interval, err := sddaemon.SdWatchdogEnabled(false)
	if err != nil {
		log.Warn("service manager watchdog settings ignored", zap.Error(err))
		return
	}
	if interval <= 0 {
		return
	}
	log.Info("service manager watchdog enabled", zap.Duration("interval", interval))
	go func() {
		t := time.NewTicker(interval / 2)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				notify(log, sddaemon.SdNotifyWatchdog)
			}
		}
	}()
}
