package kafka_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
)

// Bad input, on the real cluster and both engines: every bad input gets a
// typed error (errors.Is-able) within its timeout — no panic, no hang.
// Faults a real broker cannot be made to produce (corrupt frames, lying
// sizes) are injected by testhelp.FakeBroker in internal/wire and
// internal/cluster.

func TestBadInputTopicNames(t *testing.T) {
	client := newClient(t)
	ctx := testhelp.Ctx(t, time.Minute)
	bad := []string{
		"", ".", "..",
		strings.Repeat("x", 250), strings.Repeat("y", 1000),
		"has space", "tab\there", "new\nline", "nul\x00byte",
		"sl/ash", `back\slash`, "colon:", "star*", "quest?", `quote"`, "lt<", "gt>", "pipe|",
		"comma,", "plus+", "eq=", "hash#", "at@", "dollar$", "percent%", "caret^", "amp&",
		"paren(", "brace{", "bracket[", "tilde~", "tick`", "apos'", "semi;", "bang!",
		"é-accent", "日本", "emoji-🙂", "\xff\xfe",
	}
	for _, name := range bad {
		if _, err := client.Topic(ctx, name); !errors.Is(err, kafka.ErrInvalidTopic) {
			t.Errorf("Topic(%q): %v, want ErrInvalidTopic", name, err)
		}
		if _, err := client.CreateTopic(ctx, name, kafka.TopicConfig{Partitions: 1}); !errors.Is(err, kafka.ErrInvalidTopic) {
			t.Errorf("CreateTopic(%q): %v, want ErrInvalidTopic", name, err)
		}
		if err := client.DeleteTopic(ctx, name); !errors.Is(err, kafka.ErrInvalidTopic) {
			t.Errorf("DeleteTopic(%q): %v, want ErrInvalidTopic", name, err)
		}
	}
	// Legal names at the edges of the rules are unknown, not invalid.
	for _, name := range []string{strings.Repeat("z", 249), "a", "...", ".a", "a..b", "_-.", "Mixed.Case_9-x"} {
		if _, err := client.Topic(ctx, name); !errors.Is(err, kafka.ErrUnknownTopic) || errors.Is(err, kafka.ErrInvalidTopic) {
			t.Errorf("Topic(%q): %v, want ErrUnknownTopic", name, err)
		}
	}
	// The broker agrees that a 249-character name is legal.
	long := testhelp.UniqueName(t, "t")
	long += strings.Repeat("l", 249-len(long))
	topic, err := client.CreateTopic(ctx, long, kafka.TopicConfig{Partitions: 1, ReplicationFactor: 1})
	if err != nil {
		t.Fatalf("CreateTopic with a 249-character name: %v", err)
	}
	produce(t, topic, kafka.ProducerConfig{}, 1, func(int) *kafka.Message { return &kafka.Message{Value: []byte("v")} })
	if err := client.DeleteTopic(ctx, long); err != nil {
		t.Fatal(err)
	}
}

// nullCase is a record whose key, value and header value are each nil or
// empty; the distinction must survive the trip through Kafka.
type nullCase struct {
	name              string
	key, value, hval  []byte
	emptyHeaderKey    bool
	nilHeaderAsSecond bool
}

var nullCases = []nullCase{
	{name: "nil key, nil value (tombstone)"},
	{name: "empty key, empty value", key: []byte{}, value: []byte{}, hval: []byte{}},
	{name: "nil key, empty value", value: []byte{}},
	{name: "empty key, nil value", key: []byte{}, hval: []byte{}},
	{name: "key, tombstone", key: []byte("k"), emptyHeaderKey: true},
	{name: "empty key, value", key: []byte{}, value: []byte("v"), nilHeaderAsSecond: true},
	{name: "key, empty value", key: []byte("k"), value: []byte{}, hval: []byte("h")},
}

func (c nullCase) message() *kafka.Message {
	m := &kafka.Message{Key: c.key, Value: c.value, Headers: []kafka.Header{{Key: "h", Value: c.hval}}}
	if c.emptyHeaderKey {
		m.Headers = append(m.Headers, kafka.Header{Key: "", Value: []byte{}})
	}
	if c.nilHeaderAsSecond {
		m.Headers = append(m.Headers, kafka.Header{Key: "n", Value: nil})
	}
	return m
}

// sameBytes is bytes.Equal that also tells nil from empty.
func sameBytes(a, b []byte) bool { return (a == nil) == (b == nil) && bytes.Equal(a, b) }

func TestBadInputNilAndEmptyKeysAndValues(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		topic := newTopic(t, client, 1)
		produce(t, topic, kafka.ProducerConfig{UseRdkafka: e.rdkafka}, len(nullCases), func(i int) *kafka.Message {
			return nullCases[i].message()
		})
		// Whichever engine produced, both engines read back the same
		// thing: nil stays nil, empty stays empty.
		for _, reader := range engines {
			if reader.rdkafka && !rdkafkaCompiled(t, topic) {
				continue
			}
			c, err := topic.NewSimpleConsumer(testhelp.Ctx(t, time.Minute), kafka.ConsumerConfig{ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: reader.rdkafka}})
			if err != nil {
				t.Fatal(err)
			}
			got := consumeN(t, c, len(nullCases))
			c.Close(context.Background())
			for i, m := range got {
				want := nullCases[i].message()
				if m.Offset != int64(i) {
					t.Fatalf("%s reader: message %d at offset %d", reader.name, i, m.Offset)
				}
				if !sameBytes(m.Key, want.Key) || !sameBytes(m.Value, want.Value) {
					t.Errorf("%s reader, %s: key %#v value %#v, want key %#v value %#v",
						reader.name, nullCases[i].name, m.Key, m.Value, want.Key, want.Value)
				}
				if len(m.Headers) != len(want.Headers) {
					t.Errorf("%s reader, %s: headers %v, want %v", reader.name, nullCases[i].name, m.Headers, want.Headers)
					continue
				}
				for j, h := range m.Headers {
					if h.Key != want.Headers[j].Key || !sameBytes(h.Value, want.Headers[j].Value) {
						t.Errorf("%s reader, %s: header %d is %q=%#v, want %q=%#v", reader.name, nullCases[i].name,
							j, h.Key, h.Value, want.Headers[j].Key, want.Headers[j].Value)
					}
				}
			}
		}
	})
}

func TestBadInputOversizeMessages(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		ctx := testhelp.Ctx(t, 2*time.Minute)

		// Over our MaxMessageBytes: refused before it is queued, however
		// the bytes are spread over key, value and headers.
		topic := newTopic(t, client, 1)
		p, err := topic.NewProducer(kafka.ProducerConfig{Sync: true, MaxMessageBytes: 2000, UseRdkafka: e.rdkafka})
		if err != nil {
			t.Fatal(err)
		}
		for name, m := range map[string]*kafka.Message{
			"value":   {Value: make([]byte, 3000)},
			"key":     {Key: make([]byte, 3000)},
			"headers": {Value: []byte("v"), Headers: []kafka.Header{{Key: "a", Value: make([]byte, 1500)}, {Key: "b", Value: make([]byte, 1500)}}},
		} {
			if err := p.ProduceMessage(ctx, m); !errors.Is(err, kafka.ErrMessageTooLarge) {
				t.Errorf("oversize %s: %v, want ErrMessageTooLarge", name, err)
			}
		}
		if err := p.Produce(ctx, []byte("fits")); err != nil {
			t.Fatalf("a message that fits, after refused ones: %v", err)
		}
		if err := p.Close(ctx); err != nil {
			t.Fatal(err)
		}

		// Under ours, over the topic's max.message.bytes: the broker's
		// MESSAGE_TOO_LARGE, at once (it is not retriable), both as the
		// sync error and in the delivery report.
		small := newTopic(t, client, 1, "max.message.bytes", "2000")
		sync, err := small.NewProducer(kafka.ProducerConfig{Sync: true, DeliveryTimeout: time.Minute, UseRdkafka: e.rdkafka})
		if err != nil {
			t.Fatal(err)
		}
		defer sync.Close(context.Background())
		start := time.Now()
		if err := sync.Produce(ctx, make([]byte, 5000)); !errors.Is(err, kafka.ErrBrokerMessageTooLarge) {
			t.Fatalf("over the topic's max.message.bytes: %v, want ErrBrokerMessageTooLarge", err)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Fatalf("MESSAGE_TOO_LARGE took %v: retried as if it were retriable?", d)
		}
		if err := sync.Produce(ctx, []byte("fits")); err != nil {
			t.Fatalf("a message that fits, after the broker refused one: %v", err)
		}

		async, err := small.NewProducer(kafka.ProducerConfig{DeliveryReports: true, DeliveryTimeout: time.Minute, UseRdkafka: e.rdkafka})
		if err != nil {
			t.Fatal(err)
		}
		if err := async.Produce(ctx, make([]byte, 5000), kafka.WithOpaque("big")); err != nil {
			t.Fatalf("async Produce of a message only the broker refuses: %v", err)
		}
		select {
		case r := <-async.DeliveryReports():
			if r.Message.Opaque != "big" || !errors.Is(r.Err, kafka.ErrBrokerMessageTooLarge) {
				t.Fatalf("report %v for %v, want ErrBrokerMessageTooLarge for big", r.Err, r.Message.Opaque)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("no delivery report within 30s for a message the broker refuses")
		}
		if err := async.Close(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestBadInputUnknownAndDeletedTopic(t *testing.T) {
	client := newClient(t)
	ctx := testhelp.Ctx(t, time.Minute)
	// Auto-create is off by default: a missing topic is ErrUnknownTopic,
	// and asking does not create it.
	missing := testhelp.UniqueName(t, "missing")
	for range 2 {
		if _, err := client.Topic(ctx, missing); !errors.Is(err, kafka.ErrUnknownTopic) {
			t.Fatalf("unknown topic: %v, want ErrUnknownTopic", err)
		}
	}
	if names, err := client.Topics(ctx); err != nil || containsString(names, missing) {
		t.Fatalf("Topics after asking for a missing one: %v %v", names, err)
	}

	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		admin := newClient(t)
		topic := newTopic(t, client, 1)
		const deliveryTimeout = 8 * time.Second
		p, err := topic.NewProducer(kafka.ProducerConfig{Sync: true, DeliveryTimeout: deliveryTimeout, UseRdkafka: e.rdkafka})
		if err != nil {
			t.Fatal(err)
		}
		ctx := testhelp.Ctx(t, 2*time.Minute)
		if err := p.Produce(ctx, []byte("before")); err != nil {
			t.Fatal(err)
		}
		// Another client deletes the topic under the producer.
		if err := admin.DeleteTopic(ctx, topic.Name()); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			start := time.Now()
			err := p.Produce(ctx, []byte("after"))
			d := time.Since(start)
			if !errors.Is(err, kafka.ErrUnknownTopic) && !errors.Is(err, kafka.ErrUnknownTopicOrPartition) && !errors.Is(err, kafka.ErrDeliveryTimeout) {
				t.Fatalf("produce %d to a deleted topic: %v, want ErrUnknownTopic, UNKNOWN_TOPIC_OR_PARTITION or ErrDeliveryTimeout", i, err)
			}
			if d > deliveryTimeout+15*time.Second {
				t.Fatalf("produce %d to a deleted topic took %v with a %v delivery timeout", i, d, deliveryTimeout)
			}
			t.Logf("produce %d to the deleted topic: %v after %v", i, err, d.Round(time.Millisecond))
		}
		closeStart := time.Now()
		p.Close(ctx)
		if d := time.Since(closeStart); d > deliveryTimeout+15*time.Second {
			t.Fatalf("Close of a producer whose topic is gone took %v", d)
		}
		// Nobody resurrected the topic by asking for it.
		if _, err := admin.Topic(ctx, topic.Name()); !errors.Is(err, kafka.ErrUnknownTopic) {
			t.Fatalf("the deleted topic is back: %v", err)
		}
	})
}

func containsString(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestBadInputPartitioner(t *testing.T) {
	client := newClient(t)
	topic := newTopic(t, client, 2)
	ctx := testhelp.Ctx(t, time.Minute)
	for _, chosen := range []int32{-1, 2, 1 << 30} {
		p, err := topic.NewProducer(kafka.ProducerConfig{Partitioner: func(*kafka.Message, int32) int32 { return chosen }})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Produce(ctx, []byte("x")); !errors.Is(err, kafka.ErrUnknownPartition) {
			t.Errorf("partitioner choosing %d of 2: %v, want ErrUnknownPartition", chosen, err)
		}
		if err := p.ProduceMessage(ctx, nil); !errors.Is(err, kafka.ErrNilMessage) {
			t.Errorf("nil message: %v", err)
		}
		if err := p.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := p.Produce(ctx, []byte("x")); !errors.Is(err, kafka.ErrClosed) {
			t.Errorf("Produce after Close: %v", err)
		}
		if err := p.Flush(ctx); !errors.Is(err, kafka.ErrClosed) {
			t.Errorf("Flush after Close: %v", err)
		}
	}
}

func TestBadInputConsumers(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		topic := newTopic(t, client, 2)
		produce(t, topic, kafka.ProducerConfig{Partitioner: func(*kafka.Message, int32) int32 { return 0 }, UseRdkafka: e.rdkafka}, 3, keyed)
		ctx := testhelp.Ctx(t, 2*time.Minute)

		// Partitions that do not exist, and an empty list.
		for _, parts := range [][]int32{{-1}, {2}, {0, 7}, {1 << 30}, {}} {
			_, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{Partitions: parts, ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: e.rdkafka}})
			var ce *kafka.ConfigError
			if !errors.As(err, &ce) || ce.Field != "ConsumerConfig.Partitions" || !errors.Is(err, kafka.ErrInvalidConfig) {
				t.Errorf("Partitions %v: %v, want a ConfigError on ConsumerConfig.Partitions", parts, err)
			}
		}

		_, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{
			Partitions:      []int32{0},
			ConsumerOptions: kafka.ConsumerOptions{AutoOffsetReset: kafka.ResetNone, ResetOffsetOnStart: false, UseRdkafka: e.rdkafka, ConsumerTimeout: 20 * time.Second},
		})
		if !errors.Is(err, kafka.ErrOffsetOutOfRange) {
			t.Fatalf("ResetNone without a group or committed offset: %v, want ErrOffsetOutOfRange", err)
		}
		c, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{Partitions: []int32{0}, ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: e.rdkafka, ConsumerTimeout: 20 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		// Offsets: negative ones other than the two special values, and
		// partitions the consumer does not read.
		for _, target := range []map[int32]int64{{0: -3}, {0: -1 << 62}} {
			if err := c.ResetOffsets(ctx, at(topic, target)); !errors.Is(err, kafka.ErrOffsetOutOfRange) {
				t.Errorf("ResetOffsets(%v): %v, want ErrOffsetOutOfRange", target, err)
			}
		}
		for _, target := range []map[int32]int64{{1: 0}, {5: 0}, {-1: 0}} {
			if err := c.ResetOffsets(ctx, at(topic, target)); !errors.Is(err, kafka.ErrUnknownPartition) {
				t.Errorf("ResetOffsets(%v): %v, want ErrUnknownPartition", target, err)
			}
		}
		// Still usable after refusing those.
		if m, err := c.Consume(ctx); err != nil || m.Offset != 0 {
			t.Fatalf("Consume after refused resets: %v, %v", m, err)
		}
		// No group: offset storage is ErrNoGroup.
		if err := c.CommitOffsets(ctx); !errors.Is(err, kafka.ErrNoGroup) {
			t.Errorf("CommitOffsets without a group: %v", err)
		}
		if _, err := c.FetchOffsets(ctx); !errors.Is(err, kafka.ErrNoGroup) {
			t.Errorf("FetchOffsets without a group: %v", err)
		}

		// Close while another goroutine waits in Consume: it returns
		// ErrClosed rather than waiting for ConsumerTimeout.
		consumeN(t, c, 2) // offsets 1, 2: the partition is now drained
		var wg sync.WaitGroup
		wg.Add(1)
		var blockedErr error
		var blockedFor time.Duration
		go func() {
			defer wg.Done()
			start := time.Now()
			_, blockedErr = c.Consume(ctx)
			blockedFor = time.Since(start)
		}()
		waitForStack(t, "consumerCore).consume", ".Poll(")
		if err := c.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		wg.Wait()
		t.Logf("Consume blocked during Close returned after %v", blockedFor.Round(time.Millisecond))
		if !errors.Is(blockedErr, kafka.ErrClosed) {
			t.Fatalf("Consume blocked during Close: %v, want ErrClosed", blockedErr)
		}
		if blockedFor > 15*time.Second {
			t.Fatalf("a Consume blocked during Close waited %v", blockedFor)
		}
		// After Close: typed errors, and Close again is harmless.
		if _, err := c.Consume(ctx); !errors.Is(err, kafka.ErrClosed) {
			t.Errorf("Consume after Close: %v, want ErrClosed", err)
		}
		for m, err := range c.Messages(ctx) {
			t.Errorf("Messages after Close yielded %v, %v", m, err)
		}
		if err := c.ResetOffsets(ctx, at(topic, map[int32]int64{0: 0})); !errors.Is(err, kafka.ErrClosed) {
			t.Errorf("ResetOffsets after Close: %v, want ErrClosed", err)
		}
		if err := c.Close(ctx); err != nil {
			t.Errorf("second Close: %v", err)
		}

		// An offset past the end: ResetEarliest (the default) moves back
		// to the start (ResetNone is TestBadInputOffsetPastTheEndWithResetNone).
		strict, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{Partitions: []int32{0}, ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: e.rdkafka, ConsumerTimeout: 30 * time.Second}})
		if err != nil {
			t.Fatal(err)
		}
		defer strict.Close(context.Background())
		if err := strict.ResetOffsets(ctx, at(topic, map[int32]int64{0: 1000})); err != nil {
			t.Fatal(err)
		}
		if m, err := strict.Consume(ctx); err != nil || m.Offset != 0 {
			t.Fatalf("offset 1000 of 3 with ResetEarliest: %v, %v, want offset 0", m, err)
		}
	})
}

// waitForStack polls, with a deadline, until some goroutine's stack holds
// every one of frames: how a test knows that a call is blocked inside.
func waitForStack(t *testing.T, frames ...string) {
	t.Helper()
	buf := make([]byte, 1<<20)
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.Stack(buf, true)
		for _, g := range strings.Split(string(buf[:n]), "\n\n") {
			all := true
			for _, f := range frames {
				all = all && strings.Contains(g, f)
			}
			if all {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no goroutine in %v after 10s", frames)
		}
		time.Sleep(time.Millisecond) // polling a condition, with a deadline
	}
}

func TestBadInputOffsetPastTheEndWithResetNone(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		topic := newTopic(t, client, 1)
		produce(t, topic, kafka.ProducerConfig{UseRdkafka: e.rdkafka}, 3, keyed)
		ctx := testhelp.Ctx(t, 2*time.Minute)
		group := testhelp.UniqueName(t, "g")
		// Commit a position past the end under a group, then start a
		// ResetNone consumer from it.
		commitGroupOffsets(t, ctx, topic, group, e, map[int32]int64{0: 1000})
		c, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{
			ConsumerGroup:   group,
			ConsumerOptions: kafka.ConsumerOptions{AutoOffsetReset: kafka.ResetNone, ConsumerTimeout: 30 * time.Second, UseRdkafka: e.rdkafka},
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(context.Background())
		start := time.Now()
		if m, err := c.Consume(ctx); !errors.Is(err, kafka.ErrOffsetOutOfRange) {
			t.Fatalf("committed offset 1000 of 3 with ResetNone: %v, %v, want ErrOffsetOutOfRange", m, err)
		}
		d := time.Since(start)
		if d > 25*time.Second {
			t.Fatalf("ErrOffsetOutOfRange took %v", d)
		}
		t.Logf("ErrOffsetOutOfRange after %v", d.Round(time.Millisecond))
	})
}

func TestBadInputBootstrapServers(t *testing.T) {
	// Each fake answers on 127.0.0.1; each must fail NewClient with
	// ErrNoBrokers wrapping the typed cause, within the dial timeout.
	const dialTimeout = 2 * time.Second
	check := func(name, addr string, causes ...error) {
		t.Helper()
		start := time.Now()
		c, err := kafka.NewClient(testhelp.Ctx(t, 30*time.Second), addr, kafka.WithDialTimeout(dialTimeout), kafka.WithRequestTimeout(dialTimeout))
		if err == nil {
			c.Close()
			t.Fatalf("%s: NewClient succeeded", name)
		}
		typed := false
		for _, cause := range causes {
			typed = typed || errors.Is(err, cause)
		}
		if !errors.Is(err, kafka.ErrNoBrokers) || !typed {
			t.Errorf("%s: %v, want ErrNoBrokers wrapping one of %v", name, err, causes)
		}
		if d := time.Since(start); d > 3*dialTimeout {
			t.Errorf("%s: failed after %v with a %v dial timeout", name, d, dialTimeout)
		}
	}

	check("closes right after accept", testhelp.Serve(t, func(c net.Conn) { c.Close() }), kafka.ErrConnection)
	check("resets right after accept", testhelp.Serve(t, func(c net.Conn) {
		c.(*net.TCPConn).SetLinger(0)
		c.Close()
	}), kafka.ErrConnection)
	check("closes after reading the request", testhelp.Serve(t, func(c net.Conn) {
		c.Read(make([]byte, 512))
		c.Close()
	}), kafka.ErrConnection)
	check("sends a banner (SSH) on accept", testhelp.Serve(t, func(c net.Conn) {
		defer c.Close()
		c.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
		c.Read(make([]byte, 512))
	}), kafka.ErrCorruptResponse)
	check("answers with a TLS alert", testhelp.Serve(t, func(c net.Conn) {
		defer c.Close()
		c.Read(make([]byte, 512))
		c.Write([]byte{0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46})
	}), kafka.ErrCorruptResponse)

	// A real TLS server when the client speaks plaintext: Go's TLS stack
	// reads our request as a bad record and hangs up or alerts.
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	check("TLS server, plaintext client", strings.TrimPrefix(tlsSrv.URL, "https://"), kafka.ErrConnection, kafka.ErrCorruptResponse)

	// The reverse: TLS to the real, plaintext brokers.
	start := time.Now()
	_, err := kafka.NewClient(testhelp.Ctx(t, 30*time.Second), brokers(), kafka.WithDialTimeout(dialTimeout),
		kafka.WithTLS(&tls.Config{InsecureSkipVerify: true}))
	if !errors.Is(err, kafka.ErrNoBrokers) || !errors.Is(err, kafka.ErrAuthentication) && !errors.Is(err, kafka.ErrConnection) {
		t.Errorf("TLS client, plaintext brokers: %v, want ErrNoBrokers wrapping ErrAuthentication or ErrConnection", err)
	}
	if d := time.Since(start); d > 4*dialTimeout {
		t.Errorf("TLS client, plaintext brokers: failed after %v", d)
	}
}
