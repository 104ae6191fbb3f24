package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// lagJSON is gokafka groups lag -o json.
type lagJSON struct {
	Group      string
	State      string
	Partitions []struct {
		Topic                    string
		Partition                int32
		Committed, LogEnd, Lag   int64
		MemberID, ClientID, Host string
	}
}

// TestGroupsLagEqualsKafkaTool: a group that gokafka consume -g read
// part of: gokafka groups lag (JSON and table) prints the committed
// offsets, log end offsets and lag that kafka-consumer-groups --describe
// prints.
func TestGroupsLagEqualsKafkaTool(t *testing.T) {
	name := topic(t, "3")
	var in strings.Builder
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&in, "k%d:v%d\n", i, i)
	}
	gokafka(t, in.String(), "produce", name, "-K", ":").ok(t, "produce")
	group := testhelp.UniqueName(t, "g")
	if out := gokafka(t, "", "consume", name, "-g", group, "--from", "beginning", "-n", "12").ok(t, "consume -g").stdout; strings.Count(out, "\n") != 12 {
		t.Fatalf("consume -n 12 printed %q", out)
	}

	var lag lagJSON
	out := gokafka(t, "", "groups", "lag", group, "-o", "json").ok(t, "groups lag").stdout
	if err := json.Unmarshal([]byte(out), &lag); err != nil {
		t.Fatalf("groups lag -o json: %v\n%s", err, out)
	}
	tool, err := testhelp.GroupOffsets[kafka.TopicPartition](testhelp.Ctx(t, 2*time.Minute), nil, group)
	if err != nil {
		t.Fatal(err)
	}
	if len(lag.Partitions) != len(tool) || len(tool) == 0 {
		t.Fatalf("groups lag: %d partitions, kafka-consumer-groups: %d\n%s\n%v", len(lag.Partitions), len(tool), out, tool)
	}
	var committed, total int64
	for _, p := range lag.Partitions {
		o, ok := tool[kafka.TopicPartition{Topic: p.Topic, Partition: p.Partition}]
		if !ok || o.Committed != p.Committed || o.LogEnd != p.LogEnd || o.Lag != p.Lag || o.MemberID != p.MemberID {
			t.Errorf("%s/%d: gokafka %+v, kafka-consumer-groups %+v", p.Topic, p.Partition, p, o)
		}
		committed += p.Committed
		total += p.LogEnd
	}
	if committed != 12 || total != 30 {
		t.Errorf("committed %d of %d, want 12 of 30", committed, total)
	}
	table := gokafka(t, "", "groups", "lag", group).ok(t, "groups lag").stdout
	if !strings.Contains(table, "TotalLag: 18") || !strings.Contains(table, "CURRENT-OFFSET") {
		t.Fatalf("groups lag table:\n%s", table)
	}
	if list := gokafka(t, "", "groups", "list", "--type", "classic").ok(t, "groups list").stdout; !strings.Contains(list, group) {
		t.Fatalf("groups list --type classic misses %s:\n%s", group, list)
	}
	if d := gokafka(t, "", "groups", "describe", group).ok(t, "groups describe").stdout; !strings.Contains(d, "Type: classic") || !strings.Contains(d, "State: Empty") {
		t.Fatalf("groups describe:\n%s", d)
	}
}

// TestGroupsResetJavaConsumerStartsThere: after gokafka groups reset, the
// next consumer of the group — Kafka's own console consumer — starts where
// the reset put the offsets; a reset while a member is live is refused.
func TestGroupsResetJavaConsumerStartsThere(t *testing.T) {
	name := topic(t, "1")
	var in strings.Builder
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&in, "m%d\n", i)
	}
	gokafka(t, in.String(), "produce", name).ok(t, "produce")
	group := testhelp.UniqueName(t, "g")
	gokafka(t, "", "consume", name, "-g", group, "--from", "beginning", "-n", "8").ok(t, "consume -g")

	dry := gokafka(t, "", "groups", "reset", group, "--to-offset", "3", "--topic", name, "--dry-run").ok(t, "reset --dry-run").stdout
	if !strings.Contains(dry, "Dry run") || !strings.Contains(dry, " 8 ") && !strings.Contains(dry, "  8  ") {
		t.Logf("dry run:\n%s", dry)
	}
	var res []struct {
		Previous, New int64
	}
	out := gokafka(t, "", "groups", "reset", group, "--shift-by", "-5", "--topic", name+":0", "-o", "json").ok(t, "reset --shift-by").stdout
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 1 || res[0].Previous != 8 || res[0].New != 3 {
		t.Fatalf("reset --shift-by -5: %v %s", err, out)
	}

	c := testinstance.Shared()
	java, err := testinstance.KafkaTool(testhelp.Ctx(t, 2*time.Minute), testinstance.Config{KafkaVersion: c.KafkaVersion()}, nil,
		"kafka-console-consumer", "--bootstrap-server", c.BootstrapServers(), "--group", group, "--topic", name, "--max-messages", "7", "--timeout-ms", "60000")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(java)); got != "m3\nm4\nm5\nm6\nm7\nm8\nm9" {
		t.Fatalf("the Java console consumer read %q after the reset, want m3..m9", got)
	}

	// A live member: refused, nothing changed.
	client, err := kafka.NewClient(testhelp.Ctx(t, time.Minute), c.BootstrapServers())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	m, err := client.NewBalancedConsumer(testhelp.Ctx(t, time.Minute), kafka.BalancedConsumerConfig{Group: group, Topics: []string{name}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	testhelp.Eventually(t, time.Minute, "the member owns the partition", func() error {
		if len(m.Partitions()) != 1 {
			return fmt.Errorf("owns %v", m.Partitions())
		}
		return nil
	})
	gokafka(t, "", "groups", "reset", group, "--to-earliest", "--all-topics").failed(t, "reset with a live member", exitFailed, "active members")
	gokafka(t, "", "groups", "delete", group).failed(t, "delete a group with a member", exitFailed, "NON_EMPTY_GROUP")
	m.Close(context.Background())
	gokafka(t, "", "groups", "delete", group).ok(t, "groups delete")
	gokafka(t, "", "groups", "lag", group).failed(t, "lag of a deleted group", exitNotFound, "unknown consumer group")
}

// TestOffsetsCommand: earliest, latest and for a time.
func TestOffsetsCommand(t *testing.T) {
	name := topic(t, "2")
	gokafka(t, "a\nb\nc\n", "produce", name, "-p", "1").ok(t, "produce")
	var rows []struct {
		Partition        int32
		Earliest, Latest int64
		AtTime           *int64
	}
	out := gokafka(t, "", "offsets", name, "--time", "2001-01-01T00:00:00Z", "-o", "json").ok(t, "offsets").stdout
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 2 {
		t.Fatalf("offsets -o json: %v %s", err, out)
	}
	if rows[1].Earliest != 0 || rows[1].Latest != 3 || rows[1].AtTime == nil || *rows[1].AtTime != 0 || rows[0].Latest != 0 {
		t.Fatalf("offsets: %s", out)
	}
}
