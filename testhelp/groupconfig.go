package testhelp

import (
	"context"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// FastHeartbeat and FastSession are what FastConsumerGroup sets: the
// broker's defaults for consumer-protocol groups (5s and 45s) would make
// every test wait; testinstance's brokers allow these.
const (
	FastHeartbeat = 500 * time.Millisecond
	FastSession   = 6 * time.Second
)

// SetGroupConfig sets configs of a group — the group configs of KIP-848
// (consumer.heartbeat.interval.ms, consumer.session.timeout.ms, ...) — with
// IncrementalAlterConfigs on its GROUP resource, through cl. The group need
// not exist yet. kv are name, value pairs.
func SetGroupConfig(t testing.TB, ctx context.Context, cl *cluster.Cluster, group string, kv ...string) {
	t.Helper()
	if len(kv)%2 != 0 {
		t.Fatalf("SetGroupConfig: %q are not name, value pairs", kv)
	}
	r := kmsg.NewIncrementalAlterConfigsRequestResource()
	r.ResourceType = kmsg.ConfigResourceTypeGroupConfig
	r.ResourceName = group
	for i := 0; i < len(kv); i += 2 {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Value = kv[i], kmsg.StringPtr(kv[i+1])
		r.Configs = append(r.Configs, c)
	}
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	req.Resources = append(req.Resources, r)
	resp, err := cl.AnyRequest(ctx, req)
	if err != nil {
		t.Fatalf("SetGroupConfig %s: %v", group, err)
	}
	for _, rr := range resp.(*kmsg.IncrementalAlterConfigsResponse).Resources {
		if err := kerr.WithMessage(rr.ErrorCode, rr.ErrorMessage); err != nil {
			t.Fatalf("SetGroupConfig %s: %v", group, err)
		}
	}
}

// FastConsumerGroup gives a consumer-protocol group FastHeartbeat and
// FastSession.
func FastConsumerGroup(t testing.TB, ctx context.Context, cl *cluster.Cluster, group string) {
	t.Helper()
	SetGroupConfig(t, ctx, cl, group,
		"consumer.heartbeat.interval.ms", "500",
		"consumer.session.timeout.ms", "6000")
}
