package kafka

import (
	"slices"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
)

// Stats is a snapshot of what a client holds and how its brokers answer:
// what a program would print on SIGUSR1 or serve on a debug page. Taking
// one costs a lock per producer partition and per consumer; it does not
// touch the network. Counters run from the client's start.
type Stats struct {
	Taken     time.Time       // when the snapshot was taken
	Brokers   []BrokerStats   // by broker id; bootstrap addresses (negative ids) last
	Producers []ProducerStats // the client's open producers
	Consumers []ConsumerStats // the client's open simple and balanced consumers
}

// BrokerStats is one broker as the client's own connections see it
// (metadata, groups, offsets, and the pure engine's produce and fetch
// traffic; the rdkafka engine's connections are librdkafka's and are not
// counted).
type BrokerStats struct {
	ID           int32
	Addr         string
	Connected    bool   // some connection to it is open
	InFlight     int    // requests written whose response has not come
	Requests     uint64 // requests written
	Errors       uint64 // requests not written, or whose connection failed before the response (a caller that gave up waiting is not counted)
	BytesWritten uint64
	BytesRead    uint64
	Throttles    uint64 // responses that asked the client to wait
	// Latency percentiles of the responses read (request written to
	// response read; Fetch long-polls included), each the upper bound of
	// a histogram bucket (100µs, 200µs, 400µs, ... doubling): the true
	// value is at most this, and above half of it. Zero before any
	// response.
	LatencyP50 time.Duration
	LatencyP90 time.Duration
	LatencyP99 time.Duration
}

// ProducerStats is one producer's queue.
type ProducerStats struct {
	Topic    string // the producer's topic; empty for Client.NewProducer's
	Queued   int    // messages accepted and not yet reported
	QueueMax int    // ProducerConfig.MaxQueuedMessages
	// BufferedBytes is the size of the batches holding them (before
	// compression); -1 with the rdkafka engine, which does not say.
	BufferedBytes int64
	// Brokers is, for an engine with connections of its own (rdkafka),
	// its brokers as its last statistics report described them (once a
	// second; latency percentiles over that second; Throttles not
	// counted). Only for clients with hooks, which turn the statistics
	// on; nil otherwise and for the pure engine, whose traffic is in
	// Stats.Brokers.
	Brokers []BrokerStats
}

// ConsumerStats is one consumer's partitions.
type ConsumerStats struct {
	Group      string // empty for a simple consumer without ConsumerGroup
	Partitions int    // assigned
	Ready      int    // fetched messages waiting for Consume (the engine may hold more)
	// Lag is the sum of Lag() over the assigned partitions whose high
	// watermark is known.
	Lag int64
	// Brokers is, for an engine with connections of its own (rdkafka),
	// its brokers as its last statistics report described them, as
	// ProducerStats.Brokers: only for clients with hooks; nil otherwise
	// and for the pure engine. The reports arrive while Consume waits in
	// the engine.
	Brokers []BrokerStats
}

// Stats returns a snapshot of the client, its brokers, producers and
// consumers.
func (c *Client) Stats() Stats {
	s := Stats{Taken: time.Now()}
	for _, b := range c.cluster.Stats() {
		s.Brokers = append(s.Brokers, brokerStats(b))
	}
	slices.SortStableFunc(s.Brokers, func(a, b BrokerStats) int {
		if (a.ID < 0) != (b.ID < 0) {
			if a.ID < 0 {
				return 1
			}
			return -1
		}
		if a.ID < 0 {
			return int(b.ID - a.ID) // -1, -2, ...: bootstrap order
		}
		return int(a.ID - b.ID)
	})
	c.mu.Lock()
	children := make([]closer, 0, len(c.children))
	for ch := range c.children {
		children = append(children, ch)
	}
	c.mu.Unlock()
	for _, ch := range children {
		switch x := ch.(type) {
		case *Producer:
			s.Producers = append(s.Producers, x.stats())
		case *SimpleConsumer:
			s.Consumers = append(s.Consumers, x.core.stats())
		case *BalancedConsumer:
			s.Consumers = append(s.Consumers, x.core.stats())
		}
	}
	slices.SortFunc(s.Producers, func(a, b ProducerStats) int { return compareStrings(a.Topic, b.Topic) })
	slices.SortFunc(s.Consumers, func(a, b ConsumerStats) int { return compareStrings(a.Group, b.Group) })
	return s
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func brokerStats(b cluster.BrokerStats) BrokerStats {
	out := BrokerStats{
		ID: b.ID, Addr: b.Addr, Connected: b.Connected, InFlight: b.InFlight,
		Requests: b.Requests, Errors: b.Errors, BytesWritten: b.BytesWritten,
		BytesRead: b.BytesRead, Throttles: b.Throttles,
	}
	out.LatencyP50 = percentile(b.Latency[:], 0.50)
	out.LatencyP90 = percentile(b.Latency[:], 0.90)
	out.LatencyP99 = percentile(b.Latency[:], 0.99)
	return out
}

// percentile is the upper bound of the histogram bucket holding quantile q.
func percentile(hist []uint64, q float64) time.Duration {
	var total uint64
	for _, n := range hist {
		total += n
	}
	if total == 0 {
		return 0
	}
	want := uint64(q*float64(total) + 0.5)
	want = max(want, 1)
	var seen uint64
	for i, n := range hist {
		if seen += n; seen >= want {
			return cluster.LatencyBound(i)
		}
	}
	return cluster.LatencyBound(len(hist) - 1)
}

func (p *Producer) stats() ProducerStats {
	s := ProducerStats{Topic: p.topic, BufferedBytes: -1, Brokers: p.windows.brokers()}
	if qs, ok := p.eng.(engine.QueueStater); ok {
		st := qs.QueueStats()
		s.Queued, s.QueueMax, s.BufferedBytes = st.Messages, st.Max, st.Bytes
	}
	return s
}

func (c *consumerCore) stats() ConsumerStats {
	s := ConsumerStats{Group: c.cfg.group, Brokers: c.windows.brokers()}
	for _, l := range c.lag() {
		s.Lag += l
	}
	c.mu.Lock()
	s.Partitions = len(c.parts)
	s.Ready = len(c.ready)
	c.mu.Unlock()
	return s
}
