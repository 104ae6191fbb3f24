package faultsuite

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/faultproxy"
	"go.uber.org/goleak"
)

// closeInBlackHole closes a client, with a producer (messages queued and
// in flight) and a consumer, while every broker is a black hole: Close must
// return within closeInHoleBound, every message must have been reported,
// and nothing may be left running.
func closeInBlackHole(ctx context.Context, env *Env, g *faultproxy.Group, res *Result) error {
	baseline := goleak.IgnoreCurrent()
	client, err := env.newClient(ctx, kafka.WithDialer(g.DialContext),
		kafka.WithDialTimeout(netDialTimeout), kafka.WithRequestTimeout(netRequestTimeout))
	if err != nil {
		return err
	}
	closed := false
	defer func() {
		if !closed {
			g.Heal()
			client.Close()
		}
	}()
	topic, err := newTopic(ctx, client, "net-close", 3)
	if err != nil {
		return err
	}
	led := newLedger(3)
	prod, err := produceInto(ctx, topic, kafka.ProducerConfig{DeliveryTimeout: 2 * time.Minute, RequestTimeout: netAckTimeout},
		led, pace{burst: 5, every: 10 * time.Millisecond, size: produceSize})
	if err != nil {
		return err
	}
	defer prod.halt()
	r, err := startReader(ctx, topic, kafka.ConsumerConfig{})
	if err != nil {
		return err
	}
	defer r.close(context.WithoutCancel(ctx))
	if err := waitUntil(ctx, 2*time.Minute, "traffic before the black hole", func() bool {
		return led.ackedCount() >= 200 && r.count() >= 200
	}); err != nil {
		return err
	}
	g.BlackHole()
	defer g.Heal()
	// Produce on for a second, so that requests are caught in flight and
	// messages queued behind them.
	if err := hold(ctx, time.Second); err != nil {
		return err
	}
	prod.halt()
	t0 := time.Now()
	closed = true
	cerr := client.Close()
	res.timing("client Close in a black hole, with a producer and a consumer open", time.Since(t0), closeInHoleBound)
	res.note("client Close returned %v", cerr)
	res.Tally = led.producerTally()
	if kinds := led.failureKinds(); len(kinds) > 0 {
		res.note("messages failed by Close, by error: %v", kinds)
	}
	if err := r.close(ctx); err != nil && !errors.Is(err, kafka.ErrClosed) {
		res.note("consumer Close after the client's: %v", err)
	}
	// Heal first: the proxies hold what the client sent before closing
	// its sockets, and keep those connections until it is delivered. A
	// socket the client left open would still show, with its reader.
	g.Heal()
	if err := noLeaks(ctx, baseline); err != nil {
		res.problem("after a Close in a black hole: %v", err)
	}
	return nil
}

// partialBlackHole black-holes the proxy of the broker leading partition 0
// for twice the request timeout. The other partitions must keep flowing,
// their resumption bounded by netRequestTimeout (they must not wait for the
// unreachable broker's timeouts); after the heal, the unreachable broker's
// partitions must resume within netRecoveryBound.
func partialBlackHole(ctx context.Context, client *kafka.Client, topic *kafka.Topic, g *faultproxy.Group,
	resumedOn func(what string, parts []int32, from time.Time, bound time.Duration)) error {
	ls, err := leaders(ctx, topic)
	if err != nil {
		return err
	}
	victim := ls[0]
	var addr string
	for _, b := range client.Brokers() {
		if b.ID == victim {
			addr = b.Addr()
		}
	}
	p := g.Proxy(addr)
	if p == nil {
		return fmt.Errorf("faultsuite: no proxy for broker %d (%q)", victim, addr)
	}
	var cut, healthy []int32
	for part := range int32(len(ls)) {
		if ls[part] == victim {
			cut = append(cut, part)
		} else {
			healthy = append(healthy, part)
		}
	}
	p.BlackHole()
	at := time.Now()
	if len(healthy) > 0 {
		resumedOn("one broker unreachable, on the partitions the others lead", healthy, at, netRequestTimeout)
	}
	if err := hold(ctx, time.Until(at.Add(2*netRequestTimeout))); err != nil {
		p.Heal()
		return err
	}
	p.Heal()
	resumedOn("heal of the unreachable broker, on its partitions", cut, time.Now(), netRecoveryBound)
	return nil
}

// blackHoleExpiry black-holes every proxy, produces into it with two
// producers whose DeliveryTimeout is short (netExpiring asynchronous
// messages and one Sync Produce), and checks that every message fails with
// kafka.ErrDeliveryTimeout within netExpiryBound. It heals the proxies,
// then checks that a Sync Produce succeeds within netRecoveryBound.
func blackHoleExpiry(ctx context.Context, client *kafka.Client, g *faultproxy.Group, res *Result) error {
	topic, err := newTopic(ctx, client, "net-expiry", 1)
	if err != nil {
		return err
	}
	led := newLedger(1)
	cfg := kafka.ProducerConfig{
		DeliveryTimeout: netExpiryTimeout,
		RequestTimeout:  netExpiryAckTimeout,
		Partitioner:     func(*kafka.Message, int32) int32 { return 0 },
		OnDelivery: func(r kafka.DeliveryReport) {
			if e, ok := r.Message.Opaque.(*entry); ok {
				led.report(e, r.Message.Offset, r.Err)
			}
		},
	}
	async, err := topic.NewProducer(cfg)
	if err != nil {
		return err
	}
	defer async.Close(context.WithoutCancel(ctx))
	cfg.Sync, cfg.OnDelivery = true, nil
	sync, err := topic.NewProducer(cfg)
	if err != nil {
		return err
	}
	defer sync.Close(context.WithoutCancel(ctx))

	// Warm up: connections and producer ids exist, so the messages below
	// meet the black hole in flight, not while connecting.
	if err := sync.Produce(ctx, []byte("sync warm-up")); err != nil {
		return fmt.Errorf("sync warm-up: %w", err)
	}
	warm := led.add(0)
	if err := async.ProduceMessage(ctx, &kafka.Message{Value: value(warm, produceSize), Opaque: warm}); err != nil {
		return err
	}
	if err := waitUntil(ctx, time.Minute, "warm-up acknowledged", func() bool { return led.ackedCount() == 1 }); err != nil {
		return err
	}

	g.BlackHole()
	holeAt := time.Now()
	type syncResult struct {
		err  error
		took time.Duration
	}
	syncDone := make(chan syncResult, 1)
	go func() {
		err := sync.Produce(ctx, []byte("into the black hole"))
		syncDone <- syncResult{err, time.Since(holeAt)}
	}()
	for range netExpiring {
		e := led.add(0)
		if err := async.ProduceMessage(ctx, &kafka.Message{Value: value(e, produceSize), Opaque: e}); err != nil {
			led.reject(e, err)
		}
	}
	werr := waitUntil(ctx, 3*netExpiryBound, "reports of the messages in the black hole", func() bool {
		return led.reportedCount() == netExpiring+1-led.rejects
	})
	lastReport := time.Since(holeAt)
	var sr syncResult
	select {
	case sr = <-syncDone:
	case <-time.After(3 * netExpiryBound):
		sr = syncResult{errors.New("still blocked"), 3 * netExpiryBound}
	case <-ctx.Done():
		return ctx.Err()
	}
	g.Heal()
	res.note("black hole held for %v (DeliveryTimeout %v)", time.Since(holeAt).Round(time.Millisecond), netExpiryTimeout)
	if werr != nil {
		res.problem("messages produced into the black hole not all reported: %v", werr)
	} else {
		res.timing("black hole to the last failure report", lastReport, netExpiryBound)
	}
	res.timing("black hole to Sync Produce returning", sr.took, netExpiryBound)
	if !errors.Is(sr.err, kafka.ErrDeliveryTimeout) {
		res.problem("Sync Produce into the black hole returned %v, want ErrDeliveryTimeout", sr.err)
	}
	kinds := led.failureKinds()
	res.note("failures by error: %v", kinds)
	for k, n := range kinds {
		if k != "ErrDeliveryTimeout" {
			res.problem("%d messages failed with %s, want ErrDeliveryTimeout", n, k)
		}
	}

	t0 := time.Now()
	err = sync.Produce(ctx, []byte("after the heal"))
	res.timing("heal to Sync Produce succeeding", time.Since(t0), netRecoveryBound)
	if err != nil {
		res.problem("Sync Produce after the heal: %v", err)
	}
	if err := async.Close(ctx); err != nil {
		res.problem("producer Close: %v", err)
	}
	res.Tally = led.producerTally()
	if res.Acked != 1 {
		res.problem("%d messages acknowledged, want only the warm-up: the black hole let some through", res.Acked)
	}
	if led.rejects > 0 {
		res.problem("Produce refused %d messages, first: %v", led.rejects, led.firstReject)
	}
	read, hw, err := readBack(ctx, topic)
	if err != nil {
		return err
	}
	rt := led.readTally(read, hw)
	// The topic also holds the Sync producer's messages, which this
	// ledger does not know: count only what concerns its own.
	res.Read, res.Lost, res.Duplicated, res.Reordered = rt.Read, rt.Lost, rt.Duplicated, rt.Reordered
	res.Mismatched, res.FailedButWritten = rt.Mismatched, rt.FailedButWritten
	if rt.FailedButWritten > 0 {
		res.note("%d messages reported failed were written after the heal (requests held in the black hole reached the broker): allowed, as documented", rt.FailedButWritten)
	}
	return nil
}

// noLeaks polls goleak until no goroutine started after baseline is left,
// or 15 s pass.
func noLeaks(ctx context.Context, baseline goleak.Option) error {
	var err error
	waitUntil(ctx, 15*time.Second, "goroutines to end", func() bool {
		err = goleak.Find(baseline)
		return err == nil
	})
	return err
}
