package managed

import (
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// Members over several topics: lists, patterns, topics created and deleted
// while the group runs.

// TestGrowAndShrinkTopics is TestGrowAndShrink over three topics (3, 4 and
// 5 partitions): three members join, then leave; after each step every
// partition of every topic has exactly one owner, and each member has its
// share — of each topic with Range, of the total with RoundRobin and
// CooperativeSticky (balanced across topics: 4 each of the 12, where
// balancing each topic alone could give 5, 4 and 3).
func TestGrowAndShrinkTopics(t *testing.T) {
	forEachStrategy(t, allStrategies, func(t *testing.T, s balance.Strategy) { growAndShrink(t, s, []int{3, 4, 5}) })
}

// TestPatternSubscription: members subscribed by pattern read the topics
// whose whole name matches (not the internal ones, not those that merely
// contain a match); a matching topic created after they joined is picked
// up, and a deleted one dropped, within a few metadata refresh intervals
// (cluster.Config.MetadataMaxAge, 1s here), with each partition owned once
// throughout. One member also lists a topic the pattern does not match.
func TestPatternSubscription(t *testing.T) {
	forEachStrategy(t, eagerAndCooperative, testPatternSubscription)
}

func testPatternSubscription(t *testing.T, strategy balance.Strategy) {
	testhelp.NoLeaks(t)
	ctx := testhelp.Ctx(t, 3*time.Minute)
	prefix := testhelp.UniqueName(t, "pt")
	createTopicNamed(t, ctx, prefix+"-t1", 2)
	createTopicNamed(t, ctx, prefix+"-t2", 3)
	createTopicNamed(t, ctx, prefix+"-t1x", 2) // contains a match, is none
	listed := testhelp.CreateTopic(t, nil, 2)
	group := testhelp.UniqueName(t, "group")
	l := testhelp.NewLedger[TopicPartition]()
	fast := cluster.Config{MetadataMaxAge: time.Second}
	cla, clb := testhelp.NewCluster(t, nil, fast), testhelp.NewCluster(t, nil, fast)
	// __consumer_offsets matches too, but is internal.
	pattern := regexp.MustCompile(regexp.QuoteMeta(prefix) + `-t[0-9]|__consumer_offsets`)
	opts := memberOpts{strategy: strategy}
	ra, rb := newRecorder("a", l), newRecorder("b", l)
	a := joinSub(t, ctx, cla, group, balance.Subscription{Pattern: pattern}, opts, ra)
	b := joinSub(t, ctx, clb, group, balance.Subscription{Topics: []string{listed}, Pattern: pattern}, opts, rb)

	want := slices.Concat(allOf(2, prefix+"-t1"), allOf(3, prefix+"-t2"), allOf(2, listed))
	slices.SortFunc(want, TopicPartition.Compare)
	_, before := stablePoint(t, ctx, cla, group, want, a, b)
	t.Logf("subscribed: %v", before)
	subscribed(t, cla, group, a, prefix+"-t1", prefix+"-t2")
	subscribed(t, cla, group, b, listed, prefix+"-t1", prefix+"-t2")

	// step waits for the assignment of want after a change that started
	// at start (the CreateTopic or DeleteTopic call, which itself waits
	// until every broker's metadata shows the change).
	step := func(what string, start time.Time, marks []int, want []TopicPartition) {
		t.Helper()
		_, owned := stablePoint(t, ctx, cla, group, want, a, b)
		t.Logf("%s: all assigned %v after the call: %v", what, time.Since(start).Round(time.Millisecond), owned)
		if took := time.Since(start); took > 20*time.Second {
			t.Errorf("%s: took %v with a 1s metadata refresh", what, took)
		}
		for i, r := range []*recorder{ra, rb} {
			evs := r.since(marks[i])
			if lost := union(evs, "lost"); len(lost) > 0 {
				t.Errorf("%s: %s lost %v", what, r.name, lost)
			}
			if strategy != balance.CooperativeSticky {
				continue
			}
			for _, p := range union(evs, "revoked") {
				if slices.Contains(before[i], p) && slices.Contains(owned[i], p) {
					t.Errorf("%s: %s revoked %v, which it kept", what, r.name, p)
				}
			}
		}
		before = owned
		l.Check(t)
	}

	start, marks := time.Now(), []int{ra.mark(), rb.mark()}
	createTopicNamed(t, ctx, prefix+"-t3", 2)
	want = slices.Concat(want, allOf(2, prefix+"-t3"))
	slices.SortFunc(want, TopicPartition.Compare)
	step("topic t3 created", start, marks, want)

	start, marks = time.Now(), []int{ra.mark(), rb.mark()}
	if err := testinstance.Shared().DeleteTopic(ctx, prefix+"-t2"); err != nil {
		t.Fatalf("DeleteTopic: %v", err)
	}
	want = slices.DeleteFunc(want, func(p TopicPartition) bool { return p.Topic == prefix+"-t2" })
	step("topic t2 deleted", start, marks, want)
	subscribed(t, cla, group, a, prefix+"-t1", prefix+"-t3")
	subscribed(t, cla, group, b, listed, prefix+"-t1", prefix+"-t3")
}

// subscribed checks the topics m sent in its JoinGroup, as the coordinator
// reports them (DescribeGroups): exactly want, in order.
func subscribed(t *testing.T, cl *cluster.Cluster, group string, m *Member, want ...string) {
	t.Helper()
	slices.Sort(want)
	v, err := describe(testhelp.Ctx(t, 30*time.Second), cl, group)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.topics[m.ID()]; !slices.Equal(got, want) {
		t.Errorf("member %s subscribes to %v, want %v", m.ID(), got, want)
	}
}

// TestListedTopicDeleted: when a listed topic is deleted, its partitions
// leave the assignment (the members rejoin: its partition count went to
// 0) and the other topics stay assigned, each partition once; with
// CooperativeSticky, a member revokes exactly what leaves it, never what
// it keeps. Created again, the topic is assigned again.
func TestListedTopicDeleted(t *testing.T) {
	forEachStrategy(t, eagerAndCooperative, testListedTopicDeleted)
}

func testListedTopicDeleted(t *testing.T, strategy balance.Strategy) {
	testhelp.NoLeaks(t)
	ctx := testhelp.Ctx(t, 3*time.Minute)
	stays, goes := testhelp.CreateTopic(t, nil, 4), testhelp.CreateTopic(t, nil, 2)
	group := testhelp.UniqueName(t, "group")
	l := testhelp.NewLedger[TopicPartition]()
	fast := cluster.Config{MetadataMaxAge: time.Second}
	cla := testhelp.NewCluster(t, nil, fast)
	sub := balance.Subscription{Topics: []string{stays, goes}}
	opts := memberOpts{strategy: strategy}
	ra, rb := newRecorder("a", l), newRecorder("b", l)
	a := joinSub(t, ctx, cla, group, sub, opts, ra)
	b := joinSub(t, ctx, testhelp.NewCluster(t, nil, fast), group, sub, opts, rb)
	both := slices.Concat(allOf(4, stays), allOf(2, goes))
	slices.SortFunc(both, TopicPartition.Compare)
	_, before := stablePoint(t, ctx, cla, group, both, a, b)

	marks := []int{ra.mark(), rb.mark()}
	start := time.Now()
	if err := testinstance.Shared().DeleteTopic(ctx, goes); err != nil {
		t.Fatalf("DeleteTopic: %v", err)
	}
	_, owned := stablePoint(t, ctx, cla, group, allOf(4, stays), a, b)
	t.Logf("deleted topic dropped %v after the DeleteTopic call: %v", time.Since(start).Round(time.Millisecond), owned)
	for i, r := range []*recorder{ra, rb} {
		evs := r.since(marks[i])
		if lost := union(evs, "lost"); len(lost) > 0 {
			t.Errorf("%s lost %v", r.name, lost)
		}
		if strategy != balance.CooperativeSticky {
			continue
		}
		// (The deletion may leave the members unbalanced: then a
		// partition of the topic that stays moves too.)
		for _, p := range union(evs, "revoked") {
			if slices.Contains(owned[i], p) {
				t.Errorf("%s revoked %v, which it kept", r.name, p)
			}
		}
		gone, _ := balance.Diff(before[i], owned[i])
		if !slices.Equal(gone, union(evs, "revoked")) {
			t.Errorf("%s revoked %v, lost from its assignment %v", r.name, union(evs, "revoked"), gone)
		}
	}
	l.Check(t)

	createTopicNamed(t, ctx, goes, 3)
	both = slices.Concat(allOf(4, stays), allOf(3, goes))
	slices.SortFunc(both, TopicPartition.Compare)
	stablePoint(t, ctx, cla, group, both, a, b)
	l.Check(t)
}
