package testhelp

import (
	"io"
	"strings"
	"testing"
)

// LogWriter is an io.Writer into t's log: each Write becomes one log line,
// its trailing newline dropped (slog handlers and line printers write a
// line at a time). For slog.NewTextHandler, testinstance.Config.Log and the
// like.
func LogWriter(t testing.TB) io.Writer { return logWriter{t} }

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
