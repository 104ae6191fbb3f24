// Package kafka is gokafka, a Kafka client in the spirit of PyKafka: one
// entry point, a Client, from which topics, producers and consumers flow.
// The client deals with the particulars of a Kafka cluster — which broker
// leads which partition, reconnections, leader moves, retries — so that
// producing and consuming take a few lines:
//
//	client, err := kafka.NewClient(ctx, "127.0.0.1:9092,127.0.0.1:9093")
//	if err != nil { ... }
//	defer client.Close()
//	topic, err := client.Topic(ctx, "events")
//
//	producer, err := topic.NewProducer(kafka.ProducerConfig{})
//	err = producer.Produce(ctx, []byte("hello"), kafka.Key([]byte("user-42")))
//	err = producer.Close(ctx) // flushes every queued message
//
//	consumer, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerGroup: "billing"})
//	for msg, err := range consumer.Messages(ctx) { ... }
//
// # One topic, or many
//
// A Topic's producers and consumers are the simple path, PyKafka's: they
// read and write that topic. The same machinery serves any number of topics
// from the Client: one producer for every topic (Message.Topic chooses, one
// producer id and one set of broker connections for all), a simple
// consumer of chosen partitions of several topics, and a group consumer
// over a list of topics or a pattern:
//
//	producer, err := client.NewProducer(kafka.ProducerConfig{})
//	err = producer.ProduceMessage(ctx, &kafka.Message{Topic: "orders", Value: v})
//
//	group, err := client.NewBalancedConsumer(ctx, kafka.BalancedConsumerConfig{
//		Group: "billing", Topics: []string{"orders", "refunds"}, Pattern: `audit\..*`,
//	})
//
// Offsets, positions and assignments are keyed by TopicPartition.
//
// # Consumer groups
//
// A BalancedConsumer is a member of a group whose members share the
// partitions of the topics they read. The group is coordinated by Kafka
// (the classic protocol, which Java and librdkafka consumers speak too, so
// they can share the group) or by ZooKeeper (PyKafka's balanced consumer).
// Consumers commit the offset after the last message consumed (last
// consumed + 1), as every Kafka client does; with CommitMarked they commit
// only what was marked processed, so concurrent processing stays
// at-least-once. Pause, Resume and ResetOffsets work on owned partitions at
// any time; OnAssign, OnRevoke and OnLost tell what moves.
//
// # Share groups
//
// A ShareConsumer is a member of a share group (KIP-932, queues): the
// members read the same partitions together, however many there are, and
// the brokers hand each record to one member at a time, locked for it until
// the member acknowledges it — accepted, released (delivered again, with
// a higher Message.DeliveryCount) or rejected. It reads like the other
// consumers; by default every record handed out is accepted at the next
// fetch, and Acknowledge decides record by record:
//
//	queue, err := client.NewShareConsumer(ctx, kafka.ShareConsumerConfig{
//		Group: "workers", Topics: []string{"jobs"}, AutoOffsetReset: kafka.ShareResetEarliest,
//	})
//	for msg, err := range queue.Messages(ctx) {
//		if err != nil { ... }
//		if !process(msg) {
//			queue.Acknowledge(msg, kafka.ReleaseType) // someone tries again
//		}
//	}
//
// Share groups need Kafka 4.1 or newer and the pure engine; elsewhere
// NewShareConsumer fails with an error matching ErrUnsupported.
//
// # Engines
//
// Two engines sit behind the same API. The pure-Go engine is the default and
// builds with CGO_ENABLED=0. The librdkafka engine (confluent-kafka-go) is
// chosen for the whole client (WithEngine) or per producer or consumer
// (Engine, or UseRdkafka: true), after enabling it with a blank import, as
// database/sql drivers are:
//
//	import _ "github.com/gokafka/kafka/rdkafka"
//
// As in PyKafka, the librdkafka consumer uses C only to fetch: which
// partitions it reads, from which offsets, and the offsets it commits are
// decided by the same Go code for both engines.
//
// # Defaults
//
// Producers linger 5 ms, wait for acks from all in-sync replicas and are
// idempotent, so that a retry neither duplicates nor reorders. Keys are
// hashed with Java's murmur2, so a key lands on the partition where the
// Java client and librdkafka put it; keyless messages stick to one
// partition of their topic until they fill a batch (BatchBytes, 1 MiB) or
// for 1 s, whichever comes first (the Java client's rule, with a time
// limit: NewUniformStickyPartitioner; on the librdkafka engine
// librdkafka's rule, 10 ms).
//
// # Administration
//
// The Client also administers the cluster, as Kafka's kafka-topics,
// kafka-configs, kafka-consumer-groups and kafka-acls tools do: topics
// (ListTopics, DescribeTopics, CreateTopics, DeleteTopics,
// CreatePartitions, DeleteRecords), configs (DescribeConfigs with the
// source of each value, incremental AlterConfigs), groups (ListGroups,
// DescribeGroups, GroupLag, ResetGroupOffsets, DeleteGroupOffsets,
// DeleteGroups), the cluster (DescribeCluster, APIVersions) and ACLs
// (CreateACLs, DescribeACLs, DeleteACLs). Calls over several items return
// one result per item, each with its own error:
//
//	lag, err := client.GroupLag(ctx, "billing")
//	for _, p := range lag.Partitions {
//		fmt.Println(p.Topic, p.Partition, p.Committed, p.LogEnd, p.Lag)
//	}
//
// The gokafka command (cmd/gokafka, a module of its own) offers the same on
// the command line.
//
// # Observability
//
// WithHooks registers hooks: values implementing any of the small hook
// interfaces (RecordDeliveredHook, BrokerReadHook, RebalanceHook, LagHook,
// ...) that the client calls where each event happens; see Hook for the
// rules (a slow hook slows its path and loses nothing, a panicking one is
// recovered and logged once). The modules plugin/kprom and plugin/kotel are
// hooks for Prometheus and OpenTelemetry. Client.Stats is a snapshot of the
// queues, in-flight requests and per-broker latency.
//
// # Errors
//
// Every error can be inspected with errors.Is: client conditions have
// sentinels (ErrClosed, ErrQueueFull, ErrMessageTooLarge, ErrUnknownTopic,
// ErrInvalidConfig, ...), and broker error codes are *BrokerError values,
// one per code (ErrNotLeaderOrFollower, ErrOffsetOutOfRange, ...);
// IsRetriable tells whether trying again may help. Invalid configuration
// fails at construction with a *ConfigError naming the field. A message
// that cannot be produced fails alone.
package kafka
