// Command kafka-go is the benchmark's client process for
// github.com/segmentio/kafka-go.
package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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
					t.Acked(msgs[i].Topic, int32(msgs[i].Partition), len(msgs[i].Value))
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
	// One topic: the Writer's. Several: each message names its own (a
	// Writer with a Topic refuses messages that do).
	var topics *workload.TopicCycle
	if len(s.Topics) == 1 {
		w.Topic = s.Topics[0]
	} else {
		topics = s.Cycle()
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
			if topics != nil {
				msgs[j].Topic = topics.Next()
			}
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
	if s.Group {
		return consumeGroup(ctx, s, t)
	}
	// Without a group, a kafka-go Reader reads one partition: one each.
	t.Start()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, len(s.Topics)*s.Partitions)
	for i := range len(s.Topics) * s.Partitions {
		topic, p := s.Topics[i/s.Partitions], i%s.Partitions
		r := kgo.NewReader(kgo.ReaderConfig{
			Brokers:   s.Brokers,
			Topic:     topic,
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
						errs <- fmt.Errorf("%s[%d]: %w", topic, p, err)
					}
					return
				}
				t.Consumed(m.Topic, int32(m.Partition), len(m.Value))
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

// consumeGroup reads through one group Reader (kafka-go's consumer group:
// GroupTopics, from the first offset); FetchMessage does not commit.
func consumeGroup(ctx context.Context, s workload.Spec, t *workload.Tally) error {
	r := kgo.NewReader(kgo.ReaderConfig{
		Brokers:     s.Brokers,
		GroupID:     fmt.Sprintf("bench-kafkago-%x", rand.Uint64()),
		GroupTopics: s.Topics,
		StartOffset: kgo.FirstOffset,
		MinBytes:    1,
		MaxBytes:    1 << 20,
		MaxWait:     workload.FetchMaxWait,
	})
	defer r.Close()
	for t.Count() < s.Count {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			return err
		}
		t.Consumed(m.Topic, int32(m.Partition), len(m.Value))
	}
	return nil
}
