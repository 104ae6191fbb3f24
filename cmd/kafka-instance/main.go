// Command kafka-instance runs a throwaway local Kafka cluster (KRaft, no
// Docker) plus a ZooKeeper until it is interrupted, for running tests by hand
// or in CI against one cluster shared by several packages.
//
//	go run ./cmd/kafka-instance -brokers 3 -export-hosts /tmp/kafka.env
//
// Once the cluster is ready it prints
//
//	Brokers: 127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3
//	ZooKeeper: 127.0.0.1:P
//
// and, with -export-hosts FILE, writes BROKERS=... and ZOOKEEPER=... lines
// to FILE (atomically, so a script may wait for the file to appear). Tests
// using testinstance.Main pick the cluster up from those variables:
//
//	set -a; . /tmp/kafka.env; set +a; go test ./...
//
// On SIGINT or SIGTERM it stops every process, removes the cluster's
// temporary directory and the -export-hosts file, and exits.
//
// -exec runs a command against a fresh cluster and stops the cluster after it:
//
//	go run ./cmd/kafka-instance -exec -- go test ./...
//
// -prefetch only downloads the jars into the cache (for CI warm-up).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/gokafka/kafka/testinstance"
)

func main() {
	os.Exit(run())
}

func run() int {
	var (
		brokers    = flag.Int("brokers", testinstance.DefaultBrokers, "number of Kafka brokers (each also a KRaft controller)")
		kafkaVer   = flag.String("kafka-version", "", "org.apache.kafka:kafka_2.13 version (default $GOKAFKA_KAFKA_VERSION, else "+testinstance.DefaultKafkaVersion+")")
		zkVer      = flag.String("zookeeper-version", testinstance.DefaultZooKeeperVersion, "org.apache.zookeeper:zookeeper version")
		exportFile = flag.String("export-hosts", "", "write BROKERS=... and ZOOKEEPER=... lines to this `file` once ready")
		cacheDir   = flag.String("cache-dir", "", "jar cache `dir` (default $GOKAFKA_CACHE or the user cache dir + /gokafka)")
		noZK       = flag.Bool("no-zookeeper", false, "do not start ZooKeeper")
		verbose    = flag.Bool("v", false, "stream the Kafka and ZooKeeper logs to stderr")
		prefetch   = flag.Bool("prefetch", false, "only resolve the jars into the cache, then exit")
		timeout    = flag.Duration("start-timeout", 2*time.Minute, "how long the nodes may take to become ready (after the jars are resolved)")
		execCmd    = flag.Bool("exec", false, "run the command after -- with BROKERS and ZOOKEEPER set, then stop the cluster and exit with the command's status")
	)
	flag.Parse()
	if *execCmd && flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "kafka-instance: -exec needs a command after --")
		return 2
	}
	if !*execCmd && flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "kafka-instance: unexpected arguments %q\n", flag.Args())
		flag.Usage()
		return 2
	}
	cfg := testinstance.Config{
		Brokers:          *brokers,
		KafkaVersion:     *kafkaVer,
		ZooKeeperVersion: *zkVer,
		NoZooKeeper:      *noZK,
		CacheDir:         *cacheDir,
		Log:              os.Stderr,
		StartTimeout:     *timeout,
	}
	if *verbose {
		cfg.ProcessLog = os.Stderr
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	began := time.Now()

	if *prefetch {
		if err := testinstance.Prefetch(ctx, cfg); err != nil {
			fmt.Fprintln(os.Stderr, "kafka-instance:", err)
			return 1
		}
		fmt.Printf("Prefetched the jars in %s\n", time.Since(began).Round(time.Millisecond))
		return 0
	}

	c, err := testinstance.Start(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kafka-instance:", err)
		if errors.Is(err, context.Canceled) {
			return 130
		}
		return 1
	}
	defer c.Close()

	fmt.Printf("Brokers: %s\n", c.BootstrapServers())
	if zk := c.ZooKeeper(); zk != "" {
		fmt.Printf("ZooKeeper: %s\n", zk)
	}
	fmt.Printf("Ready in %s (Kafka %s, data in %s); Ctrl-C to stop\n", time.Since(began).Round(time.Millisecond), c.KafkaVersion(), c.Dir())
	if *exportFile != "" {
		if err := writeExport(*exportFile, c); err != nil {
			fmt.Fprintln(os.Stderr, "kafka-instance:", err)
			return 1
		}
		defer os.Remove(*exportFile)
	}

	status := 0
	if *execCmd {
		status = runCommand(ctx, c, flag.Args())
	} else {
		<-ctx.Done()
	}
	stop()
	fmt.Fprintln(os.Stderr, "kafka-instance: stopping")
	if err := c.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "kafka-instance:", err)
		return 1
	}
	fmt.Fprintln(os.Stderr, "kafka-instance: stopped, temporary directory removed")
	return status
}

// runCommand runs args against the cluster and returns its exit status. A
// signal to kafka-instance is passed on to the command (which, in its own
// process group, would not get the terminal's SIGINT otherwise).
func runCommand(ctx context.Context, c *testinstance.Cluster, args []string) int {
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), testinstance.EnvBrokers+"="+c.BootstrapServers(), testinstance.EnvBrokersVersion+"="+c.KafkaVersion())
	if zk := c.ZooKeeper(); zk != "" {
		cmd.Env = append(cmd.Env, testinstance.EnvZooKeeper+"="+zk)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "kafka-instance:", err)
		return 127
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		cmd.Process.Signal(syscall.SIGTERM)
		err = <-done
	}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exitErr):
		return exitErr.ExitCode()
	default:
		fmt.Fprintln(os.Stderr, "kafka-instance:", err)
		return 1
	}
}

// writeExport writes the env file atomically (temp file + rename).
func writeExport(path string, c *testinstance.Cluster) error {
	content := testinstance.EnvBrokers + "=" + c.BootstrapServers() + "\n" +
		testinstance.EnvBrokersVersion + "=" + c.KafkaVersion() + "\n"
	if zk := c.ZooKeeper(); zk != "" {
		content += testinstance.EnvZooKeeper + "=" + zk + "\n"
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".kafka-instance-*")
	if err != nil {
		return err
	}
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
