//go:build cgo && !nordkafka

package rdkafka

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// produceEverywhere has each producer write one message to every partition
// of topic and waits for the reports, which must all be acknowledgements.
func produceEverywhere(t *testing.T, ps []engine.Producer, topic string, parts int) {
	t.Helper()
	rep := testhelp.NewReports(len(ps) * parts)
	for i, p := range ps {
		for part := range parts {
			m := &engine.Message{Topic: topic, Partition: int32(part), Value: []byte(fmt.Sprintf("p%d-%d", i, part))}
			if err := p.Produce(t.Context(), m, rep.Done); err != nil {
				t.Fatalf("producer %d: Produce: %v", i, err)
			}
		}
	}
	rep.Wait(t, time.Minute)
	if errs := rep.Errors(); len(errs) > 0 {
		t.Fatalf("%d deliveries failed, first: %v", len(errs), errs[0])
	}
}

// TestProducersShareOneInstance: a client's producers of the same
// configuration share one librdkafka instance, so 3 or 10 of them open no
// more connections than one; a producer configured otherwise has its own
// instance, and so has a producer of another client. Every message written
// through the shared instance is acknowledged.
func TestProducersShareOneInstance(t *testing.T) {
	testhelp.NoLeaks(t)
	cl := testhelp.NewCluster(t, nil)
	const parts = 12
	topic := testhelp.CreateTopic(t, nil, parts)
	brokers := testinstance.Shared().Brokers()

	open := func(cl *cluster.Cluster, n int, cfg engine.ProducerConfig) []engine.Producer {
		var ps []engine.Producer
		for range n {
			p, err := rdkafkaEngine(t).NewProducer(t.Context(), cl, cfg)
			if err != nil {
				t.Fatalf("NewProducer: %v", err)
			}
			ps = append(ps, p)
		}
		return ps
	}
	closeAll := func(ps []engine.Producer) {
		for _, p := range ps {
			if err := p.Close(t.Context()); err != nil {
				t.Fatalf("Close: %v", err)
			}
		}
	}
	counts := map[int]int{}
	for _, n := range []int{1, 3, 10} {
		ps := open(cl, n, testhelp.ProducerConfig())
		produceEverywhere(t, ps, topic, parts)
		// librdkafka's connections close with its instance; the
		// client's own stay.
		held := testhelp.BrokerSockets(t, brokers)
		closeAll(ps)
		counts[n] = held - testhelp.BrokerSockets(t, brokers)
	}
	t.Logf("librdkafka connections with 1, 3 and 10 producers: %d, %d, %d", counts[1], counts[3], counts[10])
	// One instance: a connection per broker, and perhaps still one to
	// the bootstrap address (librdkafka drops it once it knows the
	// brokers, at a moment of its own). Two instances would hold twice.
	for _, k := range []int{1, 3, 10} {
		if counts[k] == 0 || counts[k] > len(brokers)+1 {
			t.Fatalf("connections with 1, 3 and 10 producers: %d, %d, %d; want one instance's (at most %d) for all", counts[1], counts[3], counts[10], len(brokers)+1)
		}
	}

	// Another linger is another instance; so is another client.
	other := testhelp.ProducerConfig()
	other.Linger = 2 * time.Millisecond
	ps := append(open(cl, 2, testhelp.ProducerConfig()), open(cl, 1, other)...)
	ps = append(ps, open(testhelp.NewCluster(t, nil), 1, testhelp.ProducerConfig())...)
	produceEverywhere(t, ps, topic, parts)
	held := testhelp.BrokerSockets(t, brokers)
	closeAll(ps)
	got := held - testhelp.BrokerSockets(t, brokers)
	// Each of the three instances writes to every broker.
	if want := 3 * len(brokers); got < want {
		t.Fatalf("%d connections with three instances (two configurations, two clients), want at least %d", got, want)
	}
}

// TestSharedProducerClose: closing one of two producers that share an
// instance, with its ctx ending before librdkafka could deliver, fails its
// own messages with ErrClosed and leaves the other's alone; the other
// keeps producing, and its Close then fails what it has left.
func TestSharedProducerClose(t *testing.T) {
	testhelp.NoLeaks(t)
	cl := testhelp.NewCluster(t, nil)
	a, err := rdkafkaEngine(t).NewProducer(t.Context(), cl, unreachable())
	if err != nil {
		t.Fatal(err)
	}
	b, err := rdkafkaEngine(t).NewProducer(t.Context(), cl, unreachable())
	if err != nil {
		t.Fatal(err)
	}
	if a.(*producer).shared != b.(*producer).shared {
		t.Fatal("two producers of one client and configuration have separate instances")
	}
	const n = 50
	repA, repB := testhelp.NewReports(n), testhelp.NewReports(n+1)
	for i := range n {
		if err := a.Produce(t.Context(), &engine.Message{Topic: "nowhere", Value: []byte(fmt.Sprint("a", i))}, repA.Done); err != nil {
			t.Fatal(err)
		}
		if err := b.Produce(t.Context(), &engine.Message{Topic: "nowhere", Value: []byte(fmt.Sprint("b", i))}, repB.Done); err != nil {
			t.Fatal(err)
		}
	}
	closeWithin := func(p engine.Producer) error {
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		return p.Close(ctx)
	}
	if err := closeWithin(a); !errors.Is(err, kerr.ErrClosed) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close of a: %v, want ErrClosed and DeadlineExceeded", err)
	}
	repA.Wait(t, 10*time.Second) // Close returned after its reports
	if got := len(repA.Errors()); got != n {
		t.Fatalf("%d of a's %d messages failed", got, n)
	}
	for _, err := range repA.Errors() {
		if !errors.Is(err, kerr.ErrClosed) {
			t.Fatalf("a's message failed with %v, want ErrClosed", err)
		}
	}
	if got := repB.Count(); got != 0 {
		t.Fatalf("closing a reported %d of b's messages", got)
	}
	if err := b.Produce(t.Context(), &engine.Message{Topic: "nowhere", Value: []byte("b-after")}, repB.Done); err != nil {
		t.Fatalf("b after a closed: %v", err)
	}
	if err := closeWithin(b); !errors.Is(err, kerr.ErrClosed) {
		t.Fatalf("Close of b: %v, want ErrClosed", err)
	}
	repB.Wait(t, 10*time.Second)
	for _, err := range repB.Errors() {
		if !errors.Is(err, kerr.ErrClosed) {
			t.Fatalf("b's message failed with %v, want ErrClosed", err)
		}
	}
	if got := len(repB.Errors()); got != n+1 {
		t.Fatalf("%d of b's %d messages failed", got, n+1)
	}
}

// TestSharedQueueFullHandOver: when one producer fills the librdkafka
// queue that the producers of an instance share (brokers unreachable, so
// nothing leaves it), another producer's messages wait in the hand-over
// (feed.go), one with FailWhenFull has its message refused in the report
// with ErrQueueFull, and a Close whose ctx ends fails the waiting messages
// with ErrClosed without touching the first producer's.
func TestSharedQueueFullHandOver(t *testing.T) {
	testhelp.NoLeaks(t)
	cl := testhelp.NewCluster(t, nil)
	const n = 5
	cfg := unreachable()
	cfg.MaxQueued = n // librdkafka's queue bound too: n messages fill it
	newProducer := func(failWhenFull bool) engine.Producer {
		c := cfg
		c.FailWhenFull = failWhenFull
		p, err := rdkafkaEngine(t).NewProducer(t.Context(), cl, c)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b, c := newProducer(false), newProducer(false), newProducer(true)
	if a.(*producer).shared != b.(*producer).shared || a.(*producer).shared != c.(*producer).shared {
		t.Fatal("producers differing only in FailWhenFull have separate instances")
	}
	repA, repB, repC := testhelp.NewReports(n), testhelp.NewReports(3), testhelp.NewReports(1)
	for i := range n {
		if err := a.Produce(t.Context(), &engine.Message{Topic: "nowhere", Value: []byte(fmt.Sprint("a", i))}, repA.Done); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if err := b.Produce(t.Context(), &engine.Message{Topic: "nowhere", Value: []byte(fmt.Sprint("b", i))}, repB.Done); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Produce(t.Context(), &engine.Message{Topic: "nowhere", Value: []byte("c")}, repC.Done); err != nil {
		t.Fatal(err)
	}
	repC.Wait(t, 10*time.Second)
	if errs := repC.Errors(); len(errs) != 1 || !errors.Is(errs[0], kerr.ErrQueueFull) {
		t.Fatalf("FailWhenFull message on a full instance queue: %v, want ErrQueueFull", errs)
	}
	testhelp.Eventually(t, 10*time.Second, "b's 3 messages waiting in the hand-over", func() error {
		if got := b.(*producer).shared.feeder.waiting.Load(); got != 3 {
			return fmt.Errorf("%d messages wait", got)
		}
		return nil
	})
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	err := b.Close(ctx)
	cancel()
	if !errors.Is(err, kerr.ErrClosed) {
		t.Fatalf("Close of b: %v, want ErrClosed", err)
	}
	repB.Wait(t, 10*time.Second)
	for _, err := range repB.Errors() {
		if !errors.Is(err, kerr.ErrClosed) {
			t.Fatalf("b's message failed with %v, want ErrClosed", err)
		}
	}
	if got := len(repB.Errors()); got != 3 {
		t.Fatalf("%d of b's 3 messages failed", got)
	}
	if got := repA.Count(); got != 0 {
		t.Fatalf("closing b reported %d of a's messages", got)
	}
	for _, p := range []engine.Producer{c, a} {
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		_ = p.Close(ctx)
		cancel()
	}
	repA.Wait(t, 10*time.Second)
	for _, err := range repA.Errors() {
		if !errors.Is(err, kerr.ErrClosed) {
			t.Fatalf("a's message failed with %v, want ErrClosed", err)
		}
	}
}
