// Package balance is consumer-group membership for gokafka's balanced
// consumers: which member of a group reads which partitions of a topic, and
// the hand-over when members join or leave. It has three implementations
// with one contract:
//
//   - balance/zookeeper coordinates through ZooKeeper, with the layout of
//     Kafka's old high-level consumer (/consumers/<group>/ids/<id> and
//     /consumers/<group>/owners/<topic>/<partition>), as PyKafka's balanced
//     consumer does;
//   - balance/managed lets Kafka's group coordinator run the group
//     (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) with the classic
//     protocol, so Java and librdkafka consumers can share a group with
//     gokafka;
//   - balance/consumer speaks Kafka 4's consumer group protocol (KIP-848,
//     ConsumerGroupHeartbeat): the broker assigns, and members reconcile
//     with it incrementally; Java consumers with group.protocol=consumer
//     share its groups.
//
// balance/share implements the same contract for share groups (KIP-932,
// ShareGroupHeartbeat), whose members read partitions together rather than
// one member each; the root package's ShareConsumer uses it.
//
// A Member runs in its own goroutine and tells its Handler, one call at a
// time, when partitions are revoked, assigned or lost. The root package's
// BalancedConsumer is the Handler: it commits before partitions leave,
// starts fetching when they arrive, and drops without committing what was
// lost. Both engines sit under the same Handler, so the librdkafka engine
// only ever fetches what this layer decides.
//
// The assignment strategies (Range, RoundRobin and, for managed groups,
// CooperativeSticky) are plain functions here, so both implementations order
// members and partitions the same way: partitions by number, members by id.
package balance

import (
	"cmp"
	"context"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"

	"github.com/gokafka/kafka/offsets"
)

// TopicPartition names one partition of one topic.
type TopicPartition = offsets.TopicPartition

// Subscription is what a member reads: the listed topics, plus every topic
// whose whole name matches Pattern (Kafka's internal topics excepted, as the
// Java client excludes them; balance/consumer leaves the pattern to the
// broker, which does not). A pattern is evaluated against the cluster's
// metadata, which the member keeps refreshing in full, so topics created
// later that match are picked up within the metadata refresh interval and
// deleted ones are dropped.
type Subscription struct {
	Topics  []string
	Pattern *regexp.Regexp // nil: no pattern
}

// Check validates a subscription and returns it normalized: topics sorted,
// without duplicates. It refuses, with a kerr.ConfigError naming field (or
// field.Topics, field.Pattern), a subscription with neither topics nor a
// pattern, an empty pattern, a pattern that cannot be anchored, or a topic
// name Kafka does not allow.
func (s Subscription) Check(field string) (Subscription, error) {
	topics := slices.Compact(slices.Sorted(slices.Values(s.Topics)))
	for _, t := range topics {
		if err := cluster.ValidTopicName(t); err != nil {
			return s, kerr.Config(field+".Topics", "%v", err)
		}
	}
	if s.Pattern != nil {
		if s.Pattern.String() == "" {
			return s, kerr.Config(field+".Pattern", "the empty pattern matches no topic")
		}
		if _, err := FullMatch(s.Pattern); err != nil {
			return s, kerr.Config(field+".Pattern", "%v", err)
		}
	}
	if len(topics) == 0 && s.Pattern == nil {
		return s, kerr.Config(field, "no topics and no pattern: the member would read nothing")
	}
	return Subscription{Topics: topics, Pattern: s.Pattern}, nil
}

// FullMatch returns p anchored at both ends: a topic matches a pattern when
// its whole name does, as with Java's Pattern.matcher(topic).matches().
func FullMatch(p *regexp.Regexp) (*regexp.Regexp, error) {
	src := p.String()
	if re, err := regexp.Compile(`^(?:` + src + `)$`); err == nil {
		return re, nil
	}
	// A source that ends inside \Q... quotes up to its end, and would
	// swallow the closing ")$". Its parsed form, printed, has no \Q.
	parsed, err := syntax.Parse(src, syntax.Perl)
	if err != nil {
		return nil, err
	}
	return regexp.Compile(`^(?:` + parsed.String() + `)$`)
}

// Handler receives a member's assignment changes. Calls are serialized and
// come from the member's goroutine; a slow Handler delays the rebalance, and
// the member keeps its session alive meanwhile (heartbeats run apart).
// Partitions come sorted by topic, then partition.
type Handler interface {
	// Revoked is called before the member gives partitions up, while it
	// still owns them: stop fetching them and commit what was consumed.
	// With cooperative rebalancing only the partitions that move are
	// revoked.
	Revoked(ctx context.Context, partitions []TopicPartition) error
	// Assigned is called once the member owns new partitions (the ones
	// added, not the whole set).
	Assigned(ctx context.Context, partitions []TopicPartition) error
	// Lost is called when partitions were taken away without a chance to
	// commit (session expired, member fenced): drop them, do not commit.
	Lost(ctx context.Context, partitions []TopicPartition) error
}

// Member is a running group membership.
type Member interface {
	// ID is the member id (ZooKeeper consumer id, or the coordinator's
	// member id, empty until the first join).
	ID() string
	// Assigned lists the partitions the member owns now, sorted by topic,
	// then partition.
	Assigned() []TopicPartition
	// Generation is what commits must carry: the zero Generation for
	// ZooKeeper groups, the current generation for managed groups.
	Generation() offsets.Generation
	// Rebalances counts completed rebalances, for tests and metrics.
	Rebalances() int
	// Done is closed when the member stopped by itself (an error no retry
	// can fix) or was closed; Err then says why (nil after Close).
	Done() <-chan struct{}
	Err() error
	// Close revokes everything (so the Handler commits), leaves the group
	// and stops the member's goroutines. Idempotent.
	Close(ctx context.Context) error
}

// Strategy names an assignment strategy.
type Strategy string

const (
	// Range gives each member a contiguous range of partitions: with P
	// partitions and M members, the first P%M members get P/M+1.
	Range Strategy = "range"
	// RoundRobin deals partitions to members in turn.
	RoundRobin Strategy = "roundrobin"
	// CooperativeSticky keeps partitions where they are when it can and
	// moves only what must move, without stopping the other partitions
	// (incremental rebalancing, KIP-429). Managed groups only.
	CooperativeSticky Strategy = "cooperative-sticky"
)

// Check returns s, or Range for the zero Strategy (the default), or a
// kerr.ConfigError naming field when s is not among the strategies a
// protocol supports.
func (s Strategy) Check(field string, supported ...Strategy) (Strategy, error) {
	if s == "" {
		return Range, nil
	}
	if slices.Contains(supported, s) {
		return s, nil
	}
	want := make([]string, len(supported))
	for i, x := range supported {
		want[i] = strconv.Quote(string(x))
	}
	list := want[len(want)-1]
	if len(want) > 1 {
		list = strings.Join(want[:len(want)-1], ", ") + " or " + list
	}
	return s, kerr.Config(field, "unknown strategy %q (want %s)", s, list)
}

// Subscriber is one member as an assignor sees it: Key orders the members
// (the member id, or for static members of a Kafka-managed group their
// instance id first, as the Java client orders them) and Topics are the
// topics it reads.
type Subscriber struct {
	Key    string
	Topics []string
}

func (s *Subscriber) reads(topic string) bool { return slices.Contains(s.Topics, topic) }

// AssignTopics runs the Range or RoundRobin strategy over several topics,
// as the Java client's RangeAssignor and RoundRobinAssignor do, and as
// Kafka's old high-level consumer did for ZooKeeper groups:
//
//   - Range, topic by topic: the members that read a topic, ordered by Key,
//     each get a contiguous range of its partitions (the first P%M members
//     one more);
//   - RoundRobin: every partition of every topic, ordered by topic then
//     number, is dealt to the members in turn, skipping a member that does
//     not read the partition's topic.
//
// counts holds each topic's partition count; a topic missing from it
// (unknown to the metadata) is not assigned. The result maps Key to the
// member's partitions, sorted; members that get nothing are absent.
func AssignTopics(s Strategy, members []Subscriber, counts map[string]int32) map[string][]TopicPartition {
	ms := slices.Clone(members)
	slices.SortFunc(ms, func(a, b Subscriber) int { return cmp.Compare(a.Key, b.Key) })
	var topics []string
	for i := range ms {
		topics = append(topics, ms[i].Topics...)
	}
	slices.Sort(topics)
	topics = slices.Compact(topics)
	out := map[string][]TopicPartition{}
	if len(ms) == 0 {
		return out
	}
	if s == RoundRobin {
		next := 0 // the member whose turn it is
		for _, t := range topics {
			n, ok := counts[t]
			if !ok {
				continue
			}
			for p := range n {
				for !ms[next].reads(t) {
					next = (next + 1) % len(ms)
				}
				out[ms[next].Key] = append(out[ms[next].Key], TopicPartition{Topic: t, Partition: p})
				next = (next + 1) % len(ms)
			}
		}
		return out
	}
	for _, t := range topics {
		var readers []string
		for i := range ms {
			if ms[i].reads(t) {
				readers = append(readers, ms[i].Key)
			}
		}
		n := counts[t]
		per, extra := int(n)/len(readers), int(n)%len(readers)
		start := int32(0)
		for i, k := range readers {
			take := per
			if i < extra {
				take++
			}
			for p := start; p < start+int32(take); p++ {
				out[k] = append(out[k], TopicPartition{Topic: t, Partition: p})
			}
			start += int32(take)
		}
	}
	for k := range out {
		slices.SortFunc(out[k], TopicPartition.Compare)
	}
	return out
}

// Diff returns what moves between two assignments of one member: the
// partitions in before and not in after (revoked), and the reverse (added).
func Diff(before, after []TopicPartition) (revoked, added []TopicPartition) {
	for _, p := range before {
		if !slices.Contains(after, p) {
			revoked = append(revoked, p)
		}
	}
	for _, p := range after {
		if !slices.Contains(before, p) {
			added = append(added, p)
		}
	}
	return revoked, added
}
