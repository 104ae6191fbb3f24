package fetch

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testinstance"
)

// TestPollRoundRobin checks Poll's order on queued fetches alone, no
// broker traffic: partitions take turns, each partition's fetches stay in order,
// and a partition dropped by Assign is skipped.
func TestPollRoundRobin(t *testing.T) {
	cl, err := cluster.New(context.Background(), cluster.Config{Bootstrap: testinstance.Shared().Brokers()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	f := &fetcher{cl: cl, cfg: engine.FetcherConfig{QueuedMaxMessages: 100}, readyCh: make(chan struct{}, 1), parts: map[int32]*cursor{}}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	defer f.cancel()
	cur := map[int32]*cursor{}
	for _, p := range []int32{0, 1, 2, 3} {
		cur[p] = &cursor{p: p}
		f.parts[p] = cur[p]
	}
	msg := &engine.Message{}
	push := func(p int32, next int64) {
		f.enqueueLocked(cur[p], engine.Fetch{Partition: p, NextOffset: next, Messages: []*engine.Message{msg}})
	}
	push(0, 1)
	push(0, 2)
	push(0, 3)
	push(1, 1)
	push(2, 1)
	push(2, 2)
	push(3, 1)
	cur[3].reset(0) // re-Assigned: its queued fetch is gone
	var got string
	for range 6 {
		fe, err := f.Poll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got += fmt.Sprintf("%d/%d ", fe.Partition, fe.NextOffset)
	}
	if want := "0/1 1/1 2/1 0/2 2/2 0/3 "; got != want {
		t.Fatalf("order %q, want %q", got, want)
	}
	if cur[0].buffered != 0 || cur[2].buffered != 0 {
		t.Fatalf("buffered counts not drained: %d %d", cur[0].buffered, cur[2].buffered)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := f.Poll(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Poll on empty queues: %v", err)
	}
	// A closed client ends a blocked Poll.
	go func() {
		time.Sleep(20 * time.Millisecond) // let Poll block (it works either way)
		cl.Close()
	}()
	if _, err := f.Poll(context.Background()); !errors.Is(err, kerr.ErrClosed) {
		t.Fatalf("Poll after the cluster closed: %v", err)
	}
}
