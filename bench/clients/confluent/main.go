// Command confluent is the benchmark's client process for
// github.com/confluentinc/confluent-kafka-go/v2 used directly (librdkafka
// through cgo), without gokafka around it.
package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/gokafka/kafka/bench/internal/workload"
)

func main() {
	workload.Main(workload.Client{Name: "confluent", Produce: produce, Consume: consume, Library: library})
}

func produce(ctx context.Context, s workload.Spec, t *workload.Tally) error {
	cm := kafka.ConfigMap{
		"bootstrap.servers":            strings.Join(s.Brokers, ","),
		"client.id":                    "bench",
		"linger.ms":                    int(s.Linger / time.Millisecond),
		"batch.size":                   s.BatchBytes,
		"queue.buffering.max.messages": s.MaxQueued,
		"compression.type":             s.Compression,
		"go.logs.channel.enable":       false,
	}
	switch s.Acks {
	case "all":
		cm["acks"] = "all"
		cm["enable.idempotence"] = true
	case "1":
		cm["acks"] = "1"
	default:
		return fmt.Errorf("acks %q", s.Acks)
	}
	p, err := kafka.NewProducer(&cm)
	if err != nil {
		return err
	}
	defer p.Close()
	events := make(chan struct{})
	go func() {
		defer close(events)
		for e := range p.Events() {
			switch ev := e.(type) {
			case *kafka.Message:
				if ev.TopicPartition.Error != nil {
					t.Failed(ev.TopicPartition.Error)
				} else {
					t.AckedValue(*ev.TopicPartition.Topic, ev.TopicPartition.Partition, ev.Value)
				}
			case kafka.Error:
				if ev.IsFatal() {
					t.Failed(ev)
				}
			}
		}
	}()
	// Message i goes to topic i mod len(Topics), as TopicCycle does.
	topics := make([]*string, len(s.Topics))
	for j := range topics {
		topics[j] = &s.Topics[j]
	}
	ti := 0
	t.Start()
	var value []byte // of message i, kept while librdkafka's queue is full
	for i := int64(0); i < s.Count; {
		if err := t.WaitRoom(ctx, i); err != nil {
			return err
		}
		if value == nil {
			value = t.Value(ctx, i)
		}
		err := p.Produce(&kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: topics[ti], Partition: kafka.PartitionAny},
			Value:          value,
		}, nil)
		if err != nil {
			if ke, ok := err.(kafka.Error); ok && ke.Code() == kafka.ErrQueueFull {
				// The delivery reports lag librdkafka's own count: let
				// the event goroutine catch up.
				time.Sleep(100 * time.Microsecond)
				continue
			}
			return fmt.Errorf("produce #%d: %w", i, err)
		}
		i++
		value = nil
		if ti++; ti == len(topics) {
			ti = 0
		}
	}
	for p.Flush(100) > 0 {
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return workload.Wait(ctx, t)
}

func consume(ctx context.Context, s workload.Spec, t *workload.Tally) error {
	c, err := kafka.NewConsumer(&kafka.ConfigMap{
		"bootstrap.servers": strings.Join(s.Brokers, ","),
		"client.id":         "bench",
		// confluent-kafka-go requires a group.id; without -group the
		// consumer is assigned partitions explicitly and never joins it;
		// with it, it subscribes. It never commits.
		"group.id":           fmt.Sprintf("bench-%x", rand.Uint64()),
		"enable.auto.commit": false,
		"auto.offset.reset":  "earliest",
		"fetch.wait.max.ms":  int(workload.FetchMaxWait / time.Millisecond),
		// The prefetch settings of gokafka's librdkafka engine, so that
		// the two differ only by the wrapper: its queue bound is
		// librdkafka's default (100 000 messages per partition), its
		// fetch.queue.backoff.ms not (librdkafka pauses fetching a full
		// partition for 1 s, which cost this client two thirds of its
		// speed on 100 B messages).
		"queued.min.messages":    100000,
		"fetch.queue.backoff.ms": 5,
		"go.logs.channel.enable": false,
	})
	if err != nil {
		return err
	}
	defer c.Close()
	t.Start()
	if s.Group {
		if err := c.SubscribeTopics(s.Topics, nil); err != nil {
			return err
		}
	} else {
		var parts []kafka.TopicPartition
		for i := range s.Topics {
			for p := range int32(s.Partitions) {
				parts = append(parts, kafka.TopicPartition{Topic: &s.Topics[i], Partition: p, Offset: kafka.OffsetBeginning})
			}
		}
		if err := c.Assign(parts); err != nil {
			return err
		}
	}
	for t.Count() < s.Count {
		if ctx.Err() != nil {
			return workload.Wait(ctx, t)
		}
		switch ev := c.Poll(100).(type) {
		case *kafka.Message:
			if ev.TopicPartition.Error != nil {
				return ev.TopicPartition.Error
			}
			t.ConsumedValue(*ev.TopicPartition.Topic, ev.TopicPartition.Partition, ev.Value)
		case kafka.Error:
			if ev.IsFatal() || ev.Code() == kafka.ErrUnknownTopicOrPart {
				return ev
			}
		}
	}
	return nil
}

func library() string {
	_, v := kafka.LibraryVersion()
	return "librdkafka " + v
}
