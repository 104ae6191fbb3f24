package testhelp

import (
	"context"
	"fmt"
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
	tc = orShared(tc)
	out, err := testinstance.KafkaTool(ctx, testinstance.Config{KafkaVersion: tc.KafkaVersion()}, nil, "kafka-consumer-groups",
		"--bootstrap-server", tc.BootstrapServers(), "--describe", "--group", group)
	if err != nil {
		return nil, err
	}
	var header []string
	rows := map[T]ToolOffset{}
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
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case f[0] == "GROUP":
			header = f
		case header == nil:
			// "Consumer group 'g' has no active members." and the like
		case len(f) != len(header):
			return nil, fmt.Errorf("unexpected line %q in:\n%s", line, out)
		default:
			row := map[string]string{}
			for i, h := range header {
				row[h] = f[i]
			}
			p, err := strconv.Atoi(row["PARTITION"])
			if err != nil {
				return nil, fmt.Errorf("line %q: %w", line, err)
			}
			var o ToolOffset
			var errs [3]error
			o.Committed, errs[0] = num(row["CURRENT-OFFSET"])
			o.LogEnd, errs[1] = num(row["LOG-END-OFFSET"])
			o.Lag, errs[2] = num(row["LAG"])
			for _, err := range errs {
				if err != nil {
					return nil, fmt.Errorf("line %q: %w", line, err)
				}
			}
			o.MemberID, o.Host, o.ClientID = str(row["CONSUMER-ID"]), str(row["HOST"]), str(row["CLIENT-ID"])
			rows[T{Topic: row["TOPIC"], Partition: int32(p)}] = o
		}
	}
	return rows, nil
}
