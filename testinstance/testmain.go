package testinstance

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Environment variables naming an external cluster that FromEnv and Main
// use instead of starting one: BROKERS="host:port,host:port",
// ZOOKEEPER="host:port", and BROKERS_KAFKA_VERSION, the Kafka version it
// runs if its starter says (Cluster.KafkaVersion). `kafka-instance
// -export-hosts FILE` writes them, and -exec sets them for its command.
const (
	EnvBrokers        = "BROKERS"
	EnvZooKeeper      = "ZOOKEEPER"
	EnvBrokersVersion = "BROKERS_KAFKA_VERSION"
)

var (
	sharedMu sync.Mutex
	shared   *Cluster
)

// Shared returns the cluster that Main started (or found through BROKERS)
// for this test binary. It panics when Main is not the package's TestMain,
// so a forgotten TestMain fails loudly instead of silently testing nothing.
func Shared() *Cluster {
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared == nil {
		panic("testinstance.Shared: no cluster; call testinstance.Main(m, cfg) from TestMain")
	}
	return shared
}

// FromEnv returns a handle on the external cluster named by BROKERS (and
// ZOOKEEPER), and false when BROKERS is unset. On such a cluster CreateTopic
// and DeleteTopic work; stopping, killing and starting nodes return
// ErrExternalCluster, and Close does nothing.
func FromEnv() (*Cluster, bool) {
	b := strings.TrimSpace(os.Getenv(EnvBrokers))
	if b == "" {
		return nil, false
	}
	return Connect(strings.Split(b, ","), strings.TrimSpace(os.Getenv(EnvZooKeeper))), true
}

// Connect returns a handle on an external cluster (see FromEnv).
func Connect(brokers []string, zooKeeper string) *Cluster {
	var addrs []string
	for _, b := range brokers {
		if b = strings.TrimSpace(b); b != "" {
			addrs = append(addrs, b)
		}
	}
	c := &Cluster{external: true, externalAddrs: addrs, externalZK: zooKeeper, externalVersion: strings.TrimSpace(os.Getenv(EnvBrokersVersion))}
	c.cfg, _ = Config{}.withDefaults()
	return c
}

// Main is a TestMain that runs a package's tests against one shared cluster:
//
//	func TestMain(m *testing.M) { testinstance.Main(m, testinstance.Config{Brokers: 3}) }
//
// and in the tests, testinstance.Shared().BootstrapServers().
//
// With BROKERS set it uses that external cluster instead. Otherwise it starts
// one (progress goes to stderr unless cfg.Log is set; a failure to start
// fails the whole binary with exit status 1, it never skips), runs the tests,
// closes the cluster and exits with the tests' status. SIGINT and SIGTERM
// close the cluster before exiting. If the binary dies without running its
// deferred code (a panicking test, -timeout, SIGKILL), the JVMs die with it
// (Linux parent-death signal) and a reaper process removes the directory.
func Main(m *testing.M, cfg Config) {
	os.Exit(runMain(m, cfg))
}

func runMain(m *testing.M, cfg Config) int {
	if c, ok := FromEnv(); ok {
		setShared(c)
		return m.Run()
	}
	if cfg.Log == nil {
		cfg.Log = os.Stderr
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute) // first run downloads
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-ctx.Done():
		}
	}()
	c, err := Start(ctx, cfg)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "testinstance.Main: starting the test cluster failed: %v\n", err)
		return 1
	}
	defer c.Close()
	setShared(c)
	go func() {
		s, ok := <-sigs
		if !ok {
			return
		}
		fmt.Fprintf(os.Stderr, "testinstance.Main: %v: closing the test cluster\n", s)
		c.Close()
		os.Exit(130)
	}()
	return m.Run()
}

func setShared(c *Cluster) {
	sharedMu.Lock()
	shared = c
	sharedMu.Unlock()
}
