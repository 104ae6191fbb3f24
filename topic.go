package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/offsets"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Topic is a handle on one topic: its partitions, offsets, and the producers
// and consumers that use it. Safe for concurrent use.
type Topic struct {
	client *Client
	name   string
}

// Partition describes one partition of a topic as of the last metadata
// refresh.
type Partition struct {
	Topic       string
	ID          int32
	Leader      int32 // broker id; -1 while no leader is elected
	LeaderEpoch int32
	Replicas    []int32
	ISR         []int32 // in-sync replicas
	Offline     []int32 // replicas on brokers that are offline
}

// validTopicName is Kafka's rule for topic names (see
// cluster.ValidTopicName); its error matches ErrInvalidTopic.
func validTopicName(name string) error { return cluster.ValidTopicName(name) }

// Topic returns a handle on the named topic after loading its metadata. A
// topic that does not exist is ErrUnknownTopic, unless the client was made
// WithAutoCreateTopics and the broker allows auto-creation.
func (c *Client) Topic(ctx context.Context, name string) (*Topic, error) {
	if _, err := c.loadTopic(ctx, name); err != nil {
		return nil, err
	}
	return &Topic{client: c, name: name}, nil
}

// loadTopic returns a topic's metadata, from the client's metadata when it
// has the topic (which it then keeps refreshing), else loaded now — or
// created, WithAutoCreateTopics. A topic found missing is remembered as
// such for the retry backoff, so that producing to a topic that does not
// exist costs one metadata request per backoff, not one per message.
func (c *Client) loadTopic(ctx context.Context, name string) (*cluster.TopicMeta, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if t, err := c.cluster.Snapshot().Topic(name); err == nil && len(t.Partitions) > 0 {
		c.cluster.Track(name)
		return t, nil
	}
	if err := validTopicName(name); err != nil {
		return nil, err
	}
	if c.missing.recent(name) {
		return nil, fmt.Errorf("%w: %q (looked up less than %v ago)", ErrUnknownTopic, name, c.cfg.retryBackoffOrDefault())
	}
	// An auto-created topic has no leaders for a moment: poll until it
	// does, within ctx.
	for attempt := 1; ; attempt++ {
		var err error
		if c.cfg.autoCreateTopics {
			err = c.cluster.CreateByMetadata(ctx, name)
		} else {
			err = c.cluster.RefreshTopics(ctx, name)
		}
		if err == nil {
			var meta *cluster.TopicMeta
			if meta, err = c.cluster.Snapshot().Topic(name); err == nil && len(meta.Partitions) > 0 {
				return meta, nil
			}
			if err == nil {
				err = fmt.Errorf("%w: %q has no partitions yet", ErrUnknownTopic, name)
			}
		}
		retry := c.cfg.autoCreateTopics && (errors.Is(err, ErrUnknownTopic) || kerr.IsRetriable(err))
		if !retry && !errors.Is(err, kerr.LeaderNotAvailable) {
			c.cluster.Untrack(name)
			if errors.Is(err, ErrUnknownTopic) {
				c.missing.add(name, c.cfg.retryBackoffOrDefault())
			}
			return nil, err
		}
		if serr := c.cluster.Sleep(ctx, c.cluster.Backoff(attempt)); serr != nil {
			c.cluster.Untrack(name)
			return nil, fmt.Errorf("%w (last error: %w)", serr, err)
		}
	}
}

// missingTopics remembers, for a while, topics found not to exist. It holds
// at most missingMax names; when full, the expired ones go, or else all.
type missingTopics struct {
	mu    sync.Mutex
	until map[string]time.Time
}

const missingMax = 1024

func (m *missingTopics) recent(name string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.until[name]
	return ok && time.Now().Before(t)
}

func (m *missingTopics) add(name string, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	if m.until == nil {
		m.until = map[string]time.Time{}
	}
	if len(m.until) >= missingMax {
		for k, t := range m.until {
			if !now.Before(t) {
				delete(m.until, k)
			}
		}
		if len(m.until) >= missingMax {
			clear(m.until)
		}
	}
	m.until[name] = now.Add(d)
}

// forget drops a name, once it was created.
func (m *missingTopics) forget(name string) {
	m.mu.Lock()
	delete(m.until, name)
	m.mu.Unlock()
}

// TopicConfig describes a topic to create.
type TopicConfig struct {
	// Partitions is the number of partitions. Zero: the broker's default
	// (num.partitions).
	Partitions int32
	// ReplicationFactor is the number of replicas of each partition. Zero:
	// the broker's default (default.replication.factor).
	ReplicationFactor int16
	// Configs are topic-level settings, e.g. "cleanup.policy": "compact".
	Configs map[string]string
}

// CreateTopic creates a topic and waits until every partition has a leader
// on every broker. An existing topic is an error matching
// ErrTopicAlreadyExists. It is CreateTopics for one topic.
func (c *Client) CreateTopic(ctx context.Context, name string, cfg TopicConfig) (*Topic, error) {
	if _, err := c.CreateTopics(ctx, NewTopic{Name: name, TopicConfig: cfg}); err != nil {
		return nil, err
	}
	// The handle reads the client's metadata, which keeps the topic
	// refreshed from now on.
	if err := c.cluster.RefreshTopics(ctx, name); err != nil {
		return nil, err
	}
	return &Topic{client: c, name: name}, nil
}

// DeleteTopic deletes a topic and waits until the metadata no longer lists
// it. It is DeleteTopics for one topic.
func (c *Client) DeleteTopic(ctx context.Context, name string) error {
	_, err := c.DeleteTopics(ctx, name)
	return err
}

// controllerRequest sends an admin request to the controller (in KRaft mode
// any broker forwards it), retrying while the controller moves. check sees
// whether the response answers a retry: a failed attempt may still have
// taken effect, so a retry can meet its own earlier success.
func (c *Client) controllerRequest(ctx context.Context, req kmsg.Request, check func(resp kmsg.Response, retry bool) error) error {
	for attempt := 1; ; attempt++ {
		var resp kmsg.Response
		var err error
		if b, berr := c.cluster.Broker(c.cluster.Snapshot().ControllerID); berr == nil {
			resp, err = b.Request(ctx, req)
		} else {
			resp, err = c.cluster.AnyRequest(ctx, req)
		}
		if err == nil {
			err = check(resp, attempt > 1)
		}
		if err == nil || !kerr.IsRetriable(err) || ctx.Err() != nil {
			return err
		}
		c.cluster.TriggerRefresh()
		if serr := c.cluster.Sleep(ctx, c.cluster.Backoff(attempt)); serr != nil {
			return fmt.Errorf("%w (last error: %w)", serr, err)
		}
	}
}

// Name is the topic's name.
func (t *Topic) Name() string { return t.name }

// Client is the client the topic belongs to.
func (t *Topic) Client() *Client { return t.client }

func (t *Topic) meta() (*cluster.TopicMeta, error) {
	return t.client.cluster.Snapshot().Topic(t.name)
}

// Partitions lists the topic's partitions, ordered by id, as of the last
// metadata refresh (see Refresh).
func (t *Topic) Partitions() []Partition {
	m, err := t.meta()
	if err != nil {
		return nil
	}
	out := make([]Partition, len(m.Partitions))
	for i, p := range m.Partitions {
		out[i] = Partition{
			Topic: t.name, ID: p.ID, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
			Replicas: slices.Clone(p.Replicas), ISR: slices.Clone(p.ISR), Offline: slices.Clone(p.Offline),
		}
	}
	return out
}

// topicPartitions lists the topic's partitions.
func (t *Topic) topicPartitions() ([]TopicPartition, error) {
	m, err := t.meta()
	if err != nil {
		return nil, err
	}
	tps := make([]TopicPartition, len(m.Partitions))
	for i := range m.Partitions {
		tps[i] = TopicPartition{Topic: t.name, Partition: int32(i)}
	}
	return tps, nil
}

// Refresh reloads the topic's metadata now (leaders, replicas, partition
// count). The client also refreshes it periodically and after errors.
func (t *Topic) Refresh(ctx context.Context) error {
	return t.client.cluster.RefreshTopics(ctx, t.name)
}

// EarliestOffsets returns, per partition, the first offset still stored.
func (t *Topic) EarliestOffsets(ctx context.Context) (map[int32]int64, error) {
	return t.listOffsets(ctx, offsets.Earliest)
}

// LatestOffsets returns, per partition, the offset the next message will get
// (the high watermark).
func (t *Topic) LatestOffsets(ctx context.Context) (map[int32]int64, error) {
	return t.listOffsets(ctx, offsets.Latest)
}

// OffsetsForTime returns, per partition, the first offset whose message has
// a timestamp at or after ts; for a partition with no such message, the
// latest offset (where the next message will go).
func (t *Topic) OffsetsForTime(ctx context.Context, ts time.Time) (map[int32]int64, error) {
	return t.listOffsets(ctx, ts.UnixMilli())
}

func (t *Topic) listOffsets(ctx context.Context, at int64) (map[int32]int64, error) {
	tps, err := t.topicPartitions()
	if err != nil {
		return nil, err
	}
	found, err := offsets.List(ctx, t.client.cluster, tps, at)
	out := make(map[int32]int64, len(found))
	for tp, off := range found {
		out[tp.Partition] = off
	}
	return out, err
}
