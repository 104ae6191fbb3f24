// Package gokafkaclient drives gokafka for the benchmark; the pure and the
// librdkafka client programs share it and differ only in UseRdkafka (and in
// the rdkafka program's blank import of the engine).
//
// Each run uses the API a user would write for its shape: one topic, the
// topic's producer and consumers (Topic.NewProducer, Topic.NewSimpleConsumer,
// Topic.NewBalancedConsumer); several topics, the client's
// (Client.NewProducer with Message.Topic, Client.NewSimpleConsumer,
// Client.NewBalancedConsumer over the topic list). Both are views of the
// same machinery.
package gokafkaclient

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"

	kafka "github.com/gokafka/kafka"
	"github.com/gokafka/kafka/bench/internal/workload"
)

// New returns the workload client for one engine.
func New(name string, useRdkafka bool) workload.Client {
	return workload.Client{
		Name: name,
		Produce: func(ctx context.Context, s workload.Spec, t *workload.Tally) error {
			return produce(ctx, s, t, useRdkafka)
		},
		Consume: func(ctx context.Context, s workload.Spec, t *workload.Tally) error {
			return consume(ctx, s, t, useRdkafka)
		},
	}
}

// connect returns a client and, for a one-topic run, its Topic.
func connect(ctx context.Context, s workload.Spec) (*kafka.Client, *kafka.Topic, error) {
	client, err := kafka.NewClient(ctx, strings.Join(s.Brokers, ","), kafka.WithClientID("bench"))
	if err != nil {
		return nil, nil, err
	}
	if len(s.Topics) > 1 {
		return client, nil, nil
	}
	tp, err := client.Topic(ctx, s.Topics[0])
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	return client, tp, nil
}

func produce(ctx context.Context, s workload.Spec, t *workload.Tally, useRdkafka bool) error {
	client, tp, err := connect(ctx, s)
	if err != nil {
		return err
	}
	defer client.Close()
	linger := s.Linger
	if linger == 0 {
		linger = -1 // gokafka's spelling of "send at once" (0 is its default)
	}
	cfg := kafka.ProducerConfig{
		UseRdkafka:        useRdkafka,
		Linger:            linger,
		BatchBytes:        s.BatchBytes,
		MaxQueuedMessages: s.MaxQueued,
		OnDelivery: func(r kafka.DeliveryReport) {
			if r.Err != nil {
				t.Failed(r.Err)
				return
			}
			t.AckedValue(r.Message.Topic, r.Message.Partition, r.Message.Value)
		},
	}
	switch s.Acks {
	case "all":
		cfg.Acks = kafka.AcksAll // idempotent by default
	case "1":
		cfg.Acks = kafka.AcksLeader
	default:
		return fmt.Errorf("acks %q", s.Acks)
	}
	switch s.Compression {
	case "none":
	case "lz4":
		cfg.Compression = kafka.CompressionLZ4
	case "zstd":
		cfg.Compression = kafka.CompressionZstd
	default:
		return fmt.Errorf("compression %q", s.Compression)
	}
	if tp != nil {
		p, err := tp.NewProducer(cfg)
		if err != nil {
			return err
		}
		t.Start()
		for i := range s.Count {
			if err := p.Produce(ctx, t.Value(ctx, i)); err != nil {
				p.Close(ctx)
				return fmt.Errorf("produce #%d: %w", i, err)
			}
		}
		if err := p.Close(ctx); err != nil {
			return err
		}
		return workload.Wait(ctx, t)
	}
	// Several topics: one producer for all of them, the message names
	// its topic.
	p, err := client.NewProducer(cfg)
	if err != nil {
		return err
	}
	topics := s.Cycle()
	t.Start()
	for i := range s.Count {
		if err := p.ProduceMessage(ctx, &kafka.Message{Topic: topics.Next(), Value: t.Value(ctx, i)}); err != nil {
			p.Close(ctx)
			return fmt.Errorf("produce #%d: %w", i, err)
		}
	}
	if err := p.Close(ctx); err != nil {
		return err
	}
	return workload.Wait(ctx, t)
}

// messages is what the simple and the balanced consumer share.
type messages interface {
	Consume(ctx context.Context) (*kafka.Message, error)
	Close(ctx context.Context) error
}

func consume(ctx context.Context, s workload.Spec, t *workload.Tally, useRdkafka bool) error {
	client, tp, err := connect(ctx, s)
	if err != nil {
		return err
	}
	defer client.Close()
	opts := kafka.ConsumerOptions{
		UseRdkafka:      useRdkafka,
		AutoOffsetReset: kafka.ResetEarliest,
	}
	t.Start() // a group run's section starts at its first message instead
	var c messages
	switch {
	case s.Group:
		// A group of its own, read from the start, no commits.
		cfg := kafka.BalancedConsumerConfig{
			Group:           fmt.Sprintf("bench-gokafka-%x", rand.Uint64()),
			ConsumerOptions: opts,
		}
		if tp != nil {
			c, err = tp.NewBalancedConsumer(ctx, cfg)
		} else {
			cfg.Topics = s.Topics
			c, err = client.NewBalancedConsumer(ctx, cfg)
		}
	case tp != nil:
		c, err = tp.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerOptions: opts})
	default:
		all := map[string][]int32{}
		for _, name := range s.Topics {
			all[name] = nil // every partition
		}
		c, err = client.NewSimpleConsumer(ctx, kafka.ConsumerConfig{Topics: all, ConsumerOptions: opts})
	}
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	for t.Count() < s.Count {
		m, err := c.Consume(ctx)
		if err != nil {
			return err
		}
		t.ConsumedValue(m.Topic, m.Partition, m.Value)
	}
	return nil
}
