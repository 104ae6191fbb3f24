package testhelp

import (
	"context"
	"fmt"
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
// IncrementalAlterConfigs on its GROUP resource, through cl, and returns
// once every broker describes them so (the controller commits them, and the
// brokers apply them a moment later: a coordinator that has not would give
// the group's first member the default heartbeat interval). The group need
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
	want := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		want[kv[i]] = kv[i+1]
	}
	Eventually(t, 30*time.Second, "every broker describes the group's configs", func() error {
		for id := range cl.Snapshot().Brokers {
			b, err := cl.Broker(id)
			if err != nil {
				return err
			}
			d := kmsg.NewPtrDescribeConfigsRequest()
			dr := kmsg.NewDescribeConfigsRequestResource()
			dr.ResourceType = kmsg.ConfigResourceTypeGroupConfig
			dr.ResourceName = group
			d.Resources = append(d.Resources, dr)
			resp, err := b.Request(ctx, d)
			if err != nil {
				return err
			}
			for _, rr := range resp.(*kmsg.DescribeConfigsResponse).Resources {
				if err := kerr.WithMessage(rr.ErrorCode, rr.ErrorMessage); err != nil {
					return err
				}
				for _, c := range rr.Configs {
					if w, ok := want[c.Name]; ok && (c.Value == nil || *c.Value != w) {
						return fmt.Errorf("broker %d: %s = %v", id, c.Name, c.Value)
					}
				}
			}
		}
		return nil
	})
}

// FastConsumerGroup gives a consumer-protocol group FastHeartbeat and
// FastSession.
func FastConsumerGroup(t testing.TB, ctx context.Context, cl *cluster.Cluster, group string) {
	t.Helper()
	SetGroupConfig(t, ctx, cl, group,
		"consumer.heartbeat.interval.ms", "500",
		"consumer.session.timeout.ms", "6000")
}
