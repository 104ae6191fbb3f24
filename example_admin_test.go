package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testinstance"
)

// exampleBrokers are the brokers of the examples that run: the test
// cluster. Yours would be, say, "127.0.0.1:9092".
func exampleBrokers() string { return testinstance.Shared().BootstrapServers() }

// exampleName is a name no earlier run used.
func exampleName(base string) string { return fmt.Sprintf("%s-%08x", base, rand.Uint32()) }

// Create topics with configs, describe them, and delete them. Each topic
// has its own result: one that already exists fails alone.
func ExampleClient_CreateTopics() {
	ctx := context.Background()
	client, err := kafka.NewClient(ctx, exampleBrokers())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	orders, audit := exampleName("orders"), exampleName("audit")
	_, err = client.CreateTopics(ctx,
		kafka.NewTopic{Name: orders, TopicConfig: kafka.TopicConfig{Partitions: 3, ReplicationFactor: 3}},
		kafka.NewTopic{Name: audit, TopicConfig: kafka.TopicConfig{Partitions: 1, Configs: map[string]string{"cleanup.policy": "compact"}}})
	if err != nil {
		log.Fatal(err)
	}
	results, err := client.CreateTopics(ctx, kafka.NewTopic{Name: orders})
	fmt.Println("again:", errors.Is(err, kafka.ErrTopicAlreadyExists), errors.Is(results[0].Err, kafka.ErrTopicAlreadyExists))

	descs, err := client.DescribeTopics(ctx, orders)
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range descs {
		fmt.Printf("%d partitions, replication factor %d, leader of partition 0 in its replicas: %v\n",
			len(d.Partitions), d.ReplicationFactor, contains(d.Partitions[0].Replicas, d.Partitions[0].Leader))
	}
	if _, err := client.DeleteTopics(ctx, orders, audit); err != nil {
		log.Fatal(err)
	}
	// Output:
	// again: true true
	// 3 partitions, replication factor 3, leader of partition 0 in its replicas: true
}

func contains(v []int32, x int32) bool {
	for _, y := range v {
		if y == x {
			return true
		}
	}
	return false
}

// Read a topic's configuration, with where each value comes from, and
// change it incrementally: set one value, delete another back to its
// default.
func ExampleClient_AlterConfigs() {
	ctx := context.Background()
	client, err := kafka.NewClient(ctx, exampleBrokers())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	name := exampleName("events")
	if _, err := client.CreateTopic(ctx, name, kafka.TopicConfig{Partitions: 1, Configs: map[string]string{"retention.ms": "3600000"}}); err != nil {
		log.Fatal(err)
	}
	defer client.DeleteTopic(ctx, name)

	topic := kafka.ConfigResource{Type: kafka.ConfigTopic, Name: name}
	show := func() {
		cfgs, err := client.DescribeConfigs(ctx, topic)
		if err != nil {
			log.Fatal(err)
		}
		for _, e := range cfgs[0].Entries {
			if e.Name == "retention.ms" || e.Name == "max.message.bytes" {
				fmt.Printf("%s=%s default=%v\n", e.Name, e.Value, e.IsDefault)
			}
		}
	}
	show()
	_, err = client.AlterConfigs(ctx, kafka.AlterConfigsOptions{}, kafka.ConfigAlteration{ConfigResource: topic, Changes: []kafka.ConfigChange{
		{Name: "max.message.bytes", Op: kafka.ConfigSet, Value: "2000000"},
		{Name: "retention.ms", Op: kafka.ConfigDelete},
	}})
	if err != nil {
		log.Fatal(err)
	}
	show()
	// Output:
	// retention.ms=3600000 default=false
	// max.message.bytes=1048588 default=true
	// retention.ms=604800000 default=true
	// max.message.bytes=2000000 default=false
}

// A group's committed offsets and lag per partition, as
// kafka-consumer-groups --describe prints them; then a reset of its offsets
// to a time, tried first as a dry run.
func ExampleClient_GroupLag() {
	ctx := context.Background()
	client, err := kafka.NewClient(ctx, exampleBrokers())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	name, group := exampleName("payments"), exampleName("billing")
	if _, err := client.CreateTopic(ctx, name, kafka.TopicConfig{Partitions: 2}); err != nil {
		log.Fatal(err)
	}
	defer client.DeleteTopic(ctx, name)
	producer, err := client.NewProducer(kafka.ProducerConfig{})
	if err != nil {
		log.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	for i := range 10 {
		m := &kafka.Message{Topic: name, Partition: int32(i % 2), PartitionSet: true, Value: []byte("payment"), Timestamp: old}
		if i >= 6 {
			m.Timestamp = time.Now()
		}
		if err := producer.ProduceMessage(ctx, m); err != nil {
			log.Fatal(err)
		}
	}
	if err := producer.Close(ctx); err != nil {
		log.Fatal(err)
	}
	// The group has read the first message of each partition.
	if _, err := client.ResetGroupOffsets(ctx, group, kafka.GroupOffsetReset{To: kafka.ResetToOffset, Offset: 1, Topics: map[string][]int32{name: nil}}); err != nil {
		log.Fatal(err)
	}

	lag, err := client.GroupLag(ctx, group)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range lag.Partitions {
		fmt.Printf("partition %d: committed %d, log end %d, lag %d\n", p.Partition, p.Committed, p.LogEnd, p.Lag)
	}
	fmt.Println("total lag:", lag.TotalLag())

	// Skip what is older than half an hour: a dry run first.
	since := kafka.GroupOffsetReset{To: kafka.ResetToTime, Time: time.Now().Add(-30 * time.Minute), DryRun: true}
	plan, err := client.ResetGroupOffsets(ctx, group, since)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range plan {
		fmt.Printf("partition %d: %d -> %d\n", r.Partition, r.Previous, r.New)
	}
	// Output:
	// partition 0: committed 1, log end 5, lag 4
	// partition 1: committed 1, log end 5, lag 4
	// total lag: 8
	// partition 0: 1 -> 3
	// partition 1: 1 -> 3
}

// Give a user the rights to read a topic as a member of a group: what a
// cluster with an authorizer checks. A user without them gets errors for
// which IsAuthorization is true.
func ExampleClient_CreateACLs() {
	ctx := context.Background()
	client, err := kafka.NewClient(ctx, "127.0.0.1:9092") // as a user allowed to alter the cluster's ACLs
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	_, err = client.CreateACLs(ctx,
		kafka.ACL{ResourceType: kafka.ACLTopic, ResourceName: "orders", Principal: "User:alice", Operation: kafka.ACLOpRead},
		kafka.ACL{ResourceType: kafka.ACLGroup, ResourceName: "billing-", Pattern: kafka.ACLPatternPrefixed, Principal: "User:alice", Operation: kafka.ACLOpRead})
	if err != nil {
		log.Fatal(err)
	}
	acls, err := client.DescribeACLs(ctx, kafka.ACL{Principal: "User:alice"})
	if err != nil {
		log.Fatal(err)
	}
	for _, a := range acls {
		fmt.Println(a)
	}
}
