package managed

import (
	"context"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// Mixed groups over several topics — gokafka members with librdkafka's
// (kcat -G) and the Java client's, by topic list and by pattern — and the
// checks they share: each partition owned once, each member's share, and
// what Kafka's own kafka-consumer-groups tool sees.

// ownedOnce checks that members (member id -> partitions) own every
// partition of want exactly once between them, and nothing else.
func ownedOnce(members map[string][]TopicPartition, want []TopicPartition) error {
	owner := map[TopicPartition]string{}
	for id, ps := range members {
		for _, p := range ps {
			if o, dup := owner[p]; dup {
				return fmt.Errorf("partition %v assigned to %s and %s", p, o, id)
			}
			if _, ok := slices.BinarySearchFunc(want, p, TopicPartition.Compare); !ok {
				return fmt.Errorf("partition %v, not among those wanted, assigned to %s", p, id)
			}
			owner[p] = id
		}
	}
	if len(owner) != len(want) {
		return fmt.Errorf("%d of %d partitions assigned: %v", len(owner), len(want), members)
	}
	return nil
}

// shares checks that one of members members (all reading every topic of
// want) got its share by the strategy: with Range, its share of each topic
// (a topic's P partitions split P/M or P/M+1); with RoundRobin and
// CooperativeSticky, of the total.
func shares(strategy balance.Strategy, want []TopicPartition, members int, ps []TopicPartition) error {
	count := func(tps []TopicPartition, topic string) int {
		n := 0
		for _, p := range tps {
			if topic == "" || p.Topic == topic {
				n++
			}
		}
		return n
	}
	topics := []string{""} // "": all of them
	if strategy == balance.Range {
		topics = topics[:0]
		for _, p := range want {
			if !slices.Contains(topics, p.Topic) {
				topics = append(topics, p.Topic)
			}
		}
	}
	for _, topic := range topics {
		total, got := count(want, topic), count(ps, topic)
		if lo, hi := total/members, (total+members-1)/members; got < lo || got > hi {
			what := "in all"
			if topic != "" {
				what = "of " + topic
			}
			return fmt.Errorf("assigned %v: %d partitions %s, want %d to %d", ps, got, what, lo, hi)
		}
	}
	return nil
}

// checkTool polls until Kafka's own tool shows the group as DescribeGroups
// does, with each partition of want owned exactly once. (The tool is a JVM
// started per call: a few seconds each.)
func checkTool(t *testing.T, ctx context.Context, cl *cluster.Cluster, group string, want []TopicPartition) {
	t.Helper()
	start := time.Now()
	var why error
	for ctx.Err() == nil {
		tv, err := testhelp.GroupMembers[TopicPartition](ctx, group)
		if err == nil {
			err = ownedOnce(tv, want)
		}
		if err == nil {
			var v groupView
			if v, err = describe(ctx, cl, group); err == nil && !maps.EqualFunc(tv, v.members, slices.Equal) {
				err = fmt.Errorf("kafka-consumer-groups shows %v, DescribeGroups %v", tv, v.members)
			}
		}
		if err == nil {
			t.Logf("kafka-consumer-groups agrees (%v): %v", time.Since(start).Round(time.Millisecond), tv)
			return
		}
		why = err
	}
	t.Fatalf("Kafka's tool never agreed: %v", why)
}

// mixedTopics creates three topics named prefix-x, -y, -z (2, 3 and 4
// partitions) and returns their names and partitions.
func mixedTopics(t *testing.T, ctx context.Context, prefix string) ([]string, []TopicPartition) {
	t.Helper()
	var topics []string
	var want []TopicPartition
	for i, n := range []int{2, 3, 4} {
		topic := prefix + "-" + string(rune('x'+i))
		createTopicNamed(t, ctx, topic, n)
		topics = append(topics, topic)
		want = append(want, allOf(n, topic)...)
	}
	return topics, want
}

// mixed is a group over the three topics of mixedTopics that gokafka
// members share with another client's: every member's view of the cluster,
// and the one that checks the group, refresh metadata every second.
type mixed struct {
	ctx      context.Context
	prefix   string           // of the topics' names
	topics   []string         // prefix-x, -y and -z
	want     []TopicPartition // their partitions
	group    string
	strategy balance.Strategy
	l        *testhelp.Ledger[TopicPartition]
	cl       *cluster.Cluster // the checks' view
}

// startMixed creates the topics; the group has no member yet.
func startMixed(t *testing.T, strategy balance.Strategy) *mixed {
	t.Helper()
	testhelp.NoLeaks(t)
	ctx := testhelp.Ctx(t, 4*time.Minute)
	prefix := testhelp.UniqueName(t, "mt")
	topics, want := mixedTopics(t, ctx, prefix)
	return &mixed{
		ctx: ctx, prefix: prefix, topics: topics, want: want,
		group:    testhelp.UniqueName(t, "group"),
		strategy: strategy,
		l:        testhelp.NewLedger[TopicPartition](),
		cl:       testhelp.NewCluster(t, nil, mixedCluster),
	}
}

var mixedCluster = cluster.Config{MetadataMaxAge: time.Second}

// join starts a gokafka member, on a cluster view of its own, recording
// into the ledger under name.
func (m *mixed) join(t *testing.T, name string, sub balance.Subscription) *Member {
	t.Helper()
	return joinSub(t, m.ctx, testhelp.NewCluster(t, nil, mixedCluster), m.group, sub, memberOpts{strategy: m.strategy}, newRecorder(name, m.l))
}

// wait is waitGroup on the group: foreign members of the other client
// (client ids starting with prefix) beside ours.
func (m *mixed) wait(t *testing.T, prefix string, foreign int, extra func(groupView) error, ours ...*Member) groupView {
	t.Helper()
	return waitGroup(t, m.ctx, m.cl, m.group, m.want, m.strategy, prefix, foreign, extra, ours...)
}

func (m *mixed) checkTool(t *testing.T) {
	t.Helper()
	checkTool(t, m.ctx, m.cl, m.group, m.want)
}

func createTopicNamed(t *testing.T, ctx context.Context, name string, partitions int) {
	t.Helper()
	if err := testinstance.Shared().CreateTopic(ctx, name, partitions, -1, nil); err != nil {
		t.Fatalf("CreateTopic %s: %v", name, err)
	}
}

// TestKcatMixedTopics: gokafka members and librdkafka's (kcat -G) share a
// group over three topics, each side subscribing by list or by pattern;
// whoever leads, every partition of every topic is owned exactly once, as
// the coordinator and Kafka's own tool report it.
func TestKcatMixedTopics(t *testing.T) {
	forEachStrategy(t, eagerAndCooperative, testKcatMixedTopics)
}

func testKcatMixedTopics(t *testing.T, strategy balance.Strategy) {
	m := startMixed(t, strategy)
	pattern := balance.Subscription{Pattern: regexp.MustCompile(regexp.QuoteMeta(m.prefix) + `-[xyz]`)}

	// Ours (by list) leads; kcat by list joins, then ours by pattern,
	// then kcat by pattern.
	a := m.join(t, "a", balance.Subscription{Topics: m.topics})
	k1 := startKcat(t, m.group, strategy, m.topics...)
	m.wait(t, "rdkafka", 1, nil, a)
	b := m.join(t, "b", pattern)
	m.wait(t, "rdkafka", 1, nil, a, b)
	k2 := startKcat(t, m.group, strategy, "^"+regexp.QuoteMeta(m.prefix)+`-[xyz]$`)
	v := m.wait(t, "rdkafka", 2, nil, a, b)
	t.Logf("2 gokafka + 2 kcat: %v", v.members)
	if !a.leads.Load() {
		t.Errorf("a, the first member, does not lead")
	}
	m.checkTool(t)

	// Ours leave: kcat leads, ours rejoin under it.
	if err := a.Close(m.ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(m.ctx); err != nil {
		t.Fatal(err)
	}
	m.wait(t, "rdkafka", 2, nil)
	c := m.join(t, "c", pattern)
	v = m.wait(t, "rdkafka", 2, nil, c)
	t.Logf("kcat leader + gokafka: %v", v.members)
	if c.leads.Load() {
		t.Errorf("c leads; a kcat member should")
	}
	k1.stop(t)
	k2.stop(t)
	stablePoint(t, m.ctx, m.cl, m.group, m.want, c)
	m.checkTool(t)
	m.l.Check(t)
}

// TestJavaMixedTopics: gokafka members and the Java client share a group
// over three topics: the Java member subscribes by pattern, then one by
// list; ours by list and by pattern. Each partition is owned once, the
// Java member's callbacks add up to what the coordinator assigned it, and
// a cooperative Java member never revokes a partition it keeps.
func TestJavaMixedTopics(t *testing.T) {
	lib := kafkaLib(t)
	forEachStrategy(t, eagerAndCooperative, func(t *testing.T, s balance.Strategy) { testJavaMixedTopics(t, lib, s) })
}

func testJavaMixedTopics(t *testing.T, lib string, strategy balance.Strategy) {
	m := startMixed(t, strategy)
	re := regexp.QuoteMeta(m.prefix) + `-[xyz]`

	// The Java member (by pattern) leads; ours join, by list and by
	// pattern.
	j1 := startJava(t, lib, m.group, strategy, "--pattern", re)
	v := m.wait(t, "java-member", 1, j1.agrees)
	before := javaOwned(v)
	_, mark := j1.view()
	a := m.join(t, "a", balance.Subscription{Topics: m.topics})
	v = m.wait(t, "java-member", 1, j1.agrees, a)
	checkJavaRevocations(t, strategy, j1.since(mark), before, javaOwned(v))
	before = javaOwned(v)
	_, mark = j1.view()
	b := m.join(t, "b", balance.Subscription{Pattern: regexp.MustCompile(re)})
	v = m.wait(t, "java-member", 1, j1.agrees, a, b)
	checkJavaRevocations(t, strategy, j1.since(mark), before, javaOwned(v))
	if a.leads.Load() || b.leads.Load() {
		t.Errorf("one of ours leads; the Java member should")
	}
	t.Logf("Java leader + 2 gokafka: %v", v.members)
	m.checkTool(t)

	// The Java member leaves; ours lead; a Java member by list joins.
	j1.stop(t)
	m.wait(t, "java-member", 0, nil, a, b)
	j2 := startJava(t, lib, m.group, strategy, m.topics...)
	v = m.wait(t, "java-member", 1, j2.agrees, a, b)
	if !a.leads.Load() && !b.leads.Load() {
		t.Errorf("none of ours leads")
	}
	t.Logf("gokafka leader + Java: %v", v.members)
	m.checkTool(t)
	j2.stop(t)
	stablePoint(t, m.ctx, m.cl, m.group, m.want, a, b)
	m.l.Check(t)
}
