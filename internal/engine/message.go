package engine

import (
	"fmt"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/records"
)

// SizeBound is an upper bound of m's encoded record size in any batch,
// cheaper than the exact records.RecordSize: every varint at its longest
// (length prefix, attributes, timestamp and offset deltas, key and value
// lengths, header count; key and value length of each header).
func SizeBound(m *Message) int {
	n := len(m.Key) + len(m.Value) + 5 + 1 + 10 + 5 + 5 + 5 + 5
	for i := range m.Headers {
		n += len(m.Headers[i].Key) + len(m.Headers[i].Value) + 10
	}
	return n
}

// CheckSize fails with kerr.ErrMessageTooLarge when m's encoded record is
// larger than max bytes. Both engines accept and refuse the same messages
// because the root applies this one rule before either sees them. The
// exact size is computed only when the cheap bound exceeds max.
func CheckSize(m *Message, max int) error {
	if SizeBound(m) <= max {
		return nil
	}
	if exact := records.RecordSize(m.Key, m.Value, m.Headers, 0, 0); exact > max {
		return fmt.Errorf("%w: %s/%d: the record takes %d bytes, MaxMessageBytes is %d", kerr.ErrMessageTooLarge, m.Topic, m.Partition, exact, max)
	}
	return nil
}
