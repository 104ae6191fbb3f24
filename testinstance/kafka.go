package testinstance

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// JVM flags sized for three brokers and a ZooKeeper on a 2-core machine: a
// serial-GC heap that starts small, and C1 only (faster start, less CPU
// while warming up). The heap may grow to 1 GiB: a cluster that a whole
// test suite shares holds thousands of partitions by the end, and at 512 MiB
// two brokers of a cluster shared by an afternoon's tests died of
// OutOfMemoryError.
var (
	kafkaJVMFlags = []string{
		"-Xms256m", "-Xmx1g", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-XX:+ExitOnOutOfMemoryError", "-XX:-UsePerfData",
		"-Djava.net.preferIPv4Stack=true", "-Djava.awt.headless=true",
	}
	toolJVMFlags = []string{
		"-Xms32m", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-XX:-UsePerfData", "-Djava.net.preferIPv4Stack=true", "-Djava.awt.headless=true",
	}
)

// kafkaNode is one combined broker+controller. Its ports, id and data stay
// the same across restarts.
type kafkaNode struct {
	index          int   // position in Cluster.nodes
	id             int32 // node.id
	port           int   // PLAINTEXT listener (clients, inter-broker)
	controllerPort int   // CONTROLLER listener (KRaft quorum)
	listenerPorts  []int // Config.Security's listeners, in order (security.go)
	dir            string
	proc           *proc // nil while stopped; guarded by Cluster.mu
}

func (n *kafkaNode) name() string       { return "kafka-" + strconv.Itoa(int(n.id)) }
func (n *kafkaNode) addr() string       { return hostPort(n.port) }
func (n *kafkaNode) configPath() string { return filepath.Join(n.dir, "server.properties") }
func (n *kafkaNode) logPath() string    { return filepath.Join(n.dir, "kafka.log") }
func (n *kafkaNode) dataDir() string    { return filepath.Join(n.dir, "data") }

// log4j2Properties sends every Kafka log line to stdout, which the node's
// process writes to its kafka.log.
const log4j2Properties = `status = warn
name = testinstance
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
`

// newClusterID returns 16 random bytes in unpadded base64url, the form
// StorageTool accepts (22 characters, never starting with '-').
func newClusterID() string {
	for {
		var b [16]byte
		rand.Read(b[:])
		id := base64.RawURLEncoding.EncodeToString(b[:])
		if id[0] != '-' {
			return id
		}
	}
}

// brokerProperties is the server.properties of node n in a cluster of nodes.
func brokerProperties(cfg Config, nodes []*kafkaNode, n *kafkaNode) map[string]string {
	voters := make([]string, len(nodes))
	for i, o := range nodes {
		voters[i] = fmt.Sprintf("%d@%s", o.id, hostPort(o.controllerPort))
	}
	rf := strconv.Itoa(min(3, len(nodes)))
	minISR := strconv.Itoa(min(2, len(nodes)))
	p := map[string]string{
		"process.roles":                                    "broker,controller",
		"node.id":                                          strconv.Itoa(int(n.id)),
		"controller.quorum.voters":                         strings.Join(voters, ","),
		"listeners":                                        "PLAINTEXT://" + n.addr() + ",CONTROLLER://" + hostPort(n.controllerPort),
		"advertised.listeners":                             "PLAINTEXT://" + n.addr(),
		"listener.security.protocol.map":                   "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
		"controller.listener.names":                        "CONTROLLER",
		"inter.broker.listener.name":                       "PLAINTEXT",
		"log.dirs":                                         n.dataDir(),
		"auto.create.topics.enable":                        "true",
		"delete.topic.enable":                              "true",
		"group.initial.rebalance.delay.ms":                 "0",
		"group.min.session.timeout.ms":                     "1000",
		"group.consumer.min.session.timeout.ms":            "1000",
		"group.consumer.min.heartbeat.interval.ms":         "500",
		"offsets.topic.num.partitions":                     "3",
		"offsets.topic.replication.factor":                 rf,
		"transaction.state.log.num.partitions":             "3",
		"transaction.state.log.replication.factor":         rf,
		"transaction.state.log.min.isr":                    minISR,
		"share.coordinator.state.topic.replication.factor": rf,
		"share.coordinator.state.topic.min.isr":            minISR,
		"num.network.threads":                              "2",
		"num.io.threads":                                   "2",
		"background.threads":                               "2",
		"group.coordinator.threads":                        "1",
		"num.recovery.threads.per.data.dir":                "1",
		"log.cleaner.dedupe.buffer.size":                   "16777216",
		"log.cleaner.backoff.ms":                           "1000", // compaction tests need not wait 15 s
		"broker.heartbeat.interval.ms":                     "1000",
		"broker.session.timeout.ms":                        "6000",
	}
	for k, v := range shareBrokerProperties(cfg.KafkaVersion) {
		p[k] = v
	}
	// Consumer groups (KIP-848): a classic group whose members restart
	// with the consumer protocol one at a time is converted while its
	// classic members are still in it ("upgrade"), and back when the last
	// consumer-protocol member leaves ("downgrade"); empty groups convert
	// either way under any policy. It is Kafka 4's default, written here
	// because the migration tests of the root package depend on it (Kafka
	// 3.9 has the setting too, for its early-access consumer protocol).
	p["group.consumer.migration.policy"] = "bidirectional"
	addListenerProperties(cfg, n, p)
	for k, v := range cfg.BrokerProperties {
		p[k] = v
	}
	return p
}

// writeProperties writes a Java properties file, keys sorted.
func writeProperties(path string, props map[string]string) error {
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# written by github.com/gokafka/kafka/testinstance\n")
	for _, k := range keys {
		b.WriteString(k + "=" + strings.ReplaceAll(props[k], `\`, `\\`) + "\n")
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// prepareNode writes the node's configuration and formats its storage.
func (c *Cluster) prepareNode(ctx context.Context, n *kafkaNode, clusterID string) error {
	if err := os.MkdirAll(n.dataDir(), 0o755); err != nil {
		return err
	}
	if err := writeProperties(n.configPath(), brokerProperties(c.cfg, c.nodes, n)); err != nil {
		return err
	}
	args := append(append([]string{}, toolJVMFlags...),
		"-Dlog4j2.configurationFile="+c.log4jPath(),
		"-Djava.io.tmpdir="+c.jvmTmp(),
		"-cp", filepath.Join(c.kafkaLib, "*"),
		"kafka.tools.StorageTool", "format", "-t", clusterID, "-c", n.configPath())
	args = append(args, c.scramFormatArgs()...)
	args = append(args, shareFormatArgs(c.cfg.KafkaVersion)...)
	return runTool(ctx, c.cfg, n.name()+" storage format", n.logPath(), c.java, args)
}

// startNode launches the node's JVM. It does not wait for readiness.
func (c *Cluster) startNode(n *kafkaNode) (*proc, error) {
	args := append(append([]string{}, kafkaJVMFlags...),
		gcLogFlag(n),
		"-Dlog4j2.configurationFile="+c.log4jPath(),
		"-Dkafka.logs.dir="+n.dir,
		"-Djava.io.tmpdir="+c.jvmTmp(),
		"-cp", filepath.Join(c.kafkaLib, "*"),
		"kafka.Kafka", n.configPath())
	return startProc(c.cfg, n.name(), n.logPath(), c.java, args)
}

func (c *Cluster) log4jPath() string { return filepath.Join(c.dir, "log4j2.properties") }

// jvmTmp is every JVM's java.io.tmpdir: snappy-java and lz4-java unpack
// native libraries there, which a killed JVM would otherwise leave in /tmp.
func (c *Cluster) jvmTmp() string { return filepath.Join(c.dir, "tmp") }
