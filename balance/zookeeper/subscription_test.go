package zookeeper

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/testhelp"
)

// BenchmarkMetadataCheck measures what a member does at every metadata
// update of its client (not per message): evaluate every member's
// subscription against the snapshot, count partitions, compare with the
// last rebalance. A cluster of 2,000 topics of 12 partitions; a group of 3
// members, two with a pattern matching 100 of them, one with 10 listed.
func BenchmarkMetadataCheck(b *testing.B) {
	snap := testhelp.ManyTopics(2000, 100, 12)
	var listed []string
	for i := range 10 {
		listed = append(listed, fmt.Sprintf("events-%04d", i))
	}
	pattern := regexp.MustCompile(`events-\d+`)
	m := &Member{
		id:  "m0",
		own: ownInterest(balance.Subscription{Pattern: pattern}),
		subs: map[string]interest{
			"m1": ownInterest(balance.Subscription{Pattern: pattern}),
			"m2": ownInterest(balance.Subscription{Topics: listed}),
		},
	}
	members := []string{"m0", "m1", "m2"}
	_, _, m.counts = m.inputs(snap, members)
	b.ReportAllocs()
	for b.Loop() {
		_, _, counts := m.inputs(snap, members)
		if change := countsChange(m.counts, counts); change != "" {
			b.Fatal(change)
		}
	}
}

// TestPatternMemoBounded: the memo of pattern matches forgets deleted
// topics instead of growing with every name the cluster ever had, and
// never changes an answer.
func TestPatternMemoBounded(t *testing.T) {
	in := ownInterest(balance.Subscription{Pattern: regexp.MustCompile(`e.*`)})
	snap := func(names ...string) *cluster.Snapshot {
		s := &cluster.Snapshot{Topics: map[string]*cluster.TopicMeta{}}
		for _, n := range names {
			s.Topics[n] = &cluster.TopicMeta{Name: n}
		}
		return s
	}
	for i := range 500 { // topics created and deleted one after the other
		name := fmt.Sprintf("e%d", i)
		if got := in.read(snap(name, "x")); len(got) != 1 || got[0] != name {
			t.Fatalf("read = %v, want [%s]", got, name)
		}
		if len(in.reads) > 2*2+64+1 {
			t.Fatalf("memo holds %d names for a cluster of 2 topics", len(in.reads))
		}
	}
}
