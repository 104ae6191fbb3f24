package kafka

import (
	"time"

	"github.com/gokafka/kafka/internal/engine"
)

// Message is one Kafka record, produced or consumed.
//
// Fields: Topic, Partition, Offset, Key, Value, Headers, Timestamp, Opaque.
//
// When producing, Key, Value, Headers and Timestamp make the record (a zero
// Timestamp means "now"); the producer sets Topic and Partition, and Offset
// once the broker acknowledged it. Opaque is yours and travels to the
// message's DeliveryReport. A nil Value is a tombstone on compacted topics.
//
// When consuming, every field comes from the record. The byte slices may
// share memory with other messages of the same fetch: keep them as long as
// you like, but do not modify them.
type Message = engine.Message

// Header is a record header: a string key and a byte value. Keys need not be
// unique.
type Header = engine.Header

// ProduceOption sets a field of the message Producer.Produce builds.
type ProduceOption func(*Message)

// Key sets the message key, which HashingPartitioner uses to pick the
// partition.
func Key(k []byte) ProduceOption { return func(m *Message) { m.Key = k } }

// WithHeader adds a header to the message.
func WithHeader(key string, value []byte) ProduceOption {
	return func(m *Message) { m.Headers = append(m.Headers, Header{Key: key, Value: value}) }
}

// WithTimestamp sets the message timestamp (default: the time of Produce).
func WithTimestamp(t time.Time) ProduceOption { return func(m *Message) { m.Timestamp = t } }

// WithOpaque attaches a value of yours, returned in the DeliveryReport.
func WithOpaque(v any) ProduceOption { return func(m *Message) { m.Opaque = v } }

// DeliveryReport is the outcome of one produced message: Err is nil once the
// broker acknowledged it (Message.Partition and Message.Offset are then set),
// or the reason it could not be delivered.
type DeliveryReport struct {
	Message *Message
	Err     error
}
