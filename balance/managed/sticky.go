package managed

import (
	"cmp"
	"slices"
)

// This file is the cooperative-sticky strategy (KIP-429), the leader's
// third assignor: balanced over all the partitions a member reads, across
// topics, as Java's CooperativeStickyAssignor balances them, and sticky —
// a partition stays with its previous owner unless the balance needs it
// elsewhere.

// assignCooperativeSticky computes a balanced target that keeps every
// partition with its previous owner as far as the balance allows
// (stickyBalance), then holds back the partitions whose owner changes: the
// new owner gets them only in a following rebalance, after the previous
// owner has revoked them (it sees them missing from its assignment,
// revokes them and rejoins). So a partition is never owned by two members
// at once, and partitions that do not move are never revoked. subs are
// sorted by key.
func assignCooperativeSticky(subs []subscription, counts map[string]int32) plan {
	var all []TopicPartition // every partition of every subscribed topic the metadata knows
	for _, t := range topicsOf(subs) {
		for p := range counts[t] {
			all = append(all, TopicPartition{Topic: t, Partition: p})
		}
	}
	owners, busy := previousOwners(subs, counts)
	target := stickyBalance(subs, all, owners)
	p := plan{}
	for i, ps := range target {
		id := subs[i].memberID
		for _, tp := range ps {
			if owner, ok := owners[tp]; ok && owner != id {
				continue // still owned elsewhere: the next rebalance gives it
			}
			if _, ok := busy[tp]; ok {
				continue // someone may still hold it: give it to nobody yet
			}
			p[id] = append(p[id], tp)
		}
	}
	for id := range p {
		slices.SortFunc(p[id], TopicPartition.Compare)
	}
	return p
}

// previousOwners returns who owned each partition, from the members'
// OwnedPartitions: owners maps a partition to the member that may keep it;
// busy lists partitions that someone may still hold but nobody may keep,
// so that nobody gets them in this rebalance.
//
// A partition claimed by two members goes to the claim of the newer
// generation; two claims of the same generation cancel (neither is
// trusted: both must revoke it first, so it is busy). A claim by a member
// that no longer subscribes to the topic is not kept, but the partition is
// busy until that member has revoked it. Claims of partitions the metadata
// does not show (beyond the count, or of a topic unknown or deleted) are
// ignored.
func previousOwners(subs []subscription, counts map[string]int32) (owners map[TopicPartition]string, busy map[TopicPartition]struct{}) {
	type claim struct {
		sub      *subscription
		conflict bool
	}
	claims := map[TopicPartition]*claim{}
	for i := range subs {
		s := &subs[i]
		for _, tp := range s.owned {
			if n, ok := counts[tp.Topic]; !ok || tp.Partition < 0 || tp.Partition >= n {
				continue
			}
			c := claims[tp]
			switch {
			case c == nil:
				claims[tp] = &claim{sub: s}
			case c.sub.memberID == s.memberID:
			case s.generation > c.sub.generation:
				*c = claim{sub: s}
			case s.generation == c.sub.generation:
				c.conflict = true
			}
		}
	}
	owners = map[TopicPartition]string{}
	busy = map[TopicPartition]struct{}{}
	for tp, c := range claims {
		if c.conflict || !c.sub.subscribes(tp.Topic) {
			busy[tp] = struct{}{}
		} else {
			owners[tp] = c.sub.memberID
		}
	}
	return owners, busy
}

// stickyBalance gives every partition of all to one member that subscribes
// to its topic (subs sorted by key; the result is indexed like subs), so
// that the members' totals are balanced across topics and as few
// partitions as possible leave their previous owner (owners: partition ->
// member id).
//
// Balanced is what Java's sticky assignors mean by it: no partition could
// move from its member to another member that reads its topic and has at
// least two partitions fewer. When all members read the same topics, the
// totals then differ by at most one.
//
// Every member first keeps what it owned; the partitions nobody owned go,
// the most constrained first (fewest members read their topic), each to
// the least loaded member that reads it. Then, while a member has at least
// two more than a member that could take one of its partitions, the most
// loaded one gives a partition to the least loaded reader — one it did not
// own before if it has one, else its highest. Each move lowers the sum of
// the squared totals, so this ends; a member that owned no more than its
// fair share keeps everything it owned.
func stickyBalance(subs []subscription, all []TopicPartition, owners map[TopicPartition]string) [][]TopicPartition {
	n := len(subs)
	out := make([][]TopicPartition, n)
	if n == 0 {
		return out
	}
	index := make(map[string]int, n)
	for i := range subs {
		index[subs[i].memberID] = i
	}
	kept := make([]map[TopicPartition]bool, n) // partitions each member owned before
	readers := map[string][]int{}              // topic -> members that read it, in key order
	for i := range subs {
		kept[i] = map[TopicPartition]bool{}
		for _, t := range subs[i].topics {
			readers[t] = append(readers[t], i)
		}
	}
	var free []TopicPartition
	for _, tp := range all {
		if id, ok := owners[tp]; ok {
			i := index[id]
			out[i] = append(out[i], tp)
			kept[i][tp] = true
		} else {
			free = append(free, tp)
		}
	}
	// leastLoaded is the reader of topic other than skip with the fewest
	// partitions (the first in key order among equals), or -1.
	leastLoaded := func(topic string, skip int) int {
		best := -1
		for _, i := range readers[topic] {
			if i != skip && (best < 0 || len(out[i]) < len(out[best])) {
				best = i
			}
		}
		return best
	}
	slices.SortStableFunc(free, func(a, b TopicPartition) int {
		return cmp.Compare(len(readers[a.Topic]), len(readers[b.Topic]))
	})
	for _, tp := range free {
		if i := leastLoaded(tp.Topic, -1); i >= 0 { // (all names only topics someone reads)
			out[i] = append(out[i], tp)
		}
	}

	order := make([]int, n)
	for {
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(len(out[b]), len(out[a])) })
		fewest := len(out[order[n-1]])
		moved := false
		for _, a := range order {
			if len(out[a]) <= fewest+1 {
				break // nobody has two fewer than a, nor than anyone after it
			}
			if moved = giveOne(out, a, kept[a], leastLoaded); moved {
				break
			}
		}
		if !moved {
			break
		}
	}
	for i := range out {
		slices.SortFunc(out[i], TopicPartition.Compare)
	}
	return out
}

// giveOne moves one of member a's partitions to the least loaded member
// that reads its topic, if that one has at least two fewer: a partition a
// did not own before if there is one (moving it revokes nothing), else a's
// highest. It reports whether it moved one.
func giveOne(out [][]TopicPartition, a int, kept map[TopicPartition]bool, leastLoaded func(string, int) int) bool {
	ps := out[a]
	slices.SortFunc(ps, TopicPartition.Compare)
	best := map[string]int{}                   // topic -> taker, computed once per topic
	for _, pass := range []bool{false, true} { // not kept first, then kept
		for j := len(ps) - 1; j >= 0; j-- {
			tp := ps[j]
			if kept[tp] != pass {
				continue
			}
			b, ok := best[tp.Topic]
			if !ok {
				b = leastLoaded(tp.Topic, a)
				best[tp.Topic] = b
			}
			if b >= 0 && len(out[b]) < len(ps)-1 {
				out[a] = slices.Delete(ps, j, j+1)
				out[b] = append(out[b], tp)
				return true
			}
		}
	}
	return false
}
