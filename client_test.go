package kafka_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
)

func TestClientSeesTheCluster(t *testing.T) {
	client := newClient(t)
	bs := client.Brokers()
	if len(bs) != 3 {
		t.Fatalf("Brokers() = %v, want 3 brokers", bs)
	}
	for i, b := range bs {
		if i > 0 && bs[i-1].ID >= b.ID {
			t.Fatalf("brokers not ordered by id: %v", bs)
		}
		if !strings.Contains(brokers(), b.Addr()) {
			t.Fatalf("broker %v not one of %s", b, brokers())
		}
	}
	if client.ClusterID() == "" {
		t.Fatal("empty cluster id")
	}
	topic := newTopic(t, client, 5)
	names, err := client.Topics(testhelp.Ctx(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, topic.Name()) || slices.Contains(names, "__consumer_offsets") {
		t.Fatalf("Topics() = %v, want %s and no internal topics", names, topic.Name())
	}
	parts := topic.Partitions()
	if len(parts) != 5 {
		t.Fatalf("%d partitions, want 5", len(parts))
	}
	for i, p := range parts {
		if p.ID != int32(i) || p.Leader < 1 || len(p.Replicas) != 3 || len(p.ISR) != 3 || !slices.Contains(p.Replicas, p.Leader) {
			t.Fatalf("partition %d: %+v", i, p)
		}
	}
	// Another client sees the same topic by name.
	same, err := newClient(t).Topic(testhelp.Ctx(t, time.Minute), topic.Name())
	if err != nil || len(same.Partitions()) != 5 {
		t.Fatalf("Topic(%q): %v, %v", topic.Name(), same, err)
	}
}

func TestTopicOffsets(t *testing.T) {
	client := newClient(t)
	topic := newTopic(t, client, 2)
	ctx := testhelp.Ctx(t, time.Minute)
	earliest, err := topic.EarliestOffsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	latest, err := topic.LatestOffsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if earliest[0] != 0 || earliest[1] != 0 || latest[0] != 0 || latest[1] != 0 {
		t.Fatalf("empty topic: earliest %v latest %v", earliest, latest)
	}
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	produce(t, topic, kafka.ProducerConfig{Partitioner: func(m *kafka.Message, n int32) int32 { return 1 }}, 30, func(i int) *kafka.Message {
		return &kafka.Message{Value: []byte("x"), Timestamp: base.Add(time.Duration(i) * time.Minute)}
	})
	if latest, err = topic.LatestOffsets(ctx); err != nil || latest[0] != 0 || latest[1] != 30 {
		t.Fatalf("latest after 30 messages to partition 1: %v %v", latest, err)
	}
	at, err := topic.OffsetsForTime(ctx, base.Add(10*time.Minute))
	if err != nil || at[1] != 10 {
		t.Fatalf("offset for the time of message 10: %v %v", at, err)
	}
	if at[0] != 0 {
		t.Fatalf("empty partition 0: offset for a time = %d, want its end 0", at[0])
	}
	if at, err = topic.OffsetsForTime(ctx, time.Now().Add(time.Hour)); err != nil || at[1] != 30 {
		t.Fatalf("offset for a future time: %v %v, want the end (30)", at, err)
	}
}

func TestTopicErrors(t *testing.T) {
	client := newClient(t)
	ctx := testhelp.Ctx(t, time.Minute)
	for _, bad := range []string{"", ".", "..", "has space", "sl/ash", strings.Repeat("x", 250)} {
		if _, err := client.Topic(ctx, bad); !errors.Is(err, kafka.ErrInvalidTopic) {
			t.Errorf("Topic(%q): %v, want ErrInvalidTopic", bad, err)
		}
	}
	missing := testhelp.UniqueName(t, "missing")
	if _, err := client.Topic(ctx, missing); !errors.Is(err, kafka.ErrUnknownTopic) {
		t.Fatalf("unknown topic without auto-create: %v, want ErrUnknownTopic", err)
	}
	auto := newClient(t, kafka.WithAutoCreateTopics(true))
	topic, err := auto.Topic(ctx, missing)
	if err != nil {
		t.Fatalf("auto-create: %v", err)
	}
	if len(topic.Partitions()) == 0 {
		t.Fatal("auto-created topic has no partitions")
	}
	if _, err := client.CreateTopic(ctx, missing, kafka.TopicConfig{Partitions: 1}); !errors.Is(err, kafka.ErrTopicAlreadyExists) {
		t.Fatalf("creating an existing topic: %v", err)
	}
	if _, err := client.CreateTopic(ctx, testhelp.UniqueName(t, "rf"), kafka.TopicConfig{Partitions: 1, ReplicationFactor: 9}); !errors.Is(err, kafka.ErrInvalidReplicationFactor) {
		t.Fatalf("replication factor 9 on 3 brokers: %v", err)
	}
	if err := client.DeleteTopic(ctx, missing); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Topic(ctx, missing); !errors.Is(err, kafka.ErrUnknownTopic) {
		t.Fatalf("deleted topic: %v", err)
	}
}

func TestBootstrapFailuresAreTypedAndBounded(t *testing.T) {
	// A closed port.
	start := time.Now()
	_, err := kafka.NewClient(testhelp.Ctx(t, 20*time.Second), testhelp.ClosedAddr(t))
	if !errors.Is(err, kafka.ErrNoBrokers) || !errors.Is(err, kafka.ErrConnection) {
		t.Fatalf("closed port: %v, want ErrNoBrokers wrapping ErrConnection", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("closed port took %v to fail", d)
	}

	// A server that speaks HTTP and answers whatever it reads with a 400,
	// which a Kafka client reads as a 1.2 GB frame.
	http400 := testhelp.Serve(t, func(c net.Conn) {
		defer c.Close()
		buf := make([]byte, 512)
		if _, err := c.Read(buf); err == nil {
			c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
		}
	})
	_, err = kafka.NewClient(testhelp.Ctx(t, 20*time.Second), http400)
	if !errors.Is(err, kafka.ErrNoBrokers) || !errors.Is(err, kafka.ErrCorruptResponse) {
		t.Fatalf("HTTP server answering 400: %v, want ErrNoBrokers wrapping ErrCorruptResponse", err)
	}

	// Go's HTTP server waits for a request line that never comes: the
	// dial timeout bounds the handshake.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	start = time.Now()
	_, err = kafka.NewClient(testhelp.Ctx(t, 20*time.Second), strings.TrimPrefix(srv.URL, "http://"), kafka.WithDialTimeout(time.Second))
	if !errors.Is(err, kafka.ErrNoBrokers) || !errors.Is(err, kafka.ErrConnection) {
		t.Fatalf("silent HTTP server: %v, want ErrNoBrokers wrapping ErrConnection", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("silent HTTP server took %v with a 1s dial timeout", d)
	}

	// A server that accepts and never answers: the context bounds it.
	silent := testhelp.Serve(t, func(net.Conn) {}) // connections stay open until the test ends
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start = time.Now()
	if _, err := kafka.NewClient(ctx, silent); err == nil {
		t.Fatal("silent server: no error")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("silent server took %v despite a 1s context", d)
	}

	for _, hosts := range []string{"", " , ", "no-port", "host:1:2"} {
		if _, err := kafka.NewClient(context.Background(), hosts); !errors.Is(err, kafka.ErrInvalidConfig) {
			t.Errorf("hosts %q: %v, want ErrInvalidConfig", hosts, err)
		}
	}
	if _, err := kafka.NewClient(context.Background(), brokers(), kafka.WithRequestTimeout(-1)); !errors.Is(err, kafka.ErrInvalidConfig) {
		t.Errorf("negative request timeout: %v", err)
	}
}

func TestCloseStopsEverything(t *testing.T) {
	testhelp.NoLeaks(t)
	client, err := kafka.NewClient(testhelp.Ctx(t, 30*time.Second), brokers())
	if err != nil {
		t.Fatal(err)
	}
	topic, err := client.CreateTopic(testhelp.Ctx(t, time.Minute), testhelp.UniqueName(t, "t"), kafka.TopicConfig{Partitions: 3, ReplicationFactor: 3})
	if err != nil {
		t.Fatal(err)
	}
	p, err := topic.NewProducer(kafka.ProducerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testhelp.Ctx(t, time.Minute)
	for i := 0; i < 100; i++ {
		if err := p.Produce(ctx, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	c, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerGroup: testhelp.UniqueName(t, "g"), ConsumerOptions: kafka.ConsumerOptions{AutoCommit: true}})
	if err != nil {
		t.Fatal(err)
	}
	consumeN(t, c, 10)
	// Client.Close closes the producer (flushing) and the consumer.
	if err := client.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Produce(ctx, []byte("late")); !errors.Is(err, kafka.ErrClosed) {
		t.Fatalf("Produce after client Close: %v", err)
	}
	if _, err := c.Consume(ctx); !errors.Is(err, kafka.ErrClosed) {
		t.Fatalf("Consume after client Close: %v", err)
	}
	if _, err := client.Topic(ctx, topic.Name()); !errors.Is(err, kafka.ErrClosed) {
		t.Fatalf("Topic after Close: %v", err)
	}
	other, err := kafka.NewClient(ctx, brokers())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	again, err := other.Topic(ctx, topic.Name())
	if err != nil {
		t.Fatal(err)
	}
	latest, err := again.LatestOffsets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sum := latest[0] + latest[1] + latest[2]; sum != 100 {
		t.Fatalf("client Close flushed %d of the 100 queued messages", sum)
	}
}
