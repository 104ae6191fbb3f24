package kafka

import (
	"sync"

	"github.com/gokafka/kafka/internal/engine"
)

// brokerWindows is a producer's or consumer's engine.BrokerWindowObserver:
// an engine with its own connections (librdkafka) reports its brokers once
// per statistics interval; the last report goes to Stats
// (ProducerStats.Brokers, ConsumerStats.Brokers)
// and each broker's throttle in it to the throttle hooks. Engines turn
// their statistics on only when a client has hooks.
type brokerWindows struct {
	hooks *hookSet

	mu   sync.Mutex
	last []engine.BrokerWindow
}

// windowsObserver is the Windows observer of a producer's or fetcher's
// engine config: nil without hooks.
func (s *hookSet) windowsObserver() *brokerWindows {
	if s == nil {
		return nil
	}
	return &brokerWindows{hooks: s}
}

// BrokerWindows implements engine.BrokerWindowObserver.
func (w *brokerWindows) BrokerWindows(ws []engine.BrokerWindow) {
	w.mu.Lock()
	w.last = ws
	w.mu.Unlock()
	for _, b := range ws {
		if b.ThrottleMax > 0 {
			each(w.hooks, w.hooks.throttle, BrokerThrottleEvent{Broker: b.Broker, Addr: b.Addr, APIKey: -1, Throttle: b.ThrottleMax}, BrokerThrottleHook.OnBrokerThrottle)
		}
	}
}

// brokers is the last report as BrokerStats; nil before any.
func (w *brokerWindows) brokers() []BrokerStats {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []BrokerStats
	for _, b := range w.last {
		out = append(out, BrokerStats{
			ID: b.Broker, Addr: b.Addr, Connected: b.Connected, InFlight: b.InFlight,
			Requests: b.Requests, Errors: b.Errors, BytesWritten: b.BytesWritten, BytesRead: b.BytesRead,
			LatencyP50: b.RTTP50, LatencyP90: b.RTTP90, LatencyP99: b.RTTP99,
		})
	}
	return out
}
