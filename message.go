package kafka

import (
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/offsets"
)

// Message is one Kafka record, produced or consumed. It is defined once,
// for both engines, so that a message crosses from an engine to you without
// a copy; its fields are:
//
//   - Topic string: the record's topic. When producing with a producer from
//     Client.NewProducer it chooses the topic; a producer from
//     Topic.NewProducer fills it in when it is empty.
//   - Partition int32: the record's partition. When producing, the
//     producer's Partitioner chooses it, unless PartitionSet is true.
//   - Offset int64: the record's offset in its partition; when producing,
//     set once the broker acknowledged the message (-1 with AcksNone).
//   - Key, Value []byte: the record's key and value. A nil Value is a
//     tombstone on compacted topics; HashingPartitioner and the default
//     partitioner place messages by Key.
//   - Headers []Header: record headers, in order.
//   - Timestamp time.Time: the record's timestamp. Producing with a zero
//     Timestamp stamps the message with the time of the Produce call.
//   - Opaque any: yours; it travels from Produce to the message's
//     DeliveryReport and is never sent to Kafka.
//   - PartitionSet bool: when producing, send the message to Partition as
//     set rather than where the Partitioner would put it (ToPartition sets
//     both). Consumed messages have it false.
//
// The producer owns a message from Produce until its delivery is reported:
// do not modify it meanwhile. A consumed message's byte slices may share
// memory with other messages of the same fetch: keep them as long as you
// like, but do not modify them.
type Message = engine.Message

// Header is a record header: a string Key and a byte-slice Value. Keys need
// not be unique.
type Header = engine.Header

// TopicPartition names one partition of one topic: its fields are Topic
// (string) and Partition (int32). Offsets, positions and assignments are
// keyed by it.
type TopicPartition = offsets.TopicPartition

// ProduceOption sets a field of the message Producer.Produce builds.
type ProduceOption func(*Message)

// Key sets the message key, which the default partitioner and
// HashingPartitioner use to pick the partition.
func Key(k []byte) ProduceOption { return func(m *Message) { m.Key = k } }

// WithHeader adds a header to the message.
func WithHeader(key string, value []byte) ProduceOption {
	return func(m *Message) { m.Headers = append(m.Headers, Header{Key: key, Value: value}) }
}

// WithTimestamp sets the message timestamp (default: the time of Produce).
func WithTimestamp(t time.Time) ProduceOption { return func(m *Message) { m.Timestamp = t } }

// WithOpaque attaches a value of yours, returned in the DeliveryReport.
func WithOpaque(v any) ProduceOption { return func(m *Message) { m.Opaque = v } }

// ToTopic sends the message to this topic (producers from
// Client.NewProducer need one; a topic's producer uses its own by default).
func ToTopic(topic string) ProduceOption { return func(m *Message) { m.Topic = topic } }

// ToPartition sends the message to partition p instead of the one the
// producer's Partitioner would choose. A partition the topic does not have
// fails the message with ErrUnknownPartition.
func ToPartition(p int32) ProduceOption {
	return func(m *Message) { m.Partition, m.PartitionSet = p, true }
}

// DeliveryReport is the outcome of one produced message: Err is nil once the
// broker acknowledged it (Message.Partition and Message.Offset are then set),
// or the reason it could not be delivered. The Messages that Produce builds
// are allocated a few dozen at a time, so a report's Message kept for long
// keeps its neighbours' memory too (a few KiB, not their values); keep the
// fields you need instead, or build messages yourself (ProduceMessage).
type DeliveryReport struct {
	Message *Message
	Err     error
}

// ProduceResults are the outcomes of Producer.ProduceSync, one per message,
// in the order given.
type ProduceResults []DeliveryReport

// Err is the first failure among the results, or nil if every message was
// acknowledged.
func (r ProduceResults) Err() error {
	for _, d := range r {
		if d.Err != nil {
			return d.Err
		}
	}
	return nil
}
