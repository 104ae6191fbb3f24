package kafka_test

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	_ "github.com/gokafka/kafka/rdkafka" // both engines run the same suite
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

func TestMain(m *testing.M) {
	// This binary may be re-executed as a consumer process that a test
	// kills with SIGKILL.
	if os.Getenv(childEnv) != "" {
		runChildConsumer()
		return
	}
	if os.Getenv(marksChildEnv) != "" {
		runMarksChild()
		return
	}
	if os.Getenv(pipelineChildEnv) != "" {
		runPipelineChild()
		return
	}
	testinstance.Main(m, testinstance.Config{Brokers: 3})
}

// engineCase is one engine the conformance suite runs on.
type engineCase struct {
	name    string
	rdkafka bool
}

var engines = []engineCase{{"pure", false}, {"rdkafka", true}}

// rdkafkaCompiled reports whether the rdkafka engine is registered in this
// build (it is not without cgo, or with -tags nordkafka).
func rdkafkaCompiled(t *testing.T, topic *kafka.Topic) bool {
	t.Helper()
	p, err := topic.NewProducer(kafka.ProducerConfig{UseRdkafka: true})
	if err == nil {
		p.Close(context.Background())
		return true
	}
	if !errors.Is(err, kafka.ErrEngineNotEnabled) {
		t.Fatalf("UseRdkafka: want ErrEngineNotEnabled or success, got %v", err)
	}
	return false
}

// forEachEngine runs f once per engine. Where the rdkafka engine is not
// compiled in, its case asserts the typed error instead: the suite still
// proves something on every build.
func forEachEngine(t *testing.T, f func(t *testing.T, e engineCase)) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			if e.rdkafka {
				client := newClient(t)
				probe := newTopic(t, client, 1)
				if !rdkafkaCompiled(t, probe) {
					_, err := probe.NewSimpleConsumer(context.Background(), kafka.ConsumerConfig{ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: true}})
					if !errors.Is(err, kafka.ErrEngineNotEnabled) {
						t.Fatalf("consumer with UseRdkafka in a build without the engine: %v", err)
					}
					return
				}
			}
			f(t, e)
		})
	}
}

func brokers() string { return testinstance.Shared().BootstrapServers() }

func newClient(t *testing.T, opts ...kafka.ClientOption) *kafka.Client {
	t.Helper()
	c, err := kafka.NewClient(testhelp.Ctx(t, 30*time.Second), brokers(), opts...)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func newTopic(t *testing.T, c *kafka.Client, partitions int32, configs ...string) *kafka.Topic {
	t.Helper()
	cfg := kafka.TopicConfig{Partitions: partitions, ReplicationFactor: 3, Configs: map[string]string{}}
	for i := 0; i+1 < len(configs); i += 2 {
		cfg.Configs[configs[i]] = configs[i+1]
	}
	topic, err := c.CreateTopic(testhelp.Ctx(t, 60*time.Second), testhelp.UniqueName(t, "t"), cfg)
	if err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	return topic
}

// produce sends values (keyed by index) and closes the producer, failing the
// test on any error.
func produce(t *testing.T, topic *kafka.Topic, cfg kafka.ProducerConfig, n int, value func(i int) *kafka.Message) {
	t.Helper()
	ctx := testhelp.Ctx(t, 2*time.Minute)
	p, err := topic.NewProducer(cfg)
	if err != nil {
		t.Fatalf("NewProducer: %v", err)
	}
	for i := 0; i < n; i++ {
		if err := p.ProduceMessage(ctx, value(i)); err != nil {
			t.Fatalf("Produce %d: %v", i, err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatalf("producer Close: %v", err)
	}
}

// configCase is a configuration that must be refused, and the field the
// *kafka.ConfigError must name.
type configCase[C any] struct {
	field string
	cfg   C
}

// checkConfigErrors hands every case's configuration to open (a
// constructor) and reports each one it does not refuse with a
// *kafka.ConfigError naming the case's field, matching ErrInvalidConfig.
func checkConfigErrors[C any](t *testing.T, open func(C) error, cases []configCase[C]) {
	t.Helper()
	for _, tc := range cases {
		err := open(tc.cfg)
		var ce *kafka.ConfigError
		if !errors.Is(err, kafka.ErrInvalidConfig) || !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("%+v: got %v, want a ConfigError for %s", tc.cfg, err, tc.field)
		}
	}
}

// wantHighWatermark fails the test unless partition 0 of topic ends at
// offset want (LatestOffsets); when says at what point, for the message.
func wantHighWatermark(t *testing.T, ctx context.Context, topic *kafka.Topic, want int64, when string) {
	t.Helper()
	latest, err := topic.LatestOffsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if latest[0] != want {
		t.Fatalf("high watermark %d %s, want %d", latest[0], when, want)
	}
}

// produceSync sends msgs (to any topics) with one producer of the client
// and closes it, failing the test on any error.
func produceSync(t *testing.T, client *kafka.Client, msgs []*kafka.Message) {
	t.Helper()
	p := newProducer(t, client, kafka.ProducerConfig{})
	ctx := testhelp.Ctx(t, time.Minute)
	if err := p.ProduceSync(ctx, msgs...).Err(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// consumeN reads exactly n messages (failing on timeout) and returns them.
func consumeN(t *testing.T, c interface {
	Consume(context.Context) (*kafka.Message, error)
}, n int) []*kafka.Message {
	t.Helper()
	ctx := testhelp.Ctx(t, 2*time.Minute)
	out := make([]*kafka.Message, 0, n)
	for len(out) < n {
		m, err := c.Consume(ctx)
		if err != nil {
			t.Fatalf("Consume after %d of %d messages: %v", len(out), n, err)
		}
		out = append(out, m)
	}
	return out
}

// tp names partition p of topic.
func tp(topic *kafka.Topic, p int32) kafka.TopicPartition {
	return kafka.TopicPartition{Topic: topic.Name(), Partition: p}
}

// at keys offsets of topic's partitions by TopicPartition.
func at(topic *kafka.Topic, offsets map[int32]int64) map[kafka.TopicPartition]int64 {
	out := make(map[kafka.TopicPartition]int64, len(offsets))
	for p, o := range offsets {
		out[tp(topic, p)] = o
	}
	return out
}

// newProducer is client.NewProducer(cfg), failing the test if it cannot;
// the caller closes it.
func newProducer(t *testing.T, client *kafka.Client, cfg kafka.ProducerConfig) *kafka.Producer {
	t.Helper()
	p, err := client.NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// groupConsumer opens a simple consumer of group on topic with engine e,
// failing the test if it cannot; the caller closes it.
func groupConsumer(t *testing.T, ctx context.Context, topic *kafka.Topic, group string, e engineCase) *kafka.SimpleConsumer {
	t.Helper()
	c, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerGroup: group, ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: e.rdkafka}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// commitGroupOffsets commits offsets of topic's partitions for group
// through a throwaway simple consumer of that group (engine e), which it
// closes: how tests set a group's starting point, such as a position past
// the end, before the consumer under test starts.
func commitGroupOffsets(t *testing.T, ctx context.Context, topic *kafka.Topic, group string, e engineCase, offsets map[int32]int64) {
	t.Helper()
	c := groupConsumer(t, ctx, topic, group, e)
	if err := c.ResetOffsets(ctx, at(topic, offsets)); err != nil {
		t.Fatal(err)
	}
	if err := c.CommitOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
}

// committedOffsets opens a simple consumer of cfg's group on topic (closed
// at the end of the test) and returns it with the offsets the group has
// committed: how tests check what a consumer before it committed.
func committedOffsets(t *testing.T, ctx context.Context, topic *kafka.Topic, cfg kafka.ConsumerConfig) (*kafka.SimpleConsumer, map[kafka.TopicPartition]int64) {
	t.Helper()
	c, err := topic.NewSimpleConsumer(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	committed, err := c.FetchOffsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return c, committed
}
