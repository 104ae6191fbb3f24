package balance

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testhelp"
)

func tps(topic string, ps ...int32) []TopicPartition {
	return testhelp.Partitions[TopicPartition](topic, ps...)
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

// TestSubscriptionCheck: topics are sorted and deduplicated; a subscription
// that reads nothing, an empty pattern or an illegal topic name is a typed
// error naming the field; a pattern matches whole names, even one that ends
// inside \Q (valid Go syntax that naive anchoring would break).
func TestSubscriptionCheck(t *testing.T) {
	s, err := Subscription{Topics: []string{"b", "a", "b"}}.Check("F")
	if err != nil || !slices.Equal(s.Topics, []string{"a", "b"}) {
		t.Fatalf("Check: %v %v", s.Topics, err)
	}
	for field, bad := range map[string]Subscription{
		"F":         {},
		"F.Topics":  {Topics: []string{"a/b"}},
		"F.Pattern": {Pattern: regexp.MustCompile("")},
	} {
		var ce *kerr.ConfigError
		if _, err := bad.Check("F"); !errors.As(err, &ce) || ce.Field != field {
			t.Fatalf("%+v: %v, want a ConfigError for %s", bad, err, field)
		}
	}
	for _, c := range []struct {
		pattern, topic string
		match          bool
	}{{`ev.*`, "events", true}, {`ev`, "events", false}, {`a|b`, "ab", false}, {`t\Q.x`, "t.x", true}, {`t\Q.x`, "tax", false}} {
		re, err := FullMatch(regexp.MustCompile(c.pattern))
		if err != nil || re.MatchString(c.topic) != c.match {
			t.Fatalf("FullMatch(%q) on %q: %v, err %v", c.pattern, c.topic, !c.match, err)
		}
	}
}

// TestStrategyCheck: the zero Strategy is Range; one the protocol does not
// support is a ConfigError on the field, listing those it does.
func TestStrategyCheck(t *testing.T) {
	for _, c := range []struct {
		in, want  Strategy
		supported []Strategy
		msg       string // in the error; "" for none
	}{
		{"", Range, []Strategy{Range, RoundRobin}, ""},
		{RoundRobin, RoundRobin, []Strategy{Range, RoundRobin}, ""},
		{"sticky", "sticky", []Strategy{Range, RoundRobin, CooperativeSticky}, `unknown strategy "sticky" (want "range", "roundrobin" or "cooperative-sticky")`},
		{CooperativeSticky, CooperativeSticky, []Strategy{Range}, `(want "range")`},
	} {
		got, err := c.in.Check("F", c.supported...)
		var ce *kerr.ConfigError
		switch {
		case got != c.want:
			t.Errorf("%q.Check = %q, want %q", c.in, got, c.want)
		case c.msg == "" && err != nil:
			t.Errorf("%q.Check: %v", c.in, err)
		case c.msg != "" && (!errors.As(err, &ce) || ce.Field != "F" || !strings.Contains(err.Error(), c.msg)):
			t.Errorf("%q.Check: %v, want a ConfigError on F saying %s", c.in, err, c.msg)
		}
	}
}
