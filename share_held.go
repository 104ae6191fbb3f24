package kafka

import (
	"fmt"
	"slices"
	"time"

	"github.com/gokafka/kafka/internal/engine"
)

// heldBatch is one fetch's records, acquired for this member: handed out
// in order (next), each acknowledged once (types, 0 until then).
type heldBatch struct {
	tp       TopicPartition
	msgs     []*Message // offset order
	types    []AckType  // per message; 0: not acknowledged yet
	next     int        // msgs[:next] were handed out
	open     int        // handed out and not acknowledged
	deadline time.Time  // when the acquisition locks expire
	session  uint64     // the share session that acquired them, for their acknowledgements
}

// held is the share consumer's table of acquired records: the batch being
// handed out and the older ones with records handed out and not
// acknowledged. Its owner guards it.
type held struct {
	cur     *heldBatch
	batches []*heldBatch // arrival order, cur included
	open    int          // sum of the batches' open
}

// add makes a fetch's records the batch being handed out.
func (h *held) add(f engine.ShareFetch) {
	b := &heldBatch{
		tp:       TopicPartition(f.TopicPartition),
		msgs:     f.Messages,
		types:    make([]AckType, len(f.Messages)),
		deadline: f.LockDeadline,
		session:  f.Session,
	}
	h.cur = b
	h.batches = append(h.batches, b)
}

// next hands out the current batch's next record, if any. Records whose
// lock expired are not handed out: the group delivers them again, maybe
// to another member; skipped says how many there were.
func (h *held) next(now time.Time) (m *Message, skipped int) {
	b := h.cur
	if b == nil {
		return nil, 0
	}
	if now.After(b.deadline) {
		skipped = len(b.msgs) - b.next
		b.next = len(b.msgs)
	}
	if b.next == len(b.msgs) {
		h.cur = nil
		h.drop(b)
		return nil, skipped
	}
	m = b.msgs[b.next]
	b.next++
	b.open++
	h.open++
	return m, 0
}

// acknowledge records t for m, a record handed out and not acknowledged;
// anything else is refused with an error matching ErrNotAcquired.
func (h *held) acknowledge(m *Message, t AckType, now time.Time) (engine.ShareAck, error) {
	tp := TopicPartition{Topic: m.Topic, Partition: m.Partition}
	for _, b := range h.batches {
		if b.tp != tp {
			continue
		}
		i, found := slices.BinarySearchFunc(b.msgs[:b.next], m.Offset, func(x *Message, off int64) int {
			switch {
			case x.Offset < off:
				return -1
			case x.Offset > off:
				return 1
			}
			return 0
		})
		if !found || b.msgs[i] != m {
			continue // another delivery of the same offset, maybe
		}
		if b.types[i] != 0 {
			return engine.ShareAck{}, fmt.Errorf("%w: %s offset %d was acknowledged already (%v)", ErrNotAcquired, tp, m.Offset, b.types[i])
		}
		if now.After(b.deadline) {
			return engine.ShareAck{}, fmt.Errorf("%w: %s offset %d: its acquisition lock expired at %v", ErrNotAcquired, tp, m.Offset, b.deadline.Format(time.RFC3339Nano))
		}
		b.types[i] = t
		b.open--
		h.open--
		h.drop(b)
		return engine.ShareAck{TopicPartition: engine.TopicPartition(tp), FirstOffset: m.Offset, LastOffset: m.Offset, Type: t, Session: b.session}, nil
	}
	return engine.ShareAck{}, fmt.Errorf("%w: %s offset %d is not a record this consumer handed out and holds", ErrNotAcquired, tp, m.Offset)
}

// settle acknowledges with t every record handed out and not acknowledged
// yet (implicit acknowledgement; Close), and, with rest, the records not
// handed out too. It returns the acknowledgements, one per run of
// consecutive offsets.
func (h *held) settle(t, rest AckType) []engine.ShareAck {
	var acks []engine.ShareAck
	for _, b := range h.batches {
		end := b.next
		if rest != 0 {
			end = len(b.msgs)
		}
		for i := 0; i < end; i++ {
			if b.types[i] != 0 {
				continue
			}
			typ := t
			if i >= b.next {
				typ = rest
			}
			b.types[i] = typ
			m := b.msgs[i]
			if n := len(acks); n > 0 && acks[n-1].Type == typ && acks[n-1].Session == b.session && acks[n-1].Topic == m.Topic &&
				acks[n-1].Partition == m.Partition && acks[n-1].LastOffset+1 == m.Offset {
				acks[n-1].LastOffset = m.Offset
				continue
			}
			acks = append(acks, engine.ShareAck{TopicPartition: engine.TopicPartition(b.tp), FirstOffset: m.Offset, LastOffset: m.Offset, Type: typ, Session: b.session})
		}
		h.open -= b.open
		b.open = 0
		if rest != 0 {
			b.next = len(b.msgs)
		}
	}
	h.batches = slices.DeleteFunc(h.batches, func(b *heldBatch) bool { return b != h.cur || b.next == len(b.msgs) })
	if h.cur != nil && h.cur.next == len(h.cur.msgs) {
		h.cur = nil
	}
	return acks
}

// expire forgets the batches whose locks expired, the current one too
// (explicit acknowledgement: their records are no longer ours to hand out
// or acknowledge), and returns the earliest deadline of the batches left
// with records handed out and not acknowledged (zero if none).
func (h *held) expire(now time.Time) time.Time {
	var first time.Time
	h.batches = slices.DeleteFunc(h.batches, func(b *heldBatch) bool {
		if now.After(b.deadline) {
			h.open -= b.open
			if b == h.cur {
				h.cur = nil // the rest is not ours to hand out either
			}
			return true
		}
		if b.open > 0 && (first.IsZero() || b.deadline.Before(first)) {
			first = b.deadline
		}
		return false
	})
	return first
}

// drop forgets b once everything in it was handed out and acknowledged.
func (h *held) drop(b *heldBatch) {
	if b == h.cur || b.next < len(b.msgs) || b.open > 0 {
		return
	}
	if i := slices.Index(h.batches, b); i >= 0 {
		h.batches = slices.Delete(h.batches, i, i+1)
	}
}
