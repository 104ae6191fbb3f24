package produce

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/wire"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// ownGoroutines counts the goroutines running this package's producer code
// (sinks, requests in flight, router), leaving out the tests themselves.
func ownGoroutines() int {
	return goroutinesIn("pure/internal/produce.(*sink)", "pure/internal/produce.(*Producer).route")
}

// goroutinesIn counts the goroutines whose stack holds one of funcs.
func goroutinesIn(funcs ...string) int {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, f := range funcs {
			if strings.Contains(g, f) {
				n++
				break
			}
		}
	}
	return n
}

// noGoroutinesLeft checks, after Close, that the producer's goroutines are
// gone. Close waited for each to finish its work; one may still be
// returning from its last frame, so this polls briefly.
func noGoroutinesLeft(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		g := ownGoroutines()
		if g == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d producer goroutines left after Close", g)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestFlushWaitsForEveryEarlierMessage(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := newTopic(t, nil, cl, 3)
	cfg := testhelp.ProducerConfig()
	cfg.Linger = lingerForever // only Flush sends
	cfg.DeliveryTimeout = 2 * lingerForever
	p := newProducer(t, cl, cfg)
	const n = 300
	rep := testhelp.NewReports(n)
	for i := range n {
		mustProduce(t, p, msg(topic, int32(i%3), "v"), rep.Done)
	}
	if err := p.Flush(testhelp.Ctx(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	got := rep.Count()
	if got != n {
		t.Fatalf("Flush returned with %d of %d messages reported", got, n)
	}
	if errs := rep.Errors(); len(errs) > 0 {
		t.Fatal(errs[0])
	}
}

// TestFlushIgnoresLaterMessages: Flush waits for the messages produced
// before it, not for an empty queue: a message produced during the Flush,
// to a partition whose leader is cut off, does not hold it.
func TestFlushIgnoresLaterMessages(t *testing.T) {
	tc := testinstance.Shared()
	cl := testhelp.NewCluster(t, nil)
	const parts = 6
	topic := newTopic(t, tc, cl, parts)
	leaderA, _ := leaderAddr(t, cl, topic, 0)
	b := int32(-1)
	var addrB string
	for i := int32(1); i < parts && b < 0; i++ {
		if id, addr := leaderAddr(t, cl, topic, i); id != leaderA {
			b, addrB = i, addr
		}
	}
	if b < 0 {
		t.Fatalf("every partition of %s is led by broker %d", topic, leaderA)
	}
	np := newPartitioner()
	pcl := testhelp.NewCluster(t, tc, cluster.Config{Conn: wire.Options{Dialer: np.dial}})
	if err := pcl.RefreshTopics(testhelp.Ctx(t, 10*time.Second), topic); err != nil {
		t.Fatal(err)
	}
	np.block(addrB, true)
	cfg := testhelp.ProducerConfig()
	cfg.Linger = lingerForever // only Flush sends
	cfg.DeliveryTimeout = 2 * lingerForever
	p := newProducer(t, pcl, cfg)
	rep := testhelp.NewReports(101)
	for range 100 {
		mustProduce(t, p, msg(topic, 0, "before"), rep.Done)
	}
	flushed := make(chan error, 1)
	go func() { flushed <- p.Flush(testhelp.Ctx(t, 30*time.Second)) }()
	testhelp.WaitUntil(t, 30*time.Second, "Flush to start", func() bool { return p.flushing.Load() > 0 })
	late := msg(topic, b, "during")
	mustProduce(t, p, late, rep.Done)
	if err := <-flushed; err != nil {
		t.Fatalf("Flush: %v", err)
	}
	n := rep.Count()
	_, lateDone := rep.Result(late)
	if n != 100 || lateDone {
		t.Fatalf("Flush returned with %d reports (the late message reported: %v); want the 100 earlier ones only", n, lateDone)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); !errors.Is(err, kerr.ErrClosed) {
		t.Fatalf("Close with the late message stuck: %v", err)
	}
	lateErr, _ := rep.Result(late)
	if !errors.Is(lateErr, kerr.ErrClosed) {
		t.Fatalf("late message: %v, want ErrClosed", lateErr)
	}
}

func TestCloseFlushesAndStops(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := newTopic(t, nil, cl, 3)
	cfg := testhelp.ProducerConfig()
	cfg.Linger = lingerForever
	cfg.DeliveryTimeout = 2 * lingerForever
	ep, err := New(context.Background(), cl, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := ep.(*Producer)
	const n = 300
	rep := testhelp.NewReports(n)
	for i := range n {
		mustProduce(t, p, msg(topic, int32(i%3), fmt.Sprint(i)), rep.Done)
	}
	if ownGoroutines() == 0 {
		t.Fatal("no producer goroutine runs with messages queued")
	}
	if err := p.Close(testhelp.Ctx(t, 30*time.Second)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	rep.Wait(t, time.Second)
	if errs := rep.Errors(); len(errs) > 0 {
		t.Fatalf("Close did not deliver: %v", errs[0])
	}
	noGoroutinesLeft(t)
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := p.Produce(context.Background(), msg(topic, 2, "late"), rep.Done); !errors.Is(err, kerr.ErrClosed) || !strings.Contains(err.Error(), topic+"/2") {
		t.Fatalf("Produce after Close: %v, want ErrClosed naming %s/2", err, topic)
	}
	if err := p.Flush(context.Background()); !errors.Is(err, kerr.ErrClosed) {
		t.Fatalf("Flush after Close: %v", err)
	}
	for part := int32(0); part < 3; part++ {
		if hw := highWatermark(t, cl, topic, part); hw != n/3 {
			t.Fatalf("partition %d holds %d records, want %d", part, hw, n/3)
		}
	}
}

// TestSinkIdleExit: goroutines stop when idle and come back on demand.
func TestSinkIdleExit(t *testing.T) {
	old := sinkIdle
	sinkIdle = 100 * time.Millisecond
	t.Cleanup(func() { sinkIdle = old })
	cl := testhelp.NewCluster(t, nil)
	topic := newTopic(t, nil, cl, 3)
	p := newProducer(t, cl, testhelp.ProducerConfig())
	for round := range 2 {
		rep := testhelp.NewReports(30)
		for i := range 30 {
			mustProduce(t, p, msg(topic, int32(i%3), "v"), rep.Done)
		}
		rep.Wait(t, 30*time.Second)
		if errs := rep.Errors(); len(errs) > 0 {
			t.Fatalf("round %d: %v", round, errs[0])
		}
		testhelp.WaitUntil(t, 30*time.Second, "idle sinks to exit", func() bool { return ownGoroutines() == 0 })
	}
}

// TestConcurrentProduceAndClose: Produce racing with Close either fails with
// ErrClosed or is reported, exactly once.
func TestConcurrentProduceAndClose(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := newTopic(t, nil, cl, 2)
	p := newProducer(t, cl, testhelp.ProducerConfig())
	var accepted, reported atomic.Int64
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				err := p.Produce(context.Background(), msg(topic, int32(g%2), "v"),
					func(*engine.Message, error) { reported.Add(1) })
				if errors.Is(err, kerr.ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Produce: %v", err)
					return
				}
				accepted.Add(1)
			}
		}()
	}
	testhelp.WaitUntil(t, 30*time.Second, "some messages", func() bool { return accepted.Load() > 2000 })
	if err := p.Close(testhelp.Ctx(t, 30*time.Second)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	if accepted.Load() != reported.Load() {
		t.Fatalf("%d accepted, %d reported", accepted.Load(), reported.Load())
	}
	noGoroutinesLeft(t)
}
