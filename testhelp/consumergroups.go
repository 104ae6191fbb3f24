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

// ToolOffset is one row of kafka-consumer-groups --describe (the offsets
// view): a partition's committed offset, log end offset and lag, and the
// member that owns it. Offsets the tool prints as "-" are -1; member
// columns it prints as "-" are empty.
type ToolOffset struct {
	Committed, LogEnd, Lag   int64
	MemberID, Host, ClientID string
}

// GroupOffsets asks Kafka's own tool (kafka-consumer-groups --describe
// --group, run by testinstance.KafkaTool against tc, the shared cluster
// when nil) for a group's committed offsets and lag per partition. Tests
// compare it with what gokafka computes. Each call starts a JVM.
func GroupOffsets[T TopicPartition](ctx context.Context, tc *testinstance.Cluster, group string) (map[T]ToolOffset, error) {
	rows, err := consumerGroups(ctx, tc, group)
	if err != nil {
		return nil, err
	}
	num := func(s string) (int64, error) {
		if s == "-" {
			return -1, nil
		}
		return strconv.ParseInt(s, 10, 64)
	}
	str := func(s string) string {
		if s == "-" {
			return ""
		}
		return s
	}
	out := map[T]ToolOffset{}
	for _, row := range rows {
		p, err := strconv.Atoi(row["PARTITION"])
		if err != nil {
			return nil, fmt.Errorf("partition %q: %w", row["PARTITION"], err)
		}
		var o ToolOffset
		var errs [3]error
		o.Committed, errs[0] = num(row["CURRENT-OFFSET"])
		o.LogEnd, errs[1] = num(row["LOG-END-OFFSET"])
		o.Lag, errs[2] = num(row["LAG"])
		for _, err := range errs {
			if err != nil {
				return nil, fmt.Errorf("row %v: %w", row, err)
			}
		}
		o.MemberID, o.Host, o.ClientID = str(row["CONSUMER-ID"]), str(row["HOST"]), str(row["CLIENT-ID"])
		out[T{Topic: row["TOPIC"], Partition: int32(p)}] = o
	}
	return out, nil
}

// GroupMembers asks Kafka's own tool which partitions each live member of a
// consumer group owns, by member id (members that own none included): the
// members from its --members view, their partitions from its offsets view,
// which Kafka 3.9 and 4.x print alike (3.9's --members view prints an
// assignment without its topic). It is the view of a client nobody here
// wrote: tests compare it with what gokafka's members believe. Each call
// starts two JVMs.
func GroupMembers[T TopicPartition](ctx context.Context, group string) (map[string][]T, error) {
	rows, err := consumerGroups(ctx, nil, group, "--members")
	if err != nil {
		return nil, err
	}
	members := map[string][]T{}
	for _, row := range rows {
		members[row["CONSUMER-ID"]] = nil
	}
	offs, err := GroupOffsets[T](ctx, nil, group)
	if err != nil {
		return nil, err
	}
	for tp, o := range offs {
		if o.MemberID == "" {
			continue
		}
		if _, ok := members[o.MemberID]; !ok {
			return nil, fmt.Errorf("%v is owned by %s, which the --members view does not list", tp, o.MemberID)
		}
		members[o.MemberID] = append(members[o.MemberID], tp)
	}
	for _, ps := range members {
		slices.SortFunc(ps, compareTopicPartitions[T])
	}
	return members, nil
}

// consumerGroups runs kafka-consumer-groups --describe --group group (plus
// extra flags) and returns its table's rows, each keyed by column name.
func consumerGroups(ctx context.Context, tc *testinstance.Cluster, group string, extra ...string) ([]map[string]string, error) {
	tc = orShared(tc)
	args := append([]string{"--bootstrap-server", tc.BootstrapServers(), "--describe", "--group", group}, extra...)
	out, err := testinstance.KafkaTool(ctx, testinstance.Config{KafkaVersion: tc.KafkaVersion()}, nil, "kafka-consumer-groups", args...)
	if err != nil {
		return nil, err
	}
	return ParseToolTable(string(out))
}

// ParseToolTable reads the table Kafka's tools print: a header line that
// starts with GROUP, then one row per line, columns separated by spaces.
// Lines before the header ("Consumer group 'g' has no active members.")
// are skipped; a row with another number of columns is an error.
func ParseToolTable(out string) ([]map[string]string, error) {
	var header []string
	var rows []map[string]string
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case f[0] == "GROUP":
			header = f
		case header == nil:
		case len(f) != len(header):
			return nil, fmt.Errorf("unexpected line %q in:\n%s", line, out)
		default:
			row := make(map[string]string, len(header))
			for i, h := range header {
				row[h] = f[i]
			}
			rows = append(rows, row)
		}
	}
	return rows, nil
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
