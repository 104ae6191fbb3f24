package membership

import (
	"sync"

	"github.com/gokafka/kafka/internal/cluster"
)

// LaneBrokers remembers the brokers on which a member opened lanes (its
// connections of its own, apart from the cluster's shared ones), so that
// the member closes them when it stops: a lane is per broker, and the
// coordinator may have moved several times. Safe for concurrent use; the
// zero value is empty and ready.
type LaneBrokers struct {
	mu      sync.Mutex
	brokers map[*cluster.Broker]struct{}
}

// Add remembers b, before the member opens a lane on it.
func (l *LaneBrokers) Add(b *cluster.Broker) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.brokers == nil {
		l.brokers = map[*cluster.Broker]struct{}{}
	}
	l.brokers[b] = struct{}{}
}

// Close closes lanes on every broker remembered, and forgets them. Call it
// once the member's goroutines are done with the lanes.
func (l *LaneBrokers) Close(lanes ...string) {
	l.mu.Lock()
	bs := l.brokers
	l.brokers = nil
	l.mu.Unlock()
	for b := range bs {
		for _, lane := range lanes {
			b.CloseLane(lane)
		}
	}
}
