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

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testinstance"
)

// ownGoroutines counts the goroutines running this package's producer code
// (sinks, requests in flight, router), leaving out the tests themselves.
func ownGoroutines() int {
	buf := make([]byte, 8<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "pure/internal/produce.(*sink)") || strings.Contains(g, "pure/internal/produce.(*Producer).route") ||
			strings.Contains(g, "pure/internal/produce.(*Producer).tick") {
			n++
		}
	}
	return n
}

func TestFlushWaitsForEveryEarlierMessage(t *testing.T) {
	tc := testinstance.Shared()
	cl := newCluster(t)
	topic := newTopic(t, tc, cl, 3, nil)
	cfg := testConfig(topic)
	cfg.Linger = lingerForever // only Flush sends
	cfg.DeliveryTimeout = 2 * lingerForever
	p := newProducer(t, cl, cfg)
	const n = 300
	rep := newReports(n)
	for i := range n {
		mustProduce(t, p, &engine.Message{Partition: int32(i % 3), Value: []byte("v")}, rep.done)
	}
	if err := p.Flush(ctxTimeout(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	rep.mu.Lock()
	got := rep.n
	rep.mu.Unlock()
	if got != n {
		t.Fatalf("Flush returned with %d of %d messages reported", got, n)
	}
	if errs := rep.errors(); len(errs) > 0 {
		t.Fatal(errs[0])
	}
}

// TestFlushUnderLoad: Flush waits for what was produced before it, not for
// an empty queue, so it returns while other goroutines keep producing.
func TestFlushUnderLoad(t *testing.T) {
	tc := testinstance.Shared()
	cl := newCluster(t)
	topic := newTopic(t, tc, cl, 2, nil)
	cfg := testConfig(topic)
	cfg.MaxQueued = 2000
	p := newProducer(t, cl, cfg)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var produced atomic.Int64
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := p.Produce(context.Background(), &engine.Message{Partition: int32(g), Value: []byte("load")}, func(*engine.Message, error) {}); err != nil {
					t.Errorf("Produce: %v", err)
					return
				}
				produced.Add(1)
			}
		}()
	}
	waitFor(t, "the queue to fill", func() bool { return p.q.len() > 1000 })
	for range 3 {
		if err := p.Flush(ctxTimeout(t, 30*time.Second)); err != nil {
			t.Fatalf("Flush under load: %v", err)
		}
	}
	close(stop)
	wg.Wait()
	if produced.Load() < 5000 {
		t.Fatalf("only %d messages produced: the load was not sustained", produced.Load())
	}
}

func TestCloseFlushesAndStops(t *testing.T) {
	tc := testinstance.Shared()
	cl := newCluster(t)
	topic := newTopic(t, tc, cl, 3, nil)
	cfg := testConfig(topic)
	cfg.Linger = lingerForever
	cfg.DeliveryTimeout = 2 * lingerForever
	ep, err := New(context.Background(), cl, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := ep.(*Producer)
	const n = 300
	rep := newReports(n)
	for i := range n {
		mustProduce(t, p, &engine.Message{Partition: int32(i % 3), Value: []byte(fmt.Sprint(i))}, rep.done)
	}
	if ownGoroutines() == 0 {
		t.Fatal("no producer goroutine runs with messages queued")
	}
	if err := p.Close(ctxTimeout(t, 30*time.Second)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	rep.wait(t, time.Second)
	if errs := rep.errors(); len(errs) > 0 {
		t.Fatalf("Close did not deliver: %v", errs[0])
	}
	if g := ownGoroutines(); g != 0 {
		t.Fatalf("%d producer goroutines left after Close", g)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := p.Produce(context.Background(), &engine.Message{Value: []byte("late")}, rep.done); !errors.Is(err, kerr.ErrClosed) {
		t.Fatalf("Produce after Close: %v", err)
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
	tc := testinstance.Shared()
	cl := newCluster(t)
	topic := newTopic(t, tc, cl, 3, nil)
	p := newProducer(t, cl, testConfig(topic))
	for round := range 2 {
		rep := newReports(30)
		for i := range 30 {
			mustProduce(t, p, &engine.Message{Partition: int32(i % 3), Value: []byte("v")}, rep.done)
		}
		rep.wait(t, 30*time.Second)
		if errs := rep.errors(); len(errs) > 0 {
			t.Fatalf("round %d: %v", round, errs[0])
		}
		waitFor(t, "idle sinks to exit", func() bool { return ownGoroutines() == 0 })
	}
}

// TestConcurrentProduceAndClose: Produce racing with Close either fails with
// ErrClosed or is reported, exactly once.
func TestConcurrentProduceAndClose(t *testing.T) {
	tc := testinstance.Shared()
	cl := newCluster(t)
	topic := newTopic(t, tc, cl, 2, nil)
	p := newProducer(t, cl, testConfig(topic))
	var accepted, reported atomic.Int64
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				err := p.Produce(context.Background(), &engine.Message{Partition: int32(g % 2), Value: []byte("v")},
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
	waitFor(t, "some messages", func() bool { return accepted.Load() > 2000 })
	if err := p.Close(ctxTimeout(t, 30*time.Second)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	if accepted.Load() != reported.Load() {
		t.Fatalf("%d accepted, %d reported", accepted.Load(), reported.Load())
	}
	if g := ownGoroutines(); g != 0 {
		t.Fatalf("%d producer goroutines left", g)
	}
}
