//go:build cgo && !nordkafka

package rdkafka

import (
	"context"
	"log/slog"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

// logger is the slog.Logger of one producer or fetcher: the client's, or
// one that discards. A producer or fetcher serves any number of topics, so
// the lines that concern one partition name it themselves ("topic",
// "partition"); librdkafka's own lines name theirs in the text.
func logger(l *slog.Logger, role string) *slog.Logger {
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return l.With("engine", "rdkafka", "role", role)
}

// forwardLog writes a librdkafka log line to l. librdkafka logs with syslog
// levels: 0-3 are errors, 4 warnings, 5-6 notices and information, 7 debug.
func forwardLog(l *slog.Logger, e kafka.LogEvent) {
	level := slog.LevelDebug
	switch {
	case e.Level <= 3:
		level = slog.LevelError
	case e.Level == 4:
		level = slog.LevelWarn
	case e.Level <= 6:
		level = slog.LevelInfo
	}
	l.Log(context.Background(), level, "librdkafka: "+e.Message, "tag", e.Tag, "instance", e.Name)
}
