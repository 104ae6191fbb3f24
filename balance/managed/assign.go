package managed

import (
	"cmp"
	"encoding/binary"
	"maps"
	"slices"

	"github.com/gokafka/kafka/balance"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file is the group leader's job: from every member's subscription
// (the ConsumerMemberMetadata each sent in JoinGroup), compute who reads
// what. It is pure — no network, no state — so tests drive it directly.

// subscription is one member's JoinGroup metadata, decoded.
type subscription struct {
	memberID   string
	instanceID *string
	topics     []string
	owned      map[string][]int32 // what it owned when it joined (v1+), for the sticky strategy
	generation int32              // the generation of owned (v2+), -1 if unknown
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

func (s *subscription) subscribes(topic string) bool { return slices.Contains(s.topics, topic) }

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
		if s.owned == nil {
			s.owned = map[string][]int32{}
		}
		s.owned[o.Topic] = append(s.owned[o.Topic], o.Partitions...)
	}
	return s, nil
}

// plan is an assignment: member id -> topic -> sorted partitions. Members
// that get nothing may be absent.
type plan map[string]map[string][]int32

func (p plan) add(member, topic string, partitions ...int32) {
	if len(partitions) == 0 {
		return
	}
	if p[member] == nil {
		p[member] = map[string][]int32{}
	}
	p[member][topic] = append(p[member][topic], partitions...)
}

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
// metadata) are not assigned.
func assign(strategy balance.Strategy, subs []subscription, counts map[string]int32) plan {
	subs = slices.Clone(subs)
	slices.SortFunc(subs, func(a, b subscription) int { return cmp.Compare(a.key(), b.key()) })
	var p plan
	switch strategy {
	case balance.RoundRobin:
		p = assignRoundRobin(subs, counts)
	case balance.CooperativeSticky:
		p = assignCooperativeSticky(subs, counts)
	default:
		p = assignRange(subs, counts)
	}
	for _, topics := range p {
		for t := range topics {
			slices.Sort(topics[t])
		}
	}
	return p
}

// subscribers returns the members that subscribe to topic, by sort key,
// and the map back from key to member id.
func subscribers(subs []subscription, topic string) (keys []string, byKey map[string]string) {
	byKey = map[string]string{}
	for i := range subs {
		if subs[i].subscribes(topic) {
			k := subs[i].key()
			keys = append(keys, k)
			byKey[k] = subs[i].memberID
		}
	}
	return keys, byKey
}

func partitionsUpTo(n int32) []int32 {
	ps := make([]int32, n)
	for i := range ps {
		ps[i] = int32(i)
	}
	return ps
}

// assignRange is Java's RangeAssignor: topic by topic, the members that
// subscribe to it each get a contiguous range.
func assignRange(subs []subscription, counts map[string]int32) plan {
	p := plan{}
	for _, topic := range topicsOf(subs) {
		keys, byKey := subscribers(subs, topic)
		for k, ps := range balance.AssignRange(keys, partitionsUpTo(counts[topic])) {
			p.add(byKey[k], topic, ps...)
		}
	}
	return p
}

// assignRoundRobin is Java's RoundRobinAssignor: every partition of every
// topic, sorted by topic then number, is dealt to the members in turn,
// skipping members that do not subscribe to its topic.
func assignRoundRobin(subs []subscription, counts map[string]int32) plan {
	p := plan{}
	topics := topicsOf(subs)
	if len(subs) == 0 {
		return p
	}
	if sameSubscriptions(subs) {
		// The common case, dealt by the strategy the ZooKeeper groups
		// share: number the topic-partitions in order and deal the
		// numbers.
		type tp struct {
			topic string
			p     int32
		}
		var all []tp
		var idx []int32
		for _, t := range topics {
			for i := range counts[t] {
				idx = append(idx, int32(len(all)))
				all = append(all, tp{t, i})
			}
		}
		keys, byKey := subscribers(subs, topics[0])
		for k, is := range balance.AssignRoundRobin(keys, idx) {
			for _, i := range is {
				p.add(byKey[k], all[i].topic, all[i].p)
			}
		}
		return p
	}
	next := 0 // the member whose turn it is
	for _, t := range topics {
		for i := range counts[t] {
			for !subs[next].subscribes(t) {
				next = (next + 1) % len(subs)
			}
			p.add(subs[next].memberID, t, i)
			next = (next + 1) % len(subs)
		}
	}
	return p
}

func sameSubscriptions(subs []subscription) bool {
	for i := range subs {
		if !slices.Equal(subs[i].topics, subs[0].topics) {
			return false
		}
	}
	return len(subs[0].topics) > 0
}

// assignCooperativeSticky is the cooperative-sticky strategy (KIP-429). Per
// topic, it computes a balanced target that keeps every partition with its
// previous owner as far as the balance allows (stickyTopic), then holds back
// the partitions whose owner changes: the new owner gets them only in a
// following rebalance, after the previous owner has revoked them (it sees
// them missing from its assignment, revokes them and rejoins). So a
// partition is never owned by two members at once, and partitions that do
// not move are never revoked.
//
// Balance is per topic; with several topics the totals may differ by up to
// one per topic (Java's assignor balances the totals).
func assignCooperativeSticky(subs []subscription, counts map[string]int32) plan {
	p := plan{}
	for _, topic := range topicsOf(subs) {
		n := counts[topic]
		keys, byKey := subscribers(subs, topic)
		prev := previousOwners(subs, topic, n)
		keyOf := make(map[string]string, len(byKey))
		for k, id := range byKey {
			keyOf[id] = k
		}
		prevByKey := make(map[int32]string, len(prev))
		for part, owner := range prev {
			prevByKey[part] = keyOf[owner] // previousOwners only names subscribers
		}
		for k, ps := range stickyTopic(keys, n, prevByKey) {
			member := byKey[k]
			for _, part := range ps {
				if owner, ok := prev[part]; ok && owner != member {
					continue // still owned elsewhere: the next rebalance gives it
				}
				p.add(member, topic, part)
			}
		}
	}
	return p
}

// previousOwners returns who owned each partition of topic, from the
// members' OwnedPartitions. A partition claimed by two members goes to the
// claim of the newer generation; two claims of the same generation cancel
// (neither is trusted). Claims by members that no longer subscribe to the
// topic, and of partitions beyond n, are ignored.
func previousOwners(subs []subscription, topic string, n int32) map[int32]string {
	type claim struct {
		member   string
		gen      int32
		conflict bool
	}
	claims := map[int32]*claim{}
	for i := range subs {
		s := &subs[i]
		if !s.subscribes(topic) {
			continue
		}
		for _, part := range s.owned[topic] {
			if part < 0 || part >= n {
				continue
			}
			c := claims[part]
			switch {
			case c == nil:
				claims[part] = &claim{member: s.memberID, gen: s.generation}
			case c.member == s.memberID:
			case s.generation > c.gen:
				*c = claim{member: s.memberID, gen: s.generation}
			case s.generation == c.gen:
				c.conflict = true
			}
		}
	}
	out := map[int32]string{}
	for part, c := range claims {
		if !c.conflict {
			out[part] = c.member
		}
	}
	return out
}

// stickyTopic assigns partitions 0..n-1 to members (sorted keys) so that
// counts differ by at most one and as few partitions as possible leave
// their previous owner (prev: partition -> member key).
//
// Every member may hold floor(n/m) partitions, and n%m of them one more.
// Owners first keep what they had up to that quota (their lowest-numbered
// partitions), then the free partitions — unowned, or beyond an owner's
// quota — fill the members below quota, in member order.
func stickyTopic(members []string, n int32, prev map[int32]string) map[string][]int32 {
	out := map[string][]int32{}
	m := int32(len(members))
	if m == 0 || n <= 0 {
		return out
	}
	quota, extra := n/m, n%m
	owned := map[string][]int32{}
	for part := range n {
		if k, ok := prev[part]; ok {
			owned[k] = append(owned[k], part)
		}
	}
	taken := make([]bool, n)
	keep := func(k string, part int32) {
		out[k] = append(out[k], part)
		taken[part] = true
	}
	for _, k := range members {
		for _, part := range owned[k][:min(int32(len(owned[k])), quota)] {
			keep(k, part)
		}
	}
	for _, k := range members {
		if extra > 0 && int32(len(owned[k])) > quota {
			keep(k, owned[k][quota])
			extra--
		}
	}
	var free []int32
	for part := range n {
		if !taken[part] {
			free = append(free, part)
		}
	}
	for _, k := range members {
		for int32(len(out[k])) < quota {
			keep(k, free[0])
			free = free[1:]
		}
	}
	for _, k := range members {
		if len(free) == 0 {
			break
		}
		if int32(len(out[k])) == quota {
			keep(k, free[0])
			free = free[1:]
		}
	}
	return out
}

// encodeAssignment is a member's SyncGroup assignment in the consumer
// protocol (ConsumerMemberAssignment), topics sorted.
func encodeAssignment(topics map[string][]int32) []byte {
	a := kmsg.NewConsumerMemberAssignment()
	a.Version = 3 // what the Java client writes; the layout is the same since v0
	for _, t := range slices.Sorted(maps.Keys(topics)) {
		at := kmsg.NewConsumerMemberAssignmentTopic()
		at.Topic = t
		at.Partitions = topics[t]
		a.Topics = append(a.Topics, at)
	}
	return a.AppendTo(nil)
}

// decodeAssignment returns the partitions of topic in a SyncGroup
// assignment, sorted. An empty assignment (a member the leader gave
// nothing, in some clients) is no partitions.
func decodeAssignment(b []byte, topic string) ([]int32, error) {
	if len(b) == 0 {
		return nil, nil
	}
	a := kmsg.NewConsumerMemberAssignment()
	if err := a.ReadFrom(b); err != nil {
		return nil, err
	}
	var ps []int32
	for _, t := range a.Topics {
		if t.Topic == topic {
			ps = append(ps, t.Partitions...)
		}
	}
	slices.Sort(ps)
	return slices.Compact(ps), nil
}
