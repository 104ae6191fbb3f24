package fetch

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testhelp"
)

// TestPollRoundRobin checks Poll's order on queued fetches alone, no
// broker traffic: partitions take turns whatever their topic, each
// partition's fetches stay in order, and a partition dropped by Assign is
// skipped.
func TestPollRoundRobin(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	f := &fetcher{cl: cl, cfg: testhelp.FetcherConfig(), readyCh: make(chan struct{}, 1), parts: map[engine.TopicPartition]*cursor{}}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	defer f.cancel()
	// Partitions of two topics take turns alike.
	a0, b0, a1, b7 := part("a", 0), part("b", 0), part("a", 1), part("b", 7)
	for _, tp := range []engine.TopicPartition{a0, b0, a1, b7} {
		f.parts[tp] = &cursor{tp: tp}
	}
	push := func(tp engine.TopicPartition, next int64) {
		recs := &packed{bufs: [][]byte{nil}, recs: []packedRecord{{offset: next - 1, keyLen: -1, valLen: -1}}}
		f.enqueueLocked(f.parts[tp], engine.Fetch{TopicPartition: tp, NextOffset: next}, recs, fetchCharge{})
	}
	push(a0, 1)
	push(a0, 2)
	push(a0, 3)
	push(b0, 1)
	push(a1, 1)
	push(a1, 2)
	push(b7, 1)
	f.parts[b7].reset(0) // re-Assigned: its queued fetch is gone
	var got string
	for range 6 {
		fe, err := f.Poll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got += fmt.Sprintf("%s@%d ", fe.TopicPartition, fe.NextOffset)
		if len(fe.Messages) != 1 || fe.Messages[0].Offset != fe.NextOffset-1 || fe.Messages[0].Topic != fe.Topic || fe.Messages[0].Partition != fe.Partition {
			t.Fatalf("%s@%d: messages %+v, want the one at %d", fe.TopicPartition, fe.NextOffset, fe.Messages, fe.NextOffset-1)
		}
	}
	if want := "a/0@1 b/0@1 a/1@1 a/0@2 a/1@2 a/0@3 "; got != want {
		t.Fatalf("order %q, want %q", got, want)
	}
	if f.parts[a0].buffered != 0 || f.parts[a1].buffered != 0 {
		t.Fatalf("buffered counts not drained: %d %d", f.parts[a0].buffered, f.parts[a1].buffered)
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
