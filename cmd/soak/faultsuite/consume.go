package faultsuite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gokafka/kafka"
)

// Bounds of the consume scenarios, generous for a loaded two-core machine:
// a consumer learns of a new leader from a failed fetch and a metadata
// refresh (reconnect backoff at most 1 s in the pure engine, 10 s in
// librdkafka's default reconnect.backoff.max.ms).
const (
	consumeResumeBound = 30 * time.Second // fault (or cluster back) to reading new data
	consumeLagBound    = 30 * time.Second // acknowledgement to reading, for data acknowledged after it
	consumePartitions  = 6
)

// consumeFault breaks the cluster under a running producer and consumers.
type consumeFault struct {
	name  string
	since string // what "from" is, for the timings' names
	// inject breaks the cluster; it returns the time from which
	// resumption is measured, the partitions it disturbed, and what is
	// left to repair (nil if nothing).
	inject func(ctx context.Context, env *Env, topic *kafka.Topic) (from time.Time, affected []int32, repair func(context.Context) error, err error)
}

// ConsumeLeaderChange reads a topic with one consumer per engine while a
// pure-Go producer writes to it, and stops (gracefully) the broker leading
// some of its partitions, then starts it again. Each consumer must read
// every offset exactly once (no gap), every acknowledged message, and
// resume on the partitions that moved within a bound: the Results give the
// time from the broker's exit to the first message read that was
// acknowledged after it, and the longest any message acknowledged after it
// waited to be read.
func ConsumeLeaderChange(ctx context.Context, env *Env, engines []Engine) ([]Result, error) {
	return consumeThrough(ctx, env, engines, consumeFault{name: "consume-leader-change", since: "the leader's exit",
		inject: func(ctx context.Context, env *Env, topic *kafka.Topic) (time.Time, []int32, func(context.Context) error, error) {
			ls, err := leaders(ctx, topic)
			if err != nil {
				return time.Time{}, nil, nil, err
			}
			victim := ls[0]
			idx, err := env.nodeIndex(victim)
			if err != nil {
				return time.Time{}, nil, nil, err
			}
			var affected []int32
			for p := range int32(len(ls)) {
				if ls[p] == victim {
					affected = append(affected, p)
				}
			}
			t0 := time.Now()
			if err := env.Cluster.StopBroker(ctx, idx); err != nil {
				return time.Time{}, nil, nil, err
			}
			// Measured from the moment the broker is gone: during its
			// controlled shutdown it still serves, so earlier data could
			// have come from it.
			from := time.Now()
			env.logf("consume-leader-change: stopped broker %d (leader of %v) in %v", victim, affected, from.Sub(t0).Round(time.Millisecond))
			return from, affected, func(ctx context.Context) error { return env.Cluster.StartBroker(ctx, idx) }, nil
		}})
}

// ConsumeClusterRestart is ConsumeLeaderChange with every broker stopped
// and then started again: the consumers must resume, within the bound after
// the cluster is back, without a gap.
func ConsumeClusterRestart(ctx context.Context, env *Env, engines []Engine) ([]Result, error) {
	return consumeThrough(ctx, env, engines, consumeFault{name: "consume-cluster-restart", since: "the cluster's return",
		inject: func(ctx context.Context, env *Env, topic *kafka.Topic) (time.Time, []int32, func(context.Context) error, error) {
			t0 := time.Now()
			if err := env.stopAll(ctx); err != nil {
				return time.Time{}, nil, nil, err
			}
			t1 := time.Now()
			if err := env.StartAll(ctx); err != nil {
				return time.Time{}, nil, nil, err
			}
			from := time.Now()
			env.logf("consume-cluster-restart: all brokers stopped in %v, back in %v", t1.Sub(t0).Round(time.Millisecond), from.Sub(t1).Round(time.Millisecond))
			var all []int32
			for p := range int32(consumePartitions) {
				all = append(all, p)
			}
			return from, all, nil, nil
		}})
}

type consumerUnderTest struct {
	eng Engine
	r   *reader
	res Result
}

func consumeThrough(ctx context.Context, env *Env, engines []Engine, f consumeFault) (results []Result, err error) {
	client, err := env.newClient(ctx)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	topic, err := newTopic(ctx, client, f.name, consumePartitions)
	if err != nil {
		return nil, err
	}
	led := newLedger(consumePartitions)
	// The producer outlives a whole-cluster restart on a slow machine.
	prod, err := produceInto(ctx, topic, kafka.ProducerConfig{DeliveryTimeout: 5 * time.Minute}, led,
		pace{burst: 5, every: 10 * time.Millisecond, size: produceSize})
	if err != nil {
		return nil, err
	}
	prodRes := Result{Scenario: f.name + "/producer", Engine: Pure.Name}
	var cs []*consumerUnderTest
	defer func() {
		for _, c := range cs {
			c.r.close(context.WithoutCancel(ctx))
		}
		if prod != nil {
			prod.Stop(context.WithoutCancel(ctx))
		}
		if err != nil {
			err = errors.Join(err, env.StartAll(context.WithoutCancel(ctx)))
		}
	}()
	for _, eng := range engines {
		r, err := startReader(ctx, topic, kafka.ConsumerConfig{ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: eng.Rdkafka}})
		if err != nil {
			return nil, fmt.Errorf("%s consumer: %w", eng.Name, err)
		}
		cs = append(cs, &consumerUnderTest{eng: eng, r: r, res: Result{Scenario: f.name, Engine: eng.Name}})
	}
	if err := waitUntil(ctx, 2*time.Minute, "consumers reading before the fault", func() bool {
		return led.ackedCount() >= 300 && all(cs, func(c *consumerUnderTest) bool { return c.r.count() >= 300 })
	}); err != nil {
		return nil, err
	}

	from, affected, repair, err := f.inject(ctx, env, topic)
	if err != nil {
		return nil, err
	}
	// Resumption: on every disturbed partition, each consumer reads a
	// message acknowledged after from; the producer acknowledges one
	// produced after from. Watched past the bound, so that a slow
	// resumption is a reported violation rather than a missing figure.
	res := awaitResumption(ctx, led, consumerReaders(cs), affected, from, 3*consumeResumeBound)
	if res.producer > 0 {
		prodRes.timing("from "+f.since+" to acknowledgements on every disturbed partition", res.producer, consumeResumeBound)
	} else {
		prodRes.problem("no acknowledgement on partitions %v within %v", affected, 3*consumeResumeBound)
	}
	for i, c := range cs {
		if d := res.consumers[i]; d > 0 {
			c.res.timing("from "+f.since+" to reading new data on every disturbed partition", d, consumeResumeBound)
		} else {
			c.res.problem("stalled: nothing acknowledged after the fault read on partitions %v within %v (%v)", affected, 3*consumeResumeBound, res.err)
		}
	}

	if repair != nil {
		t0 := time.Now()
		if err := repair(ctx); err != nil {
			return nil, fmt.Errorf("repair: %w", err)
		}
		env.logf("%s: repaired in %v", f.name, time.Since(t0).Round(time.Millisecond))
	}
	last := time.Now()
	if err := waitUntil(ctx, 2*time.Minute, "acknowledgements after the repair", func() bool { return led.ackedSince(last) >= 100 }); err != nil {
		prodRes.problem("fewer than 100 acknowledgements within 2m after the repair")
	}
	stopErr := prod.Stop(ctx)
	prod = nil
	hw, err := topic.LatestOffsets(ctx)
	if err != nil {
		return nil, err
	}
	prodRes.Tally = led.producerTally()
	if kinds := led.failureKinds(); len(kinds) > 0 {
		prodRes.note("failed messages by error: %v (first: %v)", kinds, led.firstErr)
	}
	if stopErr != nil {
		prodRes.problem("producer Close: %v", stopErr)
	}
	results = append(results, prodRes)
	results = append(results, finishConsumers(ctx, cs, led, hw, from, f.since)...)
	cs = nil
	return results, nil
}

// consumerReaders lists the consumers' readers.
func consumerReaders(cs []*consumerUnderTest) []*reader {
	out := make([]*reader, len(cs))
	for i, c := range cs {
		out[i] = c.r
	}
	return out
}

// finishConsumers waits until each consumer has read up to the high
// watermarks hw (a consumer that does not has stalled), closes it, and
// checks what it read against the ledger: every offset once, every
// acknowledged message once, in order, and how long messages acknowledged
// after from waited to be read.
func finishConsumers(ctx context.Context, cs []*consumerUnderTest, led *ledger, hw map[int32]int64, from time.Time, since string) []Result {
	for _, c := range cs {
		if err := waitUntil(ctx, 3*time.Minute, c.eng.Name+" consumer reading up to the high watermarks", func() bool { return c.r.caughtUp(hw) }); err != nil {
			c.res.problem("stalled: did not read up to the high watermarks %v: %v", hw, err)
		}
	}
	var results []Result
	for _, c := range cs {
		if err := c.r.close(ctx); err != nil {
			c.res.problem("consumer Close: %v", err)
		}
		read := c.r.records()
		c.res.Tally = led.readTally(read, hw)
		lag, n := led.maxLag(read, from)
		c.res.timing("longest wait from acknowledgement to reading, after "+since, lag, consumeLagBound)
		c.res.note("%d messages acknowledged after %s were read", n, since)
		if n, first := c.r.consumeErrors(); n > 0 {
			c.res.note("Consume returned %d errors, first: %v", n, first)
		}
		results = append(results, c.res)
	}
	return results
}
