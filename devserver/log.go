package devserver

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// serverLogLevel is the lowest level of server log that reaches Config.Logger: the
// Temporal server logs every shard, queue and membership change at info level, which
// would drown the application's own log during development.
const serverLogLevel = slog.LevelWarn

// fatalLog is the panic value of slogLogger.Fatal and slogLogger.Panic. The server calls
// Fatal where it cannot go on (a port it cannot bind, for example) and expects the process
// to exit; panicking instead lets Start turn it into an error when it happens on the
// starting goroutine.
type fatalLog struct {
	msg  string
	tags []tag.Tag
}

func (f fatalLog) String() string {
	s := f.msg
	for _, t := range f.tags {
		s += fmt.Sprintf(" %s=%v", t.Key(), t.Value())
	}
	return s
}

// slogLogger adapts the server's log.Logger to a *slog.Logger, dropping everything below
// serverLogLevel, and everything once quiet is set.
type slogLogger struct {
	log *slog.Logger
	// quiet is set when Stop begins. From then on the server only reports its own
	// shutdown: every poller warns about the connection it loses, and the scanner and
	// parent-close-policy workers, which server v1.32.1 starts but never stops, keep
	// warning that they cannot reach the stopped frontend.
	quiet *atomic.Bool
}

var _ log.Logger = slogLogger{}

func (l slogLogger) Debug(msg string, tags ...tag.Tag) { l.write(slog.LevelDebug, msg, tags) }
func (l slogLogger) Info(msg string, tags ...tag.Tag)  { l.write(slog.LevelInfo, msg, tags) }
func (l slogLogger) Warn(msg string, tags ...tag.Tag)  { l.write(slog.LevelWarn, msg, tags) }
func (l slogLogger) Error(msg string, tags ...tag.Tag) { l.write(slog.LevelError, msg, tags) }

// DPanic is only a panic in the server's development builds; here it is an error.
func (l slogLogger) DPanic(msg string, tags ...tag.Tag) { l.write(slog.LevelError, msg, tags) }

func (l slogLogger) Panic(msg string, tags ...tag.Tag) {
	l.write(slog.LevelError, msg, tags)
	panic(fatalLog{msg: msg, tags: tags})
}

func (l slogLogger) Fatal(msg string, tags ...tag.Tag) {
	l.write(slog.LevelError, msg, tags)
	panic(fatalLog{msg: msg, tags: tags})
}

func (l slogLogger) write(level slog.Level, msg string, tags []tag.Tag) {
	ctx := context.Background()
	if level < serverLogLevel || l.quiet.Load() || !l.log.Enabled(ctx, level) {
		return
	}
	attrs := make([]slog.Attr, 0, len(tags)+1)
	attrs = append(attrs, slog.String("component", "temporal"))
	for _, t := range tags {
		attrs = append(attrs, slog.Any(t.Key(), t.Value()))
	}
	l.log.LogAttrs(ctx, level, msg, attrs...)
}
