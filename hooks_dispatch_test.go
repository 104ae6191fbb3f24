package kafka

import (
	"log/slog"
	"testing"
)

type noopHook struct{}

func (noopHook) OnRecordProduced(*Message)         {}
func (noopHook) OnRecordDelivered(*Message, error) {}
func (noopHook) OnRecordConsumed(*Message)         {}

// BenchmarkHookDispatch is what the client spends per message to call a
// hook that does nothing: the three record events, each under its recover.
func BenchmarkHookDispatch(b *testing.B) {
	s := newHookSet([]Hook{noopHook{}}, slog.New(slog.DiscardHandler))
	m := &Message{Topic: "orders"}
	b.ReportAllocs()
	for b.Loop() {
		s.recordProduced(m)
		s.recordDelivered(m, nil)
		s.recordConsumed(m)
	}
}
