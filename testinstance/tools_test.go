package testinstance_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka/testinstance"
)

// TestKafkaToolListsTopics: Kafka's own kafka-topics sees a topic created
// through testinstance.
func TestKafkaToolListsTopics(t *testing.T) {
	c := testinstance.Shared()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := "tools-" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "-")
	if err := c.CreateTopic(ctx, name, 2, 1, nil); err != nil {
		t.Fatal(err)
	}
	out, err := testinstance.KafkaTool(ctx, testinstance.Config{KafkaVersion: c.KafkaVersion()}, nil, "kafka-topics",
		"--bootstrap-server", c.BootstrapServers(), "--describe", "--topic", name)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "PartitionCount: 2") {
		t.Fatalf("kafka-topics --describe %s:\n%s", name, out)
	}
	if _, err := testinstance.KafkaTool(ctx, testinstance.Config{}, nil, "no-such-tool"); err == nil {
		t.Fatal("an unknown tool ran")
	}
}
