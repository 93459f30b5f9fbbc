package watcher

import (
	"context"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"
)

// Run polls at once and then on the cron schedule until ctx is done; then
// it stops the scheduler and waits for a poll in flight to finish, so an
// action that was started is completed. Cron is only the trigger: a slow
// Jenkins skips ticks rather than stacking polls.
func (w *Watcher) Run(ctx context.Context, sched cron.Schedule, pollTimeout time.Duration) error {
	logger := cronLogger{w.log}
	c := cron.New(cron.WithLogger(logger), cron.WithChain(cron.Recover(logger), cron.SkipIfStillRunning(logger)))
	// A poll outlives the shutdown signal: it is bounded by its own
	// timeout, not cancelled halfway through an action.
	pollCtx := context.WithoutCancel(ctx)
	poll := func() {
		ctx, cancel := context.WithTimeout(pollCtx, pollTimeout)
		defer cancel()
		_ = w.Poll(ctx) // failures are logged and counted by Poll
	}
	c.Schedule(sched, cron.FuncJob(poll))
	c.Start()
	first := make(chan struct{})
	go func() {
		// The first poll need not wait for the first tick.
		defer close(first)
		if ctx.Err() == nil {
			poll()
		}
	}()
	<-ctx.Done()
	w.stopping.Store(true)
	w.log.Info("stopping: finishing the action in flight")
	<-c.Stop().Done()
	<-first
	return nil
}

// cronLogger sends cron's own messages to slog.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "error", err)...)
}
