package managed

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/testhelp"
)

// Benchmarks of the member's work that grows with topics: neither runs per
// message.

// BenchmarkMetadataCheck is what a stable member does at every metadata
// update of its cluster: match its pattern against every topic and compare
// the partition counts it watches. A cluster of 2,000 topics of 12
// partitions, 100 of which match.
func BenchmarkMetadataCheck(b *testing.B) {
	snap := testhelp.ManyTopics(2000, 100, 12)
	m := &Member{
		cfg:     Config{Subscription: balance.Subscription{Topics: []string{"events-0000"}}},
		pattern: regexp.MustCompile(`^(?:events-\d+)$`),
		s:       session{matches: map[string]bool{}, watch: map[string]int{}},
	}
	m.s.topics = m.subscribedTopics(snap)
	for _, t := range m.s.topics {
		m.s.watch[t] = 12
	}
	if len(m.s.topics) != 100 {
		b.Fatalf("%d topics match", len(m.s.topics))
	}
	b.ReportAllocs()
	for b.Loop() {
		if why := m.metadataChanged(snap); why != "" {
			b.Fatal(why)
		}
	}
}

// BenchmarkAssign is the leader's assignment of 10 topics of 12 partitions
// (the benchmark topics) to 30 members, and of 50 topics of 40
// partitions to 100 members; for CooperativeSticky, the rebalance after
// one more member joined a balanced group.
func BenchmarkAssign(b *testing.B) {
	for _, size := range []struct{ members, topics, partitions int }{{30, 10, 12}, {100, 50, 40}} {
		var topics []string
		counts := map[string]int32{}
		for i := range size.topics {
			t := fmt.Sprintf("topic-%02d", i)
			topics = append(topics, t)
			counts[t] = int32(size.partitions)
		}
		var subs []subscription
		for i := range size.members {
			subs = append(subs, sub(fmt.Sprintf("member-%03d", i), topics...))
		}
		for _, s := range allStrategies {
			in := subs
			if s == balance.CooperativeSticky {
				first := assign(s, subs[:len(subs)-1], counts)
				in = nil
				for _, su := range subs {
					su.owned, su.generation = first[su.memberID], 1
					in = append(in, su)
				}
			}
			name := fmt.Sprintf("%s/%dx%dx%d", s, size.members, size.topics, size.partitions)
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					assign(s, in, counts)
				}
			})
		}
	}
}
