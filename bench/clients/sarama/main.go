// Command sarama is the benchmark's client process for github.com/IBM/sarama.
package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"

	"github.com/IBM/sarama"
	"github.com/gokafka/kafka/bench/internal/workload"
)

func main() {
	workload.Main(workload.Client{Name: "sarama", Produce: produce, Consume: consume})
}

func config() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.ClientID = "bench"
	cfg.Version = sarama.V4_0_0_0 // Kafka 4 dropped the old request versions sarama defaults to
	return cfg
}

func produce(ctx context.Context, s workload.Spec, t *workload.Tally) error {
	cfg := config()
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	cfg.Producer.Flush.Frequency = s.Linger
	cfg.Producer.Flush.Bytes = s.BatchBytes
	cfg.Producer.MaxMessageBytes = s.BatchBytes
	switch s.Acks {
	case "all":
		cfg.Producer.RequiredAcks = sarama.WaitForAll
		// sarama's idempotent producer allows one request in flight per
		// broker only; that is its documented constraint, not ours.
		cfg.Producer.Idempotent = true
		cfg.Net.MaxOpenRequests = 1
	case "1":
		cfg.Producer.RequiredAcks = sarama.WaitForLocal
	default:
		return fmt.Errorf("acks %q", s.Acks)
	}
	switch s.Compression {
	case "none":
		cfg.Producer.Compression = sarama.CompressionNone
	case "lz4":
		cfg.Producer.Compression = sarama.CompressionLZ4
	case "zstd":
		cfg.Producer.Compression = sarama.CompressionZSTD
	default:
		return fmt.Errorf("compression %q", s.Compression)
	}
	p, err := sarama.NewAsyncProducer(s.Brokers, cfg)
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for m := range p.Successes() {
			t.Acked(m.Topic, m.Partition, m.Value.Length())
		}
	}()
	go func() {
		defer wg.Done()
		for e := range p.Errors() {
			t.Failed(e)
		}
	}()
	topics := s.Cycle()
	t.Start()
	var sendErr error
	for i := range s.Count {
		if err := t.WaitRoom(ctx, i); err != nil {
			sendErr = err
			break
		}
		select {
		case p.Input() <- &sarama.ProducerMessage{Topic: topics.Next(), Value: sarama.ByteEncoder(s.Value(i))}:
		case <-ctx.Done():
			sendErr = ctx.Err()
		}
		if sendErr != nil {
			break
		}
	}
	if sendErr == nil {
		sendErr = workload.Wait(ctx, t)
	}
	p.AsyncClose() // drains Successes and Errors, then closes them
	wg.Wait()
	return sendErr
}

func consume(ctx context.Context, s workload.Spec, t *workload.Tally) error {
	cfg := config()
	cfg.Consumer.Return.Errors = true
	cfg.Consumer.MaxWaitTime = workload.FetchMaxWait
	cfg.Consumer.Fetch.Default = 1 << 20
	if s.Group {
		return consumeGroup(ctx, s, t, cfg)
	}
	c, err := sarama.NewConsumer(s.Brokers, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	t.Start()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(s.Topics)*s.Partitions)
	for i := range len(s.Topics) * s.Partitions {
		pc, err := c.ConsumePartition(s.Topics[i/s.Partitions], int32(i%s.Partitions), sarama.OffsetOldest)
		if err != nil {
			cancel()
			wg.Wait()
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer pc.Close() // drains what is left
			for {
				select {
				case m := <-pc.Messages():
					t.Consumed(m.Topic, m.Partition, len(m.Value))
				case e := <-pc.Errors():
					errs <- e
					return
				case <-t.Done():
					return
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	err = workload.Wait(ctx, t)
	cancel()
	wg.Wait()
	select {
	case e := <-errs:
		if err == nil && t.Count() < s.Count {
			err = e
		}
	default:
	}
	return err
}

// consumeGroup reads through a sarama ConsumerGroup of its own (from the
// oldest offsets, no commits): one goroutine per claimed partition.
func consumeGroup(ctx context.Context, s workload.Spec, t *workload.Tally, cfg *sarama.Config) error {
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = false
	g, err := sarama.NewConsumerGroup(s.Brokers, fmt.Sprintf("bench-sarama-%x", rand.Uint64()), cfg)
	if err != nil {
		return err
	}
	defer g.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, 1)
	go func() {
		// Consume returns at every rebalance; a member alone in its
		// group has one, unless the session ends.
		for ctx.Err() == nil {
			if err := g.Consume(ctx, s.Topics, handler{t}); err != nil && ctx.Err() == nil {
				errs <- err
				return
			}
		}
	}()
	go func() {
		for e := range g.Errors() {
			select {
			case errs <- e:
			default:
			}
		}
	}()
	select {
	case <-t.Done():
		return nil
	case err := <-errs:
		return err
	case <-ctx.Done():
		return workload.Wait(ctx, t)
	}
}

type handler struct{ t *workload.Tally }

func (handler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h handler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			h.t.Consumed(m.Topic, m.Partition, len(m.Value))
		case <-h.t.Done():
			return nil
		case <-sess.Context().Done():
			return nil
		}
	}
}
