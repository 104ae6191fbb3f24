package produce

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testhelp"
)

// TestQueuedBytesBound: MaxQueuedBytes bounds the bytes held beside the
// message count. Ten 1 KiB messages fill a budget of ten; the next fails
// fast (FailWhenFull) or waits until a Flush frees room; a message larger
// than the whole budget is accepted only alone; every accepted message is
// delivered.
func TestQueuedBytesBound(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := newTopic(t, nil, cl, 2)
	kib := strings.Repeat("k", 1024)
	one := engine.SizeBound(msg(topic, 0, kib))
	cfg := testhelp.ProducerConfig()
	cfg.MaxQueuedBytes = 10 * one
	cfg.FailWhenFull = true
	cfg.Linger = lingerForever // nothing leaves until Flush
	cfg.DeliveryTimeout = 2 * lingerForever
	p := newProducer(t, cl, cfg)
	rep := testhelp.NewReports(23)
	for i := range 10 {
		mustProduce(t, p, msg(topic, int32(i%2), kib), rep.Done)
	}
	big := msg(topic, 0, strings.Repeat("b", 20*1024)) // twice the budget
	for _, m := range []*engine.Message{msg(topic, 1, kib), big} {
		if err := p.Produce(context.Background(), m, rep.Done); !errors.Is(err, kerr.ErrQueueFull) {
			t.Fatalf("Produce of %d bytes over a full byte budget: %v, want ErrQueueFull", len(m.Value), err)
		}
	}
	if got := p.qb.used.Load(); got != int64(10*one) {
		t.Fatalf("budget holds %d bytes, want %d", got, 10*one)
	}
	flush := func() {
		t.Helper()
		if err := p.Flush(testhelp.Ctx(t, 30*time.Second)); err != nil {
			t.Fatal(err)
		}
		if got := p.qb.used.Load(); got != 0 {
			t.Fatalf("after Flush the budget holds %d bytes", got)
		}
	}
	flush()
	// Alone, the large message goes; nothing else fits beside it.
	mustProduce(t, p, big, rep.Done)
	if err := p.Produce(context.Background(), msg(topic, 1, "x"), rep.Done); !errors.Is(err, kerr.ErrQueueFull) {
		t.Fatalf("Produce beside a message over the budget: %v, want ErrQueueFull", err)
	}
	flush()

	// Without FailWhenFull, Produce waits for room: ten fill the budget,
	// two more wait until a Flush drains it.
	cfg.FailWhenFull = false
	pw := newProducer(t, cl, cfg)
	for i := range 10 {
		mustProduce(t, pw, msg(topic, int32(i%2), kib), rep.Done)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- pw.Produce(testhelp.Ctx(t, 30*time.Second), msg(topic, 0, kib), rep.Done)
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	err := pw.Produce(ctx, msg(topic, 1, kib), rep.Done)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Produce on a full byte budget: %v, want DeadlineExceeded", err)
	}
	if err := pw.Flush(testhelp.Ctx(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("a waiting Produce: %v", err)
		}
	}
	if err := pw.Flush(testhelp.Ctx(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	rep.Wait(t, 10*time.Second)
	if errs := rep.Errors(); len(errs) > 0 {
		t.Fatalf("%v", errs[0])
	}
}
