// Command sarama is the benchmark's client process for github.com/IBM/sarama.
package main

import (
	"context"
	"fmt"
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
			t.Acked(m.Partition, m.Value.Length())
		}
	}()
	go func() {
		defer wg.Done()
		for e := range p.Errors() {
			t.Failed(e)
		}
	}()
	t.Start()
	var sendErr error
	for i := range s.Count {
		if err := t.WaitRoom(ctx, i); err != nil {
			sendErr = err
			break
		}
		select {
		case p.Input() <- &sarama.ProducerMessage{Topic: s.Topic, Value: sarama.ByteEncoder(s.Value(i))}:
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
	c, err := sarama.NewConsumer(s.Brokers, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	t.Start()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, s.Partitions)
	for p := range int32(s.Partitions) {
		pc, err := c.ConsumePartition(s.Topic, p, sarama.OffsetOldest)
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
					t.Consumed(m.Partition, len(m.Value))
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
