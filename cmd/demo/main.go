// Command demo is gokafka's main job in one run: it creates a topic,
// produces 100 000 messages with the pure-Go engine, reads them all back with
// a simple consumer in a consumer group, commits, and prints
//
//	demo: produced 100000 consumed 100000 in 3.2s (31000 msg/s)
//	demo: group demo committed 100000, lag 0 (gokafka groups lag demo)
//
// and a summary of what a hook counted and of client.Stats() (per broker:
// requests, bytes, latency percentiles).
//
// It talks to the brokers in $BROKERS (as `make demo` sets them, after
// starting a throwaway cluster), or to -brokers.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/gokafka/kafka"
	_ "github.com/gokafka/kafka/rdkafka" // enables -rdkafka; compiles to nothing without cgo
)

func main() {
	var (
		brokers    = flag.String("brokers", os.Getenv("BROKERS"), "bootstrap brokers, host:port,...")
		count      = flag.Int("n", 100000, "messages to produce and consume")
		size       = flag.Int("size", 100, "message value size in bytes")
		partitions = flag.Int("partitions", 6, "partitions of the demo topic")
		rdkafka    = flag.Bool("rdkafka", false, "use the librdkafka engine (needs the blank import; see README)")
	)
	flag.Parse()
	if *brokers == "" {
		fmt.Fprintln(os.Stderr, "demo: no brokers: set BROKERS or -brokers (make demo starts a cluster for you)")
		os.Exit(2)
	}
	if err := run(*brokers, *count, *size, int32(*partitions), *rdkafka); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(brokers string, count, size int, partitions int32, rdkafka bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	hook := &tally{}
	client, err := kafka.NewClient(ctx, brokers, kafka.WithClientID("gokafka-demo"), kafka.WithHooks(hook))
	if err != nil {
		return err
	}
	defer client.Close()

	name := "demo-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	topic, err := client.CreateTopic(ctx, name, kafka.TopicConfig{Partitions: partitions, ReplicationFactor: int16(min(3, len(client.Brokers())))})
	if err != nil {
		return err
	}
	fmt.Printf("demo: topic %s, %d partitions on %d brokers\n", name, partitions, len(client.Brokers()))

	start := time.Now()
	producer, err := topic.NewProducer(kafka.ProducerConfig{UseRdkafka: rdkafka})
	if err != nil {
		return err
	}
	value := make([]byte, size)
	for i := 0; i < count; i++ {
		if err := producer.Produce(ctx, value, kafka.Key([]byte(strconv.Itoa(i)))); err != nil {
			return fmt.Errorf("produce: %w", err)
		}
	}
	if err := producer.Close(ctx); err != nil {
		return fmt.Errorf("producer close: %w", err)
	}
	produced := time.Since(start)

	consumer, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{
		ConsumerGroup:   "demo",
		ConsumerOptions: kafka.ConsumerOptions{ConsumerTimeout: 10 * time.Second, UseRdkafka: rdkafka},
	})
	if err != nil {
		return err
	}
	consumed := 0
	for _, err := range consumer.Messages(ctx) {
		if err != nil {
			return fmt.Errorf("consume: %w", err)
		}
		if consumed++; consumed == count {
			break
		}
	}
	if err := consumer.CommitOffsets(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if err := consumer.Close(ctx); err != nil {
		return err
	}
	total := time.Since(start)
	fmt.Printf("demo: produce %v (%.0f msg/s), consume %v (%.0f msg/s)\n",
		produced.Round(time.Millisecond), float64(count)/produced.Seconds(),
		(total - produced).Round(time.Millisecond), float64(consumed)/(total-produced).Seconds())
	fmt.Printf("demo: produced %d consumed %d in %.1fs (%.0f msg/s)\n",
		count, consumed, total.Seconds(), float64(count)/total.Seconds())
	if consumed != count {
		return fmt.Errorf("consumed %d of %d messages", consumed, count)
	}
	// What Kafka itself now says of the group (kafka-consumer-groups
	// --describe, or gokafka groups lag demo).
	lag, err := client.GroupLag(ctx, "demo")
	if err != nil {
		return fmt.Errorf("group lag: %w", err)
	}
	var committed, behind int64
	for _, p := range lag.Partitions {
		if p.Topic == name {
			committed += p.Committed
			behind += p.Lag
		}
	}
	fmt.Printf("demo: group demo committed %d, lag %d (gokafka groups lag demo)\n", committed, behind)
	if behind != 0 || committed != int64(count) {
		return fmt.Errorf("group demo: committed %d, lag %d; want %d and 0", committed, behind, count)
	}
	summary(hook, client.Stats())
	return nil
}
