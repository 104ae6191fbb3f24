package balance

import (
	"fmt"
	"slices"
	"testing"
)

func tps(topic string, ps ...int32) []TopicPartition {
	out := make([]TopicPartition, len(ps))
	for i, p := range ps {
		out[i] = TopicPartition{Topic: topic, Partition: p}
	}
	return out
}

// TestAssignRangePerTopicByNumber: Range orders partitions by number (not as
// strings: 10 after 9) and members by key, topic by topic.
func TestAssignRangePerTopicByNumber(t *testing.T) {
	members := []Subscriber{{Key: "b", Topics: []string{"x", "y"}}, {Key: "a", Topics: []string{"y", "x"}}, {Key: "c", Topics: []string{"x"}}}
	got := AssignTopics(Range, members, map[string]int32{"x": 12, "y": 3})
	want := map[string][]TopicPartition{
		"a": append(tps("x", 0, 1, 2, 3), tps("y", 0, 1)...),
		"b": append(tps("x", 4, 5, 6, 7), tps("y", 2)...),
		"c": tps("x", 8, 9, 10, 11),
	}
	for m, w := range want {
		if !slices.Equal(got[m], w) {
			t.Fatalf("member %s got %v, want %v (all: %v)", m, got[m], w, got)
		}
	}
}

// TestAssignRoundRobinSkipsNonReaders: partitions are dealt in (topic,
// partition) order to the members in turn, skipping those that do not read
// the topic (Java's RoundRobinAssignor).
func TestAssignRoundRobinSkipsNonReaders(t *testing.T) {
	members := []Subscriber{{Key: "a", Topics: []string{"x", "y"}}, {Key: "b", Topics: []string{"y"}}}
	got := AssignTopics(RoundRobin, members, map[string]int32{"x": 3, "y": 3})
	want := map[string][]TopicPartition{
		"a": append(tps("x", 0, 1, 2), tps("y", 1)...),
		"b": tps("y", 0, 2),
	}
	for m, w := range want {
		if !slices.Equal(got[m], w) {
			t.Fatalf("member %s got %v, want %v (all: %v)", m, got[m], w, got)
		}
	}
}

func TestAssignStrategiesCoverEachPartitionOnce(t *testing.T) {
	for _, s := range []Strategy{Range, RoundRobin} {
		for members := 1; members <= 7; members++ {
			for parts := 0; parts <= 13; parts++ {
				var ms []Subscriber
				for i := 0; i < members; i++ {
					ms = append(ms, Subscriber{Key: fmt.Sprintf("m%02d", i), Topics: []string{"t", "u"}})
				}
				counts := map[string]int32{"t": int32(parts), "u": int32(parts / 2), "unread": 5}
				got := AssignTopics(s, ms, counts)
				owner := map[TopicPartition]string{}
				for _, m := range ms {
					for _, tp := range got[m.Key] {
						if o, dup := owner[tp]; dup {
							t.Fatalf("%s %d/%d: %v to %s and %s", s, members, parts, tp, o, m.Key)
						}
						owner[tp] = m.Key
					}
				}
				if want := parts + parts/2; len(owner) != want {
					t.Fatalf("%s %d members, %d partitions: %d assigned, want %d: %v", s, members, parts, len(owner), want, got)
				}
				if s == RoundRobin { // dealt over both topics: totals differ by one at most
					minN, maxN := len(owner), 0
					for _, m := range ms {
						minN, maxN = min(minN, len(got[m.Key])), max(maxN, len(got[m.Key]))
					}
					if maxN-minN > 1 {
						t.Fatalf("%s %d members, %d partitions: %d to %d per member", s, members, parts, minN, maxN)
					}
				}
			}
		}
	}
}

func TestDiff(t *testing.T) {
	revoked, added := Diff(tps("t", 0, 1, 2), append(tps("t", 2, 3), tps("u", 0)...))
	if !slices.Equal(revoked, tps("t", 0, 1)) || !slices.Equal(added, append(tps("t", 3), tps("u", 0)...)) {
		t.Fatalf("Diff: revoked %v added %v", revoked, added)
	}
}
