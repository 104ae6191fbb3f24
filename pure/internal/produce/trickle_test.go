package produce

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/testhelp"
)

// TestTrickleSkipsLinger: a partition written steadily but slowly (1 000
// small messages a second, a 3 s linger) waits out its linger once, for a
// batch of 3 000 messages, a thirtieth of the batch size; after that its
// batches go as soon as nothing of it is in flight, so messages wait for a
// round trip, not the linger. Every message produced from a linger and a
// third on is acknowledged within a quarter of the linger (waiting it
// out, those of the second batch would wait 1 s and more), and the
// partition is found trickling at the end. A busy partition keeping its
// linger is TestStickyTurnFillsOneBatch's (root package) and the
// benchmarks'.
func TestTrickleSkipsLinger(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := newTopic(t, nil, cl, 1)
	cfg := testhelp.ProducerConfig()
	cfg.Linger = 3 * time.Second
	p := newProducer(t, cl, cfg)

	const rate, seconds = 1000, 5
	var (
		mu   sync.Mutex
		sent = make([]time.Time, rate*seconds)
		took = make([]time.Duration, rate*seconds)
		errs []error
		wg   sync.WaitGroup
	)
	wg.Add(len(sent))
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	start := time.Now()
	for i := range sent {
		<-tick.C
		mu.Lock()
		sent[i] = time.Now()
		mu.Unlock()
		mustProduce(t, p, msg(topic, 0, fmt.Sprint(i)), func(m *engine.Message, err error) {
			defer wg.Done()
			mu.Lock()
			defer mu.Unlock()
			took[i] = time.Since(sent[i])
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("not every message acknowledged within a minute")
	}
	if len(errs) > 0 {
		t.Fatalf("%d failed: %v", len(errs), errs[0])
	}
	from := start.Add(cfg.Linger + cfg.Linger/3)
	for i, at := range sent {
		if at.After(from) && took[i] >= cfg.Linger/4 {
			t.Errorf("message %d, produced %v in: acknowledged after %v, linger %v", i, at.Sub(start), took[i], cfg.Linger)
		}
	}
	pt, err := p.partition(topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	pt.mu.Lock()
	defer pt.mu.Unlock()
	if !pt.trickle {
		t.Errorf("partition not trickling after %d small messages a second (last batch %d B)", rate, pt.lastBytes)
	}
}
