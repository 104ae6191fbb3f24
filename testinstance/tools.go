package testinstance

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// KafkaTools maps the names of Kafka's command-line scripts to the classes
// they run, for KafkaTool.
var KafkaTools = map[string]string{
	"kafka-consumer-groups":  "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
	"kafka-console-consumer": "org.apache.kafka.tools.consumer.ConsoleConsumer",
	"kafka-console-producer": "org.apache.kafka.tools.ConsoleProducer",
	"kafka-topics":           "org.apache.kafka.tools.TopicCommand",
	"kafka-get-offsets":      "org.apache.kafka.tools.GetOffsetShell",
	// Configs and quotas (kafka-configs.sh runs the broker jar's class).
	"kafka-configs": "kafka.admin.ConfigCommand",
	// Share groups (Kafka 4.1 and later).
	"kafka-share-groups":           "org.apache.kafka.tools.consumer.group.ShareGroupCommand",
	"kafka-console-share-consumer": "org.apache.kafka.tools.consumer.ConsoleShareConsumer",
}

// KafkaLib returns the folder of cfg's Kafka jars (resolved into the cache
// like the cluster's), for running Java programs against the same client
// library: java -cp "<KafkaLib>/*" ... It includes kafka-clients and
// Kafka's tools (the classes in KafkaTools).
func KafkaLib(ctx context.Context, cfg Config) (string, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return "", err
	}
	return resolve(ctx, cfg, kafkaJars(cfg.KafkaVersion))
}

// KafkaTool runs one of Kafka's own command-line tools, by its script name
// (a key of KafkaTools, e.g. "kafka-consumer-groups"), with args, from the
// jars of cfg's Kafka version (resolved into the cache like the cluster's),
// and returns what it printed on stdout. Add "--bootstrap-server" and the
// cluster's BootstrapServers yourself. stdin, if not nil, is fed to the tool.
// A tool that exits non-zero returns an error that includes its stderr.
//
// These tools are a client nobody here wrote: tests use them to check that
// what gokafka did is what Kafka itself sees (committed offsets and lag,
// group members and their partitions, topic descriptions).
func KafkaTool(ctx context.Context, cfg Config, stdin []byte, tool string, args ...string) ([]byte, error) {
	class, ok := KafkaTools[tool]
	if !ok {
		return nil, fmt.Errorf("testinstance: unknown Kafka tool %q", tool)
	}
	lib, err := KafkaLib(ctx, cfg)
	if err != nil {
		return nil, err
	}
	java, err := findJava(cfg.Java)
	if err != nil {
		return nil, err
	}
	cmdArgs := slices.Concat(toolJVMFlags, []string{"-Dlog4j2.level=warn", "-cp", filepath.Join(lib, "*"), class}, args)
	cmd := exec.CommandContext(ctx, java, cmdArgs...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("testinstance: %s %s: %w\n%s", tool, strings.Join(args, " "), err, lastLines(stderr.String(), 30))
	}
	return stdout.Bytes(), nil
}
