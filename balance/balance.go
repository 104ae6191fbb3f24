// Package balance is consumer-group membership for gokafka's balanced
// consumers: which member of a group reads which partitions of a topic, and
// the hand-over when members join or leave. It has two implementations with
// one contract:
//
//   - balance/zookeeper coordinates through ZooKeeper, with the layout of
//     Kafka's old high-level consumer (/consumers/<group>/ids/<id> and
//     /consumers/<group>/owners/<topic>/<partition>), as PyKafka's balanced
//     consumer does;
//   - balance/managed lets Kafka's group coordinator run the group
//     (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) with the standard
//     "consumer" protocol, so Java and librdkafka consumers can share a
//     group with gokafka.
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
	"slices"

	"github.com/gokafka/kafka/offsets"
)

// Handler receives a member's assignment changes. Calls are serialized and
// come from the member's goroutine; a slow Handler delays the rebalance, and
// the member keeps its session alive meanwhile (heartbeats run apart).
type Handler interface {
	// Revoked is called before the member gives partitions up, while it
	// still owns them: stop fetching them and commit what was consumed.
	// With cooperative rebalancing only the partitions that move are
	// revoked.
	Revoked(ctx context.Context, partitions []int32) error
	// Assigned is called once the member owns new partitions (the ones
	// added, not the whole set).
	Assigned(ctx context.Context, partitions []int32) error
	// Lost is called when partitions were taken away without a chance to
	// commit (session expired, member fenced): drop them, do not commit.
	Lost(ctx context.Context, partitions []int32) error
}

// Member is a running group membership.
type Member interface {
	// ID is the member id (ZooKeeper consumer id, or the coordinator's
	// member id, empty until the first join).
	ID() string
	// Assigned lists the partitions the member owns now, sorted.
	Assigned() []int32
	// Generation is what commits must carry: the zero Generation for
	// ZooKeeper groups, the current generation for managed groups.
	Generation() offsets.Generation
	// Rebalances counts completed rebalances, for tests and metrics.
	Rebalances() int
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

// AssignRange is the Range strategy: members and partitions are sorted (by
// id, by number) and each member gets a contiguous range. Members that get
// nothing are absent from the result.
func AssignRange(members []string, partitions []int32) map[string][]int32 {
	ms, ps := sortedMembers(members), sortedPartitions(partitions)
	out := map[string][]int32{}
	if len(ms) == 0 {
		return out
	}
	per, extra := len(ps)/len(ms), len(ps)%len(ms)
	start := 0
	for i, m := range ms {
		n := per
		if i < extra {
			n++
		}
		if n > 0 {
			out[m] = slices.Clone(ps[start : start+n])
		}
		start += n
	}
	return out
}

// AssignRoundRobin is the RoundRobin strategy: sorted partitions are dealt to
// sorted members in turn.
func AssignRoundRobin(members []string, partitions []int32) map[string][]int32 {
	ms, ps := sortedMembers(members), sortedPartitions(partitions)
	out := map[string][]int32{}
	if len(ms) == 0 {
		return out
	}
	for i, p := range ps {
		m := ms[i%len(ms)]
		out[m] = append(out[m], p)
	}
	return out
}

// Assign applies a strategy by name (Range and RoundRobin; the sticky
// strategy needs the previous assignment, see managed).
func Assign(s Strategy, members []string, partitions []int32) map[string][]int32 {
	if s == RoundRobin {
		return AssignRoundRobin(members, partitions)
	}
	return AssignRange(members, partitions)
}

func sortedMembers(m []string) []string {
	s := slices.Clone(m)
	slices.Sort(s)
	return slices.Compact(s)
}

func sortedPartitions(p []int32) []int32 {
	s := slices.Clone(p)
	slices.SortFunc(s, cmp.Compare[int32])
	return slices.Compact(s)
}

// Diff returns what moves between two assignments of one member: the
// partitions in before and not in after (revoked), and the reverse (added).
func Diff(before, after []int32) (revoked, added []int32) {
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
