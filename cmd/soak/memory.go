package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/cmd/soak/faultsuite"
)

func runMemory(ctx context.Context, brokers, queued string, perPartition int, perMessage time.Duration, engineList string, jsonOut, verbose bool) error {
	client, brokers, stop, err := memoryClient(ctx, brokers, verbose)
	if err != nil {
		return err
	}
	defer stop()
	engines, err := pickEngines(ctx, brokers, engineList)
	if err != nil {
		return err
	}
	const partitions, size = 12, 1024
	t0 := time.Now()
	topic, err := faultsuite.FillTopic(ctx, client, partitions, perPartition, size)
	if err != nil {
		return err
	}
	defer client.DeleteTopic(context.WithoutCancel(ctx), topic.Name())
	info := os.Stdout
	if jsonOut { // standard output holds the JSON lines alone
		info = os.Stderr
	}
	fmt.Fprintf(info, "soak: memory topic %s: %d x %d messages of %d B in %v\n", topic.Name(), partitions, perPartition, size, time.Since(t0).Round(time.Millisecond))
	for _, e := range engines {
		for _, q := range strings.Split(queued, ",") {
			qmm, err := strconv.Atoi(strings.TrimSpace(q))
			if err != nil || qmm < 1 {
				return fmt.Errorf("-memory-queued: %q is not a positive number", q)
			}
			r, err := faultsuite.MeasureConsumerMemory(ctx, topic, faultsuite.MemoryConfig{Engine: e, QueuedMaxMessages: qmm, PerMessage: perMessage, Settle: 2 * time.Minute})
			if err != nil {
				return fmt.Errorf("%s, QueuedMaxMessages %d: %w", e.Name, qmm, err)
			}
			var bound string
			if !e.Rdkafka {
				bound = fmt.Sprintf("; bound %.1f MiB", mib(faultsuite.PureMemoryBound(partitions, qmm, size, 1<<20, 1<<20)))
			}
			if err := report(r, bound, jsonOut); err != nil {
				return err
			}
		}
	}
	return nil
}

// runByteBudget runs faultsuite.MeasureByteBudget once per size.
func runByteBudget(ctx context.Context, brokers string, budget int, sizes string, jsonOut, verbose bool) error {
	var list []int
	for _, s := range strings.Split(sizes, ",") {
		size, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || size < 1 {
			return fmt.Errorf("-memory-sizes: %q is not a positive number", s)
		}
		list = append(list, size)
	}
	client, _, stop, err := memoryClient(ctx, brokers, verbose)
	if err != nil {
		return err
	}
	defer stop()
	for _, size := range list {
		r, err := faultsuite.MeasureByteBudget(ctx, client, size, budget)
		if err != nil {
			return fmt.Errorf("%d B messages: %w (%s)", size, err, r)
		}
		if err := report(r, "", jsonOut); err != nil {
			return err
		}
	}
	return nil
}

// memoryClient returns a client of brokers, or of a throwaway cluster if
// brokers is empty, the brokers it uses, and what stops both.
func memoryClient(ctx context.Context, brokers string, verbose bool) (*kafka.Client, string, func(), error) {
	stopCluster := func() {}
	if brokers == "" {
		c, err := startCluster(ctx, verbose)
		if err != nil {
			return nil, "", nil, err
		}
		stopCluster = func() { c.Close() }
		brokers = c.BootstrapServers()
	}
	client, err := kafka.NewClient(ctx, brokers)
	if err != nil {
		stopCluster()
		return nil, "", nil, err
	}
	return client, brokers, func() { client.Close(); stopCluster() }, nil
}

// report prints r on standard output: as a line of JSON, or as text
// followed by extra.
func report(r faultsuite.MemoryResult, extra string, jsonOut bool) error {
	if !jsonOut {
		_, err := fmt.Println("soak: memory:", r.String()+extra)
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(os.Stdout, "%s\n", b)
	return err
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
