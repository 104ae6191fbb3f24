package kafka

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/engine"
)

// fetchOf is a share fetch of partition t/p with records at offsets.
func fetchOf(p int32, deadline time.Time, offsets ...int64) engine.ShareFetch {
	f := engine.ShareFetch{TopicPartition: engine.TopicPartition{Topic: "t", Partition: p}, LockDeadline: deadline}
	for _, o := range offsets {
		f.Messages = append(f.Messages, &Message{Topic: "t", Partition: p, Offset: o, DeliveryCount: 1})
	}
	return f
}

type heldAck struct {
	p           int32
	first, last int64
	t           AckType
}

func heldAcks(acks []engine.ShareAck) []heldAck {
	var out []heldAck
	for _, a := range acks {
		out = append(out, heldAck{a.Partition, a.FirstOffset, a.LastOffset, a.Type})
	}
	return out
}

// TestHeldImplicit: what implicit acknowledgement accepts at the next
// fetch is every record handed out and not acknowledged otherwise, in
// runs of consecutive offsets.
func TestHeldImplicit(t *testing.T) {
	now := time.Now()
	later := now.Add(time.Minute)
	var h held
	h.add(fetchOf(0, later, 0, 1, 2, 3, 5, 6))
	var handed []*Message
	for {
		m, _ := h.next(now)
		if m == nil {
			break
		}
		handed = append(handed, m)
	}
	if len(handed) != 6 || h.open != 6 {
		t.Fatalf("handed out %d, open %d", len(handed), h.open)
	}
	if _, err := h.acknowledge(handed[1], ReleaseType, now); err != nil {
		t.Fatal(err)
	}
	got := heldAcks(h.settle(AcceptType, 0))
	want := []heldAck{{0, 0, 0, AcceptType}, {0, 2, 3, AcceptType}, {0, 5, 6, AcceptType}}
	if !slices.Equal(got, want) {
		t.Fatalf("settle: %v, want %v", got, want)
	}
	if h.open != 0 || len(h.batches) != 0 || h.cur != nil {
		t.Fatalf("after settle: open %d, %d batches", h.open, len(h.batches))
	}
	if _, err := h.acknowledge(handed[0], AcceptType, now); !errors.Is(err, ErrNotAcquired) {
		t.Fatalf("acknowledge after settle: %v", err)
	}
}

// TestHeldAcknowledge: only a record handed out, by identity, and not
// acknowledged yet, can be acknowledged; a record's lock deadline ends it.
func TestHeldAcknowledge(t *testing.T) {
	now := time.Now()
	var h held
	h.add(fetchOf(1, now.Add(time.Minute), 10, 11, 12))
	m, _ := h.next(now)
	if _, err := h.acknowledge(&Message{Topic: "t", Partition: 1, Offset: 10}, AcceptType, now); !errors.Is(err, ErrNotAcquired) {
		t.Errorf("a copy: %v", err)
	}
	if _, err := h.acknowledge(h.cur.msgs[1], AcceptType, now); !errors.Is(err, ErrNotAcquired) {
		t.Errorf("a record not handed out yet: %v", err)
	}
	if _, err := h.acknowledge(m, AcceptType, now.Add(2*time.Minute)); !errors.Is(err, ErrNotAcquired) {
		t.Errorf("past the lock: %v", err)
	}
	a, err := h.acknowledge(m, RejectType, now)
	if err != nil || a.FirstOffset != 10 || a.LastOffset != 10 || a.Type != RejectType {
		t.Fatalf("acknowledge: %+v %v", a, err)
	}
	if _, err := h.acknowledge(m, AcceptType, now); !errors.Is(err, ErrNotAcquired) {
		t.Errorf("twice: %v", err)
	}
	// Past the lock, the rest is not handed out: the group delivers it
	// again.
	if m, skipped := h.next(now.Add(2 * time.Minute)); m != nil || skipped != 2 {
		t.Fatalf("past the lock: handed out %v, skipped %d", m, skipped)
	}
	if len(h.batches) != 0 || h.open != 0 {
		t.Fatalf("%d batches, %d open left", len(h.batches), h.open)
	}
}

// TestHeldExplicit: with explicit acknowledgement, batches stay until
// every record is acknowledged or their locks expire; Close releases what
// was not handed out.
func TestHeldExplicit(t *testing.T) {
	now := time.Now()
	var h held
	h.add(fetchOf(0, now.Add(time.Second), 0, 1))
	a, _ := h.next(now)
	b, _ := h.next(now)
	h.next(now) // the batch is done being handed out
	h.add(fetchOf(1, now.Add(time.Minute), 7, 8, 9))
	c, _ := h.next(now)
	if h.open != 3 || len(h.batches) != 2 {
		t.Fatalf("open %d, %d batches", h.open, len(h.batches))
	}
	if _, err := h.acknowledge(a, AcceptType, now); err != nil {
		t.Fatal(err)
	}
	if first := h.expire(now); !first.Equal(now.Add(time.Second)) {
		t.Fatalf("earliest deadline %v", first)
	}
	h.expire(now.Add(2 * time.Second)) // the first batch's lock is gone
	if h.open != 1 || len(h.batches) != 1 {
		t.Fatalf("after expiry: open %d, %d batches", h.open, len(h.batches))
	}
	if _, err := h.acknowledge(b, AcceptType, now); !errors.Is(err, ErrNotAcquired) {
		t.Errorf("an expired batch's record: %v", err)
	}
	got := heldAcks(releaseRest(&h))
	if !slices.Equal(got, []heldAck{{1, 8, 9, ReleaseType}}) {
		t.Fatalf("releaseRest: %v", got)
	}
	if _, err := h.acknowledge(c, AcceptType, now); err != nil {
		t.Fatalf("a record handed out stays acknowledgeable: %v", err)
	}
	if h.open != 0 || len(h.batches) != 0 {
		t.Fatalf("open %d, %d batches", h.open, len(h.batches))
	}
	// The batch being handed out expires too: its rest is not ours.
	h.add(fetchOf(0, now.Add(time.Second), 20, 21))
	h.next(now)
	if first := h.expire(now.Add(2 * time.Second)); !first.IsZero() || h.cur != nil || h.open != 0 || len(h.batches) != 0 {
		t.Fatalf("after the current batch expired: first %v, cur %v, open %d, %d batches", first, h.cur, h.open, len(h.batches))
	}
}
