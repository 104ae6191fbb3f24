package faultsuite

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/faultproxy"
	"go.uber.org/goleak"
)

// Settings of the network scenario: short client timeouts, so that faults
// longer than them are cheap to produce.
const (
	netDialTimeout    = 2 * time.Second        // WithDialTimeout
	netRequestTimeout = 4 * time.Second        // WithRequestTimeout
	netAckTimeout     = 3 * time.Second        // ProducerConfig.RequestTimeout of the main producer
	netLatency        = 100 * time.Millisecond // added each way in the latency phase
	netShortHole      = 2 * time.Second        // shorter than every timeout
	netResets         = 3
	netStormResets    = 30 // over about 4.5 s
	// The expiring producers: a black hole outlasts their DeliveryTimeout.
	netExpiryTimeout    = 3 * time.Second
	netExpiryAckTimeout = 2 * time.Second
	netExpiring         = 50
)

// Bounds of the network scenario, each twice what the configuration
// implies, for a loaded machine. After a heal or a reset the client
// reconnects (a dial, within netDialTimeout, after a backoff of at most
// 1 s) and any request the fault caught ends within its own timeout
// (netRequestTimeout plus what it asked the broker to wait).
const (
	netRecoveryBound = 2 * (netDialTimeout + netRequestTimeout + netAckTimeout + time.Second)
	// A message produced into a black hole fails at its DeliveryTimeout,
	// or, if its request is in flight then, when that request times out.
	netExpiryBound = 2 * (netExpiryTimeout + netRequestTimeout + netExpiryAckTimeout)
	// Client.Close gives each producer and consumer up to 10 s to flush,
	// and a request in flight may hold on until it times out.
	closeInHoleBound = 2 * (10*time.Second + netRequestTimeout + netAckTimeout)
)

// NetworkFaults routes the pure-Go engine through one faultproxy per broker
// (kafka.WithDialer maps each advertised broker address to its proxy) and
// breaks the network while a producer and a consumer run: latency, three
// rounds of connection resets, a storm of them, one broker unreachable (the others' partitions
// must go on meanwhile), a black hole shorter than every timeout, and a
// black hole longer than the DeliveryTimeout of two more producers (one
// asynchronous, one Sync), whose messages must fail with
// kafka.ErrDeliveryTimeout within a bound instead of hanging. After each
// fault the producer and the consumer must resume within a bound derived
// from the client's timeouts; at the end every acknowledged message must
// have been read exactly once, and closing everything must leave no
// goroutine behind (go.uber.org/goleak).
//
// The librdkafka engine opens its own connections, which no dialer
// reaches, so this scenario runs the pure engine only.
func NetworkFaults(ctx context.Context, env *Env) (results []Result, err error) {
	g, err := faultproxy.NewGroup(env.Cluster.Brokers()...)
	if err != nil {
		return nil, err
	}
	defer g.Close()
	defer g.Heal() // whatever happens, leave nothing stuck behind a fault
	baseline := goleak.IgnoreCurrent()

	client, err := env.newClient(ctx, kafka.WithDialer(g.DialContext),
		kafka.WithDialTimeout(netDialTimeout), kafka.WithRequestTimeout(netRequestTimeout))
	if err != nil {
		return nil, err
	}
	clientClosed := false
	defer func() {
		if !clientClosed {
			client.Close()
		}
	}()
	prodRes := Result{Scenario: "network/producer", Engine: Pure.Name}
	consRes := Result{Scenario: "network/consumer", Engine: Pure.Name}
	expRes := Result{Scenario: "network/black-hole-expiry", Engine: Pure.Name}

	topic, err := newTopic(ctx, client, "net", 3)
	if err != nil {
		return nil, err
	}
	parts := []int32{0, 1, 2}
	led := newLedger(3)
	prod, err := produceInto(ctx, topic, kafka.ProducerConfig{DeliveryTimeout: 2 * time.Minute, RequestTimeout: netAckTimeout},
		led, pace{burst: 5, every: 10 * time.Millisecond, size: produceSize})
	if err != nil {
		return nil, err
	}
	defer func() {
		if prod != nil {
			prod.Stop(context.WithoutCancel(ctx))
		}
	}()
	r, err := startReader(ctx, topic, kafka.ConsumerConfig{})
	if err != nil {
		return nil, err
	}
	readerOpen := true
	defer func() {
		if readerOpen {
			r.close(context.WithoutCancel(ctx))
		}
	}()
	if err := waitUntil(ctx, 2*time.Minute, "traffic through the proxies", func() bool {
		return led.ackedCount() >= 300 && r.count() >= 300
	}); err != nil {
		return nil, err
	}
	if g.Accepted() == 0 {
		return nil, errors.New("faultsuite: the client did not connect through the proxies")
	}
	resumedOn := func(what string, parts []int32, from time.Time, bound time.Duration) {
		res := awaitResumption(ctx, led, []*reader{r}, parts, from, 3*bound)
		if res.producer > 0 {
			prodRes.timing(what+": producer acknowledging again", res.producer, bound)
		} else {
			prodRes.problem("%s: no acknowledgement on partitions %v within %v", what, parts, 3*bound)
		}
		if d := res.consumers[0]; d > 0 {
			consRes.timing(what+": consumer reading new data again", d, bound)
		} else {
			consRes.problem("%s: stalled, nothing new read on partitions %v within %v", what, parts, 3*bound)
		}
	}
	resumed := func(what string, from time.Time) { resumedOn(what, parts, from, netRecoveryBound) }

	// Latency: everything slows down and goes on; acknowledgements take
	// at least a round trip through the proxy, which shows the client
	// really goes through it.
	g.SetLatency(netLatency)
	latencyAt := time.Now()
	if err := waitUntil(ctx, time.Minute, "acknowledgements under latency", func() bool {
		return len(led.ackDelays(latencyAt)) >= 200
	}); err != nil {
		prodRes.problem("under %v latency: %v", netLatency, err)
	}
	if d := led.ackDelays(latencyAt); len(d) > 0 {
		slices.Sort(d)
		med := d[len(d)/2]
		prodRes.timing(fmt.Sprintf("median produce-to-ack under %v latency each way", netLatency), med, 0)
		if med < 2*netLatency {
			prodRes.problem("median produce-to-ack %v under %v latency each way: the client bypasses the proxies", med, netLatency)
		}
	}
	g.Heal()

	// Resets: every connection dies at once; the client reconnects.
	for i := range netResets {
		accepted := g.Accepted()
		at := time.Now()
		n := g.Reset()
		prodRes.note("reset %d closed %d connections", i+1, n)
		resumed(fmt.Sprintf("reset %d", i+1), at)
		if g.Accepted() <= accepted {
			prodRes.problem("reset %d: no new connection through the proxies", i+1)
		}
	}

	// A reset storm: connections die every 50-250 ms for a few seconds,
	// so that batches are cut off in flight again and again; idempotence
	// must keep every retry from duplicating.
	storm := 0
	for i := range netStormResets {
		if err := hold(ctx, time.Duration(50+(i*37)%200)*time.Millisecond); err != nil {
			return nil, err
		}
		storm += g.Reset()
	}
	prodRes.note("reset storm: %d resets closed %d connections", netStormResets, storm)
	resumed("end of the reset storm", time.Now())

	// One broker unreachable (its proxy a black hole, the cluster
	// unaware): the partitions the others lead must go on without
	// waiting for the unreachable one's timeouts, and its partitions
	// resume after the heal.
	if err := partialBlackHole(ctx, client, topic, g, func(what string, ps []int32, from time.Time, bound time.Duration) {
		resumedOn(what, ps, from, bound)
	}); err != nil {
		return nil, err
	}

	// A short black hole: requests wait, nothing times out, all resumes.
	g.BlackHole()
	if err := hold(ctx, netShortHole); err != nil {
		return nil, err
	}
	g.Heal()
	resumed("heal after the short black hole", time.Now())

	// A black hole longer than a DeliveryTimeout.
	if err := blackHoleExpiry(ctx, client, g, &expRes); err != nil {
		return nil, err
	}
	healAt := time.Now()
	resumed("heal after the long black hole", healAt)

	if err := waitUntil(ctx, 2*time.Minute, "acknowledgements after the heal", func() bool { return led.ackedSince(healAt) >= 100 }); err != nil {
		prodRes.problem("fewer than 100 acknowledgements within 2m after the heal")
	}
	stopErr := prod.Stop(ctx)
	prod = nil
	if stopErr != nil {
		prodRes.problem("producer Close: %v", stopErr)
	}
	hw, err := topic.LatestOffsets(ctx)
	if err != nil {
		return nil, err
	}
	if err := waitUntil(ctx, 3*time.Minute, "consumer reading up to the high watermarks", func() bool { return r.caughtUp(hw) }); err != nil {
		consRes.problem("stalled: did not read up to the high watermarks %v: %v", hw, err)
	}
	readerOpen = false
	if err := r.close(ctx); err != nil {
		consRes.problem("consumer Close: %v", err)
	}
	prodRes.Tally = led.producerTally()
	if prodRes.Failed > 0 {
		// DeliveryTimeout is 2 minutes, longer than every fault here.
		prodRes.problem("%d messages failed: %v (first: %v)", prodRes.Failed, led.failureKinds(), led.firstErr)
	}
	if led.rejects > 0 {
		prodRes.problem("Produce refused %d messages, first: %v", led.rejects, led.firstReject)
	}
	read := r.records()
	consRes.Tally = led.readTally(read, hw)
	lag, n := led.maxLag(read, time.Time{})
	consRes.timing("longest wait from acknowledgement to reading (black holes included)", lag, 0)
	consRes.note("%d messages read in all", n)
	if n, first := r.consumeErrors(); n > 0 {
		consRes.note("Consume returned %d errors, first: %v", n, first)
	}
	consRes.note("%d connections accepted by the proxies in all", g.Accepted())

	// Nothing may be left running once the client is closed: the leak
	// check covers the client's goroutines and, through the proxies'
	// per-connection goroutines, any connection it failed to close.
	clientClosed = true
	if err := client.Close(); err != nil {
		consRes.problem("client Close: %v", err)
	}
	if err := noLeaks(ctx, baseline); err != nil {
		consRes.problem("after Close: %v", err)
	}

	closeRes := Result{Scenario: "network/close-in-black-hole", Engine: Pure.Name}
	if err := closeInBlackHole(ctx, env, g, &closeRes); err != nil {
		return nil, err
	}
	return []Result{prodRes, consRes, expRes, closeRes}, nil
}
