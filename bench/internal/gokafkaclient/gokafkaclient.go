// Package gokafkaclient drives gokafka for the benchmark; the pure and the
// librdkafka client programs share it and differ only in UseRdkafka (and in
// the rdkafka program's blank import of the engine).
package gokafkaclient

import (
	"context"
	"fmt"
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

func topic(ctx context.Context, s workload.Spec) (*kafka.Client, *kafka.Topic, error) {
	client, err := kafka.NewClient(ctx, strings.Join(s.Brokers, ","), kafka.WithClientID("bench"))
	if err != nil {
		return nil, nil, err
	}
	tp, err := client.Topic(ctx, s.Topic)
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	return client, tp, nil
}

func produce(ctx context.Context, s workload.Spec, t *workload.Tally, useRdkafka bool) error {
	client, tp, err := topic(ctx, s)
	if err != nil {
		return err
	}
	defer client.Close()
	cfg := kafka.ProducerConfig{
		UseRdkafka:        useRdkafka,
		Linger:            s.Linger,
		BatchBytes:        s.BatchBytes,
		MaxQueuedMessages: s.MaxQueued,
		OnDelivery: func(r kafka.DeliveryReport) {
			if r.Err != nil {
				t.Failed(r.Err)
				return
			}
			t.Acked(r.Message.Partition, len(r.Message.Value))
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
	p, err := tp.NewProducer(cfg)
	if err != nil {
		return err
	}
	t.Start()
	for i := range s.Count {
		if err := p.Produce(ctx, s.Value(i)); err != nil {
			p.Close(ctx)
			return fmt.Errorf("produce #%d: %w", i, err)
		}
	}
	if err := p.Close(ctx); err != nil {
		return err
	}
	return workload.Wait(ctx, t)
}

func consume(ctx context.Context, s workload.Spec, t *workload.Tally, useRdkafka bool) error {
	client, tp, err := topic(ctx, s)
	if err != nil {
		return err
	}
	defer client.Close()
	t.Start()
	c, err := tp.NewSimpleConsumer(ctx, kafka.ConsumerConfig{
		UseRdkafka:      useRdkafka,
		AutoOffsetReset: kafka.ResetEarliest,
	})
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	for t.Count() < s.Count {
		m, err := c.Consume(ctx)
		if err != nil {
			return err
		}
		t.Consumed(m.Partition, len(m.Value))
	}
	return nil
}
