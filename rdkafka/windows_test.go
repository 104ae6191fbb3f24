//go:build cgo && !nordkafka

package rdkafka

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/testhelp"
)

// windowRecorder is an engine.BrokerWindowObserver keeping every report.
type windowRecorder struct {
	mu      sync.Mutex
	reports [][]engine.BrokerWindow
}

func (w *windowRecorder) BrokerWindows(ws []engine.BrokerWindow) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reports = append(w.reports, ws)
}

func (w *windowRecorder) last() ([]engine.BrokerWindow, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.reports) == 0 {
		return nil, 0
	}
	return w.reports[len(w.reports)-1], len(w.reports)
}

// TestFetcherWindows: a fetcher with a Windows observer turns librdkafka's
// statistics on, and its batch path hands the emissions over (librdkafka's
// rd_kafka_consume_batch_queue would otherwise destroy them): reading a
// partition for a few seconds yields reports naming the brokers by id,
// with the requests made. Without an observer, statistics stay off.
func TestFetcherWindows(t *testing.T) {
	testhelp.NoLeaks(t)
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 1)
	produceLines(t, topic, 0, 0, 100)

	cfg := engine.DefaultFetcherConfig()
	if p, err := fetcherProps(cl, cfg); err != nil || p.m["statistics.interval.ms"] != nil {
		t.Fatalf("without an observer: statistics.interval.ms %v, err %v", p.m["statistics.interval.ms"], err)
	}
	rec := &windowRecorder{}
	cfg.Windows = rec
	f, err := newFetcher(cl, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	assignAll(t, f, topic, 1, 0, 1)
	got := 0
	deadline := time.Now().Add(30 * time.Second)
	for {
		ws, n := rec.last()
		var requests uint64
		for _, w := range ws {
			if w.Broker < 0 {
				t.Fatalf("window of a broker without an id: %+v", w)
			}
			requests += w.Requests
		}
		if got >= 100 && n >= 2 && requests > 0 {
			t.Logf("%d reports, last %+v", n, ws)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: %d messages, %d reports, last %+v", got, n, ws)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		fe, err := f.Poll(ctx)
		cancel()
		if err == nil {
			got += len(fe.Messages)
		}
	}
}
