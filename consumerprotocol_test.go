package kafka_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// Tests of GroupProtocolConsumer (KIP-848) through the root's
// BalancedConsumer; the protocol's own tests are balance/consumer's.

// consumerProtocol reports whether the shared cluster has the consumer
// group protocol (Kafka 4.0 and newer). On an older one (make test-compat
// runs Kafka 3.9) it asserts instead that a GroupProtocolConsumer member
// fails with ErrUnsupported, and the caller returns: the test still proves
// something there.
func consumerProtocol(t *testing.T, topic *kafka.Topic) bool {
	t.Helper()
	v := testinstance.Shared().KafkaVersion()
	if v == "" { // an external cluster whose starter did not say
		v = testinstance.DefaultKafkaVersion
	}
	major, _ := strconv.Atoi(strings.Split(v, ".")[0])
	if major >= 4 {
		return true
	}
	_, err := topic.NewBalancedConsumer(testhelp.Ctx(t, time.Minute), kafka.BalancedConsumerConfig{
		Group: testhelp.UniqueName(t, "g"), Protocol: kafka.GroupProtocolConsumer,
	})
	if !errors.Is(err, kafka.ErrUnsupported) {
		t.Fatalf("Kafka %s: a GroupProtocolConsumer member: want ErrUnsupported, got %v", v, err)
	}
	t.Logf("Kafka %s has no consumer group protocol: refused as it should be: %v", v, err)
	return false
}

// fastGroup gives a consumer-protocol group short heartbeats and sessions
// (the broker's defaults are 5s and 45s).
func fastGroup(t *testing.T, group string) {
	t.Helper()
	testhelp.FastConsumerGroup(t, testhelp.Ctx(t, time.Minute), testhelp.NewCluster(t, nil), group)
}

func TestConsumerProtocolConfig(t *testing.T) {
	client := newClient(t)
	topic := newTopic(t, client, 1)
	if kafka.GroupProtocolConsumer.String() != "consumer" {
		t.Errorf("GroupProtocolConsumer.String() = %q", kafka.GroupProtocolConsumer)
	}
	c := kafka.GroupProtocolConsumer
	checkConfigErrors(t, func(cfg kafka.BalancedConsumerConfig) error {
		_, err := topic.NewBalancedConsumer(context.Background(), cfg)
		return err
	}, []configCase[kafka.BalancedConsumerConfig]{
		{"BalancedConsumerConfig.SessionTimeout", kafka.BalancedConsumerConfig{Group: "g", Protocol: c, SessionTimeout: time.Second}},
		{"BalancedConsumerConfig.HeartbeatInterval", kafka.BalancedConsumerConfig{Group: "g", Protocol: c, HeartbeatInterval: time.Second}},
		{"BalancedConsumerConfig.Strategy", kafka.BalancedConsumerConfig{Group: "g", Protocol: c, Strategy: kafka.RoundRobinStrategy}},
		{"BalancedConsumerConfig.Strategy", kafka.BalancedConsumerConfig{Group: "g", Protocol: c, Strategy: kafka.CooperativeStickyStrategy}},
		{"BalancedConsumerConfig.Strategy", kafka.BalancedConsumerConfig{Group: "g", Managed: true, Strategy: kafka.UniformStrategy}},
		{"BalancedConsumerConfig.Strategy", kafka.BalancedConsumerConfig{Group: "g", ZooKeeper: "127.0.0.1:1", Strategy: kafka.UniformStrategy}},
		{"BalancedConsumerConfig.Managed", kafka.BalancedConsumerConfig{Group: "g", Managed: true, Protocol: c}},
		{"BalancedConsumerConfig.ZooKeeper", kafka.BalancedConsumerConfig{Group: "g", Protocol: c, ZooKeeper: "127.0.0.1:1"}},
		{"BalancedConsumerConfig.Protocol", kafka.BalancedConsumerConfig{Group: "g", Protocol: c + 1}},
	})
	// A pattern Go cannot compile is refused before anything is sent.
	_, err := client.NewBalancedConsumer(context.Background(), kafka.BalancedConsumerConfig{Group: "g", Protocol: c, Pattern: "orders-("})
	var ce *kafka.ConfigError
	if !errors.As(err, &ce) || ce.Field != "BalancedConsumerConfig.Pattern" {
		t.Errorf("an invalid pattern: got %v, want a ConfigError for BalancedConsumerConfig.Pattern", err)
	}
}

// TestConsumerProtocolBadPattern: a pattern Go compiles and the broker's
// RE2J refuses (a Unicode script RE2J does not know) fails with
// ErrInvalidConfig and the broker's INVALID_REGULAR_EXPRESSION.
func TestConsumerProtocolBadPattern(t *testing.T) {
	client := newClient(t)
	if !consumerProtocol(t, newTopic(t, client, 1)) {
		return
	}
	_, err := client.NewBalancedConsumer(testhelp.Ctx(t, time.Minute), kafka.BalancedConsumerConfig{
		Group: testhelp.UniqueName(t, "g"), Protocol: kafka.GroupProtocolConsumer, Pattern: `orders-\p{Adlam}+`,
	})
	var be *kafka.BrokerError
	if !errors.Is(err, kafka.ErrInvalidConfig) || !errors.As(err, &be) || be.Name != "INVALID_REGULAR_EXPRESSION" {
		t.Fatalf("want ErrInvalidConfig and INVALID_REGULAR_EXPRESSION, got %v", err)
	}
}

// TestConsumerProtocolShare: members of both engines share a topic on the
// consumer protocol, hand partitions over as they join and leave, and
// read every message, with AutoCommit committing before each hand-over.
func TestConsumerProtocolShare(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		const partitions = 6
		topic := newTopic(t, client, partitions)
		if !consumerProtocol(t, topic) {
			return
		}
		group := testhelp.UniqueName(t, "g")
		fastGroup(t, group)
		ctx := testhelp.Ctx(t, 3*time.Minute)
		const n = 3000
		produce(t, topic, kafka.ProducerConfig{}, n, func(i int) *kafka.Message {
			return &kafka.Message{Value: []byte(strconv.Itoa(i)), Partition: int32(i % partitions), PartitionSet: true}
		})
		cfg := kafka.BalancedConsumerConfig{
			Group: group, Protocol: kafka.GroupProtocolConsumer, Strategy: kafka.UniformStrategy,
			ConsumerOptions: kafka.ConsumerOptions{AutoCommit: true, UseRdkafka: e.rdkafka},
		}
		var ta tally
		var wg sync.WaitGroup
		runCtx, stop := context.WithCancel(ctx)
		defer stop()
		var members []*kafka.BalancedConsumer
		for i := range 3 {
			m, err := topic.NewBalancedConsumer(ctx, cfg)
			if err != nil {
				t.Fatalf("member %d: %v", i, err)
			}
			members = append(members, m)
			consumeInto(runCtx, m, &ta, &wg)
			waitExclusive(t, testhelp.Ctx(t, 30*time.Second), partitions, members)
		}
		if err := members[0].Close(ctx); err != nil {
			t.Fatal(err)
		}
		waitExclusive(t, testhelp.Ctx(t, 30*time.Second), partitions, members[1:])
		testhelp.WaitUntil(t, time.Minute, "every message read", func() bool {
			distinct, _ := ta.counts()
			return distinct >= n
		})
		stop()
		for _, m := range members[1:] {
			if err := m.Close(ctx); err != nil {
				t.Error(err)
			}
		}
		wg.Wait()
		distinct, dups := ta.counts()
		t.Logf("read %d distinct of %d, %d duplicates", distinct, n, dups)
		if distinct != n {
			t.Fatalf("read %d distinct messages of %d", distinct, n)
		}
	})
}
