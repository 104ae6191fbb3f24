package managed

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
)

// This file is what the member reads — its topic list and the topics its
// pattern matches in the cluster's metadata — and which metadata changes
// make it rejoin. The membership loop calls it; only its goroutine touches
// the state it keeps (m.s).

// metadataChanged describes why the metadata calls for a rejoin, or
// returns "": the pattern matches other topics than at the last JoinGroup
// (created or deleted), or a topic the last assignment covered has another
// partition count (a topic that did not exist counts 0, so its creation
// and its deletion are changes). Topics whose metadata is in error right
// now (a leader election, say) are left alone.
func (m *Member) metadataChanged(snap *cluster.Snapshot) string {
	if m.pattern != nil {
		if now := m.subscribedTopics(snap); !slices.Equal(now, m.s.topics) {
			gone, added := diffTopics(m.s.topics, now)
			return fmt.Sprintf("the subscription changed: topics %v added, %v gone", added, gone)
		}
	}
	for topic, was := range m.s.watch {
		if n, ok := partitionsOf(snap, topic); ok && n != was {
			return fmt.Sprintf("topic %q has %d partitions, %d at the last assignment", topic, n, was)
		}
	}
	return ""
}

// partitionsOf is a topic's partition count in snap: 0 if the metadata says
// the topic does not exist, and ok false if it cannot tell (an error).
func partitionsOf(snap *cluster.Snapshot, topic string) (n int, ok bool) {
	t, err := snap.Topic(topic)
	switch {
	case err == nil:
		return len(t.Partitions), true
	case errors.Is(err, kerr.ErrUnknownTopic):
		return 0, true
	}
	return 0, false
}

// subscribedTopics is what the member reads now, sorted: the listed
// topics, and the topics of snap whose whole name matches the pattern,
// except Kafka's internal topics (__consumer_offsets, ...) and topics whose
// metadata is in error (one being created has no leaders yet; it is matched
// at a later refresh).
//
// It runs at every metadata update, over every topic of the cluster, so it
// remembers each name's match (m.s.matches); the memo is cleared when it
// grows past twice the cluster's topics, which bounds it and forgets
// deleted topics.
func (m *Member) subscribedTopics(snap *cluster.Snapshot) []string {
	topics := slices.Clone(m.cfg.Subscription.Topics)
	if m.pattern == nil {
		return topics
	}
	if len(m.s.matches) > 2*len(snap.Topics)+64 {
		clear(m.s.matches)
	}
	for name, t := range snap.Topics {
		if t.Internal || t.Err != nil {
			continue
		}
		match, known := m.s.matches[name]
		if !known {
			match = m.pattern.MatchString(name)
			m.s.matches[name] = match
		}
		if match {
			topics = append(topics, name)
		}
	}
	slices.Sort(topics)
	return slices.Compact(topics)
}

// unsubscribed returns the partitions of ps whose topic is not in the
// subscription of the last JoinGroup.
func (m *Member) unsubscribed(ps []TopicPartition) []TopicPartition {
	var out []TopicPartition
	for _, tp := range ps {
		if _, ok := slices.BinarySearch(m.s.topics, tp.Topic); !ok {
			out = append(out, tp)
		}
	}
	return out
}

// diffTopics returns the topics of before missing from after, and the
// reverse; both are sorted.
func diffTopics(before, after []string) (gone, added []string) {
	for _, t := range before {
		if _, ok := slices.BinarySearch(after, t); !ok {
			gone = append(gone, t)
		}
	}
	for _, t := range after {
		if _, ok := slices.BinarySearch(before, t); !ok {
			added = append(added, t)
		}
	}
	return gone, added
}
