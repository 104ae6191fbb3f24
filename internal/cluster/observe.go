package cluster

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
	"time"
)

// Hooks receives the broker-level events of the cluster's connections; the
// root package implements it over the user's hooks (kafka.WithHooks). Its
// methods run on the goroutine that learnt the fact (see wire.Observer) and
// must not block for long. node is the broker's id (negative for a
// bootstrap address not yet mapped to an id).
type Hooks interface {
	BrokerConnected(node int32, addr string, took time.Duration, err error)
	BrokerDisconnected(node int32, addr string, err error)
	BrokerThrottled(node int32, addr string, key int16, d time.Duration)
	RequestWritten(node int32, addr string, key int16, bytes int, err error)
	ResponseRead(node int32, addr string, key int16, bytes int, latency time.Duration, err error)
}

// LatencyBuckets is the number of buckets of BrokerStats.Latency. Bucket i
// counts responses whose latency was below LatencyBound(i) (and at or above
// the bound of bucket i-1); the last bucket has no upper bound.
const LatencyBuckets = 24

// LatencyBound is the upper bound of latency bucket i: 100µs·2^i (bucket
// 23's bound, about 14 minutes, is never reached).
func LatencyBound(i int) time.Duration { return 100 * time.Microsecond << i }

// BrokerStats is one broker's connection counters since the client started.
type BrokerStats struct {
	ID           int32
	Addr         string
	Connected    bool
	InFlight     int // requests written, response not yet read, over all lanes
	Requests     uint64
	Errors       uint64 // requests that failed to be written, or whose connection failed before the response
	BytesWritten uint64
	BytesRead    uint64
	Throttles    uint64
	Latency      [LatencyBuckets]uint64 // response latency histogram (LatencyBound)
}

// brokerObs is a broker's wire.Observer: it keeps the broker's counters
// (for Cluster.Stats, always) and forwards to the cluster's Hooks (when the
// user registered some).
type brokerObs struct {
	b *Broker

	requests, errors  atomic.Uint64
	bytesOut, bytesIn atomic.Uint64
	throttles         atomic.Uint64
	latency           [LatencyBuckets]atomic.Uint64
}

func latencyBucket(d time.Duration) int {
	if d < LatencyBound(0) {
		return 0
	}
	i := int(math.Log2(float64(d)/float64(LatencyBound(0)))) + 1
	return min(i, LatencyBuckets-1)
}

func (o *brokerObs) RequestWritten(key int16, bytes int, err error) {
	if err != nil {
		o.errors.Add(1)
	} else {
		o.requests.Add(1)
		o.bytesOut.Add(uint64(bytes))
	}
	if h := o.b.cl.cfg.Hooks; h != nil {
		h.RequestWritten(o.b.ID, o.b.Addr, key, bytes, err)
	}
}

func (o *brokerObs) ResponseRead(key int16, bytes int, latency time.Duration, err error) {
	switch {
	case abandoned(err):
		// The waiter gave up (a consumer closing in a long poll): not
		// the broker's failure.
	case err != nil:
		o.errors.Add(1)
	default:
		o.bytesIn.Add(uint64(bytes))
		o.latency[latencyBucket(latency)].Add(1)
	}
	if h := o.b.cl.cfg.Hooks; h != nil {
		h.ResponseRead(o.b.ID, o.b.Addr, key, bytes, latency, err)
	}
}

func (o *brokerObs) Throttled(key int16, d time.Duration) {
	o.throttles.Add(1)
	if h := o.b.cl.cfg.Hooks; h != nil {
		h.BrokerThrottled(o.b.ID, o.b.Addr, key, d)
	}
}

func (o *brokerObs) Disconnected(err error) {
	if h := o.b.cl.cfg.Hooks; h != nil {
		h.BrokerDisconnected(o.b.ID, o.b.Addr, err)
	}
}

// connected tells the hooks of a dial's outcome.
func (o *brokerObs) connected(took time.Duration, err error) {
	if h := o.b.cl.cfg.Hooks; h != nil {
		h.BrokerConnected(o.b.ID, o.b.Addr, took, err)
	}
}

// stats reads the broker's counters and its connections' in-flight count.
func (b *Broker) stats() BrokerStats {
	o := &b.obs
	s := BrokerStats{
		ID: b.ID, Addr: b.Addr,
		Requests: o.requests.Load(), Errors: o.errors.Load(),
		BytesWritten: o.bytesOut.Load(), BytesRead: o.bytesIn.Load(),
		Throttles: o.throttles.Load(),
	}
	for i := range o.latency {
		s.Latency[i] = o.latency[i].Load()
	}
	b.mu.Lock()
	for _, l := range b.lanes {
		if l.conn != nil && l.conn.Err() == nil {
			s.Connected = true
			s.InFlight += l.conn.InFlight()
		}
	}
	b.mu.Unlock()
	return s
}

// Stats returns the counters of every broker of the metadata and of the
// bootstrap addresses, brokers first by id.
func (c *Cluster) Stats() []BrokerStats {
	c.mu.Lock()
	brokers := make([]*Broker, 0, len(c.brokers)+len(c.seeds))
	for _, b := range c.brokers {
		brokers = append(brokers, b)
	}
	c.mu.Unlock()
	brokers = append(brokers, c.seeds...)
	out := make([]BrokerStats, 0, len(brokers))
	for _, b := range brokers {
		out = append(out, b.stats())
	}
	return out
}

// abandoned reports whether a response did not come because its waiter's
// context ended.
func abandoned(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
