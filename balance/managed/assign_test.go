package managed

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gokafka/kafka/balance"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Unit tests of the leader's assignment; no broker involved.

func sub(id string, topics ...string) subscription {
	return subscription{memberID: id, topics: topics, generation: -1}
}

func TestAssignRangeLikeJava(t *testing.T) {
	// Java's RangeAssignor doc: two consumers, two topics of three
	// partitions: C0 [t0p0, t0p1, t1p0, t1p1], C1 [t0p2, t1p2].
	subs := []subscription{sub("C1", "t0", "t1"), sub("C0", "t0", "t1")}
	got := assign(balance.Range, subs, map[string]int32{"t0": 3, "t1": 3})
	want := plan{"C0": {"t0": {0, 1}, "t1": {0, 1}}, "C1": {"t0": {2}, "t1": {2}}}
	if !equalPlans(got, want) {
		t.Fatalf("range = %v, want %v", got, want)
	}
}

func TestAssignRoundRobinLikeJava(t *testing.T) {
	// Java's RoundRobinAssignor doc, identical subscriptions:
	// C0 [t0p0, t0p2, t1p1], C1 [t0p1, t1p0, t1p2].
	subs := []subscription{sub("C0", "t0", "t1"), sub("C1", "t0", "t1")}
	got := assign(balance.RoundRobin, subs, map[string]int32{"t0": 3, "t1": 3})
	want := plan{"C0": {"t0": {0, 2}, "t1": {1}}, "C1": {"t0": {1}, "t1": {0, 2}}}
	if !equalPlans(got, want) {
		t.Fatalf("identical subscriptions: %v, want %v", got, want)
	}
	// And different ones: C0 [t0], C1 [t0, t1], C2 [t0, t1, t2]; t0 has
	// 1 partition, t1 2, t2 3: C0 [t0p0], C1 [t1p0], C2 [t1p1, t2p0,
	// t2p1, t2p2].
	subs = []subscription{sub("C0", "t0"), sub("C1", "t0", "t1"), sub("C2", "t0", "t1", "t2")}
	got = assign(balance.RoundRobin, subs, map[string]int32{"t0": 1, "t1": 2, "t2": 3})
	want = plan{"C0": {"t0": {0}}, "C1": {"t1": {0}}, "C2": {"t1": {1}, "t2": {0, 1, 2}}}
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
	got := assign(balance.Range, subs, map[string]int32{"t": 3})
	want := plan{"z-static": {"t": {0}}, "y-static": {"t": {1}}, "a-dynamic": {"t": {2}}}
	if !equalPlans(got, want) {
		t.Fatalf("range with static members = %v, want %v (instance ids first, in order)", got, want)
	}
}

// TestStickyTopic: balanced, every partition once, and a partition stays
// with its previous owner unless that owner is over quota.
func TestStickyTopic(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		m := 1 + rng.IntN(6)
		n := int32(rng.IntN(20))
		var members []string
		for i := range m {
			members = append(members, fmt.Sprintf("m%d", i))
		}
		prev := map[int32]string{}
		for p := range n {
			if rng.IntN(3) > 0 {
				prev[p] = members[rng.IntN(m)]
			}
		}
		got := stickyTopic(members, n, prev)
		owner := map[int32]string{}
		quota := int(n) / m
		for _, k := range members {
			if c := len(got[k]); c < quota || c > quota+1 {
				t.Fatalf("n=%d m=%d prev=%v: %s gets %d partitions %v", n, m, prev, k, c, got)
			}
			for _, p := range got[k] {
				if o, dup := owner[p]; dup {
					t.Fatalf("partition %d to %s and %s", p, o, k)
				}
				owner[p] = k
			}
		}
		if len(owner) != int(n) {
			t.Fatalf("n=%d: %d assigned: %v", n, len(owner), got)
		}
		// Stickiness: a member that owned no more than quota keeps
		// all it owned.
		had := map[string][]int32{}
		for p, k := range prev {
			had[k] = append(had[k], p)
		}
		for k, ps := range had {
			if len(ps) > quota {
				continue
			}
			for _, p := range ps {
				if owner[p] != k {
					t.Fatalf("n=%d m=%d prev=%v: %s had %v (within quota %d) but lost %d: %v", n, m, prev, k, ps, quota, p, got)
				}
			}
		}
	}
}

// TestCooperativeConverges plays the protocol: rebalance after rebalance,
// members revoke what they lose and keep the rest; no partition is ever
// given to a member while another still owns it, and the group reaches a
// balanced assignment in two rebalances.
func TestCooperativeConverges(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		n := int32(1 + rng.IntN(16))
		owned := map[string][]int32{} // member -> partitions it owns
		gen := int32(1)
		var members []string
		for i := range 1 + rng.IntN(5) {
			members = append(members, fmt.Sprintf("m%d", i))
		}
		// Start from some valid ownership.
		for p := range n {
			if rng.IntN(2) == 0 {
				m := members[rng.IntN(len(members))]
				owned[m] = append(owned[m], p)
			}
		}
		for round := 1; ; round++ {
			var subs []subscription
			for _, m := range members {
				subs = append(subs, subscription{memberID: m, topics: []string{"t"}, owned: map[string][]int32{"t": owned[m]}, generation: gen})
			}
			p := assign(balance.CooperativeSticky, subs, map[string]int32{"t": n})
			gen++
			revoking := false
			next := map[string][]int32{}
			for _, m := range members {
				got := p[m]["t"]
				revoked, added := balance.Diff(owned[m], got)
				for _, a := range added {
					for _, o := range members {
						if o != m && slices.Contains(owned[o], a) {
							t.Fatalf("round %d: partition %d given to %s while %s owns it", round, a, m, o)
						}
					}
				}
				if len(revoked) > 0 {
					revoking = true
				}
				next[m] = got
			}
			owned = next
			if !revoking {
				break
			}
			if round > 2 {
				t.Fatalf("not settled after %d rounds: %v", round, owned)
			}
		}
		total := 0
		for _, m := range members {
			c := len(owned[m])
			total += c
			if q := int(n) / len(members); c < q || c > q+1 {
				t.Fatalf("unbalanced at the end: %v", owned)
			}
		}
		if total != int(n) {
			t.Fatalf("%d of %d partitions owned at the end: %v", total, n, owned)
		}
	}
}

func TestPreviousOwnersConflicts(t *testing.T) {
	subs := []subscription{
		{memberID: "old", topics: []string{"t"}, owned: map[string][]int32{"t": {0, 1, 9}}, generation: 4},
		{memberID: "new", topics: []string{"t"}, owned: map[string][]int32{"t": {1, 2}}, generation: 5},
		{memberID: "twin", topics: []string{"t"}, owned: map[string][]int32{"t": {2}}, generation: 5},
		{memberID: "gone", topics: []string{"other"}, owned: map[string][]int32{"t": {3}}, generation: 9},
	}
	got := previousOwners(subs, "t", 4)
	want := map[int32]string{0: "old", 1: "new"} // 2: tie, 3: not subscribed, 9: no such partition
	if !maps.Equal(got, want) {
		t.Fatalf("previousOwners = %v, want %v", got, want)
	}
}

func TestSubscriptionRoundTrip(t *testing.T) {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 3
	meta.Topics = []string{"b", "a", "b"}
	meta.Generation = 7
	op := kmsg.NewConsumerMemberMetadataOwnedPartition()
	op.Topic, op.Partitions = "a", []int32{3, 1}
	meta.OwnedPartitions = append(meta.OwnedPartitions, op)
	jm := kmsg.NewJoinGroupResponseMember()
	jm.MemberID = "m"
	jm.ProtocolMetadata = meta.AppendTo(nil)
	s, err := decodeSubscription(&jm, true)
	if err != nil || !slices.Equal(s.topics, []string{"a", "b"}) || s.generation != 7 || !slices.Equal(s.owned["a"], []int32{3, 1}) {
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

	b := encodeAssignment(map[string][]int32{"x": {0}, "t": {4, 2}})
	if ps, err := decodeAssignment(b, "t"); err != nil || !slices.Equal(ps, []int32{2, 4}) {
		t.Fatalf("decodeAssignment = %v, %v", ps, err)
	}
	if ps, err := decodeAssignment(nil, "t"); err != nil || ps != nil {
		t.Fatalf("empty assignment = %v, %v", ps, err)
	}
	if _, err := decodeAssignment([]byte{0, 0, 0, 0, 0, 9}, "t"); err == nil {
		t.Fatal("truncated assignment decoded")
	}
}

func equalPlans(a, b plan) bool {
	norm := func(p plan) map[string]string {
		out := map[string]string{}
		for m, ts := range p {
			for t, ps := range ts {
				if len(ps) > 0 {
					out[m+"/"+t] = fmt.Sprint(ps)
				}
			}
		}
		return out
	}
	return maps.Equal(norm(a), norm(b))
}
