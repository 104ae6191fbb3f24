package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
)

// recorder is a hook of every kind that keeps what it was told.
type recorder struct {
	mu         sync.Mutex
	connects   []kafka.BrokerConnectEvent
	writes     map[int32]int // per broker: requests written without error
	reads      map[string]int
	prodBatch  []kafka.ProduceBatchEvent
	fetchBatch []kafka.FetchBatchEvent
	produced   int
	acked      int
	failed     int
	consumed   int
	consumedB  int
	rebalances []kafka.RebalanceEvent
	commits    []kafka.CommitEvent
	lags       []kafka.LagEvent
}

func newRecorder() *recorder {
	return &recorder{writes: map[int32]int{}, reads: map[string]int{}}
}

func (r *recorder) OnBrokerConnect(e kafka.BrokerConnectEvent)     { keep(r, &r.connects, e) }
func (r *recorder) OnBrokerDisconnect(kafka.BrokerDisconnectEvent) {}
func (r *recorder) OnBrokerThrottle(kafka.BrokerThrottleEvent)     {}
func (r *recorder) OnBrokerWrite(e kafka.BrokerWriteEvent) {
	if e.Err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes[e.Broker]++
}
func (r *recorder) OnBrokerRead(e kafka.BrokerReadEvent) {
	if e.Err != nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reads[kafka.APIKeyName(e.APIKey)]++
}
func (r *recorder) OnProduceBatch(e kafka.ProduceBatchEvent) { keep(r, &r.prodBatch, e) }
func (r *recorder) OnFetchBatch(e kafka.FetchBatchEvent)     { keep(r, &r.fetchBatch, e) }
func (r *recorder) OnRecordProduced(*kafka.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.produced++
}
func (r *recorder) OnRecordDelivered(m *kafka.Message, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.failed++
	} else {
		r.acked++
	}
}
func (r *recorder) OnRecordConsumed(m *kafka.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.consumed++
	r.consumedB += len(m.Key) + len(m.Value)
}
func (r *recorder) OnRebalance(e kafka.RebalanceEvent) { keep(r, &r.rebalances, e) }
func (r *recorder) OnCommit(e kafka.CommitEvent)       { keep(r, &r.commits, e) }
func (r *recorder) OnLag(e kafka.LagEvent)             { keep(r, &r.lags, e) }

// keep appends e to the list s of r under r's lock: what most hooks do.
func keep[E any](r *recorder, s *[]E, e E) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*s = append(*s, e)
}

// locked runs f under r's lock.
func (r *recorder) locked(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f()
}

// TestHooksCountTheTruth produces and consumes on the pure engine with a
// hook of every kind and checks each count against what the API and the
// broker say: records produced = acknowledged = delivery reports; the
// batches' records and bytes on the produce side = those read back on the
// fetch side (the broker stores batches as sent); bytes consumed = bytes
// produced; requests seen by the write hook = Stats' per-broker counters.
func TestHooksCountTheTruth(t *testing.T) {
	testhelp.NoLeaks(t)
	const n = 3000
	rec := newRecorder()
	client := newClient(t, kafka.WithHooks(rec))
	topic := newTopic(t, client, 3)
	ctx := testhelp.Ctx(t, 2*time.Minute)

	var reports atomic.Int64
	p, err := topic.NewProducer(kafka.ProducerConfig{
		Compression: kafka.CompressionLZ4,
		OnDelivery: func(r kafka.DeliveryReport) {
			if r.Err == nil {
				reports.Add(1)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	valueBytes := 0
	for i := 0; i < n; i++ {
		m := &kafka.Message{Key: []byte(fmt.Sprint(i)), Value: []byte(strings.Repeat("v", i%200))}
		valueBytes += len(m.Key) + len(m.Value)
		if err := p.ProduceMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var prodRecords, prodCompressed, prodBytes int
	rec.locked(func() {
		if rec.produced != n || rec.acked != n || rec.failed != 0 || int(reports.Load()) != n {
			t.Errorf("produced %d, acknowledged %d, failed %d hooks; %d OnDelivery reports; want %d", rec.produced, rec.acked, rec.failed, reports.Load(), n)
		}
		for _, b := range rec.prodBatch {
			if b.Err != nil {
				t.Errorf("batch error %v", b.Err)
			}
			prodRecords += b.Records
			prodCompressed += b.CompressedBytes
			prodBytes += b.Bytes
		}
	})
	if prodRecords != n {
		t.Errorf("produce batches carried %d records, want %d", prodRecords, n)
	}
	if prodCompressed >= prodBytes {
		t.Errorf("lz4 batches: %d bytes compressed of %d: not compressed?", prodCompressed, prodBytes)
	}

	c, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	consumeN(t, c, n)
	var fetchRecords, fetchCompressed, fetchBytes int
	rec.locked(func() {
		for _, b := range rec.fetchBatch {
			fetchRecords += b.Records
			fetchCompressed += b.CompressedBytes
			fetchBytes += b.Bytes
		}
		if rec.consumed != n || rec.consumedB != valueBytes {
			t.Errorf("consumed hook: %d records, %d bytes; want %d, %d", rec.consumed, rec.consumedB, n, valueBytes)
		}
	})
	if fetchRecords != n || fetchCompressed != prodCompressed || fetchBytes != valueBytes {
		t.Errorf("fetch batches: %d records, %d bytes on the wire, %d of keys and values; produce side: %d, %d, %d", fetchRecords, fetchCompressed, fetchBytes, n, prodCompressed, valueBytes)
	}

	st := client.Stats()
	rec.locked(func() {
		if len(rec.connects) == 0 {
			t.Error("no connect event")
		}
		for _, b := range st.Brokers {
			if int(b.Requests) != rec.writes[b.ID] {
				t.Errorf("broker %d: Stats counts %d requests, the write hook %d", b.ID, b.Requests, rec.writes[b.ID])
			}
		}
		if rec.reads["Produce"] == 0 || rec.reads["Fetch"] == 0 || rec.reads["Metadata"] == 0 {
			t.Errorf("responses read per API: %v", rec.reads)
		}
	})
	var answered bool
	for _, b := range st.Brokers {
		if b.ID >= 0 && b.Requests > 0 && (b.LatencyP50 <= 0 || b.LatencyP99 < b.LatencyP50) {
			t.Errorf("broker %d latency p50 %v p99 %v", b.ID, b.LatencyP50, b.LatencyP99)
		}
		answered = answered || b.Requests > 0
	}
	if !answered || len(st.Consumers) != 1 || st.Consumers[0].Lag != 0 || st.Consumers[0].Partitions != 3 {
		t.Errorf("Stats: %+v", st)
	}
	t.Logf("stats: %+v", st)
}

// TestHooksLag: a group's consumer stops after reading part of a partition
// and commits; a new member's lag events start at high watermark minus
// committed (as Kafka's consumer-groups tool computes it) and end at 0 once
// it has read everything.
func TestHooksLag(t *testing.T) {
	testhelp.NoLeaks(t)
	const n, first = 100, 40
	client := newClient(t)
	topic := newTopic(t, client, 1)
	produce(t, topic, kafka.ProducerConfig{}, n, func(i int) *kafka.Message { return &kafka.Message{Value: []byte(fmt.Sprint(i))} })
	ctx := testhelp.Ctx(t, 2*time.Minute)
	group := testhelp.UniqueName(t, "g")

	c1, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerGroup: group})
	if err != nil {
		t.Fatal(err)
	}
	msgs := consumeN(t, c1, first)
	if err := c1.CommitMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := c1.Close(ctx); err != nil {
		t.Fatal(err)
	}
	tool, err := testhelp.GroupOffsets[kafka.TopicPartition](ctx, nil, group)
	if err != nil {
		t.Fatal(err)
	}
	want := tool[tp(topic, 0)]
	if want.Committed != first || want.Lag != n-first {
		t.Fatalf("kafka-consumer-groups: %+v, want committed %d lag %d", want, first, n-first)
	}

	rec := newRecorder()
	hooked := newClient(t, kafka.WithHooks(rec))
	htopic, err := hooked.Topic(ctx, topic.Name())
	if err != nil {
		t.Fatal(err)
	}
	c2, err := htopic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerGroup: group})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close(ctx)
	got := consumeN(t, c2, n-first)
	if got[0].Offset != first {
		t.Fatalf("resumed at %d, want %d", got[0].Offset, first)
	}
	var lags []kafka.LagEvent
	rec.locked(func() { lags = slices.Clone(rec.lags) })
	if len(lags) < 2 {
		t.Fatalf("lag events: %+v", lags)
	}
	if l := lags[0]; l.Lag != want.Lag || l.Position != want.Committed || l.HighWatermark != want.LogEnd || l.Group != group {
		t.Errorf("first lag event %+v; the tool says %+v", l, want)
	}
	if l := lags[len(lags)-1]; l.Lag != 0 || l.Position != n {
		t.Errorf("last lag event %+v, want lag 0 at %d", l, n)
	}
	if lag := c2.Lag()[tp(topic, 0)]; lag != 0 {
		t.Errorf("Lag() = %d after catching up", lag)
	}
}

// TestHooksRebalanceAndCommit: a member's rebalance events, replayed, give
// the partitions it owns after another member joins and after it leaves;
// its commit events carry the offsets Kafka's tool then shows.
func TestHooksRebalanceAndCommit(t *testing.T) {
	testhelp.NoLeaks(t)
	const parts = 4
	rec := newRecorder()
	client := newClient(t, kafka.WithHooks(rec))
	topic := newTopic(t, client, parts)
	ctx := testhelp.Ctx(t, 3*time.Minute)
	group := testhelp.UniqueName(t, "g")
	cfg := kafka.BalancedConsumerConfig{Group: group, Managed: true, SessionTimeout: 6 * time.Second, HeartbeatInterval: 300 * time.Millisecond}

	a, err := topic.NewBalancedConsumer(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close(ctx)
	// owned replays the events: assigned adds, revoked and lost remove.
	owned := func() (set []kafka.TopicPartition, joined, assigned, revoked int) {
		m := map[kafka.TopicPartition]bool{}
		rec.locked(func() {
			for _, e := range rec.rebalances {
				switch e.Kind {
				case kafka.RebalanceJoined:
					joined++
				case kafka.RebalanceAssigned:
					assigned++
				case kafka.RebalanceRevoked, kafka.RebalanceLost:
					revoked++
				}
				for _, p := range e.Partitions {
					m[p] = e.Kind == kafka.RebalanceAssigned
				}
			}
		})
		for p, on := range m {
			if on {
				set = append(set, p)
			}
		}
		slices.SortFunc(set, kafka.TopicPartition.Compare)
		return
	}
	settled := func(want int) {
		t.Helper()
		testhelp.Eventually(t, time.Minute, fmt.Sprintf("the member owns %d partitions, by its events and by Partitions()", want), func() error {
			set, _, _, _ := owned()
			if got := a.Partitions(); len(set) != want || !slices.Equal(set, got) {
				return fmt.Errorf("events say %v, Partitions() %v", set, got)
			}
			return nil
		})
	}
	settled(parts)

	other := newClient(t)
	otopic, err := other.Topic(ctx, topic.Name())
	if err != nil {
		t.Fatal(err)
	}
	b, err := otopic.NewBalancedConsumer(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	settled(parts / 2)
	_, _, assignedBefore, revokedBefore := owned()
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	settled(parts)
	_, joined, assigned, revoked := owned()
	if joined != 1 || revoked < 1 || revokedBefore < 1 || assigned <= assignedBefore || assignedBefore < 2 {
		t.Errorf("events: joined %d, assigned %d (%d before the leave), revoked %d (%d before)", joined, assigned, assignedBefore, revoked, revokedBefore)
	}
	rec.locked(func() {
		for _, e := range rec.rebalances {
			if e.Group != group || e.Err != nil || e.Took <= 0 {
				t.Errorf("event %+v", e)
			}
		}
	})

	// A commit through the member, as the tool then sees it.
	produce(t, topic, kafka.ProducerConfig{}, 20, func(i int) *kafka.Message { return &kafka.Message{Value: []byte("x")} })
	consumeN(t, a, 20)
	if err := a.CommitOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	var last kafka.CommitEvent
	rec.locked(func() { last = rec.commits[len(rec.commits)-1] })
	tool, err := testhelp.GroupOffsets[kafka.TopicPartition](ctx, nil, group)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	for tp, off := range last.Offsets {
		total += off
		if tool[tp].Committed != off {
			t.Errorf("%v: commit event %d, tool %d", tp, off, tool[tp].Committed)
		}
	}
	if len(last.Failed) != 0 || total != 20 || last.Group != group {
		t.Errorf("last commit event %+v", last)
	}
}

// panicker panics in every hook it implements.
type panicker struct{ calls atomic.Int64 }

func (p *panicker) OnRecordProduced(*kafka.Message) { p.calls.Add(1); panic("produced") }
func (p *panicker) OnRecordDelivered(*kafka.Message, error) {
	p.calls.Add(1)
	panic("delivered")
}
func (p *panicker) OnRecordConsumed(*kafka.Message)    { p.calls.Add(1); panic("consumed") }
func (p *panicker) OnBrokerRead(kafka.BrokerReadEvent) { p.calls.Add(1); panic("read") }
func (p *panicker) OnLag(kafka.LagEvent)               { p.calls.Add(1); panic("lag") }

// countingHandler counts the log records that mention a panicking hook.
type countingHandler struct {
	slog.Handler
	n *atomic.Int64
}

func (h countingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h countingHandler) Handle(ctx context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "hook panicked") {
		h.n.Add(1)
	}
	return nil
}

// TestHookPanics: a hook that panics on every call is recovered and logged
// once; every message is still delivered and consumed, on both engines.
func TestHookPanics(t *testing.T) {
	testhelp.NoLeaks(t)
	forEachEngine(t, func(t *testing.T, e engineCase) {
		const n = 500
		var logged atomic.Int64
		p := &panicker{}
		log := slog.New(countingHandler{slog.DiscardHandler, &logged})
		client := newClient(t, kafka.WithHooks(p), kafka.WithLogger(log))
		topic := newTopic(t, client, 2)
		produce(t, topic, kafka.ProducerConfig{UseRdkafka: e.rdkafka}, n, func(i int) *kafka.Message { return &kafka.Message{Value: []byte(fmt.Sprint(i))} })
		ctx := testhelp.Ctx(t, time.Minute)
		c, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: e.rdkafka}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		got := consumeN(t, c, n)
		seen := map[string]bool{}
		for _, m := range got {
			seen[string(m.Value)] = true
		}
		if len(seen) != n {
			t.Errorf("%d distinct messages of %d", len(seen), n)
		}
		if calls := p.calls.Load(); calls < 3*n {
			t.Errorf("%d hook calls, want at least %d", calls, 3*n)
		}
		if logged.Load() != 1 {
			t.Errorf("%d log records of a panicking hook, want 1", logged.Load())
		}
	})
}

// blocker holds every delivery report until released, and counts.
type blocker struct {
	entered  chan struct{} // closed at the first delivery
	once     sync.Once
	release  chan struct{}
	produced atomic.Int64
	acked    atomic.Int64
	consumed atomic.Int64
}

func (b *blocker) OnRecordProduced(*kafka.Message) { b.produced.Add(1) }
func (b *blocker) OnRecordDelivered(_ *kafka.Message, err error) {
	b.once.Do(func() { close(b.entered) })
	<-b.release
	if err == nil {
		b.acked.Add(1)
	}
}
func (b *blocker) OnRecordConsumed(*kafka.Message) { b.consumed.Add(1) }

// TestHookBlocks: a delivery hook that blocks holds the producer back as
// documented — its queue fills and Produce waits — and loses nothing once
// it returns: every message is acknowledged and consumed, on both engines.
func TestHookBlocks(t *testing.T) {
	testhelp.NoLeaks(t)
	forEachEngine(t, func(t *testing.T, e engineCase) {
		const n, queue = 300, 50
		b := &blocker{entered: make(chan struct{}), release: make(chan struct{})}
		client := newClient(t, kafka.WithHooks(b))
		topic := newTopic(t, client, 2)
		ctx := testhelp.Ctx(t, 2*time.Minute)
		p, err := topic.NewProducer(kafka.ProducerConfig{UseRdkafka: e.rdkafka, MaxQueuedMessages: queue})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			for i := 0; i < n; i++ {
				if err := p.ProduceMessage(ctx, &kafka.Message{Value: []byte(fmt.Sprint(i))}); err != nil {
					done <- err
					return
				}
			}
			done <- p.Flush(ctx)
		}()
		select {
		case <-b.entered:
		case err := <-done:
			t.Fatalf("producing ended before any delivery: %v", err)
		}
		testhelp.WaitUntil(t, time.Minute, "the producer's queue is full", func() bool {
			st := client.Stats()
			return len(st.Producers) == 1 && st.Producers[0].Queued == queue
		})
		// The produced hook runs before Produce waits for room: the
		// message waiting in Produce is counted too.
		if got := b.produced.Load(); got > queue+1 {
			t.Errorf("%d messages produced while the hook blocked; the queue holds %d", got, queue)
		}
		select {
		case err := <-done:
			t.Fatalf("Produce did not wait for the blocked hook: %v", err)
		default:
		}
		close(b.release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := p.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if b.acked.Load() != n {
			t.Errorf("%d acknowledged, want %d", b.acked.Load(), n)
		}
		c, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: e.rdkafka}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		seen := map[string]bool{}
		for _, m := range consumeN(t, c, n) {
			seen[string(m.Value)] = true
		}
		if len(seen) != n || b.consumed.Load() != n {
			t.Errorf("%d distinct messages consumed, consumed hook %d; want %d", len(seen), b.consumed.Load(), n)
		}
	})
}

// TestWithHooksRefusesNonHooks: a value implementing no hook interface is
// a configuration error naming WithHooks.
func TestWithHooksRefusesNonHooks(t *testing.T) {
	_, err := kafka.NewClient(context.Background(), brokers(), kafka.WithHooks(42))
	if !strings.Contains(fmt.Sprint(err), "WithHooks") {
		t.Fatalf("err = %v", err)
	}
	var ce *kafka.ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %T, want *kafka.ConfigError", err)
	}
}

// TestHooksShareConsumer: a share group's consumer raises OnRecordConsumed
// for each record it hands out.
func TestHooksShareConsumer(t *testing.T) {
	rec := newRecorder()
	client, topic, ok := shareTopic(t, 2, 200, kafka.WithHooks(rec))
	if !ok {
		return
	}
	c := newShareConsumer(t, client, testhelp.UniqueName(t, "sg"), topic.Name(), kafka.ShareConsumerConfig{ConsumerTimeout: 3 * time.Second})
	ctx := testhelp.Ctx(t, 2*time.Minute)
	n := 0
	for _, err := range c.Messages(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	rec.locked(func() {
		if n != 200 || rec.consumed != n {
			t.Errorf("handed out %d of 200, consumed hook %d", n, rec.consumed)
		}
	})
}
