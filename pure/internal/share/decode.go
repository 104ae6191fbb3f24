package share

import (
	"cmp"
	"slices"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/records"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// slabMax bounds the messages allocated at once for one partition's answer:
// the acquired ranges announce how many records may come, but a range can
// span offsets that hold no record, so it is not trusted for more.
const slabMax = 1024

// decode turns one partition's answer, of the share session session, into
// the messages of the records acquired for this member, in offset order, each with its range's
// delivery count. Records of the answer outside the acquired ranges belong
// to other members (or were acknowledged already) and are skipped.
//
// Acquired offsets that hold no record are acknowledged here, since nobody
// else can: within the batches the answer holds (control records,
// compacted records) as gaps; past the last complete batch (the answer
// was cut short) or after a batch that does not decode, as released, so
// that they are delivered again. The returned error is the decoding
// error, after the messages before it.
func (s *source) decode(tp engine.TopicPartition, id [16]byte, session uint64, rp *kmsg.ShareFetchResponseTopicPartition) ([]*engine.Message, []pendingAck, error) {
	acq := acquired(rp.AcquiredRecords)
	if len(acq) == 0 {
		return nil, nil, nil
	}
	var (
		msgs    []*engine.Message
		slab    engine.MessageSlab
		acks    []pendingAck
		ai      = 0                  // the acquired range being filled
		next    = acq[0].FirstOffset // its next offset without a message
		covered = int64(-1)          // the last offset of the complete batches seen
	)
	ack := func(first, last int64, t engine.AckType) {
		if first > last {
			return
		}
		if n := len(acks); n > 0 && acks[n-1].Type == t && acks[n-1].LastOffset+1 == first {
			acks[n-1].LastOffset = last
			return
		}
		acks = append(acks, pendingAck{ShareAck: engine.ShareAck{TopicPartition: tp, FirstOffset: first, LastOffset: last, Type: t, Session: session}, topicID: id})
	}
	// skipTo acknowledges the unfilled offsets of the ranges that end
	// before off as gaps, and moves to the range that may hold off.
	skipTo := func(off int64) {
		for ai < len(acq) && off > acq[ai].LastOffset {
			ack(next, acq[ai].LastOffset, engine.AckGap)
			ai++
			if ai < len(acq) {
				next = acq[ai].FirstOffset
			}
		}
	}
	err := s.dec.Decode(rp.Records, func(info *records.BatchInfo, recs []records.Record) error {
		covered = max(covered, info.LastOffset)
		if info.Control {
			return nil
		}
		for i := range recs {
			r := &recs[i]
			skipTo(r.Offset)
			if ai == len(acq) {
				return nil
			}
			if r.Offset < max(next, acq[ai].FirstOffset) {
				continue // not acquired by us, or seen already
			}
			ack(next, r.Offset-1, engine.AckGap)
			m := slab.Next(min(slabMax, int(acq[ai].LastOffset-r.Offset+1)))
			m.Topic = tp.Topic
			m.Partition = tp.Partition
			m.Offset = r.Offset
			m.Key = r.Key
			m.Value = r.Value
			m.Headers = r.Headers
			m.Timestamp = time.UnixMilli(r.Timestamp)
			m.DeliveryCount = max(acq[ai].DeliveryCount, 1)
			msgs = append(msgs, m)
			next = r.Offset + 1
		}
		return nil
	})
	// The batches seen hold no record for the rest of their offsets.
	skipTo(covered + 1)
	if ai < len(acq) && next <= covered {
		ack(next, covered, engine.AckGap)
		next = covered + 1
	}
	// What the answer does not hold goes back to the group.
	for ; ai < len(acq); ai++ {
		ack(max(next, acq[ai].FirstOffset), acq[ai].LastOffset, engine.AckRelease)
	}
	return msgs, acks, err
}

// acquired returns the answer's acquired ranges sorted, without empty ones,
// and with overlapping ones merged: what a correct broker sends, made safe
// for the single pass of decode.
func acquired(in []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord) []kmsg.ShareFetchResponseTopicPartitionAcquiredRecord {
	out := make([]kmsg.ShareFetchResponseTopicPartitionAcquiredRecord, 0, len(in))
	for _, a := range in {
		if a.FirstOffset >= 0 && a.FirstOffset <= a.LastOffset {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b kmsg.ShareFetchResponseTopicPartitionAcquiredRecord) int {
		return cmp.Compare(a.FirstOffset, b.FirstOffset)
	})
	merged := out[:0]
	for _, a := range out {
		if n := len(merged); n > 0 && a.FirstOffset <= merged[n-1].LastOffset {
			merged[n-1].LastOffset = max(merged[n-1].LastOffset, a.LastOffset)
			merged[n-1].DeliveryCount = max(merged[n-1].DeliveryCount, a.DeliveryCount)
			continue
		}
		merged = append(merged, a)
	}
	return merged
}
