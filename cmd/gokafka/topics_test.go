package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// fieldsLine reads a "Key: value<TAB>Key: value" line, as kafka-topics
// --describe and gokafka topics describe print a topic.
func fieldsLine(t *testing.T, line string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, f := range strings.Split(strings.TrimSpace(line), "\t") {
		k, v, ok := strings.Cut(f, ":")
		if !ok {
			t.Fatalf("not Key: value fields: %q", line)
		}
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out
}

// TestTopicsDescribeEqualsKafkaTopics: gokafka topics describe prints what
// Kafka's kafka-topics --describe prints: id, partition count, replication
// factor, the configs set on the topic, and each partition's leader,
// replicas and in-sync replicas.
func TestTopicsDescribeEqualsKafkaTopics(t *testing.T) {
	name := topic(t, "4", "--config", "retention.ms=7200000", "--config", "cleanup.policy=compact")
	out := gokafka(t, "", "topics", "describe", name).ok(t, "topics describe").stdout
	lines := strings.Split(strings.TrimSpace(out), "\n")
	ours := fieldsLine(t, lines[0])
	var ourParts [][]string
	for _, l := range lines[2:] { // after the table's header
		ourParts = append(ourParts, strings.Fields(l))
	}

	c := testinstance.Shared()
	tool, err := testinstance.KafkaTool(testhelp.Ctx(t, 2*time.Minute), testinstance.Config{KafkaVersion: c.KafkaVersion()}, nil,
		"kafka-topics", "--bootstrap-server", c.BootstrapServers(), "--describe", "--topic", name)
	if err != nil {
		t.Fatal(err)
	}
	toolLines := strings.Split(strings.TrimSpace(string(tool)), "\n")
	theirs := fieldsLine(t, toolLines[0])
	for _, k := range []string{"Topic", "TopicId", "PartitionCount", "ReplicationFactor"} {
		if ours[k] != theirs[k] {
			t.Errorf("%s: gokafka %q, kafka-topics %q", k, ours[k], theirs[k])
		}
	}
	sorted := func(s string) string {
		f := strings.Split(s, ",")
		slices.Sort(f)
		return strings.Join(f, ",")
	}
	if sorted(ours["Configs"]) != sorted(theirs["Configs"]) {
		t.Errorf("Configs: gokafka %q, kafka-topics %q", ours["Configs"], theirs["Configs"])
	}
	if len(toolLines)-1 != len(ourParts) {
		t.Fatalf("kafka-topics lists %d partitions, gokafka %d:\n%s\n%s", len(toolLines)-1, len(ourParts), tool, out)
	}
	for i, l := range toolLines[1:] {
		p := fieldsLine(t, l)
		got := ourParts[i] // PARTITION LEADER REPLICAS ISR OFFLINE
		if p["Partition"] != got[0] || p["Leader"] != got[1] || p["Replicas"] != got[2] || p["Isr"] != got[3] {
			t.Errorf("partition %d: kafka-topics %v, gokafka %v", i, p, got)
		}
	}
}

// TestTopicsCommands: list (table and JSON), alter (partitions, a config
// set and one deleted back to its default, a dry run of a bad value),
// describe --configs with the default markers, delete.
func TestTopicsCommands(t *testing.T) {
	name := topic(t, "2", "--config", "retention.ms=7200000")
	var list []struct {
		Name              string
		Partitions        int
		ReplicationFactor int
	}
	out := gokafka(t, "", "topics", "list", "-o", "json").ok(t, "topics list").stdout
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("topics list -o json: %v\n%s", err, out)
	}
	found := false
	for _, l := range list {
		found = found || l.Name == name && l.Partitions == 2 && l.ReplicationFactor == 3
	}
	if !found {
		t.Fatalf("topics list -o json does not have %s: %s", name, out)
	}
	if table := gokafka(t, "", "topics", "list").ok(t, "topics list").stdout; !strings.Contains(table, name) || !strings.HasPrefix(table, "TOPIC") {
		t.Fatalf("topics list: %s", table)
	}

	gokafka(t, "", "topics", "alter", name, "--partitions", "3", "--set", "max.message.bytes=300000", "--delete", "retention.ms").ok(t, "topics alter")
	gokafka(t, "", "topics", "alter", name, "--set", "retention.ms=notanumber", "--dry-run").failed(t, "alter with a bad value", exitFailed, "INVALID_CONFIG")
	var desc []struct {
		Name       string
		Partitions []struct{ ID int32 }
		Configs    []struct {
			Name, Value string
			IsDefault   bool
		}
	}
	// Visible at once: alter waits for every broker.
	out = gokafka(t, "", "topics", "describe", name, "--configs", "-o", "json").ok(t, "topics describe --configs").stdout
	if err := json.Unmarshal([]byte(out), &desc); err != nil {
		t.Fatalf("describe -o json: %v\n%s", err, out)
	}
	if len(desc) != 1 || len(desc[0].Partitions) != 3 {
		t.Fatalf("partitions not added: %s", out)
	}
	for _, c := range desc[0].Configs {
		if c.Name == "max.message.bytes" && (c.Value != "300000" || c.IsDefault) || c.Name == "retention.ms" && !c.IsDefault {
			t.Fatalf("%s not altered: %+v", c.Name, c)
		}
	}
	gokafka(t, "", "topics", "delete", name).ok(t, "topics delete")
	gokafka(t, "", "topics", "describe", name).failed(t, "describe a deleted topic", exitNotFound, "unknown topic")
}
