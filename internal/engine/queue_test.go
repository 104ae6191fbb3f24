package engine

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
)

func TestQueueBoundsAndWakes(t *testing.T) {
	q := NewQueue(2)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		if err := q.Acquire(ctx, true, nil); err != nil {
			t.Fatalf("slot %d: %v", i, err)
		}
	}
	if err := q.Acquire(ctx, true, nil); !errors.Is(err, kerr.ErrQueueFull) {
		t.Fatalf("full, fail fast: %v, want ErrQueueFull", err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := q.Acquire(short, false, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("full, blocking, ctx ends: %v", err)
	}
	closed := make(chan struct{})
	close(closed)
	if err := q.Acquire(ctx, false, closed); !errors.Is(err, kerr.ErrClosed) {
		t.Fatalf("full, closed: %v, want ErrClosed", err)
	}
	got := make(chan error, 1)
	go func() { got <- q.Acquire(ctx, false, nil) }()
	select {
	case err := <-got:
		t.Fatalf("Acquire returned %v on a full queue", err)
	case <-time.After(20 * time.Millisecond):
	}
	q.Release(1)
	if err := <-got; err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	if q.Len() != 2 {
		t.Fatalf("Len %d, want 2", q.Len())
	}
	q.Release(2)
	if err := q.WaitBelow(ctx, 1, nil); err != nil || q.Len() != 0 {
		t.Fatalf("WaitBelow on an empty queue: %v, Len %d", err, q.Len())
	}
}

// TestQueueNeverOverfills: many goroutines acquiring and releasing never see
// more than Max slots taken.
func TestQueueNeverOverfills(t *testing.T) {
	q := NewQueue(8)
	var wg sync.WaitGroup
	var mu sync.Mutex
	most := 0
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				if err := q.Acquire(context.Background(), false, nil); err != nil {
					t.Error(err)
					return
				}
				n := q.Len()
				mu.Lock()
				most = max(most, n)
				mu.Unlock()
				q.Release(1)
			}
		}()
	}
	wg.Wait()
	if most > q.Max() || q.Len() != 0 {
		t.Fatalf("saw %d slots taken of %d; %d left", most, q.Max(), q.Len())
	}
}
