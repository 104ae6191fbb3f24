// Command kafka-go is the benchmark's client process for
// github.com/segmentio/kafka-go.
package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/gokafka/kafka/bench/internal/workload"
	kgo "github.com/segmentio/kafka-go"
)

func main() {
	workload.Main(workload.Client{Name: "kafka-go", Produce: produce, Consume: consume})
}

// chunk is how many messages go into one WriteMessages call: kafka-go's
// per-call cost (partition assignment maps, locking) is meant to be spread
// over a slice of messages, which is how its documentation writes them.
const chunk = 1000

func produce(ctx context.Context, s workload.Spec, t *workload.Tally) error {
	w := &kgo.Writer{
		Addr:         kgo.TCP(s.Brokers...),
		Topic:        s.Topic,
		Balancer:     &kgo.RoundRobin{},
		BatchTimeout: s.Linger,
		BatchBytes:   int64(s.BatchBytes),
		// BatchSize counts messages (default 100): let BatchBytes bind.
		BatchSize: s.BatchBytes/s.Size + 1,
		Async:     true,
		Completion: func(msgs []kgo.Message, err error) {
			for i := range msgs {
				if err != nil {
					t.Failed(err)
				} else {
					t.Acked(int32(msgs[i].Partition), len(msgs[i].Value))
				}
			}
		},
	}
	switch s.Acks {
	case "all":
		w.RequiredAcks = kgo.RequireAll // kafka-go has no idempotent producer
	case "1":
		w.RequiredAcks = kgo.RequireOne
	default:
		return fmt.Errorf("acks %q", s.Acks)
	}
	switch s.Compression {
	case "none":
	case "lz4":
		w.Compression = kgo.Lz4
	case "zstd":
		w.Compression = kgo.Zstd
	default:
		return fmt.Errorf("compression %q", s.Compression)
	}
	t.Start()
	var err error
	for sent := int64(0); sent < s.Count && err == nil; {
		n := min(int64(chunk), s.Count-sent)
		if err = t.WaitRoom(ctx, sent+n-1); err != nil {
			break
		}
		msgs := make([]kgo.Message, n)
		for j := range msgs {
			msgs[j].Value = s.Value(sent + int64(j))
		}
		err = w.WriteMessages(ctx, msgs...)
		sent += n
	}
	if err == nil {
		err = workload.Wait(ctx, t)
	}
	return errors.Join(err, w.Close())
}

func consume(ctx context.Context, s workload.Spec, t *workload.Tally) error {
	// Without a group, a kafka-go Reader reads one partition: one each.
	t.Start()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, s.Partitions)
	for p := range s.Partitions {
		r := kgo.NewReader(kgo.ReaderConfig{
			Brokers:   s.Brokers,
			Topic:     s.Topic,
			Partition: p,
			MinBytes:  1,
			MaxBytes:  1 << 20,
			MaxWait:   workload.FetchMaxWait,
		})
		if err := r.SetOffset(kgo.FirstOffset); err != nil {
			r.Close()
			cancel()
			wg.Wait()
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			for {
				m, err := r.FetchMessage(ctx)
				if err != nil {
					if ctx.Err() == nil {
						errs <- fmt.Errorf("partition %d: %w", p, err)
					}
					return
				}
				t.Consumed(int32(m.Partition), len(m.Value))
			}
		}()
	}
	var err error
	select {
	case <-t.Done():
	case err = <-errs:
	case <-ctx.Done():
		err = workload.Wait(ctx, t)
	}
	cancel()
	wg.Wait()
	return err
}
