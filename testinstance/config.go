package testinstance

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// Default versions. Any kafka_2.13 release on Maven Central that runs in
// KRaft mode works (3.9.x and 4.x are tested); ZooKeeper 3.9.x.
const (
	DefaultKafkaVersion     = "4.3.1"
	DefaultZooKeeperVersion = "3.9.5"
	DefaultBrokers          = 3
)

// Config describes the cluster Start builds. The zero value is a 3-broker
// Kafka 4.3.1 cluster plus one ZooKeeper 3.9.5.
//
// New fields may be added (e.g. listeners for SASL_PLAINTEXT and SSL); the
// zero value of each keeps today's behaviour.
type Config struct {
	// Brokers is the number of Kafka nodes, each a combined broker and KRaft
	// controller (all of them vote). Default 3.
	Brokers int
	// KafkaVersion is the org.apache.kafka:kafka_2.13 version. Default:
	// $GOKAFKA_KAFKA_VERSION, else DefaultKafkaVersion (so a whole test run
	// can be repeated against Kafka 3.9 without code changes).
	KafkaVersion string
	// ZooKeeperVersion is the org.apache.zookeeper:zookeeper version.
	// Default DefaultZooKeeperVersion.
	ZooKeeperVersion string
	// NoZooKeeper skips ZooKeeper. Kafka itself (KRaft) never needs it.
	NoZooKeeper bool
	// CacheDir holds the resolved jars, one folder per artifact and version.
	// Default: $GOKAFKA_CACHE, else os.UserCacheDir()/gokafka.
	CacheDir string
	// Log receives progress lines (resolving, formatting, ready, timings).
	// Nil discards them.
	Log io.Writer
	// ProcessLog, when set, also receives the output of every Java process,
	// each line prefixed with the node name. The output always goes to a log
	// file per node in the cluster's directory as well.
	ProcessLog io.Writer
	// BrokerProperties are added to every broker's server.properties,
	// overriding the defaults (see brokerProperties in kafka.go).
	BrokerProperties map[string]string
	// StartTimeout bounds Start once the jars are resolved, and StartBroker
	// / StartZooKeeper. Default 120s. (A context deadline also applies.)
	StartTimeout time.Duration
	// StopTimeout is how long StopBroker / StopZooKeeper wait after SIGTERM
	// before SIGKILL. Default 20s.
	StopTimeout time.Duration
	// Java is the java executable. Default $JAVA_HOME/bin/java, else the one
	// on PATH.
	Java string
	// Maven is the mvn executable. Default: mvn on PATH.
	Maven string
	// TempDir is the parent of the cluster's temporary directory. Default
	// os.TempDir().
	TempDir string
	// Security adds SASL_PLAINTEXT, SSL and SASL_SSL listeners beside
	// PLAINTEXT (see security.go). Default: none.
	Security *SecurityConfig
}

// Environment variables that change defaults.
const (
	EnvCacheDir     = "GOKAFKA_CACHE"         // the jar cache directory
	EnvKafkaVersion = "GOKAFKA_KAFKA_VERSION" // the Kafka version when Config.KafkaVersion is empty
)

func (c Config) withDefaults() (Config, error) {
	if c.Brokers == 0 {
		c.Brokers = DefaultBrokers
	}
	if c.Brokers < 0 {
		return c, fmt.Errorf("testinstance: Brokers = %d, want >= 1", c.Brokers)
	}
	if err := c.Security.validate(); err != nil {
		return c, err
	}
	if c.KafkaVersion == "" {
		c.KafkaVersion = os.Getenv(EnvKafkaVersion)
	}
	if c.KafkaVersion == "" {
		c.KafkaVersion = DefaultKafkaVersion
	}
	if c.ZooKeeperVersion == "" {
		c.ZooKeeperVersion = DefaultZooKeeperVersion
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	c.Log = newSyncWriter(c.Log)
	if c.ProcessLog != nil {
		c.ProcessLog = newSyncWriter(c.ProcessLog)
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = 120 * time.Second
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = 20 * time.Second
	}
	if c.TempDir == "" {
		c.TempDir = os.TempDir()
	}
	var err error
	if c.CacheDir, err = cacheDir(c.CacheDir); err != nil {
		return c, err
	}
	return c, nil
}

// cacheDir picks the jar cache: explicit, $GOKAFKA_CACHE, user cache dir.
func cacheDir(explicit string) (string, error) {
	if explicit != "" {
		return filepath.Abs(explicit)
	}
	if d := os.Getenv(EnvCacheDir); d != "" {
		return filepath.Abs(d)
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("testinstance: no cache directory (set %s): %w", EnvCacheDir, err)
	}
	return filepath.Join(d, "gokafka"), nil
}

func (c Config) logf(format string, args ...any) {
	fmt.Fprintf(c.Log, "testinstance: "+format+"\n", args...)
}
