package cluster

import (
	"fmt"
	"net"
	"strconv"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Snapshot is an immutable view of the cluster's metadata. Readers get it
// lock-free from Cluster.Snapshot; a refresh publishes a new one.
type Snapshot struct {
	ClusterID    string
	ControllerID int32
	Brokers      map[int32]BrokerMeta
	Topics       map[string]*TopicMeta
}

// BrokerMeta is a broker as metadata describes it.
type BrokerMeta struct {
	ID   int32
	Host string
	Port int32
	Rack *string
}

// Addr is host:port.
func (b BrokerMeta) Addr() string {
	return net.JoinHostPort(b.Host, strconv.Itoa(int(b.Port)))
}

// TopicMeta describes one topic. Err is set when the broker reported an
// error for the topic (for example UNKNOWN_TOPIC_OR_PARTITION).
type TopicMeta struct {
	Name       string
	ID         [16]byte
	Internal   bool
	Err        error
	Partitions []PartitionMeta // indexed by partition id
}

// PartitionMeta describes one partition. Leader is -1 while no leader is
// elected.
type PartitionMeta struct {
	ID          int32
	Leader      int32
	LeaderEpoch int32
	Replicas    []int32
	ISR         []int32
	Offline     []int32
	Err         error
}

// Partition returns the metadata of partition p.
func (t *TopicMeta) Partition(p int32) (*PartitionMeta, error) {
	if t.Err != nil {
		return nil, t.Err
	}
	if p < 0 || int(p) >= len(t.Partitions) {
		return nil, fmt.Errorf("%w: %s/%d (topic has %d partitions)", kerr.ErrUnknownPartition, t.Name, p, len(t.Partitions))
	}
	return &t.Partitions[p], nil
}

// Topic returns the metadata of a topic, or ErrUnknownTopic.
func (s *Snapshot) Topic(name string) (*TopicMeta, error) {
	t, ok := s.Topics[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", kerr.ErrUnknownTopic, name)
	}
	if t.Err != nil {
		return nil, t.Err
	}
	return t, nil
}

// Leader is the leader of partition p of topic and its leader epoch, or
// -1, -1 while s cannot route to one: no such topic or partition, no
// leader elected, or a leader not among s's brokers yet.
func (s *Snapshot) Leader(topic string, p int32) (leader, epoch int32) {
	if t, err := s.Topic(topic); err == nil {
		if pm, err := t.Partition(p); err == nil && pm.Leader >= 0 {
			if _, ok := s.Brokers[pm.Leader]; ok {
				return pm.Leader, pm.LeaderEpoch
			}
		}
	}
	return -1, -1
}

// merge builds the snapshot that follows s after resp. If all is true the
// response covers every topic and topics missing from it are dropped;
// otherwise only the topics in resp are replaced.
func (s *Snapshot) merge(resp *kmsg.MetadataResponse, all bool) *Snapshot {
	next := &Snapshot{
		ClusterID:    s.ClusterID,
		ControllerID: resp.ControllerID,
		Brokers:      make(map[int32]BrokerMeta, len(resp.Brokers)),
		Topics:       make(map[string]*TopicMeta, len(s.Topics)+len(resp.Topics)),
	}
	if resp.ClusterID != nil {
		next.ClusterID = *resp.ClusterID
	}
	for _, b := range resp.Brokers {
		next.Brokers[b.NodeID] = BrokerMeta{ID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack}
	}
	if !all {
		for name, t := range s.Topics {
			next.Topics[name] = t
		}
	}
	for i := range resp.Topics {
		rt := &resp.Topics[i]
		if rt.Topic == nil {
			continue
		}
		t := &TopicMeta{Name: *rt.Topic, ID: rt.TopicID, Internal: rt.IsInternal}
		if code := kerr.ForCode(rt.ErrorCode); code != nil {
			// A topic that errors now (a leader election in progress,
			// for one) keeps its last known partitions, so producers
			// keep routing; unknown topics are forgotten.
			if old, ok := s.Topics[t.Name]; ok && old.Err == nil && kerr.IsRetriable(code) && code != kerr.UnknownTopicOrPartition {
				next.Topics[t.Name] = old
				continue
			}
			t.Err = code
			if code == kerr.UnknownTopicOrPartition {
				t.Err = fmt.Errorf("%w: %q: %w", kerr.ErrUnknownTopic, *rt.Topic, code)
			}
			next.Topics[t.Name] = t
			continue
		}
		max := int32(-1)
		for _, p := range rt.Partitions {
			if p.Partition > max {
				max = p.Partition
			}
		}
		if int(max) >= len(rt.Partitions) {
			// Partition ids are dense (0..n-1): an id beyond the count
			// is a corrupt response, and sizing the table by it would
			// let one bad id allocate gigabytes (or overflow at 2^31-1).
			// Keep routing on what we knew, as for a retriable error.
			if old, ok := s.Topics[t.Name]; ok && old.Err == nil {
				next.Topics[t.Name] = old
				continue
			}
			t.Err = fmt.Errorf("%w: metadata of %q lists partition %d among %d partitions", kerr.ErrCorruptResponse, t.Name, max, len(rt.Partitions))
			next.Topics[t.Name] = t
			continue
		}
		t.Partitions = make([]PartitionMeta, max+1)
		for j := range t.Partitions {
			t.Partitions[j] = PartitionMeta{ID: int32(j), Leader: -1, Err: kerr.LeaderNotAvailable}
		}
		for _, p := range rt.Partitions {
			if p.Partition < 0 {
				continue
			}
			t.Partitions[p.Partition] = PartitionMeta{
				ID:          p.Partition,
				Leader:      p.Leader,
				LeaderEpoch: p.LeaderEpoch,
				Replicas:    p.Replicas,
				ISR:         p.ISR,
				Offline:     p.OfflineReplicas,
				Err:         kerr.ForCode(p.ErrorCode),
			}
		}
		next.Topics[t.Name] = t
	}
	return next
}
