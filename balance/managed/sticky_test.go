package managed

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/gokafka/kafka/balance"
)

// Unit tests of the cooperative-sticky strategy; no broker involved.

// owning is sub with the partitions the member owns.
func owning(id string, owned []TopicPartition, topics ...string) subscription {
	s := sub(id, topics...)
	s.owned = owned
	return s
}

// TestStickyLikeJava: the examples of Java's StickyAssignor doc, which its
// cooperative variant shares.
func TestStickyLikeJava(t *testing.T) {
	// Three consumers, four topics of two partitions: the totals are
	// balanced across topics.
	ts := []string{"t0", "t1", "t2", "t3"}
	counts := map[string]int32{"t0": 2, "t1": 2, "t2": 2, "t3": 2}
	got := assign(balance.CooperativeSticky, []subscription{sub("C0", ts...), sub("C1", ts...), sub("C2", ts...)}, counts)
	want := mkPlan(map[string]map[string][]int32{
		"C0": {"t0": {0}, "t1": {1}, "t3": {0}},
		"C1": {"t0": {1}, "t2": {0}, "t3": {1}},
		"C2": {"t1": {0}, "t2": {1}},
	})
	if !equalPlans(got, want) {
		t.Fatalf("three members: %v, want %v", got, want)
	}
	// C1 leaves: C0 and C2 keep all they had and share C1's.
	subs := []subscription{owning("C0", got["C0"], ts...), owning("C2", got["C2"], ts...)}
	got = assign(balance.CooperativeSticky, subs, counts)
	want = mkPlan(map[string]map[string][]int32{
		"C0": {"t0": {0}, "t1": {1}, "t2": {0}, "t3": {0}},
		"C2": {"t0": {1}, "t1": {0}, "t2": {1}, "t3": {1}},
	})
	if !equalPlans(got, want) {
		t.Fatalf("after C1 left: %v, want %v", got, want)
	}

	// Different subscriptions: C0 [t0], C1 [t0, t1], C2 [t0, t1, t2],
	// t0..t2 with 1, 2, 3 partitions: C0 [t0p0], C1 [t1p0, t1p1], C2
	// [t2p0, t2p1, t2p2] (round robin gives C2 four).
	counts = map[string]int32{"t0": 1, "t1": 2, "t2": 3}
	got = assign(balance.CooperativeSticky, []subscription{sub("C0", "t0"), sub("C1", "t0", "t1"), sub("C2", "t0", "t1", "t2")}, counts)
	want = mkPlan(map[string]map[string][]int32{"C0": {"t0": {0}}, "C1": {"t1": {0, 1}}, "C2": {"t2": {0, 1, 2}}})
	if !equalPlans(got, want) {
		t.Fatalf("different subscriptions: %v, want %v", got, want)
	}
	// C0 leaves: C1 takes t0p0, nothing else moves.
	subs = []subscription{owning("C1", got["C1"], "t0", "t1"), owning("C2", got["C2"], "t0", "t1", "t2")}
	got = assign(balance.CooperativeSticky, subs, counts)
	want = mkPlan(map[string]map[string][]int32{"C1": {"t0": {0}, "t1": {0, 1}}, "C2": {"t2": {0, 1, 2}}})
	if !equalPlans(got, want) {
		t.Fatalf("different subscriptions, C0 left: %v, want %v", got, want)
	}
}

// TestStickyTotalsAcrossTopics: three topics of one partition each and
// three members used to give one member all three (each topic balanced on
// its own, each topic's one partition to the first member). Across topics,
// each gets one.
func TestStickyTotalsAcrossTopics(t *testing.T) {
	got := assign(balance.CooperativeSticky, []subscription{sub("a", "x", "y", "z"), sub("b", "x", "y", "z"), sub("c", "x", "y", "z")},
		map[string]int32{"x": 1, "y": 1, "z": 1})
	for _, m := range []string{"a", "b", "c"} {
		if len(got[m]) != 1 {
			t.Fatalf("%s gets %v; want one partition each: %v", m, got[m], got)
		}
	}
}

// randomGroup is a random group: 1-6 members over 1-3 topics of 0-12
// partitions; with equal set, every member reads every topic, otherwise
// each reads a random non-empty subset. all lists the partitions of the
// topics someone reads.
func randomGroup(rng *rand.Rand, equal bool) ([]subscription, map[string]int32, []TopicPartition) {
	nt := 1 + rng.IntN(3)
	var topics []string
	counts := map[string]int32{}
	for i := range nt {
		t := fmt.Sprintf("t%d", i)
		topics = append(topics, t)
		counts[t] = int32(rng.IntN(13))
	}
	var subs []subscription
	for i := range 1 + rng.IntN(6) {
		ts := topics
		if !equal {
			ts = nil
			for len(ts) == 0 {
				for _, t := range topics {
					if rng.IntN(2) == 0 {
						ts = append(ts, t)
					}
				}
			}
		}
		subs = append(subs, sub(fmt.Sprintf("m%d", i), slices.Clone(ts)...))
	}
	var all []TopicPartition // of the topics someone reads
	for _, t := range topicsOf(subs) {
		all = append(all, allOf(int(counts[t]), t)...)
	}
	return subs, counts, all
}

// checkBalanced fails unless got gives every partition of all to exactly
// one member that reads its topic, and no partition could move to a
// reader of its topic with two fewer partitions than its member has.
func checkBalanced(t *testing.T, subs []subscription, all []TopicPartition, got [][]TopicPartition, what string) {
	t.Helper()
	owner := map[TopicPartition]int{}
	for i, ps := range got {
		for _, p := range ps {
			if o, dup := owner[p]; dup {
				t.Fatalf("%s: partition %v to %s and %s", what, p, subs[o].memberID, subs[i].memberID)
			}
			if !subs[i].subscribes(p.Topic) {
				t.Fatalf("%s: %v to %s, which does not read %s", what, p, subs[i].memberID, p.Topic)
			}
			owner[p] = i
		}
	}
	if len(owner) != len(all) {
		t.Fatalf("%s: %d of %d assigned: %v", what, len(owner), len(all), got)
	}
	for p, a := range owner {
		for b := range subs {
			if subs[b].subscribes(p.Topic) && len(got[a]) > len(got[b])+1 {
				t.Fatalf("%s: unbalanced: %s has %d partitions, %s has %d and could take %v: %v", what, subs[a].memberID, len(got[a]), subs[b].memberID, len(got[b]), p, got)
			}
		}
	}
}

// TestStickyBalance: every partition once, to a member that reads it;
// balanced; with equal subscriptions the totals differ by at most one and
// a partition stays with its previous owner unless that owner is over
// quota. Random groups, one topic or several.
func TestStickyBalance(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 4000 {
		equal := round%2 == 0
		subs, counts, all := randomGroup(rng, equal)
		m := len(subs)
		prev := map[TopicPartition]string{}
		for _, p := range all {
			if o := subs[rng.IntN(m)]; rng.IntN(3) > 0 && o.subscribes(p.Topic) {
				prev[p] = o.memberID
			}
		}
		what := fmt.Sprintf("counts=%v subs=%v prev=%v", counts, subs, prev)
		got := stickyBalance(subs, all, prev)
		checkBalanced(t, subs, all, got, what)
		if !equal {
			continue
		}
		quota := len(all) / m
		had := make([][]TopicPartition, m)
		for i := range subs {
			if c := len(got[i]); c < quota || c > quota+1 {
				t.Fatalf("%s: %s gets %d partitions %v", what, subs[i].memberID, c, got)
			}
			for p, o := range prev {
				if o == subs[i].memberID {
					had[i] = append(had[i], p)
				}
			}
			// Stickiness: a member keeps what it owned, up to its
			// quota.
			kept := 0
			for _, p := range had[i] {
				if slices.Contains(got[i], p) {
					kept++
				}
			}
			if kept < min(len(had[i]), quota) {
				t.Fatalf("%s: %s had %v (quota %d) but keeps only %d: %v", what, subs[i].memberID, had[i], quota, kept, got)
			}
		}
	}
}

// TestCooperativeConverges plays the protocol: rebalance after rebalance,
// members revoke what they lose and keep the rest; no partition is ever
// given to a member while another still owns it, and the group reaches a
// balanced assignment — in two rebalances when all members read the same
// topics, one or several.
func TestCooperativeConverges(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for round := range 2000 {
		equal := round%2 == 0
		subs, counts, all := randomGroup(rng, equal)
		owned := map[string][]TopicPartition{} // member -> partitions it owns
		gen := int32(1)
		// Start from some valid ownership (a member may own a
		// partition of a topic it no longer reads).
		for _, p := range all {
			if rng.IntN(2) == 0 {
				m := subs[rng.IntN(len(subs))].memberID
				owned[m] = append(owned[m], p)
			}
		}
		for r := 1; ; r++ {
			for i := range subs {
				subs[i].owned = owned[subs[i].memberID]
				subs[i].generation = gen
			}
			p := assign(balance.CooperativeSticky, subs, counts)
			gen++
			revoking := false
			next := map[string][]TopicPartition{}
			for _, s := range subs {
				got := p[s.memberID]
				revoked, added := balance.Diff(owned[s.memberID], got)
				for _, a := range added {
					for _, o := range subs {
						if o.memberID != s.memberID && slices.Contains(owned[o.memberID], a) {
							t.Fatalf("round %d: partition %v given to %s while %s owns it", r, a, s.memberID, o.memberID)
						}
					}
				}
				if len(revoked) > 0 {
					revoking = true
				}
				next[s.memberID] = got
			}
			owned = next
			if !revoking {
				break
			}
			if equal && r > 2 || r > 10 {
				t.Fatalf("counts %v, subs %v: not settled after %d rounds: %v", counts, subs, r, owned)
			}
		}
		final := make([][]TopicPartition, len(subs))
		for i, s := range subs {
			final[i] = owned[s.memberID]
		}
		checkBalanced(t, subs, all, final, fmt.Sprintf("at the end: counts %v subs %v", counts, subs))
	}
}

// TestCooperativeKeepsWhatStays: when a member joins a group over several
// topics, the members keep every partition they do not give it, and give
// it nothing in the first rebalance (they revoke first).
func TestCooperativeKeepsWhatStays(t *testing.T) {
	counts := map[string]int32{"x": 3, "y": 4, "z": 5}
	ts := []string{"x", "y", "z"}
	first := assign(balance.CooperativeSticky, []subscription{sub("a", ts...), sub("b", ts...)}, counts)
	if len(first["a"]) != 6 || len(first["b"]) != 6 {
		t.Fatalf("two members: %v", first)
	}
	subs := []subscription{owning("a", first["a"], ts...), owning("b", first["b"], ts...), sub("c", ts...)}
	for i := range subs {
		subs[i].generation = 1
	}
	second := assign(balance.CooperativeSticky, subs, counts)
	if len(second["c"]) != 0 {
		t.Fatalf("c was given %v while a and b still own everything", second["c"])
	}
	for _, m := range []string{"a", "b"} {
		revoked, added := balance.Diff(first[m], second[m])
		if len(added) != 0 || len(revoked) != 2 {
			t.Fatalf("%s: revokes %v and gets %v; want two revoked, nothing added", m, revoked, added)
		}
	}
	subs = []subscription{owning("a", second["a"], ts...), owning("b", second["b"], ts...), owning("c", nil, ts...)}
	third := assign(balance.CooperativeSticky, subs, counts)
	for _, m := range []string{"a", "b", "c"} {
		if len(third[m]) != 4 {
			t.Fatalf("after the follow-up: %v; want 4 each", third)
		}
	}
	if !equalPlans(plan{"a": third["a"], "b": third["b"]}, plan{"a": second["a"], "b": second["b"]}) {
		t.Fatalf("the follow-up moved partitions of a or b: %v then %v", second, third)
	}
}

// TestGiveOnePrefersNew: a member over its share gives away a partition it
// did not own before the rebalance rather than one it owned (moving that
// one would make it revoke), even when the one it owned is its highest.
func TestGiveOnePrefersNew(t *testing.T) {
	readers := func(string, int) int { return 1 } // b, the only other reader
	out := [][]TopicPartition{tps("x", 0, 1, 2), nil}
	kept := map[TopicPartition]bool{tps("x", 2)[0]: true, tps("x", 1)[0]: true}
	if !giveOne(out, 0, kept, readers) || !slices.Equal(out[1], tps("x", 0)) {
		t.Fatalf("a (kept x/1, x/2) gave %v; want the new x/0", out[1])
	}
	// With nothing new, its highest goes.
	out = [][]TopicPartition{tps("x", 1, 2), nil}
	if !giveOne(out, 0, kept, readers) || !slices.Equal(out[1], tps("x", 2)) {
		t.Fatalf("a gave %v; want x/2", out[1])
	}
	// Not to a member with only one fewer.
	out = [][]TopicPartition{tps("x", 1, 2), tps("x", 0)}
	if giveOne(out, 0, kept, readers) {
		t.Fatalf("a gave a partition to a member one fewer: %v", out)
	}
}
