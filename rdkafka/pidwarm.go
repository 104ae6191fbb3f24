//go:build cgo && !nordkafka

package rdkafka

import "time"

// An idempotent librdkafka producer sends nothing before it has a producer
// id, and a new instance is slow to ask for one. librdkafka (v2.11) runs
// its producer-id state machine when the instance starts and again on
// metadata answers; while no broker connection is up it retries on a
// 500 ms timer. The first metadata answer comes from a bootstrap broker,
// which librdkafka replaces by the brokers the answer lists (new
// connections) in the same step, so at that moment no broker is up and
// the next attempt is the timer's, 500 ms later. Messages produced
// meanwhile wait that long: the engine's p99 latency in its first second
// (bench -latency) was 430-650 ms where steady it was 40-70 ms. A client
// that asks for metadata again once a listed broker is up gets its id at
// once (raw confluent-kafka-go did by chance: its first message to a topic
// the instance had not seen yet made librdkafka query that topic after
// the bootstrap answer).
//
// pidWarmSlice bounds one metadata request, so that Close waits at most
// that long for the goroutine that asks; pidWarmFor bounds the asking
// (after that, librdkafka's timer has done it anyway).
const (
	pidWarmSlice = 100 * time.Millisecond
	pidWarmFor   = 3 * time.Second
)

// testNoWarmPID turns warmPID off, for the test that compares producers
// with and without it.
var testNoWarmPID bool

// warmPID is the goroutine that asks librdkafka for cluster metadata until
// a listed broker (not a bootstrap one, whose node id is -1) answers, or
// pidWarmFor passed, or Close started: that answer runs librdkafka's
// producer-id state machine with the answering broker's connection up.
// Only idempotent, non-transactional producers run it (a transactional
// one asks its transaction coordinator, whose connection librdkafka
// watches).
func (p *producer) warmPID() {
	defer p.warmDone.Done()
	deadline := time.Now().Add(pidWarmFor)
	for time.Now().Before(deadline) {
		select {
		case <-p.closing:
			return
		default:
		}
		// Metadata of no topic in particular (the topics this instance
		// knows, perhaps none): the answer lists the brokers, which is
		// what matters here, and costs the broker little.
		if p.shared != nil {
			if p.shared.c.metadataOrigin(int(pidWarmSlice/time.Millisecond)) >= 0 {
				return
			}
			continue
		}
		md, err := p.rd.GetMetadata(nil, false, int(pidWarmSlice/time.Millisecond))
		if err == nil && md.OriginatingBroker.ID >= 0 {
			return
		}
	}
}
