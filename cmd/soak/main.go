// Command soak repeats gokafka's fault scenarios N times on a throwaway
// 3-broker cluster of its own and prints what became of every message:
//
//	go run ./cmd/soak -n 20        # or: make soak SOAK_N=20
//
// Each round runs, for both engines where librdkafka is compiled in: a
// kill -9 of a partition leader under asynchronous and Sync producers
// (acks=all, idempotent) and consumers; consumers reading across a leader
// change and across a restart of the whole cluster; and, for the pure
// engine, the kill -9 again with a DeliveryTimeout shorter than the
// failover, and network faults through a TCP proxy per broker (latency,
// resets, an unreachable broker, black holes, Close in a black hole); and
// the exactly-once pipeline: 200 000 messages through three Pipeline
// members (this program, re-executed), one killed with SIGKILL, then the
// transaction coordinator killed with SIGKILL, the output read back by
// kcat as a read_committed reader. The
// scenarios are those of the root package's fault tests; they live in
// cmd/soak/faultsuite, so the soak proves what the tests prove, N times
// over. Every result is printed as it comes; the last lines are the totals
// of messages sent, acknowledged, read, lost and duplicated, and the spread
// of every recovery time. The exit status is 1 if anything was lost,
// duplicated, reordered, stalled past its bound, or could not run.
//
// With -memory it measures instead how much memory a slow consumer holds
// for several QueuedMaxMessages (12 partitions of 1 KiB messages), with
// each engine, and prints the figures (no fault is involved, so -brokers
// may name an existing cluster). With -memory -memory-budget it measures
// the pure engine's consumer under that byte budget, once per message size
// (faultsuite.MeasureByteBudget); the root package's byte-budget test runs
// it so, in a process of its own without the race detector.
//
// N is -n, else $SOAK_N, else 20.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/cmd/soak/faultsuite"
	_ "github.com/gokafka/kafka/rdkafka" // both engines; compiles to nothing without cgo
	"github.com/gokafka/kafka/testinstance"
)

func main() {
	if spec := os.Getenv(faultsuite.PipelineMemberEnv); spec != "" {
		// Started by the pipeline scenario as one of its members.
		if err := faultsuite.RunPipelineMember(spec); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		return
	}
	defaultN := 20
	if s := os.Getenv("SOAK_N"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "soak: SOAK_N=%q is not a positive number\n", s)
			os.Exit(2)
		}
		defaultN = n
	}
	var (
		n          = flag.Int("n", defaultN, "rounds (default $SOAK_N, else 20)")
		engines    = flag.String("engines", "pure,rdkafka", "engines to run (rdkafka is left out, with a note, where it is not compiled in)")
		expiry     = flag.String("expiry-engines", "pure", "engines of the leader-kill-expiry scenario (librdkafka duplicates acknowledged messages there: see faultsuite.LeaderKillExpiry)")
		scenarios  = flag.String("scenarios", "", "comma-separated scenarios to run (default all: "+strings.Join(faultsuite.ScenarioNames, ",")+")")
		timeout    = flag.Duration("timeout", 6*time.Hour, "give up after this long")
		verbose    = flag.Bool("v", false, "log progress and the cluster's own lines")
		memory     = flag.Bool("memory", false, "measure a slow consumer's memory instead of running fault rounds")
		queued     = flag.String("memory-queued", "1000,10000,100000", "QueuedMaxMessages values to measure")
		perPart    = flag.Int("memory-messages", 30000, "messages per partition in the memory topic (12 partitions, 1 KiB each)")
		perMessage = flag.Duration("memory-handler", time.Millisecond, "time the slow handler takes per message")
		budget     = flag.Int("memory-budget", 0, "with -memory: measure instead the pure engine's consumer under this byte budget (QueuedMaxBytes), once per -memory-sizes")
		sizes      = flag.String("memory-sizes", "100,10240,1047552", "with -memory-budget: message sizes in bytes")
		jsonOut    = flag.Bool("json", false, "with -memory: print each measurement as a line of JSON (faultsuite.MemoryResult)")
		brokers    = flag.String("brokers", "", "with -memory: an existing cluster to use instead of a throwaway one")
	)
	flag.Parse()
	if *budget != 0 && !*memory {
		fmt.Fprintln(os.Stderr, "soak: -memory-budget goes with -memory")
		os.Exit(2)
	}
	if *n < 1 {
		fmt.Fprintln(os.Stderr, "soak: -n must be at least 1")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	var err error
	switch {
	case *memory && *budget > 0:
		err = runByteBudget(ctx, *brokers, *budget, *sizes, *jsonOut, *verbose)
	case *memory:
		err = runMemory(ctx, *brokers, *queued, *perPart, *perMessage, *engines, *jsonOut, *verbose)
	default:
		err = runSoak(ctx, *n, *engines, *expiry, *scenarios, *verbose)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func startCluster(ctx context.Context, verbose bool) (*testinstance.Cluster, error) {
	cfg := testinstance.Config{Brokers: 3, NoZooKeeper: true}
	if verbose {
		cfg.Log = os.Stderr
	}
	t0 := time.Now()
	c, err := testinstance.Start(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("starting a cluster: %w", err)
	}
	fmt.Printf("soak: cluster %s up in %v (Kafka %s)\n", c.BootstrapServers(), time.Since(t0).Round(time.Millisecond), c.KafkaVersion())
	return c, nil
}

// pickEngines parses -engines, leaving rdkafka out where it is not
// compiled in.
func pickEngines(ctx context.Context, brokers, list string) ([]faultsuite.Engine, error) {
	var out []faultsuite.Engine
	for _, name := range strings.Split(list, ",") {
		switch strings.TrimSpace(name) {
		case "pure":
			out = append(out, faultsuite.Pure)
		case "rdkafka":
			client, err := kafka.NewClient(ctx, brokers)
			if err != nil {
				return nil, err
			}
			topic, err := client.CreateTopic(ctx, "soak-probe-"+strconv.FormatInt(time.Now().UnixNano(), 36), kafka.TopicConfig{Partitions: 1, ReplicationFactor: 1})
			if err != nil {
				client.Close()
				return nil, err
			}
			on, err := faultsuite.RdkafkaEnabled(topic)
			client.DeleteTopic(ctx, topic.Name())
			client.Close()
			if err != nil {
				return nil, err
			}
			if on {
				out = append(out, faultsuite.Rdkafka)
			} else {
				fmt.Println("soak: the rdkafka engine is not compiled in (cgo off or -tags nordkafka): pure engine only")
			}
		case "":
		default:
			return nil, fmt.Errorf("unknown engine %q", name)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no engine to run")
	}
	return out, nil
}

func runSoak(ctx context.Context, rounds int, engineList, expiryList, scenarioList string, verbose bool) error {
	cfg := faultsuite.RoundConfig{MemberCommand: func() *exec.Cmd { return exec.Command(os.Args[0]) }}
	if scenarioList != "" {
		for _, name := range strings.Split(scenarioList, ",") {
			name = strings.TrimSpace(name)
			if !slices.Contains(faultsuite.ScenarioNames, name) {
				return fmt.Errorf("unknown scenario %q (known: %s)", name, strings.Join(faultsuite.ScenarioNames, ","))
			}
			cfg.Scenarios = append(cfg.Scenarios, name)
		}
	}
	c, err := startCluster(ctx, verbose)
	if err != nil {
		return err
	}
	defer c.Close()
	if cfg.Engines, err = pickEngines(ctx, c.BootstrapServers(), engineList); err != nil {
		return err
	}
	if cfg.ExpiryEngines, err = pickEngines(ctx, c.BootstrapServers(), expiryList); err != nil {
		return err
	}
	engines := cfg.Engines
	names := make([]string, len(engines))
	for i, e := range engines {
		names[i] = e.Name
	}
	fmt.Printf("soak: %d rounds, engines %s\n", rounds, strings.Join(names, ","))
	env := &faultsuite.Env{Cluster: c}
	if verbose {
		env.Logf = func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
		}
	}
	t0 := time.Now()
	totals := faultsuite.Soak(ctx, env, rounds, cfg, os.Stdout)
	fmt.Printf("soak: finished in %v\n", time.Since(t0).Round(time.Second))
	fmt.Print(totals.String())
	if ctx.Err() != nil {
		return fmt.Errorf("stopped after %d of %d rounds: %w", totals.Rounds, rounds, ctx.Err())
	}
	if !totals.Clean() {
		return fmt.Errorf("%d violations, %d rounds with errors", totals.Violations, totals.Errors)
	}
	return nil
}
