package kafka_test

import (
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// toolTopic is a topic as kafka-topics --describe prints it.
type toolTopic struct {
	fields     map[string]string   // the topic line's Key: value fields
	partitions []map[string]string // each partition line's
}

// kafkaTopicsDescribe runs Kafka's own kafka-topics --describe.
func kafkaTopicsDescribe(t *testing.T, topic string) toolTopic {
	t.Helper()
	c := testinstance.Shared()
	out, err := testinstance.KafkaTool(testhelp.Ctx(t, 2*time.Minute), testinstance.Config{KafkaVersion: c.KafkaVersion()}, nil,
		"kafka-topics", "--bootstrap-server", c.BootstrapServers(), "--describe", "--topic", topic)
	if err != nil {
		t.Fatal(err)
	}
	var tt toolTopic
	for _, line := range strings.Split(string(out), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		fields := map[string]string{}
		for _, f := range strings.Split(strings.TrimSpace(line), "\t") {
			k, v, ok := strings.Cut(f, ":")
			if !ok {
				t.Fatalf("kafka-topics printed %q", line)
			}
			fields[k] = strings.TrimSpace(v)
		}
		if _, ok := fields["Partition"]; ok {
			tt.partitions = append(tt.partitions, fields)
		} else {
			tt.fields = fields
		}
	}
	return tt
}

func ids(v []int32) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(int(n))
	}
	return strings.Join(s, ",")
}

// TestAdminTopics: create (with configs; one topic that exists fails
// alone), list, describe as kafka-topics does, configs with their default
// markers, incremental alter (set, and delete back to the default), add
// partitions, delete records, delete (one unknown topic fails alone).
func TestAdminTopics(t *testing.T) {
	client := newClient(t)
	ctx := testhelp.Ctx(t, 3*time.Minute)
	base := testhelp.UniqueName(t, "adm")
	a, b := base+"-a", base+"-b"
	res, err := client.CreateTopics(ctx,
		kafka.NewTopic{Name: a, TopicConfig: kafka.TopicConfig{Partitions: 3, ReplicationFactor: 3, Configs: map[string]string{"retention.ms": "3600000", "cleanup.policy": "compact"}}},
		kafka.NewTopic{Name: b, TopicConfig: kafka.TopicConfig{Partitions: 1, ReplicationFactor: 2}})
	if err != nil || len(res) != 2 || res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("CreateTopics: %v %+v", err, res)
	}
	res, err = client.CreateTopics(ctx, kafka.NewTopic{Name: a}, kafka.NewTopic{Name: base + "-c", TopicConfig: kafka.TopicConfig{Partitions: 1}})
	if !errors.Is(err, kafka.ErrTopicAlreadyExists) || !errors.Is(res[0].Err, kafka.ErrTopicAlreadyExists) || res[1].Err != nil {
		t.Fatalf("CreateTopics of an existing and a new topic: %v %+v", err, res)
	}
	var ae *kafka.AdminError
	if !errors.As(err, &ae) || ae.Item != a {
		t.Fatalf("the error names %+v, want topic %s", ae, a)
	}

	list, err := client.ListTopics(ctx, kafka.ListTopicsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]kafka.TopicListing{}
	for _, l := range list {
		found[l.Name] = l
		if l.Internal {
			t.Fatalf("internal topic %s listed without Internal", l.Name)
		}
	}
	if found[a].Partitions != 3 || found[a].ReplicationFactor != 3 || found[b].Partitions != 1 || found[b].ReplicationFactor != 2 {
		t.Fatalf("ListTopics: %+v %+v", found[a], found[b])
	}
	all, err := client.ListTopics(ctx, kafka.ListTopicsOptions{Internal: true})
	if err != nil || !slices.ContainsFunc(all, func(l kafka.TopicListing) bool { return l.Name == "__consumer_offsets" && l.Internal }) {
		t.Fatalf("ListTopics with internal topics: %v (no __consumer_offsets)", err)
	}

	// Describe: as kafka-topics --describe prints it.
	desc, err := client.DescribeTopics(ctx, a, base+"-missing")
	if !errors.Is(err, kafka.ErrUnknownTopic) || desc[0].Err != nil || !errors.Is(desc[1].Err, kafka.ErrUnknownTopic) {
		t.Fatalf("DescribeTopics: %v %+v", err, desc)
	}
	cfgs, err := client.DescribeConfigs(ctx, kafka.ConfigResource{Type: kafka.ConfigTopic, Name: a})
	if err != nil {
		t.Fatal(err)
	}
	tool := kafkaTopicsDescribe(t, a)
	d := desc[0]
	if tool.fields["Topic"] != a || tool.fields["TopicId"] != d.ID || tool.fields["PartitionCount"] != "3" || tool.fields["ReplicationFactor"] != strconv.Itoa(d.ReplicationFactor) {
		t.Fatalf("kafka-topics: %v; gokafka: %+v", tool.fields, d)
	}
	var set []string
	for _, e := range cfgs[0].Entries {
		if e.Source != kafka.ConfigSourceDefault {
			set = append(set, e.Name+"="+e.Value)
		}
	}
	slices.Sort(set)
	toolCfgs := strings.Split(tool.fields["Configs"], ",")
	slices.Sort(toolCfgs)
	if !slices.Equal(set, toolCfgs) {
		t.Fatalf("configs: kafka-topics %q, gokafka %q", toolCfgs, set)
	}
	if len(tool.partitions) != len(d.Partitions) {
		t.Fatalf("kafka-topics lists %d partitions, gokafka %d", len(tool.partitions), len(d.Partitions))
	}
	for i, p := range d.Partitions {
		tp := tool.partitions[i]
		if tp["Partition"] != strconv.Itoa(int(p.ID)) || tp["Leader"] != strconv.Itoa(int(p.Leader)) || tp["Replicas"] != ids(p.Replicas) || tp["Isr"] != ids(p.ISR) {
			t.Fatalf("partition %d: kafka-topics %v, gokafka %+v", i, tp, p)
		}
	}

	// Configs: set on the topic is not default; the rest is.
	byName := map[string]kafka.ConfigEntry{}
	for _, e := range cfgs[0].Entries {
		byName[e.Name] = e
	}
	if e := byName["retention.ms"]; e.Value != "3600000" || e.IsDefault || e.Source != kafka.ConfigSourceDynamicTopic {
		t.Fatalf("retention.ms: %+v", e)
	}
	if e := byName["segment.bytes"]; !e.IsDefault || e.Value == "" {
		t.Fatalf("segment.bytes: %+v", e)
	}
	alt, err := client.AlterConfigs(ctx, kafka.AlterConfigsOptions{},
		kafka.ConfigAlteration{ConfigResource: kafka.ConfigResource{Type: kafka.ConfigTopic, Name: a}, Changes: []kafka.ConfigChange{
			{Name: "retention.ms", Op: kafka.ConfigDelete}, {Name: "max.message.bytes", Op: kafka.ConfigSet, Value: "200000"},
		}},
		kafka.ConfigAlteration{ConfigResource: kafka.ConfigResource{Type: kafka.ConfigTopic, Name: b}, Changes: []kafka.ConfigChange{
			{Name: "no.such.config", Op: kafka.ConfigSet, Value: "1"},
		}})
	if err == nil || alt[0].Err != nil || alt[1].Err == nil {
		t.Fatalf("AlterConfigs: %v %+v", err, alt)
	}
	// Visible at once: AlterConfigs waits for every broker.
	cfgs, err = client.DescribeConfigs(ctx, kafka.ConfigResource{Type: kafka.ConfigTopic, Name: a})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range cfgs[0].Entries {
		if e.Name == "retention.ms" && !e.IsDefault || e.Name == "max.message.bytes" && (e.IsDefault || e.Value != "200000") {
			t.Fatalf("after AlterConfigs: %+v", e)
		}
	}

	// Add partitions; an unknown topic fails alone.
	grow, err := client.CreatePartitions(ctx, map[string]int32{a: 5, base + "-missing": 2})
	if !errors.Is(err, kafka.ErrUnknownTopic) || len(grow) != 2 || grow[0].Name != a || grow[0].Err != nil || !errors.Is(grow[1].Err, kafka.ErrUnknownTopic) {
		t.Fatalf("CreatePartitions: %v %+v", err, grow)
	}
	if desc, err := client.DescribeTopics(ctx, a); err != nil || len(desc[0].Partitions) != 5 {
		t.Fatalf("after CreatePartitions: %v %+v", err, desc)
	}

	// Delete records before offset 4 of b/0.
	produceTo(t, client, b, 1, 10)
	b0 := kafka.TopicPartition{Topic: b, Partition: 0}
	del, err := client.DeleteRecords(ctx, map[kafka.TopicPartition]int64{b0: 4, {Topic: b, Partition: 7}: 1})
	if !errors.Is(err, kafka.ErrUnknownPartition) || del[0].Err != nil || del[0].LowWatermark != 4 || !errors.Is(del[1].Err, kafka.ErrUnknownPartition) {
		t.Fatalf("DeleteRecords: %v %+v", err, del)
	}
	topic, err := client.Topic(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if start, err := topic.EarliestOffsets(ctx); err != nil || start[0] != 4 {
		t.Fatalf("log start after DeleteRecords: %v %v", start, err)
	}

	gone, err := client.DeleteTopics(ctx, a, base+"-missing", b, base+"-c")
	if !errors.Is(err, kafka.ErrUnknownTopic) || gone[0].Err != nil || !errors.Is(gone[1].Err, kafka.ErrUnknownTopic) || gone[2].Err != nil || gone[3].Err != nil {
		t.Fatalf("DeleteTopics: %v %+v", err, gone)
	}
	list, err = client.ListTopics(ctx, kafka.ListTopicsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, l := range list {
		names[l.Name] = true
	}
	if names[a] || names[b] {
		t.Fatalf("deleted topics still listed: %v", slices.Sorted(maps.Keys(names)))
	}
}

// TestAdminCluster: the cluster id, controller and brokers, as the
// metadata has them, and every broker's API versions.
func TestAdminCluster(t *testing.T) {
	client := newClient(t)
	ctx := testhelp.Ctx(t, time.Minute)
	d, err := client.DescribeCluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d.ClusterID == "" || d.ClusterID != client.ClusterID() || !slices.Equal(d.Brokers, client.Brokers()) ||
		!slices.ContainsFunc(d.Brokers, func(b kafka.Broker) bool { return b.ID == d.Controller }) {
		t.Fatalf("DescribeCluster: %+v; client: %s %+v", d, client.ClusterID(), client.Brokers())
	}
	vs, err := client.APIVersions(ctx)
	if err != nil || len(vs) != len(d.Brokers) {
		t.Fatalf("APIVersions: %v %d", err, len(vs))
	}
	for _, v := range vs {
		i := slices.IndexFunc(v.APIs, func(a kafka.APIVersion) bool { return a.Name == "Produce" })
		if i < 0 || v.APIs[i].Key != 0 || v.APIs[i].Max < 9 || v.APIs[i].Min > v.APIs[i].Max {
			t.Fatalf("broker %d: Produce versions %+v", v.ID, v.APIs)
		}
	}
}
