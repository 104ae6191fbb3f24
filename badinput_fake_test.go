package kafka_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Deterministic error injection with franz-go's kfake: a fake cluster in
// process whose ControlKey intercepts requests, so that a sequence of broker
// error codes (NOT_LEADER_OR_FOLLOWER, COORDINATOR_LOAD_IN_PROGRESS, ...) or
// dropped connections reaches the produce, fetch and commit paths exactly
// when a test wants. Everything tested here also works on the real cluster
// (the rest of the suite); the fake only injects what a real broker cannot
// be made to do on cue. The pure engine runs here: the rdkafka engine has
// its own librdkafka retry logic, exercised against real brokers.

// fakeCluster starts a one-broker kfake cluster with topic "t" (2
// partitions) and a client on it; both close at the end of the test, and
// the test then checks that no goroutine is left.
func fakeCluster(t *testing.T) (*kfake.Cluster, *kafka.Client) {
	t.Helper()
	testhelp.NoLeaks(t)
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	client, err := kafka.NewClient(testhelp.Ctx(t, 10*time.Second), kc.ListenAddrs()[0],
		kafka.WithRequestTimeout(5*time.Second), kafka.WithRetryBackoff(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return kc, client
}

// inject makes the next len(codes) requests of key fail: a code answers
// with that error in every partition (or group) of the request, closeConn
// drops the connection instead. Requests after the sequence are handled
// normally. It returns the number of requests injected so far.
func inject(kc *kfake.Cluster, key int16, codes ...int16) *atomic.Int32 {
	var n atomic.Int32
	kc.ControlKey(key, func(req kmsg.Request) (kmsg.Response, error, bool) {
		i := int(n.Load())
		if i >= len(codes) {
			kc.DropControl()
			return nil, nil, false
		}
		kc.KeepControl()
		n.Add(1)
		if codes[i] == closeConn {
			return nil, errors.New("injected: connection dropped"), true
		}
		return errorResponse(req, codes[i]), nil, true
	})
	return &n
}

// always makes every request of key fail with code until the test ends.
func always(kc *kfake.Cluster, key int16, code int16) *atomic.Int32 {
	var n atomic.Int32
	kc.ControlKey(key, func(req kmsg.Request) (kmsg.Response, error, bool) {
		kc.KeepControl()
		n.Add(1)
		return errorResponse(req, code), nil, true
	})
	return &n
}

// closeConn in an injected sequence drops the connection.
const closeConn int16 = -10000

// Kafka error codes injected below.
const (
	codeUnknownTopicOrPartition   int16 = 3
	codeLeaderNotAvailable        int16 = 5
	codeNotLeaderOrFollower       int16 = 6
	codeCoordinatorLoadInProgress int16 = 14
	codeCoordinatorNotAvailable   int16 = 15
	codeNotCoordinator            int16 = 16
	codeTopicAuthorization        int16 = 29
	codeGroupAuthorization        int16 = 30
)

// errorResponse answers req with code everywhere a code goes.
func errorResponse(req kmsg.Request, code int16) kmsg.Response {
	switch r := req.(type) {
	case *kmsg.ProduceRequest:
		resp := r.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition, sp.ErrorCode, sp.BaseOffset = rp.Partition, code, -1
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	case *kmsg.FetchRequest:
		resp := r.ResponseKind().(*kmsg.FetchResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewFetchResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, code
				sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	case *kmsg.OffsetCommitRequest:
		resp := r.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	case *kmsg.OffsetFetchRequest:
		resp := r.ResponseKind().(*kmsg.OffsetFetchResponse)
		resp.ErrorCode = code
		for _, g := range r.Groups {
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group, rg.ErrorCode = g.Group, code
			resp.Groups = append(resp.Groups, rg)
		}
		return resp
	case *kmsg.FindCoordinatorRequest:
		resp := r.ResponseKind().(*kmsg.FindCoordinatorResponse)
		resp.ErrorCode, resp.NodeID = code, -1
		for _, k := range r.CoordinatorKeys {
			c := kmsg.NewFindCoordinatorResponseCoordinator()
			c.Key, c.ErrorCode, c.NodeID = k, code, -1
			resp.Coordinators = append(resp.Coordinators, c)
		}
		return resp
	}
	panic("errorResponse: no injection for " + kmsg.NameForKey(req.Key()))
}

// metadataWithTopicError answers a Metadata request for topics with the
// given topic-level error, and the fake's one broker.
func metadataWithTopicError(kc *kfake.Cluster, req *kmsg.MetadataRequest, code int16) kmsg.Response {
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	host, port, _ := net.SplitHostPort(kc.ListenAddrs()[0])
	p, _ := strconv.Atoi(port)
	b := kmsg.NewMetadataResponseBroker()
	b.NodeID, b.Host, b.Port = 0, host, int32(p)
	resp.Brokers = append(resp.Brokers, b)
	resp.ControllerID = 0
	for _, rt := range req.Topics {
		st := kmsg.NewMetadataResponseTopic()
		st.Topic, st.ErrorCode = rt.Topic, code
		resp.Topics = append(resp.Topics, st)
	}
	return resp
}

func fakeTopic(t *testing.T, client *kafka.Client) *kafka.Topic {
	t.Helper()
	topic, err := client.Topic(testhelp.Ctx(t, 10*time.Second), "t")
	if err != nil {
		t.Fatal(err)
	}
	return topic
}

// primeGroup commits offset 1 of partition 0 for group, which creates the
// group in kfake: unlike Kafka, kfake answers OffsetFetch of a group it has
// never seen with GROUP_ID_NOT_FOUND rather than "no offset".
func primeGroup(t *testing.T, topic *kafka.Topic, group string) {
	t.Helper()
	ctx := testhelp.Ctx(t, 10*time.Second)
	c, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerGroup: group, Partitions: []int32{0}, ConsumerOptions: kafka.ConsumerOptions{ResetOffsetOnStart: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if err := c.ResetOffsets(ctx, at(topic, map[int32]int64{0: 1})); err != nil {
		t.Fatal(err)
	}
	if err := c.CommitOffsets(ctx); err != nil {
		t.Fatal(err)
	}
}

// toPartition0 sends every message to partition 0.
func toPartition0(*kafka.Message, int32) int32 { return 0 }

func TestFakeProduceRetriesRetriableErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		codes []int16
	}{
		{"NOT_LEADER_OR_FOLLOWER x3", []int16{codeNotLeaderOrFollower, codeNotLeaderOrFollower, codeNotLeaderOrFollower}},
		{"UNKNOWN_TOPIC_OR_PARTITION x3", []int16{codeUnknownTopicOrPartition, codeUnknownTopicOrPartition, codeUnknownTopicOrPartition}},
		{"LEADER_NOT_AVAILABLE, NOT_LEADER, UNKNOWN_TOPIC", []int16{codeLeaderNotAvailable, codeNotLeaderOrFollower, codeUnknownTopicOrPartition}},
		{"connection dropped x2", []int16{closeConn, closeConn}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kc, client := fakeCluster(t)
			topic := fakeTopic(t, client)
			p, err := topic.NewProducer(kafka.ProducerConfig{Sync: true, Partitioner: toPartition0, DeliveryTimeout: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close(context.Background())
			ctx := testhelp.Ctx(t, 30*time.Second)
			injected := inject(kc, 0, tc.codes...)
			if err := p.Produce(ctx, []byte("through")); err != nil {
				t.Fatalf("after %d injected failures: %v", injected.Load(), err)
			}
			if got := injected.Load(); got != int32(len(tc.codes)) {
				t.Fatalf("%d of %d injected failures reached the producer", got, len(tc.codes))
			}
			// Idempotence: retries after dropped connections wrote the
			// message once.
			wantHighWatermark(t, ctx, topic, 1, "after one message and retries")
		})
	}
}

func TestFakeProduceErrorsAreTypedAndBounded(t *testing.T) {
	kc, client := fakeCluster(t)
	topic := fakeTopic(t, client)
	ctx := testhelp.Ctx(t, time.Minute)

	// Not retriable: fails at once with the broker's error.
	p, err := topic.NewProducer(kafka.ProducerConfig{Sync: true, Partitioner: toPartition0, DeliveryTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	inject(kc, 0, codeTopicAuthorization)
	start := time.Now()
	if err := p.Produce(ctx, []byte("denied")); !errors.Is(err, kafka.ErrTopicAuthorization) {
		t.Fatalf("TOPIC_AUTHORIZATION_FAILED: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("a non-retriable error took %v", d)
	}
	if err := p.Produce(ctx, []byte("allowed again")); err != nil {
		t.Fatalf("after a non-retriable error: %v", err)
	}
	p.Close(ctx)

	// Retriable forever: the delivery timeout ends it.
	const deliveryTimeout = 3 * time.Second
	p, err = topic.NewProducer(kafka.ProducerConfig{Sync: true, Partitioner: toPartition0, DeliveryTimeout: deliveryTimeout})
	if err != nil {
		t.Fatal(err)
	}
	n := always(kc, 0, codeNotLeaderOrFollower)
	start = time.Now()
	err = p.Produce(ctx, []byte("never"))
	d := time.Since(start)
	if !errors.Is(err, kafka.ErrDeliveryTimeout) {
		t.Fatalf("NOT_LEADER_OR_FOLLOWER forever: %v, want ErrDeliveryTimeout", err)
	}
	if d < deliveryTimeout-500*time.Millisecond || d > deliveryTimeout+10*time.Second {
		t.Fatalf("NOT_LEADER_OR_FOLLOWER forever: gave up after %v with a %v delivery timeout", d, deliveryTimeout)
	}
	if n.Load() < 2 {
		t.Fatalf("only %d attempts in %v", n.Load(), d)
	}
	closeStart := time.Now()
	p.Close(ctx)
	if d := time.Since(closeStart); d > deliveryTimeout+10*time.Second {
		t.Fatalf("Close took %v", d)
	}
}

func TestFakeFetchRetriesAndTypedErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		codes []int16
		want  error // nil: the messages come through
	}{
		{"NOT_LEADER_OR_FOLLOWER x3", []int16{codeNotLeaderOrFollower, codeNotLeaderOrFollower, codeNotLeaderOrFollower}, nil},
		{"UNKNOWN_TOPIC_OR_PARTITION x2", []int16{codeUnknownTopicOrPartition, codeUnknownTopicOrPartition}, nil},
		{"connection dropped x2", []int16{closeConn, closeConn}, nil},
		{"TOPIC_AUTHORIZATION_FAILED", []int16{codeTopicAuthorization}, kafka.ErrTopicAuthorization},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kc, client := fakeCluster(t)
			topic := fakeTopic(t, client)
			produce(t, topic, kafka.ProducerConfig{Partitioner: toPartition0}, 5, keyed)
			injected := inject(kc, 1, tc.codes...)
			c, err := topic.NewSimpleConsumer(testhelp.Ctx(t, 10*time.Second), kafka.ConsumerConfig{Partitions: []int32{0}, ConsumerOptions: kafka.ConsumerOptions{ConsumerTimeout: 20 * time.Second}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(context.Background())
			ctx := testhelp.Ctx(t, 30*time.Second)
			if tc.want != nil {
				start := time.Now()
				if m, err := c.Consume(ctx); !errors.Is(err, tc.want) {
					t.Fatalf("Consume: %v, %v, want %v", m, err, tc.want)
				}
				if d := time.Since(start); d > 10*time.Second {
					t.Fatalf("a non-retriable fetch error took %v", d)
				}
				return
			}
			for i, m := range consumeN(t, c, 5) {
				if m.Offset != int64(i) {
					t.Fatalf("message %d at offset %d", i, m.Offset)
				}
			}
			if got := injected.Load(); got != int32(len(tc.codes)) {
				t.Fatalf("%d of %d injected failures reached the fetcher", got, len(tc.codes))
			}
		})
	}
}

func TestFakeCommitRetriesAndTypedErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		key   int16
		codes []int16
		want  error
	}{
		{"OffsetCommit COORDINATOR_LOAD_IN_PROGRESS x3", 8, []int16{codeCoordinatorLoadInProgress, codeCoordinatorLoadInProgress, codeCoordinatorLoadInProgress}, nil},
		{"OffsetCommit NOT_COORDINATOR x2", 8, []int16{codeNotCoordinator, codeNotCoordinator}, nil},
		{"OffsetCommit connection dropped", 8, []int16{closeConn}, nil},
		{"FindCoordinator COORDINATOR_NOT_AVAILABLE x3", 10, []int16{codeCoordinatorNotAvailable, codeCoordinatorNotAvailable, codeCoordinatorNotAvailable}, nil},
		{"OffsetFetch COORDINATOR_LOAD_IN_PROGRESS x3", 9, []int16{codeCoordinatorLoadInProgress, codeCoordinatorLoadInProgress, codeCoordinatorLoadInProgress}, nil},
		{"OffsetCommit GROUP_AUTHORIZATION_FAILED", 8, []int16{codeGroupAuthorization}, kafka.ErrGroupAuthorization},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kc, client := fakeCluster(t)
			topic := fakeTopic(t, client)
			produce(t, topic, kafka.ProducerConfig{Partitioner: toPartition0}, 5, keyed)
			primeGroup(t, topic, "g")
			ctx := testhelp.Ctx(t, 30*time.Second)
			injected := inject(kc, tc.key, tc.codes...)
			c, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerGroup: "g", Partitions: []int32{0}})
			if err != nil {
				t.Fatalf("NewSimpleConsumer (OffsetFetch at start): %v", err)
			}
			defer c.Close(context.Background())
			consumeN(t, c, 3)
			err = c.CommitOffsets(ctx)
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("CommitOffsets: %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("CommitOffsets after %d injected failures: %v", injected.Load(), err)
			}
			if got := injected.Load(); got != int32(len(tc.codes)) {
				t.Fatalf("%d of %d injected failures reached the consumer", got, len(tc.codes))
			}
			committed, err := c.FetchOffsets(ctx)
			// Started at the primed offset 1, consumed 1, 2, 3.
			if err != nil || committed[tp(topic, 0)] != 4 {
				t.Fatalf("committed offsets %v, %v, want partition 0 at 4", committed, err)
			}
		})
	}
}

func TestFakeCommitRetriableForeverIsBounded(t *testing.T) {
	kc, client := fakeCluster(t)
	topic := fakeTopic(t, client)
	produce(t, topic, kafka.ProducerConfig{Partitioner: toPartition0}, 2, keyed)
	primeGroup(t, topic, "g")
	c, err := topic.NewSimpleConsumer(testhelp.Ctx(t, 10*time.Second), kafka.ConsumerConfig{ConsumerGroup: "g", Partitions: []int32{0}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	consumeN(t, c, 1)
	always(kc, 8, codeCoordinatorLoadInProgress)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	start := time.Now()
	err = c.CommitOffsets(ctx)
	var be *kafka.BrokerError
	if err == nil || !errors.As(err, &be) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("COORDINATOR_LOAD_IN_PROGRESS forever: %v, want the broker error or the context's deadline", err)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Fatalf("COORDINATOR_LOAD_IN_PROGRESS forever held CommitOffsets %v past a 3s context", d)
	}
}

func TestFakeMetadataTopicErrors(t *testing.T) {
	kc, client := fakeCluster(t)
	ctx := testhelp.Ctx(t, 30*time.Second)
	// A leader election in progress: Topic polls until there is one.
	var n atomic.Int32
	kc.ControlKey(3, func(req kmsg.Request) (kmsg.Response, error, bool) {
		r := req.(*kmsg.MetadataRequest)
		if len(r.Topics) == 0 || n.Load() >= 2 {
			kc.KeepControl()
			return nil, nil, false
		}
		kc.KeepControl()
		n.Add(1)
		return metadataWithTopicError(kc, r, codeLeaderNotAvailable), nil, true
	})
	if _, err := client.Topic(ctx, "t"); err != nil {
		t.Fatalf("Topic after two LEADER_NOT_AVAILABLE answers: %v", err)
	}
	if n.Load() != 2 {
		t.Fatalf("%d LEADER_NOT_AVAILABLE answers reached Topic, want 2", n.Load())
	}
	// A topic the fake does not have (kfake's auto-create is off).
	if _, err := client.Topic(ctx, "absent"); !errors.Is(err, kafka.ErrUnknownTopic) {
		t.Fatalf("unknown topic on the fake: %v", err)
	}
}
