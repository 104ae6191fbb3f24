// Command txnpipe measures consume-transform-produce with transactions:
// gokafka's Pipeline (pure engine) against franz-go's GroupTransactSession,
// each beside its own non-transactional loop on the same work, so that the
// cost of exactly-once shows as a ratio per client.
//
//	cd bench && go run ./txnpipe -brokers host:port,...
//
// The input is one 12-partition topic of -n messages of 100 B, written
// once. Each run is one member of a fresh group reading it from the start
// and writing every message to a fresh output topic, committing every
// 100 ms: the transactional loops commit a transaction holding the outputs
// and the input offsets (read_committed input), the plain ones commit the
// group's offsets after flushing the outputs. A run's rate is -n over the
// time from its start until the group's committed offsets cover the whole
// input, read every 20 ms (with gokafka's admin client, the same for all).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gokafka/kafka"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	partitions = 12
	size       = 100
	interval   = 100 * time.Millisecond
)

func main() {
	brokers := flag.String("brokers", os.Getenv("BROKERS"), "bootstrap servers (default $BROKERS)")
	n := flag.Int("n", 200_000, "input messages")
	rounds := flag.Int("rounds", 1, "rounds of the four loops, one after another, on the same input")
	flag.Parse()
	ctx := context.Background()
	client, err := kafka.NewClient(ctx, *brokers)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	stamp := fmt.Sprint(time.Now().UnixNano())
	in := "txnpipe-in-" + stamp
	if err := fill(ctx, client, in, *n); err != nil {
		log.Fatal(err)
	}
	defer client.DeleteTopic(ctx, in)
	runs := []struct {
		name string
		run  func(ctx context.Context, in, out, group string) error
	}{
		{"gokafka-pure plain loop", func(ctx context.Context, in, out, group string) error {
			return gokafkaPlain(ctx, client, in, out, group)
		}},
		{"gokafka-pure Pipeline", func(ctx context.Context, in, out, group string) error {
			return gokafkaPipeline(ctx, client, in, out, group)
		}},
		{"franz-go plain loop", func(ctx context.Context, in, out, group string) error {
			return franzPlain(ctx, *brokers, in, out, group)
		}},
		{"franz-go GroupTransactSession", func(ctx context.Context, in, out, group string) error {
			return franzTxn(ctx, *brokers, in, out, group)
		}},
	}
	fmt.Printf("txnpipe: %d messages of %d B, %d partitions, a commit every %v, one member, %d round(s)\n", *n, size, partitions, interval, *rounds)
	rates := make([][]float64, len(runs)) // [variant][round] msg/s
	for round := range *rounds {
		fmt.Printf("== round %d, load average %s\n", round+1, loadavg())
		for i, r := range runs {
			out := fmt.Sprintf("txnpipe-out-%s-%d-%d", stamp, round, i)
			if _, err := client.CreateTopic(ctx, out, kafka.TopicConfig{Partitions: partitions, ReplicationFactor: 3}); err != nil {
				log.Fatal(err)
			}
			group := fmt.Sprintf("txnpipe-%s-%d-%d", stamp, round, i)
			d, err := measure(ctx, client, in, out, group, *n, r.run)
			client.DeleteTopic(ctx, out)
			if err != nil {
				log.Fatalf("%s: %v", r.name, err)
			}
			rate := float64(*n) / d.Seconds()
			rates[i] = append(rates[i], rate)
			fmt.Printf("%-32s %8.0f msg/s  (%v)\n", r.name, rate, d.Round(time.Millisecond))
		}
	}
	if *rounds > 1 {
		summarize(runs[0].name, runs[1].name, rates[0], rates[1])
		summarize(runs[2].name, runs[3].name, rates[2], rates[3])
	}
}

// summarize prints a client's transactional loop against its plain one over
// the rounds: each one's median and range, the median of the rounds'
// ratios, and the ratio of the medians (the two differ when one loop has
// outlier rounds).
func summarize(plainName, txnName string, plain, txn []float64) {
	ratios := make([]float64, len(plain))
	for i := range plain {
		ratios[i] = txn[i] / plain[i]
	}
	fmt.Printf("%-32s median %8.0f msg/s (%.0f-%.0f)\n", plainName, median(plain), slices.Min(plain), slices.Max(plain))
	fmt.Printf("%-32s median %8.0f msg/s (%.0f-%.0f)\n", txnName, median(txn), slices.Min(txn), slices.Max(txn))
	fmt.Printf("%-32s ratio per round %.2f, median %.2f; ratio of medians %.2f\n", "", ratios, median(ratios), median(txn)/median(plain))
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// loadavg is the machine's load average as /proc/loadavg gives it, or "?".
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// fill writes n messages of size bytes to a new topic.
func fill(ctx context.Context, client *kafka.Client, topic string, n int) error {
	if _, err := client.CreateTopic(ctx, topic, kafka.TopicConfig{Partitions: partitions, ReplicationFactor: 3}); err != nil {
		return err
	}
	p, err := client.NewProducer(kafka.ProducerConfig{})
	if err != nil {
		return err
	}
	v := []byte(strings.Repeat("x", size))
	for range n {
		if err := p.ProduceMessage(ctx, &kafka.Message{Topic: topic, Value: v}); err != nil {
			return err
		}
	}
	return p.Close(ctx)
}

// measure runs run until the group's committed offsets of in add up to n,
// and returns how long that took.
func measure(ctx context.Context, client *kafka.Client, in, out, group string, n int, run func(ctx context.Context, in, out, group string) error) (time.Duration, error) {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	t0 := time.Now()
	go func() { done <- run(rctx, in, out, group) }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Minute)
	for {
		select {
		case err := <-done:
			return 0, fmt.Errorf("ended before the input was committed: %v", err)
		case <-deadline:
			cancel()
			<-done
			return 0, fmt.Errorf("not done within 10 minutes")
		case <-tick.C:
		}
		got, _ := client.CommittedOffsets(ctx, group)
		var sum int64
		for tp, o := range got {
			if tp.Topic == in {
				sum += o
			}
		}
		if sum >= int64(n) {
			d := time.Since(t0)
			cancel()
			<-done
			return d, nil
		}
	}
}

func gokafkaPipeline(ctx context.Context, client *kafka.Client, in, out, group string) error {
	p, err := client.NewPipeline(ctx, kafka.PipelineConfig{
		Consumer:       kafka.BalancedConsumerConfig{Group: group, Topics: []string{in}},
		Producer:       kafka.ProducerConfig{TransactionalID: group},
		CommitInterval: interval,
	})
	if err != nil {
		return err
	}
	defer p.Close(context.WithoutCancel(ctx))
	return p.Run(ctx, func(ctx context.Context, m *kafka.Message, w *kafka.Producer) error {
		return w.ProduceMessage(ctx, &kafka.Message{Topic: out, Value: m.Value})
	})
}

func gokafkaPlain(ctx context.Context, client *kafka.Client, in, out, group string) error {
	c, err := client.NewBalancedConsumer(ctx, kafka.BalancedConsumerConfig{Group: group, Topics: []string{in}})
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	p, err := client.NewProducer(kafka.ProducerConfig{})
	if err != nil {
		return err
	}
	defer p.Close(context.WithoutCancel(ctx))
	for {
		// One deadline per interval, as Pipeline.Run does.
		next := time.Now().Add(interval)
		pctx, cancel := context.WithDeadline(ctx, next)
		for time.Now().Before(next) {
			m, err := c.Consume(pctx)
			switch {
			case err == nil:
				if err := p.ProduceMessage(ctx, &kafka.Message{Topic: out, Value: m.Value}); err != nil {
					cancel()
					return err
				}
			case ctx.Err() != nil:
				cancel()
				return ctx.Err()
			}
		}
		cancel()
		if err := p.Flush(ctx); err != nil {
			return err
		}
		if err := c.CommitOffsets(ctx); err != nil {
			return err
		}
	}
}

func franzOpts(brokers, in, group string) []kgo.Opt {
	return []kgo.Opt{
		kgo.SeedBrokers(strings.Split(brokers, ",")...),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(in),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}
}

func franzPlain(ctx context.Context, brokers, in, out, group string) error {
	cl, err := kgo.NewClient(append(franzOpts(brokers, in, group), kgo.DisableAutoCommit())...)
	if err != nil {
		return err
	}
	defer cl.Close()
	var failed atomic.Value
	next := time.Now().Add(interval)
	for {
		pctx, cancel := context.WithDeadline(ctx, next)
		fs := cl.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fs.EachRecord(func(r *kgo.Record) {
			cl.Produce(ctx, &kgo.Record{Topic: out, Value: r.Value}, func(_ *kgo.Record, err error) {
				if err != nil {
					failed.Store(err)
				}
			})
		})
		if time.Now().After(next) {
			if err := cl.Flush(ctx); err != nil {
				return err
			}
			if err, _ := failed.Load().(error); err != nil {
				return err
			}
			if err := cl.CommitUncommittedOffsets(ctx); err != nil {
				return err
			}
			next = time.Now().Add(interval)
		}
	}
}

func franzTxn(ctx context.Context, brokers, in, out, group string) error {
	s, err := kgo.NewGroupTransactSession(append(franzOpts(brokers, in, group),
		kgo.TransactionalID(group), kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		return err
	}
	defer s.Close()
	for {
		if err := s.Begin(); err != nil {
			return err
		}
		end := time.Now().Add(interval)
		for time.Now().Before(end) {
			pctx, cancel := context.WithDeadline(ctx, end)
			fs := s.PollFetches(pctx)
			cancel()
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fs.EachRecord(func(r *kgo.Record) {
				s.Produce(ctx, &kgo.Record{Topic: out, Value: r.Value}, nil) // a failure fails End's commit
			})
		}
		if _, err := s.End(ctx, kgo.TryCommit); err != nil {
			return err
		}
	}
}
