package produce

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testhelp"
)

// lingerForever keeps batches unsent until a Flush, so a test controls
// exactly when the queue drains.
const lingerForever = time.Hour

func TestQueueFullFailFast(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := newTopic(t, nil, cl, 2)
	cfg := testhelp.ProducerConfig()
	cfg.MaxQueued = 10 // the queue under test, full after 10 messages
	cfg.FailWhenFull = true
	cfg.Linger = lingerForever // nothing leaves the queue until Flush
	cfg.DeliveryTimeout = 2 * lingerForever
	p := newProducer(t, cl, cfg)
	rep := testhelp.NewReports(20)
	for i := range 10 {
		mustProduce(t, p, msg(topic, int32(i%2), "v"), rep.Done)
	}
	m := msg(topic, 0, "over")
	if err := p.Produce(context.Background(), m, rep.Done); !errors.Is(err, kerr.ErrQueueFull) || !strings.Contains(err.Error(), topic+"/0") {
		t.Fatalf("11th Produce: %v, want ErrQueueFull naming %s/0", err, topic)
	}
	if err := p.Flush(testhelp.Ctx(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	// The queue drained: there is room again.
	for i := range 10 {
		mustProduce(t, p, msg(topic, int32(i%2), "w"), rep.Done)
	}
	if err := p.Flush(testhelp.Ctx(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	rep.Wait(t, time.Second)
	if errs := rep.Errors(); len(errs) > 0 {
		t.Fatalf("%v", errs[0])
	}
	if _, reported := rep.Result(m); reported {
		t.Fatal("the refused message was reported")
	}
}

func TestQueueFullBlocks(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := newTopic(t, nil, cl, 1)
	cfg := testhelp.ProducerConfig()
	cfg.MaxQueued = 10         // the queue under test, full after 10 messages
	cfg.Linger = lingerForever // nothing leaves the queue until Flush
	cfg.DeliveryTimeout = 2 * lingerForever
	p := newProducer(t, cl, cfg)
	rep := testhelp.NewReports(11)
	for range 10 {
		mustProduce(t, p, msg(topic, 0, "v"), rep.Done)
	}
	// Full: Produce waits, and gives up with its context.
	start := time.Now() // before the deadline is set, which counts from WithTimeout
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	err := p.Produce(ctx, msg(topic, 0, "late"), rep.Done)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < 200*time.Millisecond {
		t.Fatalf("Produce on a full queue: %v after %v, want DeadlineExceeded after 200ms", err, time.Since(start))
	}
	// A blocked Produce proceeds as soon as the queue drains.
	result := make(chan error, 1)
	go func() { result <- p.Produce(context.Background(), msg(topic, 0, "waited"), rep.Done) }()
	select {
	case err := <-result:
		t.Fatalf("Produce returned %v on a full queue", err)
	case <-time.After(100 * time.Millisecond):
	}
	if err := p.Flush(testhelp.Ctx(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-result:
		if err != nil {
			t.Fatalf("blocked Produce: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("blocked Produce did not proceed after the queue drained")
	}
	if err := p.Flush(testhelp.Ctx(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	rep.Wait(t, time.Second)
	// A Produce blocked on a full queue when Close begins fails with
	// ErrClosed.
	for range 10 {
		mustProduce(t, p, msg(topic, 0, "v"), func(*engine.Message, error) {})
	}
	go func() { result <- p.Produce(context.Background(), msg(topic, 0, "x"), rep.Done) }()
	testhelp.WaitUntil(t, 30*time.Second, "Produce to block on the full queue", func() bool { return goroutinesIn("engine.(*Queue).WaitBelow") > 0 })
	if err := p.Close(testhelp.Ctx(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := <-result; !errors.Is(err, kerr.ErrClosed) {
		t.Fatalf("Produce blocked at Close: %v", err)
	}
}

// TestBrokerTooLarge: the topic accepts smaller batches than the producer
// builds. Batches the broker refuses are split; a message that is too large
// for the topic on its own fails alone with MESSAGE_TOO_LARGE.
func TestBrokerTooLarge(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := newTopic(t, nil, cl, 1, "max.message.bytes", "4000")
	cfg := testhelp.ProducerConfig()
	cfg.BatchBytes = 64 << 10          // more than the topic's 4000 bytes
	cfg.Linger = 50 * time.Millisecond // so that batches fill up
	p := newProducer(t, cl, cfg)
	const n = 300
	rep := testhelp.NewReports(n + 1)
	var sent []*engine.Message
	big := msg(topic, 0, strings.Repeat("b", 5000))
	for i := range n {
		m := msg(topic, 0, fmt.Sprintf("%04d-%s", i, bytes.Repeat([]byte("x"), 90)))
		sent = append(sent, m)
		mustProduce(t, p, m, rep.Done)
		if i == n/2 {
			mustProduce(t, p, big, rep.Done)
		}
	}
	if err := p.Flush(testhelp.Ctx(t, 60*time.Second)); err != nil {
		t.Fatal(err)
	}
	rep.Wait(t, time.Second)
	errs := rep.Errors()
	if bigErr, _ := rep.Result(big); len(errs) != 1 || !errors.Is(bigErr, kerr.MessageTooLarge) {
		t.Fatalf("failures %v; want only the big message, with MESSAGE_TOO_LARGE", errs)
	}
	got := fetchAll(t, cl, topic, 0, n)
	for i, r := range got {
		if !bytes.Equal(r.Value, sent[i].Value) {
			t.Fatalf("offset %d: %q, want %q", i, r.Value[:4], sent[i].Value[:4])
		}
		if sent[i].Offset != int64(i) {
			t.Fatalf("message %d reported at offset %d", i, sent[i].Offset)
		}
	}
}

// TestBadInput: what the root validates (see engine.Producer) is checked
// again only where a mistake would be worse than an error: a config that
// would hang or spin, a partition id that would size a table, an empty
// topic name.
func TestBadInput(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	if _, err := New(context.Background(), cl, engine.ProducerConfig{}); !errors.Is(err, kerr.ErrInvalidConfig) {
		t.Fatalf("New with an empty config: %v", err)
	}
	cfg := testhelp.ProducerConfig()
	cfg.Acks = engine.RequireLeader // with Idempotent: invalid
	if _, err := New(context.Background(), cl, cfg); !errors.Is(err, kerr.ErrInvalidConfig) {
		t.Fatalf("idempotent with acks=1: %v", err)
	}
	cfg.Acks = 2
	cfg.Idempotent = false
	if _, err := New(context.Background(), cl, cfg); !errors.Is(err, kerr.ErrInvalidConfig) {
		t.Fatalf("acks=2: %v", err)
	}
	p := newProducer(t, cl, testhelp.ProducerConfig())
	nop := func(*engine.Message, error) {}
	for _, id := range []int32{-1, maxPartitions, math.MaxInt32} {
		err := p.Produce(context.Background(), msg("gokafka-never-created", id, "v"), nop)
		if !errors.Is(err, kerr.ErrUnknownPartition) || !strings.Contains(err.Error(), fmt.Sprintf("gokafka-never-created/%d", id)) {
			t.Fatalf("partition %d: %v; want ErrUnknownPartition naming the topic and partition", id, err)
		}
	}
	if err := p.Produce(context.Background(), msg("", 0, "v"), nop); !errors.Is(err, kerr.ErrInvalidTopic) {
		t.Fatalf("empty topic: %v", err)
	}
	if n := p.q.Len(); n != 0 {
		t.Fatalf("refused messages hold %d queue slots", n)
	}
}
