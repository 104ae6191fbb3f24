package testinstance

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// liveAddrs returns the addresses worth asking: the running brokers, or all
// of an external cluster's.
func (c *Cluster) liveAddrs() []string {
	if c.external {
		return c.externalAddrs
	}
	addrs, _, _ := c.running()
	return addrs
}

// CreateTopic creates a topic and waits until every running broker's
// Metadata shows all its partitions with a leader. partitions and
// replicationFactor may be -1 for the broker defaults. configs are topic
// configs such as "cleanup.policy": "compact".
//
// If the topic exists the error matches kerr.TopicAlreadyExists. The wait is
// bounded by Config.StartTimeout as well as ctx.
func (c *Cluster) CreateTopic(ctx context.Context, name string, partitions, replicationFactor int, configs map[string]string) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.StartTimeout)
	defer cancel()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 30000
	t := kmsg.NewCreateTopicsRequestTopic()
	t.Topic = name
	t.NumPartitions = int32(partitions)
	t.ReplicationFactor = int16(replicationFactor)
	keys := make([]string, 0, len(configs))
	for k := range configs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cfg := kmsg.NewCreateTopicsRequestTopicConfig()
		cfg.Name = k
		cfg.Value = kmsg.StringPtr(configs[k])
		t.Configs = append(t.Configs, cfg)
	}
	req.Topics = append(req.Topics, t)

	resp, err := c.anyBroker(ctx, req)
	if err != nil {
		return fmt.Errorf("testinstance: CreateTopic %q: %w", name, err)
	}
	r := resp.(*kmsg.CreateTopicsResponse)
	if len(r.Topics) != 1 {
		return fmt.Errorf("testinstance: CreateTopic %q: %d topics in the response", name, len(r.Topics))
	}
	if err := kerr.WithMessage(r.Topics[0].ErrorCode, r.Topics[0].ErrorMessage); err != nil {
		return fmt.Errorf("testinstance: CreateTopic %q: %w", name, err)
	}
	want := int(r.Topics[0].NumPartitions) // v5+ reports the count; -1 before
	if want <= 0 {
		want = partitions
	}
	return c.waitTopic(ctx, name, want)
}

// waitTopic polls every live broker's Metadata until the topic has want
// partitions (any number if want <= 0), each with a leader.
func (c *Cluster) waitTopic(ctx context.Context, name string, want int) error {
	return poll(ctx, "topic "+name+" to have leaders on every broker", nil, func(ctx context.Context) error {
		for _, addr := range c.liveAddrs() {
			m, err := metadata(ctx, addr, name)
			if err != nil {
				return fmt.Errorf("%s: %w", addr, err)
			}
			if len(m.Topics) != 1 {
				return fmt.Errorf("%s: %d topics in metadata", addr, len(m.Topics))
			}
			mt := m.Topics[0]
			if err := kerr.ForCode(mt.ErrorCode); err != nil {
				return fmt.Errorf("%s: %w", addr, err)
			}
			if want > 0 && len(mt.Partitions) != want {
				return fmt.Errorf("%s: %d of %d partitions", addr, len(mt.Partitions), want)
			}
			if len(mt.Partitions) == 0 {
				return fmt.Errorf("%s: no partitions yet", addr)
			}
			for _, p := range mt.Partitions {
				if err := kerr.ForCode(p.ErrorCode); err != nil {
					return fmt.Errorf("%s: partition %d: %w", addr, p.Partition, err)
				}
				if p.Leader < 0 {
					return fmt.Errorf("%s: partition %d has no leader", addr, p.Partition)
				}
			}
		}
		return nil
	})
}

// DeleteTopic deletes a topic and waits until no live broker's Metadata
// lists it any more. A missing topic matches kerr.UnknownTopicOrPartition.
func (c *Cluster) DeleteTopic(ctx context.Context, name string) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.StartTimeout)
	defer cancel()
	req := kmsg.NewPtrDeleteTopicsRequest()
	req.TimeoutMillis = 30000
	req.TopicNames = []string{name}
	t := kmsg.NewDeleteTopicsRequestTopic()
	t.Topic = kmsg.StringPtr(name)
	req.Topics = []kmsg.DeleteTopicsRequestTopic{t}
	resp, err := c.anyBroker(ctx, req)
	if err != nil {
		return fmt.Errorf("testinstance: DeleteTopic %q: %w", name, err)
	}
	r := resp.(*kmsg.DeleteTopicsResponse)
	for _, t := range r.Topics {
		if err := kerr.WithMessage(t.ErrorCode, t.ErrorMessage); err != nil {
			return fmt.Errorf("testinstance: DeleteTopic %q: %w", name, err)
		}
	}
	return poll(ctx, "topic "+name+" to disappear", nil, func(ctx context.Context) error {
		for _, addr := range c.liveAddrs() {
			m, err := metadata(ctx, addr, name)
			if err != nil {
				return fmt.Errorf("%s: %w", addr, err)
			}
			if len(m.Topics) == 1 && m.Topics[0].ErrorCode == 0 {
				return fmt.Errorf("%s: still listed", addr)
			}
		}
		return nil
	})
}

// anyBroker sends req to the first live broker that answers.
func (c *Cluster) anyBroker(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	addrs := c.liveAddrs()
	if len(addrs) == 0 {
		return nil, errors.New("no broker is running")
	}
	var errs []error
	for _, addr := range addrs {
		resp, err := request(ctx, addr, req)
		if err == nil {
			return resp, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", addr, err))
	}
	return nil, errors.Join(errs...)
}
