package testhelp

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
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

// Buffer is a bytes.Buffer that a process or a logger may write to while
// the test reads it: Write and String are safe concurrently. The zero value
// is empty and ready.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String is what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// DebugLogger is the slog.Logger of the code under test (a group member, a
// fetcher): its debug log goes to t's log when GOKAFKA_TEST_LOG is set (see
// it with -v); otherwise it is discarded, since most runs only want the
// tests' own lines.
func DebugLogger(t testing.TB) *slog.Logger {
	if os.Getenv("GOKAFKA_TEST_LOG") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(LogWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug}))
}
