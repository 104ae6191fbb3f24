package managed

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/gokafka/kafka/balance"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Unit tests of the leader's assignment; no broker involved. The sticky
// strategy has its own file, sticky_test.go.

func sub(id string, topics ...string) subscription {
	slices.Sort(topics)
	return subscription{memberID: id, topics: topics, generation: -1}
}

// mkPlan writes a plan as member -> topic -> partitions.
func mkPlan(m map[string]map[string][]int32) plan {
	p := plan{}
	for member, topics := range m {
		for _, t := range slices.Sorted(maps.Keys(topics)) {
			p[member] = append(p[member], tps(t, topics[t]...)...)
		}
		slices.SortFunc(p[member], TopicPartition.Compare)
	}
	return p
}

func TestAssignRangeLikeJava(t *testing.T) {
	// Java's RangeAssignor doc: two consumers, two topics of three
	// partitions: C0 [t0p0, t0p1, t1p0, t1p1], C1 [t0p2, t1p2].
	subs := []subscription{sub("C1", "t0", "t1"), sub("C0", "t0", "t1")}
	got := assign(balance.Range, subs, map[string]int32{"t0": 3, "t1": 3})
	want := mkPlan(map[string]map[string][]int32{"C0": {"t0": {0, 1}, "t1": {0, 1}}, "C1": {"t0": {2}, "t1": {2}}})
	if !equalPlans(got, want) {
		t.Fatalf("range = %v, want %v", got, want)
	}
}

func TestAssignRoundRobinLikeJava(t *testing.T) {
	// Java's RoundRobinAssignor doc, identical subscriptions:
	// C0 [t0p0, t0p2, t1p1], C1 [t0p1, t1p0, t1p2].
	subs := []subscription{sub("C0", "t0", "t1"), sub("C1", "t0", "t1")}
	got := assign(balance.RoundRobin, subs, map[string]int32{"t0": 3, "t1": 3})
	want := mkPlan(map[string]map[string][]int32{"C0": {"t0": {0, 2}, "t1": {1}}, "C1": {"t0": {1}, "t1": {0, 2}}})
	if !equalPlans(got, want) {
		t.Fatalf("identical subscriptions: %v, want %v", got, want)
	}
	// And different ones: C0 [t0], C1 [t0, t1], C2 [t0, t1, t2]; t0 has
	// 1 partition, t1 2, t2 3: C0 [t0p0], C1 [t1p0], C2 [t1p1, t2p0,
	// t2p1, t2p2].
	subs = []subscription{sub("C0", "t0"), sub("C1", "t0", "t1"), sub("C2", "t0", "t1", "t2")}
	got = assign(balance.RoundRobin, subs, map[string]int32{"t0": 1, "t1": 2, "t2": 3})
	want = mkPlan(map[string]map[string][]int32{"C0": {"t0": {0}}, "C1": {"t1": {0}}, "C2": {"t1": {1}, "t2": {0, 1, 2}}})
	if !equalPlans(got, want) {
		t.Fatalf("different subscriptions: %v, want %v", got, want)
	}
}

func TestAssignOrdersStaticMembersFirst(t *testing.T) {
	b, z := "b", "z"
	subs := []subscription{
		{memberID: "a-dynamic", topics: []string{"t"}, generation: -1},
		{memberID: "z-static", instanceID: &b, topics: []string{"t"}, generation: -1},
		{memberID: "y-static", instanceID: &z, topics: []string{"t"}, generation: -1},
	}
	for _, s := range allStrategies {
		got := assign(s, subs, map[string]int32{"t": 3})
		want := mkPlan(map[string]map[string][]int32{"z-static": {"t": {0}}, "y-static": {"t": {1}}, "a-dynamic": {"t": {2}}})
		if !equalPlans(got, want) {
			t.Fatalf("%s with static members = %v, want %v (instance ids first, in order)", s, got, want)
		}
	}
}

// TestAssignUnknownTopics: a topic the metadata does not know (missing from
// counts) is assigned to nobody, by any strategy, and the others still are.
func TestAssignUnknownTopics(t *testing.T) {
	subs := []subscription{sub("a", "known", "missing"), sub("b", "known")}
	for _, s := range allStrategies {
		got := assign(s, subs, map[string]int32{"known": 2})
		want := mkPlan(map[string]map[string][]int32{"a": {"known": {0}}, "b": {"known": {1}}})
		if !equalPlans(got, want) {
			t.Errorf("%s = %v, want %v", s, got, want)
		}
	}
}

func TestPreviousOwnersConflicts(t *testing.T) {
	subs := []subscription{
		{memberID: "old", topics: []string{"t"}, owned: tps("t", 0, 1, 9), generation: 4},
		{memberID: "new", topics: []string{"t"}, owned: tps("t", 1, 2), generation: 5},
		{memberID: "twin", topics: []string{"t"}, owned: tps("t", 2), generation: 5},
		{memberID: "gone", topics: []string{"other"}, owned: tps("t", 3), generation: 9},
		{memberID: "deleted", topics: []string{"t"}, owned: tps("dropped", 0), generation: 9},
	}
	owners, busy := previousOwners(subs, map[string]int32{"t": 4, "other": 1})
	// 2: tie, 3: not subscribed, 9: no such partition, dropped/0: a topic
	// the metadata no longer knows.
	want := map[TopicPartition]string{tps("t", 0)[0]: "old", tps("t", 1)[0]: "new"}
	if !maps.Equal(owners, want) {
		t.Fatalf("previousOwners = %v, want %v", owners, want)
	}
	// Nobody may keep 2 and 3, and nobody else may have them while their
	// claimants may still hold them.
	if got := slices.SortedFunc(maps.Keys(busy), TopicPartition.Compare); !slices.Equal(got, tps("t", 2, 3)) {
		t.Fatalf("busy = %v, want t/2 (tied claims) and t/3 (held by a member that no longer reads t)", got)
	}
	p := assign(balance.CooperativeSticky, subs, map[string]int32{"t": 4, "other": 1})
	for m, ps := range p {
		for _, tp := range ps {
			if tp == tps("t", 2)[0] || tp == tps("t", 3)[0] {
				t.Errorf("%s was given %v, which another member may still hold", m, tp)
			}
		}
	}
}

func TestSubscriptionRoundTrip(t *testing.T) {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 3
	meta.Topics = []string{"b", "a", "b"}
	meta.Generation = 7
	op := kmsg.NewConsumerMemberMetadataOwnedPartition()
	op.Topic, op.Partitions = "b", []int32{3, 1}
	meta.OwnedPartitions = append(meta.OwnedPartitions, op)
	op.Topic, op.Partitions = "a", []int32{5}
	meta.OwnedPartitions = append(meta.OwnedPartitions, op)
	jm := kmsg.NewJoinGroupResponseMember()
	jm.MemberID = "m"
	jm.ProtocolMetadata = meta.AppendTo(nil)
	s, err := decodeSubscription(&jm, true)
	if err != nil || !slices.Equal(s.topics, []string{"a", "b"}) || s.generation != 7 || !slices.Equal(s.owned, append(tps("a", 5), tps("b", 1, 3)...)) {
		t.Fatalf("decodeSubscription = %+v, %v", s, err)
	}
	// Java 2.x cooperative-sticky: metadata v1, generation in the user data.
	meta.Version = 1
	meta.UserData = []byte{0, 0, 1, 2}
	jm.ProtocolMetadata = meta.AppendTo(nil)
	if s, err := decodeSubscription(&jm, true); err != nil || s.generation != 258 {
		t.Fatalf("v1 with the generation in the user data: %+v, %v", s, err)
	}
	if s, err := decodeSubscription(&jm, false); err != nil || s.generation != -1 {
		t.Fatalf("v1, eager: %+v, %v; want generation -1", s, err)
	}
	jm.ProtocolMetadata = []byte{0, 1, 0}
	if s, err := decodeSubscription(&jm, true); err == nil || len(s.topics) != 0 {
		t.Fatalf("garbage metadata: %+v, %v", s, err)
	}

	in := append(tps("t", 2, 4), tps("x", 0)...)
	b := encodeAssignment(in)
	if ps, err := decodeAssignment(b); err != nil || !slices.Equal(ps, in) {
		t.Fatalf("decodeAssignment = %v, %v; want %v", ps, err, in)
	}
	// One topic per entry, in order, as the Java client writes it.
	a := kmsg.NewConsumerMemberAssignment()
	if err := a.ReadFrom(b); err != nil || len(a.Topics) != 2 || a.Topics[0].Topic != "t" || !slices.Equal(a.Topics[0].Partitions, []int32{2, 4}) {
		t.Fatalf("encoded assignment: %+v, %v", a.Topics, err)
	}
	// Another client may list a topic twice, out of order.
	a.Topics = append(a.Topics, a.Topics[0])
	a.Topics[2].Partitions = []int32{4, 1}
	if ps, err := decodeAssignment(a.AppendTo(nil)); err != nil || !slices.Equal(ps, append(tps("t", 1, 2, 4), tps("x", 0)...)) {
		t.Fatalf("decodeAssignment of a repeated topic = %v, %v", ps, err)
	}
	if ps, err := decodeAssignment(nil); err != nil || ps != nil {
		t.Fatalf("empty assignment = %v, %v", ps, err)
	}
	if _, err := decodeAssignment([]byte{0, 0, 0, 0, 0, 9}); err == nil {
		t.Fatal("truncated assignment decoded")
	}
}

func equalPlans(a, b plan) bool {
	norm := func(p plan) map[string]string {
		out := map[string]string{}
		for m, ps := range p {
			if len(ps) > 0 {
				out[m] = fmt.Sprint(ps)
			}
		}
		return out
	}
	return maps.Equal(norm(a), norm(b))
}
