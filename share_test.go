package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/internal/wire"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// Share groups (KIP-932) on the real cluster. Kafka 3.9 (make test-compat)
// has none: there every test asserts the typed error instead
// (shareGroups), so each still proves something.

// shareTopic starts a share group test: a leak check (first, so that its
// check runs after every other cleanup), a client with opts, and a topic
// of partitions holding n records (produceTo; none for n 0). ok is false
// on a cluster without share groups, where shareGroups asserted the typed
// error instead: the caller returns.
func shareTopic(t *testing.T, partitions int32, n int, opts ...kafka.ClientOption) (client *kafka.Client, topic *kafka.Topic, ok bool) {
	t.Helper()
	testhelp.NoLeaks(t)
	client = newClient(t, opts...)
	if !shareGroups(t, client) {
		return nil, nil, false
	}
	topic = newTopic(t, client, partitions)
	if n > 0 {
		produceTo(t, client, topic.Name(), partitions, n)
	}
	return client, topic, true
}

// shareGroups reports whether the shared cluster has share groups: Kafka
// 4.1 or newer, by the version its starter reported, else by what a broker
// announces in ApiVersions. Where it has none, it checks that a share
// consumer fails with ErrUnsupported, and the caller returns.
func shareGroups(t *testing.T, client *kafka.Client) bool {
	t.Helper()
	ctx := testhelp.Ctx(t, time.Minute)
	supported := false
	if v := testinstance.Shared().KafkaVersion(); v != "" {
		supported = kafkaAtLeast(v, 4, 1)
	} else {
		conn, err := wire.Dial(ctx, testinstance.Shared().Brokers()[0], wire.Options{})
		if err != nil {
			t.Fatal(err)
		}
		max, ok := conn.Versions().Max(76) // ShareGroupHeartbeat
		supported = ok && max >= 1
		conn.Close()
	}
	if supported {
		return true
	}
	_, err := client.NewShareConsumer(ctx, kafka.ShareConsumerConfig{Group: testhelp.UniqueName(t, "sg"), Topics: []string{"any"}})
	if !errors.Is(err, kafka.ErrUnsupported) {
		t.Fatalf("share consumer on a cluster without share groups: want ErrUnsupported, got %v", err)
	}
	t.Logf("no share groups on this cluster (Kafka %s): NewShareConsumer fails with %v", testinstance.Shared().KafkaVersion(), err)
	return false
}

// kafkaAtLeast reports whether version is major.minor or newer.
func kafkaAtLeast(version string, major, minor int) bool {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 {
		return true
	}
	ma, _ := strconv.Atoi(parts[0])
	mi, _ := strconv.Atoi(parts[1])
	return ma > major || ma == major && mi >= minor
}

// acceptLedger keeps what a share consumer's OnAcknowledged reports: per
// partition and offset, how often the brokers confirmed an acceptance,
// and the records confirmed released or rejected.
type acceptLedger struct {
	mu       sync.Mutex
	accepted map[kafka.TopicPartition]map[int64]int
	other    map[kafka.AckType]map[kafka.TopicPartition][]int64
	failed   []kafka.ShareAckResult
}

func newAcceptLedger() *acceptLedger {
	return &acceptLedger{accepted: map[kafka.TopicPartition]map[int64]int{}, other: map[kafka.AckType]map[kafka.TopicPartition][]int64{}}
}

func (l *acceptLedger) add(r kafka.ShareAckResult) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.Err != nil {
		l.failed = append(l.failed, r)
		return
	}
	if r.Type != kafka.AcceptType {
		if l.other[r.Type] == nil {
			l.other[r.Type] = map[kafka.TopicPartition][]int64{}
		}
		for o := r.FirstOffset; o <= r.LastOffset; o++ {
			l.other[r.Type][r.TopicPartition] = append(l.other[r.Type][r.TopicPartition], o)
		}
		return
	}
	m := l.accepted[r.TopicPartition]
	if m == nil {
		m = map[int64]int{}
		l.accepted[r.TopicPartition] = m
	}
	for o := r.FirstOffset; o <= r.LastOffset; o++ {
		m[o]++
	}
}

// total is how many records were accepted (each counted once).
func (l *acceptLedger) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.accepted {
		n += len(m)
	}
	return n
}

// check fails the test on acknowledgement failures and on records accepted
// more than once by this consumer.
func (l *acceptLedger) check(t *testing.T, who string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, f := range l.failed {
		t.Errorf("%s: acknowledgement failed: %s %d-%d %v: %v", who, f.TopicPartition, f.FirstOffset, f.LastOffset, f.Type, f.Err)
	}
	for tp, m := range l.accepted {
		for o, n := range m {
			if n > 1 {
				t.Errorf("%s: %s offset %d accepted %d times", who, tp, o, n)
			}
		}
	}
}

// newShareConsumer starts a member of group reading topic from the
// earliest record; it is closed when the test ends.
func newShareConsumer(t *testing.T, client *kafka.Client, group, topic string, cfg kafka.ShareConsumerConfig) *kafka.ShareConsumer {
	t.Helper()
	cfg.Group, cfg.Topics = group, []string{topic}
	if cfg.AutoOffsetReset == kafka.ShareResetGroupConfig {
		cfg.AutoOffsetReset = kafka.ShareResetEarliest
	}
	c, err := client.NewShareConsumer(testhelp.Ctx(t, time.Minute), cfg)
	if err != nil {
		t.Fatalf("NewShareConsumer: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// TestShareConsumer: one member reads every record of a topic once, each
// delivered once (DeliveryCount 1); implicit acknowledgement accepts them
// all, and the brokers confirm each acceptance once.
func TestShareConsumer(t *testing.T) {
	client, topic, ok := shareTopic(t, 2, 1000)
	if !ok {
		return
	}
	ledger := newAcceptLedger()
	c := newShareConsumer(t, client, testhelp.UniqueName(t, "sg"), topic.Name(), kafka.ShareConsumerConfig{
		ConsumerTimeout: 3 * time.Second, OnAcknowledged: ledger.add, AckResults: true,
	})
	var fromChannel sync.WaitGroup
	channelled := 0
	fromChannel.Go(func() {
		for r := range c.AckResults() {
			channelled += int(r.Records())
		}
	})
	ctx := testhelp.Ctx(t, 2*time.Minute)
	seen := map[kafka.TopicPartition]map[int64]bool{}
	for m, err := range c.Messages(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if m.DeliveryCount != 1 {
			t.Errorf("%s/%d@%d: delivery count %d, want 1", m.Topic, m.Partition, m.Offset, m.DeliveryCount)
		}
		tp := kafka.TopicPartition{Topic: m.Topic, Partition: m.Partition}
		if seen[tp] == nil {
			seen[tp] = map[int64]bool{}
		}
		if seen[tp][m.Offset] {
			t.Errorf("%s offset %d handed out twice", tp, m.Offset)
		}
		seen[tp][m.Offset] = true
		if want := fmt.Sprintf("%s:", topic.Name()); !strings.HasPrefix(string(m.Value), want) {
			t.Errorf("value %q", m.Value)
		}
	}
	if !errors.Is(c.Err(), kafka.ErrConsumerTimeout) {
		t.Fatalf("iteration ended with %v, want ErrConsumerTimeout", c.Err())
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	fromChannel.Wait() // Close closed the channel after the last result
	ledger.check(t, "consumer")
	if got := ledger.total(); got != 1000 {
		t.Fatalf("accepted %d of 1000", got)
	}
	if channelled != 1000 {
		t.Fatalf("AckResults reported %d records, OnAcknowledged 1000", channelled)
	}
}

// TestShareAcknowledgeNotHeld: acknowledging a record the consumer does not
// hold — built by hand, acknowledged already, another member's, after
// Close — fails with ErrNotAcquired (ErrClosed after Close), and so does a
// nil message or an unknown type, with their own errors.
func TestShareAcknowledgeNotHeld(t *testing.T) {
	client, topic, ok := shareTopic(t, 1, 10)
	if !ok {
		return
	}
	group := testhelp.UniqueName(t, "sg")
	ledger := newAcceptLedger()
	c := newShareConsumer(t, client, group, topic.Name(), kafka.ShareConsumerConfig{ExplicitAcknowledgement: true, OnAcknowledged: ledger.add})
	ctx := testhelp.Ctx(t, time.Minute)
	m, err := c.Consume(ctx)
	if err != nil {
		t.Fatal(err)
	}
	forged := *m // same topic, partition and offset, not the record handed out
	if err := c.Acknowledge(&forged, kafka.AcceptType); !errors.Is(err, kafka.ErrNotAcquired) {
		t.Errorf("Acknowledge of a copy: %v, want ErrNotAcquired", err)
	}
	never := &kafka.Message{Topic: topic.Name(), Partition: 0, Offset: 9}
	if err := c.Acknowledge(never, kafka.AcceptType); !errors.Is(err, kafka.ErrNotAcquired) {
		t.Errorf("Acknowledge of a record never handed out: %v, want ErrNotAcquired", err)
	}
	if err := c.Acknowledge(nil, kafka.AcceptType); !errors.Is(err, kafka.ErrNilMessage) {
		t.Errorf("Acknowledge(nil): %v, want ErrNilMessage", err)
	}
	if err := c.Acknowledge(m, kafka.AckType(7)); !errors.Is(err, kafka.ErrInvalidConfig) {
		t.Errorf("Acknowledge with type 7: %v, want ErrInvalidConfig", err)
	}
	if err := c.Acknowledge(m, kafka.AcceptType); err != nil {
		t.Fatalf("Acknowledge: %v", err)
	}
	if err := c.Acknowledge(m, kafka.RejectType); !errors.Is(err, kafka.ErrNotAcquired) {
		t.Errorf("second Acknowledge: %v, want ErrNotAcquired", err)
	}
	// Another member's record.
	other := newShareConsumer(t, client, group, topic.Name(), kafka.ShareConsumerConfig{ExplicitAcknowledgement: true})
	if err := other.Acknowledge(m, kafka.AcceptType); !errors.Is(err, kafka.ErrNotAcquired) {
		t.Errorf("Acknowledge of another member's record: %v, want ErrNotAcquired", err)
	}
	if err := c.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	ledger.check(t, "consumer")
	if ledger.total() != 1 {
		t.Errorf("%d records accepted, want the one acknowledged", ledger.total())
	}
	m2, err := c.Consume(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Acknowledge(m2, kafka.AcceptType); !errors.Is(err, kafka.ErrClosed) {
		t.Errorf("Acknowledge after Close: %v, want ErrClosed", err)
	}
}

// TestShareConsumerRdkafka: the librdkafka engine has no share groups; the
// typed error says so, whether or not the engine is compiled in.
func TestShareConsumerRdkafka(t *testing.T) {
	kc, client := fakeCluster(t)
	ctx := testhelp.Ctx(t, time.Minute)
	cfg := kafka.ShareConsumerConfig{Group: testhelp.UniqueName(t, "sg"), Topics: []string{"t"}, UseRdkafka: true}
	if _, err := client.NewShareConsumer(ctx, cfg); !errors.Is(err, kafka.ErrUnsupported) {
		t.Errorf("UseRdkafka: %v, want ErrUnsupported", err)
	}
	cfg.UseRdkafka, cfg.Engine = false, kafka.EngineRdkafka
	if _, err := client.NewShareConsumer(ctx, cfg); !errors.Is(err, kafka.ErrUnsupported) {
		t.Errorf("Engine: EngineRdkafka: %v, want ErrUnsupported", err)
	}
	rdClient, err := kafka.NewClient(ctx, kc.ListenAddrs()[0], kafka.WithEngine(kafka.EngineRdkafka))
	if err != nil {
		t.Fatal(err)
	}
	defer rdClient.Close()
	cfg.Engine = kafka.EngineDefault
	if _, err := rdClient.NewShareConsumer(ctx, cfg); !errors.Is(err, kafka.ErrUnsupported) {
		t.Errorf("a client whose engine is rdkafka: %v, want ErrUnsupported", err)
	}
}

// TestShareConsumerUnsupportedBroker: brokers without share groups (a fake
// cluster whose ApiVersions lists none of their requests, as Kafka before
// 4.1) give ErrUnsupported, at once.
func TestShareConsumerUnsupportedBroker(t *testing.T) {
	_, client := fakeCluster(t)
	ctx := testhelp.Ctx(t, 30*time.Second)
	_, err := client.NewShareConsumer(ctx, kafka.ShareConsumerConfig{Group: "g", Topics: []string{"t"}})
	if !errors.Is(err, kafka.ErrUnsupported) {
		t.Fatalf("want ErrUnsupported, got %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("NewShareConsumer waited for its deadline")
	}
}

// TestShareConsumerConfig: invalid configurations are refused, naming the
// field.
func TestShareConsumerConfig(t *testing.T) {
	_, client := fakeCluster(t)
	ctx := testhelp.Ctx(t, 30*time.Second)
	for _, c := range []struct {
		field string
		cfg   kafka.ShareConsumerConfig
	}{
		{"Group", kafka.ShareConsumerConfig{Topics: []string{"t"}}},
		{"Topics", kafka.ShareConsumerConfig{Group: "g"}},
		{"MaxRecords", kafka.ShareConsumerConfig{Group: "g", Topics: []string{"t"}, MaxRecords: -1}},
		{"MaxUnacknowledged", kafka.ShareConsumerConfig{Group: "g", Topics: []string{"t"}, MaxUnacknowledged: -1}},
		{"ConsumerTimeout", kafka.ShareConsumerConfig{Group: "g", Topics: []string{"t"}, ConsumerTimeout: -time.Second}},
		{"AutoOffsetReset", kafka.ShareConsumerConfig{Group: "g", Topics: []string{"t"}, AutoOffsetReset: 9}},
		{"UseRdkafka", kafka.ShareConsumerConfig{Group: "g", Topics: []string{"t"}, UseRdkafka: true, Engine: kafka.EnginePure}},
	} {
		_, err := client.NewShareConsumer(ctx, c.cfg)
		var ce *kafka.ConfigError
		if !errors.As(err, &ce) || !strings.HasSuffix(ce.Field, "."+c.field) {
			t.Errorf("%s: want a ConfigError naming it, got %v", c.field, err)
		}
	}
}

// TestShareMaxUnacknowledged: with explicit acknowledgement, a consumer
// holding MaxUnacknowledged records hands out no more (Consume waits, here
// until ConsumerTimeout) until one is acknowledged.
func TestShareMaxUnacknowledged(t *testing.T) {
	client, topic, ok := shareTopic(t, 1, 100)
	if !ok {
		return
	}
	c := newShareConsumer(t, client, testhelp.UniqueName(t, "sg"), topic.Name(), kafka.ShareConsumerConfig{
		ExplicitAcknowledgement: true, MaxUnacknowledged: 10, MaxRecords: 5, ConsumerTimeout: 2 * time.Second,
	})
	ctx := testhelp.Ctx(t, time.Minute)
	held := consumeN(t, c, 10)
	if m, err := c.Consume(ctx); !errors.Is(err, kafka.ErrConsumerTimeout) {
		t.Fatalf("the 11th record while 10 are held: %v, %v; want ErrConsumerTimeout", m, err)
	}
	if err := c.Acknowledge(held[0], kafka.AcceptType); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Consume(ctx); err != nil {
		t.Fatalf("after an acknowledgement: %v", err)
	}
}
