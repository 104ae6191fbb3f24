package testhelp

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gokafka/kafka/testinstance"
)

// GroupMembers asks Kafka's own tool (kafka-consumer-groups --describe
// --members --verbose, run by testinstance.KafkaTool against the shared
// cluster) which partitions each member of a consumer group owns, by member
// id. It is the view of a client nobody here wrote: tests compare it with
// what gokafka's members believe. Each call starts a JVM (a few seconds).
func GroupMembers[T TopicPartition](ctx context.Context, group string) (map[string][]T, error) {
	c := testinstance.Shared()
	out, err := testinstance.KafkaTool(ctx, testinstance.Config{KafkaVersion: c.KafkaVersion()}, nil, "kafka-consumer-groups",
		"--bootstrap-server", c.BootstrapServers(), "--describe", "--group", group, "--members", "--verbose")
	if err != nil {
		return nil, err
	}
	var header []string
	members := map[string][]T{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case f[0] == "GROUP":
			header = f
		case header == nil || len(f) != len(header):
			return nil, fmt.Errorf("unexpected line %q in:\n%s", line, out)
		default:
			row := map[string]string{}
			for i, h := range header {
				row[h] = f[i]
			}
			assigned := row["CURRENT-ASSIGNMENT"]
			if assigned == "" {
				assigned = row["ASSIGNMENT"] // Kafka 3.x names the column so
			}
			ps, err := ParseToolAssignment[T](assigned)
			if err != nil {
				return nil, fmt.Errorf("%w in:\n%s", err, out)
			}
			members[row["CONSUMER-ID"]] = ps
		}
	}
	if header == nil {
		return nil, fmt.Errorf("no member table in:\n%s", out)
	}
	return members, nil
}

// ParseToolAssignment reads the tool's assignment column: "-", or
// "topic:0,1;other:3", sorted.
func ParseToolAssignment[T TopicPartition](s string) ([]T, error) {
	var ps []T
	if s == "-" {
		return nil, nil
	}
	for _, part := range strings.Split(s, ";") {
		topic, list, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("assignment %q: no topic:partitions", s)
		}
		for _, n := range strings.Split(list, ",") {
			p, err := strconv.Atoi(n)
			if err != nil {
				return nil, fmt.Errorf("assignment %q: %w", s, err)
			}
			ps = append(ps, T{Topic: topic, Partition: int32(p)})
		}
	}
	slices.SortFunc(ps, compareTopicPartitions[T])
	return ps, nil
}

// compareTopicPartitions orders by topic, then partition number.
func compareTopicPartitions[T TopicPartition](a, b T) int {
	type tp = struct {
		Topic     string
		Partition int32
	}
	x, y := tp(a), tp(b)
	if c := cmp.Compare(x.Topic, y.Topic); c != 0 {
		return c
	}
	return cmp.Compare(x.Partition, y.Partition)
}
