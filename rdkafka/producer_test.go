//go:build cgo && !nordkafka

package rdkafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/records"
	"github.com/gokafka/kafka/testhelp"
)

// testMessage is message i of the round-trip tests: every third has
// headers (one of them null), every other one a timestamp in the past; the
// others are stamped by clock, as the root stamps messages produced
// without a timestamp before an engine sees them.
func testMessage(topic string, i, partitions int, base time.Time, clock *engine.Clock) *engine.Message {
	m := &engine.Message{
		Topic:     topic,
		Partition: int32(i % partitions),
		Key:       []byte("k" + strconv.Itoa(i)),
		Value:     []byte("value-" + strconv.Itoa(i)),
	}
	if i%3 == 0 {
		m.Headers = []records.Header{{Key: "i", Value: []byte(strconv.Itoa(i))}, {Key: "empty", Value: []byte{}}, {Key: "null"}}
	}
	if i%2 == 0 {
		m.Timestamp = base.Add(time.Duration(i) * time.Millisecond)
	} else {
		m.Timestamp = clock.Now()
	}
	return m
}

// TestProduceRoundTrip produces messages with keys, headers and timestamps
// to three partitions through the engine interface, then checks the
// delivery reports, what kcat reads, and what the engine's fetcher reads.
func TestProduceRoundTrip(t *testing.T) {
	testhelp.NoLeaks(t)
	cl := testhelp.NewCluster(t, nil)
	const parts, n = 3, 3000
	topic := testhelp.CreateTopic(t, nil, parts)
	p := startProducer(t, cl, testhelp.ProducerConfig())
	base := time.UnixMilli(1700000000000)
	var clock engine.Clock
	sent := make([]*engine.Message, n)
	rep := testhelp.NewReports(n)
	for i := range n {
		sent[i] = testMessage(topic, i, parts, base, &clock)
		if err := p.Produce(t.Context(), sent[i], rep.Done); err != nil {
			t.Fatalf("Produce %d: %v", i, err)
		}
	}
	rep.Wait(t, time.Minute)
	if len(rep.Errors()) > 0 {
		t.Fatalf("%d deliveries failed, first: %v", len(rep.Errors()), rep.Errors()[0])
	}
	// Reports: the message itself, partition kept, offsets 0..n/parts-1
	// in each partition (one idempotent producer, nothing else writes).
	offs := map[int32][]int64{}
	for _, m := range rep.Acked() {
		offs[m.Partition] = append(offs[m.Partition], m.Offset)
	}
	for part := int32(0); part < parts; part++ {
		o := offs[part]
		slices.Sort(o)
		if len(o) != n/parts || o[0] != 0 || o[len(o)-1] != int64(n/parts-1) {
			t.Fatalf("partition %d: offsets %d..%d (%d), want 0..%d", part, o[0], o[len(o)-1], len(o), n/parts-1)
		}
	}
	for i, m := range sent {
		if m.Partition != int32(i%parts) || m.Topic != topic {
			t.Fatalf("message %d reported on %s/%d, want %s/%d", i, m.Topic, m.Partition, topic, i%parts)
		}
	}
	byValue := map[string]*engine.Message{}
	for _, m := range sent {
		byValue[string(m.Value)] = m
	}

	// kcat reads what the brokers have.
	recs := kcatConsume(t, topic)
	if len(recs) != n {
		t.Fatalf("kcat read %d messages, want %d", len(recs), n)
	}
	for _, r := range recs {
		m := byValue[*r.Payload]
		if m == nil {
			t.Fatalf("kcat read unknown payload %q", *r.Payload)
		}
		if r.Partition != m.Partition || r.Offset != m.Offset {
			t.Fatalf("%q at %d/%d per kcat, reported %d/%d", *r.Payload, r.Partition, r.Offset, m.Partition, m.Offset)
		}
		if r.Key == nil || *r.Key != string(m.Key) {
			t.Fatalf("%q: kcat key %v, want %q", *r.Payload, r.Key, m.Key)
		}
		if r.TsType != "create" || r.Ts != m.Timestamp.UnixMilli() {
			t.Fatalf("%q: kcat timestamp %s %d, want create %d", *r.Payload, r.TsType, r.Ts, m.Timestamp.UnixMilli())
		}
		var want []string
		for _, h := range m.Headers {
			want = append(want, h.Key, string(h.Value))
		}
		// kcat prints a null header value like an empty one.
		if !slices.Equal(r.Headers, want) {
			t.Fatalf("%q: kcat headers %q, want %q", *r.Payload, r.Headers, want)
		}
	}

	// The fetcher reads the same, null header included.
	f := startFetcher(t, cl, testhelp.FetcherConfig())
	assignAll(t, f, topic, parts, 0, 1)
	got := map[engine.TopicPartition]*consumed{}
	pollUntil(t, f, time.Minute, 1, got, func() bool { return total(got) >= n })
	for tp, c := range got {
		if c.hwm != int64(n/parts) {
			t.Errorf("%s: high watermark %d, want %d", tp, c.hwm, n/parts)
		}
		for _, fm := range c.msgs {
			m := byValue[string(fm.Value)]
			if m == nil || fm.Offset != m.Offset || fm.Partition != m.Partition || string(fm.Key) != string(m.Key) ||
				!fm.Timestamp.Equal(m.Timestamp.Truncate(time.Millisecond)) || fm.Topic != topic {
				t.Fatalf("fetched %+v, produced %+v", fm, m)
			}
			if len(fm.Headers) != len(m.Headers) {
				t.Fatalf("%q: %d headers fetched, want %d", fm.Value, len(fm.Headers), len(m.Headers))
			}
			for i, h := range fm.Headers {
				w := m.Headers[i]
				if h.Key != w.Key || string(h.Value) != string(w.Value) || (h.Value == nil) != (w.Value == nil) {
					t.Fatalf("%q: header %d is %q=%q (nil %v), want %q=%q (nil %v)", fm.Value, i, h.Key, h.Value, h.Value == nil, w.Key, w.Value, w.Value == nil)
				}
			}
		}
	}
	// Close both before goleak looks.
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestProduceSizeLimits: the root refuses messages over MaxMessageBytes
// (engine.CheckSize) before the engine sees them, so a message at the limit
// must be accepted by librdkafka too, whose own check estimates more
// framing; and a message that only librdkafka's own limit (lowered
// through RdkafkaConfig here) refuses fails alone, in its report, with
// ErrMessageTooLarge, naming its partition.
func TestProduceSizeLimits(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 1)
	cfg := testhelp.ProducerConfig()
	cfg.MaxMessageBytes = 10000 // a limit a test message can reach
	p := startProducer(t, cl, cfg)
	rep := testhelp.NewReports(2)
	if err := p.Produce(t.Context(), &engine.Message{Topic: topic, Value: []byte("before")}, rep.Done); err != nil {
		t.Fatal(err)
	}
	// The largest value the root lets through, and one byte more.
	fits := &engine.Message{Topic: topic, Value: make([]byte, 9980)}
	for engine.CheckSize(&engine.Message{Value: make([]byte, len(fits.Value)+1)}, cfg.MaxMessageBytes) == nil {
		fits.Value = make([]byte, len(fits.Value)+1)
	}
	if err := engine.CheckSize(fits, cfg.MaxMessageBytes); err != nil {
		t.Fatalf("test message: %v", err)
	}
	if err := p.Produce(t.Context(), fits, rep.Done); err != nil {
		t.Fatalf("Produce of a message at the limit (%d bytes of value): %v", len(fits.Value), err)
	}
	rep.Wait(t, time.Minute)
	if len(rep.Errors()) > 0 {
		t.Fatalf("deliveries failed: %v", rep.Errors())
	}
	if recs := kcatConsume(t, topic); len(recs) != 2 || *recs[0].Payload != "before" || len(*recs[1].Payload) != len(fits.Value) {
		t.Fatalf("kcat read %d messages, want the 2 accepted", len(recs))
	}

	// librdkafka's own limit, lower than MaxMessageBytes through a raw
	// override: its refusal maps to ErrMessageTooLarge too, and comes in
	// the message's report (librdkafka is given messages after Produce
	// returned, feed.go).
	cfg.Raw = map[string]any{"message.max.bytes": 5000}
	p2 := startProducer(t, cl, cfg)
	refused := testhelp.NewReports(1)
	if err := p2.Produce(t.Context(), &engine.Message{Topic: topic, Value: make([]byte, 8000)}, refused.Done); err != nil {
		t.Fatalf("Produce over librdkafka's message.max.bytes: %v, want its refusal in the report", err)
	}
	refused.Wait(t, time.Minute)
	if len(refused.Errors()) != 1 {
		t.Fatalf("report of a message over librdkafka's message.max.bytes: errors %v, want one", refused.Errors())
	}
	err := refused.Errors()[0]
	if !errors.Is(err, kerr.ErrMessageTooLarge) {
		t.Fatalf("report of a message over librdkafka's message.max.bytes: %v, want ErrMessageTooLarge", err)
	}
	var ke kafka.Error
	if !errors.As(err, &ke) {
		t.Fatalf("%v: librdkafka's error is not in the chain", err)
	}
	if !strings.Contains(err.Error(), topic+"/0") {
		t.Fatalf("%v: the error does not name the partition %s/0", err, topic)
	}
	rep2 := testhelp.NewReports(1)
	if err := p2.Produce(t.Context(), &engine.Message{Topic: topic, Value: []byte("small")}, rep2.Done); err != nil {
		t.Fatal(err)
	}
	rep2.Wait(t, time.Minute)
	if len(rep2.Errors()) > 0 {
		t.Fatal(rep2.Errors()[0])
	}
}

// blockingDone returns a DoneFunc that blocks until release is closed, and
// a channel that receives each message it was called for.
func blockingDone(release <-chan struct{}) (engine.DoneFunc, <-chan error) {
	called := make(chan error, 100)
	return func(m *engine.Message, err error) {
		called <- err
		<-release
	}, called
}

// TestQueueFull fills MaxQueued with messages whose delivery reports are
// held up (the DoneFunc blocks), then checks both modes: ErrQueueFull at
// once, or blocking until a report frees a slot or ctx ends.
func TestQueueFull(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 1)
	for _, failFast := range []bool{true, false} {
		t.Run(fmt.Sprintf("FailWhenFull=%v", failFast), func(t *testing.T) {
			cfg := testhelp.ProducerConfig()
			cfg.MaxQueued = 3 // so that three held reports fill it
			cfg.FailWhenFull = failFast
			p := startProducer(t, cl, cfg)
			release := make(chan struct{})
			done, called := blockingDone(release)
			for i := range 3 {
				if err := p.Produce(t.Context(), &engine.Message{Topic: topic, Value: []byte(fmt.Sprint(i))}, done); err != nil {
					t.Fatalf("Produce %d: %v", i, err)
				}
			}
			// The first report is being delivered and blocks: three
			// messages are still queued as far as MaxQueued goes.
			select {
			case err := <-called:
				if err != nil {
					t.Fatalf("delivery: %v", err)
				}
			case <-time.After(time.Minute):
				t.Fatal("no delivery report")
			}
			if failFast {
				err := p.Produce(t.Context(), &engine.Message{Topic: topic, Value: []byte("x")}, done)
				if !errors.Is(err, kerr.ErrQueueFull) {
					t.Fatalf("Produce on a full queue: %v, want ErrQueueFull", err)
				}
			} else {
				start := time.Now() // before the deadline is set, which counts from WithTimeout
				ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
				err := p.Produce(ctx, &engine.Message{Topic: topic, Value: []byte("x")}, done)
				cancel()
				if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < 250*time.Millisecond {
					t.Fatalf("Produce on a full queue returned %v after %v, want DeadlineExceeded after 300ms", err, time.Since(start))
				}
			}
			if !failFast {
				// A Produce that waits is let through by a delivery.
				result := make(chan error, 1)
				go func() {
					result <- p.Produce(context.Background(), &engine.Message{Topic: topic, Value: []byte("late")}, done)
				}()
				select {
				case err := <-result:
					t.Fatalf("Produce on a full queue returned %v, want it to wait", err)
				case <-time.After(200 * time.Millisecond):
				}
				close(release)
				if err := <-result; err != nil {
					t.Fatalf("waiting Produce after a delivery: %v", err)
				}
			} else {
				close(release)
			}
			if err := p.Flush(testhelp.Ctx(t, time.Minute)); err != nil {
				t.Fatal(err)
			}
			if err := p.Produce(t.Context(), &engine.Message{Topic: topic, Value: []byte("after")}, func(*engine.Message, error) {}); err != nil {
				t.Fatalf("Produce once the queue drained: %v", err)
			}
		})
	}
}

// TestProduceWaitingForRoomStopsAtClose: a Produce blocked on a full
// queue fails with ErrClosed when the producer closes.
func TestProduceWaitingForRoomStopsAtClose(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 1)
	cfg := testhelp.ProducerConfig()
	cfg.MaxQueued = 1 // one held report fills it
	p := startProducer(t, cl, cfg)
	release := make(chan struct{})
	done, called := blockingDone(release)
	if err := p.Produce(t.Context(), &engine.Message{Topic: topic, Value: []byte("a")}, done); err != nil {
		t.Fatal(err)
	}
	<-called
	result := make(chan error, 1)
	go func() {
		result <- p.Produce(context.Background(), &engine.Message{Topic: topic, Value: []byte("b")}, done)
	}()
	closed := make(chan error, 1)
	go func() { closed <- p.Close(context.Background()) }()
	select {
	case err := <-result:
		if !errors.Is(err, kerr.ErrClosed) {
			t.Fatalf("blocked Produce at Close: %v, want ErrClosed", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("blocked Produce did not return at Close")
	}
	close(release) // Close waits for the report being delivered
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Produce(t.Context(), &engine.Message{Topic: topic, Value: []byte("c")}, done); !errors.Is(err, kerr.ErrClosed) {
		t.Fatalf("Produce after Close: %v, want ErrClosed", err)
	}
}

// TestFlushIgnoresLinger: with a linger far longer than Flush's ctx, Flush
// still returns after every message was reported, because librdkafka sends
// at once while flushing.
func TestFlushIgnoresLinger(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 2)
	cfg := testhelp.ProducerConfig()
	cfg.Linger = 30 * time.Second // far longer than Flush's ctx
	p := startProducer(t, cl, cfg)
	if err := p.Flush(testhelp.Ctx(t, 5*time.Second)); err != nil {
		t.Fatalf("Flush with nothing queued: %v", err)
	}
	const n = 500
	rep := testhelp.NewReports(n)
	for i := range n {
		if err := p.Produce(t.Context(), &engine.Message{Topic: topic, Partition: int32(i % 2), Value: []byte(fmt.Sprint(i))}, rep.Done); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if err := p.Flush(testhelp.Ctx(t, 10*time.Second)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if got := rep.Count(); got != n {
		t.Fatalf("Flush returned with %d of %d messages reported", got, n)
	}
	t.Logf("Flush of %d messages took %v (linger %v)", n, time.Since(start), cfg.Linger)
	if len(rep.Errors()) > 0 {
		t.Fatal(rep.Errors()[0])
	}
	if err := p.Close(testhelp.Ctx(t, 10*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := p.Flush(t.Context()); !errors.Is(err, kerr.ErrClosed) {
		t.Fatalf("Flush after Close: %v, want ErrClosed", err)
	}
	if err := p.Close(t.Context()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// unreachable is a producer configuration whose librdkafka instance talks
// to no broker (a port nothing listens on), so messages stay queued.
func unreachable() engine.ProducerConfig {
	cfg := testhelp.ProducerConfig()
	cfg.Raw = map[string]any{"bootstrap.servers": "127.0.0.1:1"}
	return cfg
}

// TestCloseFailsQueuedWithErrClosed: messages that cannot be delivered
// before Close's ctx ends are reported with ErrClosed, Close says so,
// Flush honours its ctx, and no goroutine is left behind.
func TestCloseFailsQueuedWithErrClosed(t *testing.T) {
	testhelp.NoLeaks(t)
	cl := testhelp.NewCluster(t, nil)
	p, err := rdkafkaEngine(t).NewProducer(t.Context(), cl, unreachable())
	if err != nil {
		t.Fatal(err)
	}
	const topic = "nowhere"
	const n = 50
	rep := testhelp.NewReports(n)
	for i := range n {
		if err := p.Produce(t.Context(), &engine.Message{Topic: topic, Value: []byte(fmt.Sprint(i))}, rep.Done); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	err = p.Flush(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("Flush of undeliverable messages: %v after %v, want DeadlineExceeded after 300ms", err, time.Since(start))
	}
	ctx, cancel = context.WithTimeout(t.Context(), 300*time.Millisecond)
	err = p.Close(ctx)
	cancel()
	if !errors.Is(err, kerr.ErrClosed) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close: %v, want ErrClosed and DeadlineExceeded", err)
	}
	rep.Wait(t, 10*time.Second)
	if len(rep.Errors()) != n {
		t.Fatalf("%d of %d messages failed", len(rep.Errors()), n)
	}
	for _, err := range rep.Errors() {
		if !errors.Is(err, kerr.ErrClosed) {
			t.Fatalf("queued message failed with %v, want ErrClosed", err)
		}
	}
	if again := p.Close(t.Context()); again != err {
		t.Fatalf("second Close: %v, want the first result %v", again, err)
	}
}

// TestDeliveryTimeout: messages librdkafka could not deliver within
// DeliveryTimeout fail with ErrDeliveryTimeout.
func TestDeliveryTimeout(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	cfg := unreachable()
	cfg.DeliveryTimeout = 500 * time.Millisecond // the test waits for it to expire
	p := startProducer(t, cl, cfg)
	const topic = "nowhere"
	rep := testhelp.NewReports(3)
	for i := range 3 {
		if err := p.Produce(t.Context(), &engine.Message{Topic: topic, Value: []byte(fmt.Sprint(i))}, rep.Done); err != nil {
			t.Fatal(err)
		}
	}
	rep.Wait(t, 30*time.Second)
	for _, err := range rep.Errors() {
		if !errors.Is(err, kerr.ErrDeliveryTimeout) {
			t.Fatalf("undeliverable message: %v, want ErrDeliveryTimeout", err)
		}
	}
	if len(rep.Errors()) != 3 {
		t.Fatalf("%d of 3 messages failed", len(rep.Errors()))
	}
}

// TestProduceAcksNone: with acks=0 the offset reported is -1.
func TestProduceAcksNone(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 1)
	cfg := testhelp.ProducerConfig()
	cfg.Acks, cfg.Idempotent = engine.RequireNone, false // idempotence needs acks=all
	p := startProducer(t, cl, cfg)
	rep := testhelp.NewReports(10)
	for i := range 10 {
		if err := p.Produce(t.Context(), &engine.Message{Topic: topic, Value: []byte(fmt.Sprint(i))}, rep.Done); err != nil {
			t.Fatal(err)
		}
	}
	rep.Wait(t, time.Minute)
	for _, m := range rep.Acked() {
		if m.Offset != -1 {
			t.Fatalf("acks=0: offset %d reported, want -1", m.Offset)
		}
	}
	if len(rep.Errors()) > 0 {
		t.Fatal(rep.Errors()[0])
	}
}
