package share

import (
	"context"
	"errors"
	"fmt"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file holds the member's requests (ShareGroupHeartbeat,
// IncrementalAlterConfigs of the group) and where they go: the group's
// coordinator, over the member's own lane.

// minVersion is the first version of share group requests that gokafka
// speaks: Kafka 4.0's v0 was an early-access form that Kafka 4.1 dropped.
const minVersion = 1

// supported returns nil if the broker behind c speaks share groups, from
// what it announced in ApiVersions: ShareGroupHeartbeat, ShareFetch and
// ShareAcknowledge at v1 or newer (Kafka 4.1 and later), and, when the
// broker reports the cluster's finalized feature levels, share.version 1
// or higher (share groups enabled). Otherwise it returns an error matching
// kerr.ErrUnsupported that says what is missing.
func supported(c *wire.Conn) error {
	v := c.Versions()
	for _, key := range []int16{76, 78, 79} { // ShareGroupHeartbeat, ShareFetch, ShareAcknowledge
		max, ok := v.Max(key)
		if !ok || max < minVersion {
			return fmt.Errorf("%w: share groups: broker %s does not speak %s v%d (Kafka 4.1 or newer, with share groups enabled, does)",
				kerr.ErrUnsupported, c.Addr(), kmsg.NameForKey(key), minVersion)
		}
	}
	if _, reported := v.Finalized("metadata.version"); reported {
		if level, _ := v.Finalized("share.version"); level < 1 {
			return fmt.Errorf("%w: share groups are disabled on the cluster of broker %s (feature share.version is %d; enable it with kafka-features upgrade --feature share.version=1)",
				kerr.ErrUnsupported, c.Addr(), level)
		}
	}
	return nil
}

// request sends req to the coordinator on the member's lane, after checking
// that the coordinator speaks share groups. It returns the coordinator, for
// Failed, with the answer.
func (m *Member) request(ctx context.Context, req kmsg.Request) (kmsg.Response, *cluster.Broker, error) {
	b, err := m.coord.Broker(ctx)
	if err != nil {
		return nil, nil, err
	}
	m.laneBrokers.Add(b)
	conn, err := b.Conn(ctx, m.lane)
	if err == nil {
		if err = supported(conn); err != nil {
			return nil, b, err
		}
		var resp kmsg.Response
		if resp, err = conn.Request(ctx, req); err == nil {
			return resp, b, nil
		}
	}
	m.coord.Failed(b, err)
	return nil, b, err
}

// closeLanes closes the member's connections once its goroutine is done.
func (m *Member) closeLanes() {
	m.laneBrokers.Close(m.lane)
}

// heartbeat sends one ShareGroupHeartbeat at memberEpoch; the subscription goes
// along when subscribe is set (joining, and after an error, when the
// coordinator may have lost it). A response's error code is returned as
// the error, the response with it.
func (m *Member) heartbeat(ctx context.Context, memberEpoch int32, subscribe bool) (*kmsg.ShareGroupHeartbeatResponse, error) {
	req := kmsg.NewPtrShareGroupHeartbeatRequest()
	req.GroupID = m.cfg.Group
	req.MemberID = m.cfg.MemberID
	req.MemberEpoch = memberEpoch
	if subscribe {
		req.SubscribedTopicNames = m.cfg.Topics
		if m.cfg.Rack != "" {
			req.RackID = &m.cfg.Rack
		}
	}
	resp, b, err := m.request(ctx, req)
	if err != nil {
		return nil, err
	}
	r := resp.(*kmsg.ShareGroupHeartbeatResponse)
	if err := kerr.WithMessage(r.ErrorCode, r.ErrorMessage); err != nil {
		if errors.Is(err, kerr.UnsupportedVersion) {
			// Listed in ApiVersions, refused anyway: share groups are
			// disabled (share.version 0).
			err = fmt.Errorf("%w: share groups are disabled on the cluster: %w", kerr.ErrUnsupported, err)
		}
		m.coord.Failed(b, err)
		return r, err
	}
	return r, nil
}

// alterGroupConfig sets the group's configs (IncrementalAlterConfigs, any
// broker forwards it to the controller).
func alterGroupConfig(ctx context.Context, cl *cluster.Cluster, group string, configs map[string]string) error {
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType = kmsg.ConfigResourceTypeGroupConfig
	res.ResourceName = group
	for k, v := range configs {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name = k
		c.Op = kmsg.IncrementalAlterConfigOpSet
		c.Value = kmsg.StringPtr(v)
		res.Configs = append(res.Configs, c)
	}
	req.Resources = []kmsg.IncrementalAlterConfigsRequestResource{res}
	resp, err := cl.AnyRequest(ctx, req)
	if err != nil {
		return fmt.Errorf("share: set the configs of group %q: %w", group, err)
	}
	for _, r := range resp.(*kmsg.IncrementalAlterConfigsResponse).Resources {
		if err := kerr.WithMessage(r.ErrorCode, r.ErrorMessage); err != nil {
			return fmt.Errorf("share: set the configs of group %q: %w", group, err)
		}
	}
	return nil
}
