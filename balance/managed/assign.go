package managed

import (
	"cmp"
	"encoding/binary"
	"iter"
	"slices"

	"github.com/gokafka/kafka/balance"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file is the group leader's job: from every member's subscription
// (the ConsumerMemberMetadata each sent in JoinGroup), compute who reads
// what. It is pure — no network, no state — so tests drive it directly.

// TopicPartition is balance.TopicPartition, the unit of every assignment.
type TopicPartition = balance.TopicPartition

// subscription is one member's JoinGroup metadata, decoded.
type subscription struct {
	memberID   string
	instanceID *string
	topics     []string         // sorted, no duplicates
	owned      []TopicPartition // what it owned when it joined (v1+), for the sticky strategy; sorted
	generation int32            // the generation of owned (v2+), -1 if unknown
}

// key orders members as the Java client's assignors do (their MemberInfo):
// static members first, by instance id, then dynamic members by member id.
// Ordering static members by instance id keeps their assignment across
// restarts, which change the member id.
func (s *subscription) key() string {
	if s.instanceID != nil {
		return "0" + *s.instanceID
	}
	return "1" + s.memberID
}

func (s *subscription) subscribes(topic string) bool {
	_, ok := slices.BinarySearch(s.topics, topic)
	return ok
}

// decodeSubscription reads a member's protocol metadata (cooperative: for
// the cooperative-sticky protocol). A member whose metadata does not decode
// subscribes to nothing: it gets no partitions, rather than failing the
// whole group's rebalance.
func decodeSubscription(m *kmsg.JoinGroupResponseMember, cooperative bool) (subscription, error) {
	s := subscription{memberID: m.MemberID, instanceID: m.InstanceID, generation: -1}
	meta := kmsg.NewConsumerMemberMetadata()
	if err := meta.ReadFrom(m.ProtocolMetadata); err != nil {
		return s, err
	}
	s.topics = slices.Compact(slices.Sorted(slices.Values(meta.Topics)))
	switch {
	case meta.Version >= 2:
		s.generation = meta.Generation
	case cooperative && len(meta.UserData) == 4:
		// Java's cooperative-sticky assignor before metadata v2 put
		// the generation in the user data, a big-endian int32.
		s.generation = int32(binary.BigEndian.Uint32(meta.UserData))
	}
	for _, o := range meta.OwnedPartitions {
		for _, p := range o.Partitions {
			s.owned = append(s.owned, TopicPartition{Topic: o.Topic, Partition: p})
		}
	}
	slices.SortFunc(s.owned, TopicPartition.Compare)
	s.owned = slices.Compact(s.owned)
	return s, nil
}

// plan is an assignment: member id -> its partitions, sorted. Members that
// get nothing may be absent.
type plan map[string][]TopicPartition

// topicsOf lists the topics any member subscribes to, sorted.
func topicsOf(subs []subscription) []string {
	var ts []string
	for i := range subs {
		ts = append(ts, subs[i].topics...)
	}
	slices.Sort(ts)
	return slices.Compact(ts)
}

// assign runs the strategy named by the group's protocol. counts holds each
// topic's partition count; topics missing from it (unknown to the
// metadata) are not assigned. Range and RoundRobin are balance's, shared
// with ZooKeeper groups; members are ordered by key.
func assign(strategy balance.Strategy, subs []subscription, counts map[string]int32) plan {
	subs = slices.Clone(subs)
	slices.SortFunc(subs, func(a, b subscription) int { return cmp.Compare(a.key(), b.key()) })
	if strategy == balance.CooperativeSticky {
		return assignCooperativeSticky(subs, counts)
	}
	members := make([]balance.Subscriber, len(subs))
	idOf := make(map[string]string, len(subs))
	for i := range subs {
		k := subs[i].key()
		members[i] = balance.Subscriber{Key: k, Topics: subs[i].topics}
		idOf[k] = subs[i].memberID
	}
	p := plan{}
	for k, ps := range balance.AssignTopics(strategy, members, counts) {
		p[idOf[k]] = ps
	}
	return p
}

// byTopic yields the partition numbers of ps topic by topic, as the
// consumer protocol lists them (a topic, then its partitions). ps is
// sorted, so that each topic comes once.
func byTopic(ps []TopicPartition) iter.Seq2[string, []int32] {
	return func(yield func(string, []int32) bool) {
		for i := 0; i < len(ps); {
			j := i
			var parts []int32
			for ; j < len(ps) && ps[j].Topic == ps[i].Topic; j++ {
				parts = append(parts, ps[j].Partition)
			}
			if !yield(ps[i].Topic, parts) {
				return
			}
			i = j
		}
	}
}

// encodeAssignment is a member's SyncGroup assignment in the consumer
// protocol (ConsumerMemberAssignment); ps is sorted, so topics come in
// order.
func encodeAssignment(ps []TopicPartition) []byte {
	a := kmsg.NewConsumerMemberAssignment()
	a.Version = 3 // what the Java client writes; the layout is the same since v0
	for topic, parts := range byTopic(ps) {
		at := kmsg.NewConsumerMemberAssignmentTopic()
		at.Topic, at.Partitions = topic, parts
		a.Topics = append(a.Topics, at)
	}
	return a.AppendTo(nil)
}

// decodeAssignment returns the partitions of a SyncGroup assignment,
// sorted, without duplicates. An empty assignment (a member the leader gave
// nothing, in some clients) is no partitions.
func decodeAssignment(b []byte) ([]TopicPartition, error) {
	if len(b) == 0 {
		return nil, nil
	}
	a := kmsg.NewConsumerMemberAssignment()
	if err := a.ReadFrom(b); err != nil {
		return nil, err
	}
	var ps []TopicPartition
	for _, t := range a.Topics {
		for _, p := range t.Partitions {
			ps = append(ps, TopicPartition{Topic: t.Topic, Partition: p})
		}
	}
	slices.SortFunc(ps, TopicPartition.Compare)
	return slices.Compact(ps), nil
}
