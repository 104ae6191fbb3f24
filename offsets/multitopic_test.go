package offsets

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// One call, many topics: Commit, Fetch, FetchAll and List each cover the
// partitions of several topics at once.

// TestCommitFetchTopics commits partitions of 3 topics in one call, reads
// them back with Fetch and FetchAll, and checks them with clients nobody here
// wrote: Kafka's kafka-consumer-groups must list them, and a kcat group
// consumer of the three topics (librdkafka) must start each partition at the
// offset committed.
func TestCommitFetchTopics(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topics := []string{testhelp.CreateTopic(t, nil, 2), testhelp.CreateTopic(t, nil, 1), testhelp.CreateTopic(t, nil, 3)}
	g := newGroup(t, cl)
	ctx := testhelp.Ctx(t, 120*time.Second)

	// Ten messages in every partition; commit a different offset in each.
	const n = 10
	want := map[TopicPartition]Commit{}
	for i, topic := range topics {
		parts := []int{2, 1, 3}[i]
		for p := range int32(parts) {
			produceN(t, cl, topic, p, n)
			want[part(topic, p)] = Commit{Offset: int64(3*i + int(p) + 1), LeaderEpoch: -1, Metadata: "multi"}
		}
	}
	if err := g.Commit(ctx, want, Generation{}); err != nil {
		t.Fatalf("Commit of 3 topics: %v", err)
	}
	all := slices.SortedFunc(maps.Keys(want), TopicPartition.Compare)
	got, err := g.Fetch(ctx, all)
	if err != nil || !maps.Equal(got, want) {
		t.Fatalf("Fetch of 3 topics = %v, %v; want %v", got, err, want)
	}
	if got, err = g.FetchAll(ctx); err != nil || !maps.Equal(got, want) {
		t.Fatalf("FetchAll = %v, %v; want %v", got, err, want)
	}

	// Kafka's own view of the group, before anyone consumes.
	wantOffsets := map[TopicPartition]int64{}
	for tp, c := range want {
		wantOffsets[tp] = c.Offset
	}
	if seen := groupOffsets(t, g.ID()); !maps.Equal(seen, wantOffsets) {
		t.Fatalf("kafka-consumer-groups --describe sees %v, want %v", seen, wantOffsets)
	}

	// kcat joins the group on all three topics and must read exactly
	// the messages from each committed offset to the end.
	total := 0
	for _, c := range want {
		total += n - int(c.Offset)
	}
	args := []string{"-G", g.ID(), "-c", strconv.Itoa(total), "-e", "-q", "-f", "%t %p %o\n"}
	out := testhelp.Kcat(t, nil, "", append(args, topics...)...)
	t.Logf("kcat read %d messages of %d partitions of 3 topics", strings.Count(out, "\n"), len(want))
	read := map[TopicPartition][]int64{}
	for line := range strings.Lines(out) {
		var topic string
		var p int32
		var off int64
		if _, err := fmt.Sscanf(line, "%s %d %d", &topic, &p, &off); err != nil {
			t.Fatalf("kcat output %q: %v", line, err)
		}
		read[part(topic, p)] = append(read[part(topic, p)], off)
	}
	for tp, c := range want {
		offs := read[tp]
		slices.Sort(offs)
		var expect []int64
		for o := c.Offset; o < n; o++ {
			expect = append(expect, o)
		}
		if !slices.Equal(offs, expect) {
			t.Errorf("kcat read %s at offsets %v, want %v (from the committed %d)", tp, offs, expect, c.Offset)
		}
	}
	if len(read) != len(want) {
		t.Errorf("kcat read partitions %v, want %d partitions", slices.Collect(maps.Keys(read)), len(want))
	}
}

// TestCommitMissingTopicFailsAlone: in one commit of three topics, the
// partitions of a topic that does not exist (and one partition a topic does
// not have) fail at once, alone; the rest is committed.
func TestCommitMissingTopicFailsAlone(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	a, b := testhelp.CreateTopic(t, nil, 2), testhelp.CreateTopic(t, nil, 1)
	missing := testhelp.UniqueName(t, "missing")
	g := newGroup(t, cl)
	ctx := testhelp.Ctx(t, 60*time.Second)
	good := map[TopicPartition]Commit{part(a, 0): At(3), part(a, 1): At(4), part(b, 0): At(5)}
	offs := maps.Clone(good)
	offs[part(missing, 0)] = At(1)
	offs[part(missing, 1)] = At(1)
	offs[part(b, 3)] = At(1)

	start := time.Now()
	err := g.Commit(ctx, offs, Generation{})
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("a missing topic took %v to fail", took)
	}
	pe := Partitions(err)
	if len(pe) != 3 {
		t.Fatalf("Commit: %v; want exactly 3 partitions failed", err)
	}
	for _, p := range []int32{0, 1} {
		if e := pe[part(missing, p)]; !errors.Is(e, kerr.ErrUnknownTopic) || !errors.Is(e, kerr.UnknownTopicOrPartition) || e.Group != g.ID() {
			t.Errorf("%s/%d: %v, want kerr.ErrUnknownTopic", missing, p, e)
		}
	}
	if e := pe[part(b, 3)]; !errors.Is(e, kerr.ErrUnknownPartition) {
		t.Errorf("%s/3: %v, want kerr.ErrUnknownPartition", b, e)
	}
	got, err := g.FetchAll(ctx)
	if err != nil || !maps.Equal(got, good) {
		t.Fatalf("FetchAll after the partial commit = %v, %v; want %v", got, err, good)
	}
	// Fetch of all of them: the missing ones have nothing committed.
	got, err = g.Fetch(ctx, slices.Collect(maps.Keys(offs)))
	if err != nil || !maps.Equal(got, good) {
		t.Fatalf("Fetch = %v, %v; want %v", got, err, good)
	}
	// Kafka's own view: kafka-consumer-groups lists the group's committed
	// offsets, the good partitions only.
	if seen := groupOffsets(t, g.ID()); !maps.Equal(seen, map[TopicPartition]int64{part(a, 0): 3, part(a, 1): 4, part(b, 0): 5}) {
		t.Fatalf("kafka-consumer-groups --describe sees %v, want %v", seen, good)
	}
}

// groupOffsets asks Kafka's kafka-consumer-groups tool (Java, a client
// nobody here wrote) for the committed offsets of group.
func groupOffsets(t *testing.T, group string) map[TopicPartition]int64 {
	t.Helper()
	c := testinstance.Shared()
	ctx := testhelp.Ctx(t, 2*time.Minute)
	out, err := testinstance.KafkaTool(ctx, testinstance.Config{KafkaVersion: c.KafkaVersion()}, nil, "kafka-consumer-groups",
		"--bootstrap-server", testinstance.Shared().BootstrapServers(), "--describe", "--group", group)
	if err != nil {
		t.Fatalf("kafka-consumer-groups: %v", err)
	}
	// GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID ...
	seen := map[TopicPartition]int64{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) < 4 || f[0] != group {
			continue
		}
		p, perr := strconv.ParseInt(f[2], 10, 32)
		off, oerr := strconv.ParseInt(f[3], 10, 64)
		if perr != nil || oerr != nil {
			t.Fatalf("kafka-consumer-groups line %q", line)
		}
		seen[part(f[1], int32(p))] = off
	}
	return seen
}

// TestListTopics lists the offsets of 3 topics' partitions in one call, for
// each kind of query, with a missing topic and a missing partition among
// them that fail alone.
func TestListTopics(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	a, b, c := testhelp.CreateTopic(t, nil, 3), testhelp.CreateTopic(t, nil, 1), testhelp.CreateTopic(t, nil, 2)
	base := time.Now().Add(-time.Hour).Truncate(time.Second).UnixMilli()
	produce(t, cl, a, 0, []int64{base, base + 1000, base + 2000})
	produce(t, cl, a, 2, []int64{base + 3000})
	produce(t, cl, b, 0, []int64{base, base + 500, base + 1000, base + 1500})
	produce(t, cl, c, 1, []int64{base + 1000, base + 2000})
	ctx := testhelp.Ctx(t, 60*time.Second)
	all := append(append(tps(a, 0, 1, 2), tps(b, 0)...), tps(c, 0, 1)...)

	for _, q := range []struct {
		name string
		ts   int64
		want map[TopicPartition]int64
	}{
		{"Latest", Latest, map[TopicPartition]int64{part(a, 0): 3, part(a, 1): 0, part(a, 2): 1, part(b, 0): 4, part(c, 0): 0, part(c, 1): 2}},
		{"Earliest", Earliest, map[TopicPartition]int64{part(a, 0): 0, part(a, 1): 0, part(a, 2): 0, part(b, 0): 0, part(c, 0): 0, part(c, 1): 0}},
		// The first message at or after base+1000; the log end where none is.
		{"base+1000", base + 1000, map[TopicPartition]int64{part(a, 0): 1, part(a, 1): 0, part(a, 2): 0, part(b, 0): 2, part(c, 0): 0, part(c, 1): 0}},
		{"base+2500", base + 2500, map[TopicPartition]int64{part(a, 0): 3, part(a, 1): 0, part(a, 2): 0, part(b, 0): 4, part(c, 0): 0, part(c, 1): 2}},
	} {
		got, err := List(ctx, cl, all, q.ts)
		if err != nil || !maps.Equal(got, q.want) {
			t.Errorf("List(%s) of 3 topics = %v, %v; want %v", q.name, got, err, q.want)
		}
	}

	missing := testhelp.UniqueName(t, "missing")
	start := time.Now()
	got, err := List(ctx, cl, append(all, part(missing, 0), part(c, 2)), Latest)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("a missing topic took %v to fail", took)
	}
	pe := Partitions(err)
	if len(pe) != 2 || !errors.Is(pe[part(missing, 0)], kerr.ErrUnknownTopic) || !errors.Is(pe[part(c, 2)], kerr.ErrUnknownPartition) {
		t.Errorf("List with a missing topic and partition: %v; want those two alone to fail", err)
	}
	if len(got) != len(all) || got[part(b, 0)] != 4 || got[part(a, 0)] != 3 {
		t.Errorf("List with a missing topic = %v; want the %d others found", got, len(all))
	}
}

// TestListOneRequestPerLeader: a List round sends one ListOffsets to each
// leader, covering every partition it leads, whatever their topics.
func TestListOneRequestPerLeader(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topics := []string{testhelp.CreateTopic(t, nil, 4), testhelp.CreateTopic(t, nil, 3), testhelp.CreateTopic(t, nil, 5)}
	ctx := testhelp.Ctx(t, 30*time.Second)
	var all []TopicPartition
	for i, topic := range topics {
		for p := range int32([]int{4, 3, 5}[i]) {
			all = append(all, part(topic, p))
		}
	}
	if _, errs := topicMetas(ctx, cl, topics); len(errs) != 0 {
		t.Fatalf("topic metadata: %v", errs)
	}
	l := &lister{cl: cl, query: map[TopicPartition]int64{}}
	byLeader, outcome := l.plan(all)
	if len(outcome) != 0 {
		t.Fatalf("partitions without a leader: %v", outcome)
	}
	leaders := map[int32]bool{}
	var asked []TopicPartition
	topicsSent := 0
	for id, lr := range byLeader {
		leaders[id] = true
		if lr.b.ID != id {
			t.Errorf("request for leader %d goes to broker %d", id, lr.b.ID)
		}
		for _, rt := range lr.req.Topics {
			topicsSent++
			for _, rp := range rt.Partitions {
				tp := part(rt.Topic, rp.Partition)
				if b, _, _ := cl.Leader(tp.Topic, tp.Partition); b.ID != id {
					t.Errorf("%s is led by %d but asked of %d", tp, b.ID, id)
				}
				asked = append(asked, tp)
			}
		}
	}
	for _, tp := range all {
		b, _, _ := cl.Leader(tp.Topic, tp.Partition)
		delete(leaders, b.ID)
	}
	if len(leaders) != 0 {
		t.Errorf("requests to brokers that lead nothing asked: %v", leaders)
	}
	slices.SortFunc(asked, TopicPartition.Compare)
	slices.SortFunc(all, TopicPartition.Compare)
	if !slices.Equal(asked, all) {
		t.Fatalf("asked %v, want each of %v once", asked, all)
	}
	if len(byLeader) > 3 || topicsSent < len(topics) {
		t.Fatalf("%d requests covering %d topic entries, want at most one per broker (3)", len(byLeader), topicsSent)
	}
	t.Logf("%d partitions of %d topics: %d requests, %d topic entries", len(all), len(topics), len(byLeader), topicsSent)
}

// TestRequestsGroupTopics: Commit and Fetch send one request with every
// topic, partitions grouped under their topic in order; FetchAll asks for
// null topics in both request forms.
func TestRequestsGroupTopics(t *testing.T) {
	g := &Group{id: "g"}
	offs := map[TopicPartition]Commit{part("b", 1): At(11), part("a", 2): At(2), part("b", 0): At(10), part("a", 0): At(0), part("c", 5): At(55)}
	req := g.commitRequest(offs, slices.Collect(maps.Keys(offs)), Generation{})
	var got []string
	for _, rt := range req.Topics {
		for _, rp := range rt.Partitions {
			got = append(got, fmt.Sprintf("%s/%d@%d", rt.Topic, rp.Partition, rp.Offset))
		}
	}
	if want := []string{"a/0@0", "a/2@2", "b/0@10", "b/1@11", "c/5@55"}; !slices.Equal(got, want) || len(req.Topics) != 3 {
		t.Fatalf("OffsetCommit laid out %v over %d topics, want %v over 3", got, len(req.Topics), want)
	}

	fr := g.fetchRequest([]TopicPartition{part("b", 1), part("a", 0), part("b", 0), part("b", 1)})
	if len(fr.Topics) != 2 || fr.Topics[0].Topic != "a" || !slices.Equal(fr.Topics[1].Partitions, []int32{0, 1}) ||
		len(fr.Groups) != 1 || len(fr.Groups[0].Topics) != 2 || !slices.Equal(fr.Groups[0].Topics[1].Partitions, []int32{0, 1}) {
		t.Fatalf("OffsetFetch topics %+v, groups %+v", fr.Topics, fr.Groups)
	}
	all := g.fetchRequest(nil)
	if all.Topics != nil || len(all.Groups) != 1 || all.Groups[0].Topics != nil || all.Groups[0].Group != "g" {
		t.Fatalf("FetchAll request: topics %v, groups %+v; want null topics in both forms", all.Topics, all.Groups)
	}
}

// TestCoordinatorMoved pins the one "look the coordinator up again" rule
// that balance/managed shares.
func TestCoordinatorMoved(t *testing.T) {
	for _, c := range []struct {
		err     error
		closing bool
		want    bool
	}{
		{kerr.NotCoordinator, false, true},
		{kerr.CoordinatorNotAvailable, false, true},
		{kerr.BrokerNotAvailable, false, true},
		{kerr.RequestTimedOut, false, true},
		{fmt.Errorf("dial: %w", kerr.ErrConnection), false, true},
		{kerr.ErrRequestTimeout, false, true},
		{kerr.ErrClosed, false, true}, // a broker dropped from the metadata
		{kerr.ErrClosed, true, false}, // our own shutdown
		{kerr.CoordinatorLoadInProgress, false, false},
		{kerr.IllegalGeneration, false, false},
		{nil, false, false},
	} {
		if got := CoordinatorMoved(c.err, c.closing); got != c.want {
			t.Errorf("CoordinatorMoved(%v, closing %v) = %v, want %v", c.err, c.closing, got, c.want)
		}
	}
	cl := testhelp.NewCluster(t, nil)
	if cl.IsClosing() {
		t.Fatal("IsClosing of an open cluster")
	}
	cl.Close()
	if !cl.IsClosing() {
		t.Fatal("IsClosing after Close is false")
	}
}
