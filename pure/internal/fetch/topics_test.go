package fetch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/records"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Tests of a fetcher serving partitions of several topics.

// produceTopic writes counts[p] records to each partition p of topic, keyed
// by the topic's name so that a message filed under the wrong topic fails
// checkValues, and returns them by partition.
func produceTopic(t testing.TB, cl *cluster.Cluster, topic string, counts []int) map[engine.TopicPartition][]rec {
	t.Helper()
	want := map[engine.TopicPartition][]rec{}
	for p, n := range counts {
		rs := make([]rec, n)
		for i := range rs {
			rs[i] = rec{key: topic, value: value(int32(p), i)}
		}
		produce(t, cl, topic, int32(p), records.CodecLZ4, 200, rs)
		want[part(topic, int32(p))] = rs
	}
	return want
}

// TestFetchManyTopics reads three topics of several partitions each with
// one fetcher: every message arrives exactly once, in order, under its own
// topic and partition, and the fetcher runs one source per broker, not one
// per topic.
func TestFetchManyTopics(t *testing.T) {
	tc := testinstance.Shared()
	cl := testhelp.NewCluster(t, tc)
	want := map[engine.TopicPartition][]rec{}
	var pos []engine.Position
	for i, counts := range [][]int{{1000, 2000, 1500}, {3000, 10, 700, 2500}, {1, 1200, 0, 900, 1800}} {
		topic := testhelp.CreateTopic(t, tc, len(counts))
		for tp, rs := range produceTopic(t, cl, topic, counts) {
			want[tp] = rs
			// Some partitions start in the middle: positions are per
			// topic and partition too.
			pos = append(pos, engine.Position{TopicPartition: tp, Offset: int64(i * len(rs) / 4)})
		}
	}
	f := newFetcher(t, cl, testhelp.FetcherConfig())
	ctx := testhelp.Ctx(t, 2*time.Minute)
	if err := f.Assign(ctx, pos); err != nil {
		t.Fatal(err)
	}
	checkSourcesPerBroker(t, f)
	counts := map[engine.TopicPartition]int{}
	for _, po := range pos {
		if n := len(want[po.TopicPartition]) - int(po.Offset); n > 0 {
			counts[po.TopicPartition] = n
		}
	}
	logs := partitionLogs{}
	consume(t, f, 2*time.Minute, logs, haveCounts(counts))
	for _, po := range pos {
		l := logs[po.TopicPartition]
		if l == nil {
			if len(want[po.TopicPartition]) == 0 {
				continue // an empty partition owes no fetch
			}
			t.Fatalf("%s: nothing fetched", po.TopicPartition)
		}
		checkValues(t, po.TopicPartition, l.msgs, want[po.TopicPartition][po.Offset:], po.Offset)
		if n := int64(len(want[po.TopicPartition])); l.next != n || l.hw != n {
			t.Errorf("%s: NextOffset %d, high watermark %d, want both %d", po.TopicPartition, l.next, l.hw, n)
		}
	}
	for tp := range logs {
		if _, ok := want[tp]; !ok {
			t.Fatalf("a fetch of %s, which was not assigned", tp)
		}
	}
	// Nothing more is delivered: a short Poll times out.
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if fe, err := f.Poll(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Poll after everything was consumed: %s %d messages, %v", fe.TopicPartition, len(fe.Messages), err)
	}
}

// checkSourcesPerBroker checks that the fetcher runs one source per
// broker whatever the topics: every cursor is in the source of its broker,
// and some source serves partitions of several topics (the tests assign
// topics of at least as many partitions as the cluster has brokers, and
// Kafka spreads a topic's leaders over the brokers).
func checkSourcesPerBroker(t *testing.T, f *fetcher) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	mixed := false
	for id, s := range f.sources {
		topics := map[string]int{}
		for _, c := range s.cursors {
			topics[c.tp.Topic]++
			if c.src != s || s.id != id {
				t.Fatalf("%s is in the source of broker %d, its source is %v", c.tp, id, c.src)
			}
		}
		mixed = mixed || len(topics) > 1
		t.Logf("broker %d: one source for %d partitions of %d topics", id, len(s.cursors), len(topics))
	}
	for tp, c := range f.parts {
		if c.src == nil || f.sources[c.src.id] != c.src || !slices.Contains(c.src.cursors, c) {
			t.Fatalf("%s is not in the source of its leader", tp)
		}
	}
	if !mixed {
		t.Fatal("no source serves partitions of more than one topic")
	}
}

// TestAssignRefusedWhole checks that an Assign naming a topic or partition
// that does not exist is refused with a typed error and changes nothing:
// no partition of it is assigned, and those assigned before keep their
// positions. A topic created after the client loaded its metadata is found
// by the one refresh Assign makes.
func TestAssignRefusedWhole(t *testing.T) {
	tc := testinstance.Shared()
	cl := testhelp.NewCluster(t, tc)
	a := testhelp.CreateTopic(t, tc, 2)
	want := produceTopic(t, cl, a, []int{20, 20})
	a0, a1 := part(a, 0), part(a, 1)
	f := newFetcher(t, cl, testhelp.FetcherConfig())
	ctx := testhelp.Ctx(t, 2*time.Minute)
	if err := f.Assign(ctx, []engine.Position{at(a, 0, 0)}); err != nil {
		t.Fatal(err)
	}
	logs := partitionLogs{}
	consume(t, f, time.Minute, logs, haveCounts(map[engine.TopicPartition]int{a0: 20}))

	missing := testhelp.UniqueName(t, "topic")
	f.mu.Lock()
	gen := f.parts[a0].gen
	f.mu.Unlock()
	for _, tt := range []struct {
		name string
		pos  []engine.Position
		want error
	}{
		{"unknown topic", []engine.Position{at(a, 0, 3), at(a, 1, 0), at(missing, 0, 0)}, kerr.ErrUnknownTopic},
		{"unknown partition", []engine.Position{at(a, 1, 0), at(a, 0, 3), at(a, 2, 0)}, kerr.ErrUnknownPartition},
		{"negative partition", []engine.Position{at(a, 1, 0), at(a, -1, 0)}, kerr.ErrUnknownPartition},
		{"negative offset", []engine.Position{at(a, 1, 0), at(a, 0, -1)}, kerr.ErrOffsetOutOfRange},
		{"empty topic", []engine.Position{at(a, 1, 0), at("", 0, 0)}, kerr.ErrInvalidTopic},
	} {
		err := f.Assign(ctx, tt.pos)
		if !errors.Is(err, tt.want) {
			t.Fatalf("%s: Assign returned %v, want %v", tt.name, err, tt.want)
		}
		t.Logf("%s: %v", tt.name, err)
		f.mu.Lock()
		n, moved := len(f.parts), f.parts[a0].gen != gen
		f.mu.Unlock()
		if n != 1 || moved {
			t.Fatalf("%s: the refused Assign changed the assignment (%d partitions, %s moved: %v)", tt.name, n, a0, moved)
		}
	}
	if _, err := cl.Snapshot().Topic(missing); !errors.Is(err, kerr.ErrUnknownTopic) {
		t.Fatalf("the unknown topic in the client's metadata: %v", err)
	}
	// Nothing of the refused calls surfaces: a0 continues at 20 with the
	// next record produced, and a1 stays unread.
	produce(t, cl, a, 0, records.CodecNone, 1, []rec{{key: a, value: "late"}})
	consume(t, f, time.Minute, logs, haveCounts(map[engine.TopicPartition]int{a0: 21}))
	if m := logs[a0].msgs[20]; m.Offset != 20 || string(m.Value) != "late" {
		t.Fatalf("after the refused Assigns, %s delivered offset %d %q, want 20 \"late\"", a0, m.Offset, m.Value)
	}
	if logs[a1] != nil {
		t.Fatalf("a refused Assign started %s: %s", a1, summary(logs))
	}

	// A topic created now: the client has not seen it, Assign refreshes.
	b := testhelp.CreateTopic(t, tc, 1)
	if _, err := cl.Snapshot().Topic(b); err == nil {
		t.Fatalf("the client knows %s already: the test would not test the refresh", b)
	}
	want[part(b, 0)] = produceTopic(t, cl, b, []int{5})[part(b, 0)]
	if err := f.Assign(ctx, []engine.Position{at(a, 1, 0), at(b, 0, 0)}); err != nil {
		t.Fatalf("Assign of a topic created since the last refresh: %v", err)
	}
	consume(t, f, time.Minute, logs, haveCounts(map[engine.TopicPartition]int{a1: 20, part(b, 0): 5}))
	checkValues(t, a1, logs[a1].msgs, want[a1], 0)
	checkValues(t, part(b, 0), logs[part(b, 0)].msgs, want[part(b, 0)], 0)
}

// TestUnassignOneTopic unassigns every partition of one topic: the other
// topics' partitions keep fetching from the same sources, and nothing more
// of the unassigned topic arrives.
func TestUnassignOneTopic(t *testing.T) {
	tc := testinstance.Shared()
	cl := testhelp.NewCluster(t, tc)
	topics := []string{testhelp.CreateTopic(t, tc, 3), testhelp.CreateTopic(t, tc, 3), testhelp.CreateTopic(t, tc, 3)}
	f := newFetcher(t, cl, testhelp.FetcherConfig())
	ctx := testhelp.Ctx(t, 2*time.Minute)
	var pos []engine.Position
	counts := map[engine.TopicPartition]int{}
	for _, topic := range topics {
		produceTopic(t, cl, topic, []int{100, 100, 100})
		for p := range int32(3) {
			pos = append(pos, at(topic, p, 0))
			counts[part(topic, p)] = 100
		}
	}
	if err := f.Assign(ctx, pos); err != nil {
		t.Fatal(err)
	}
	logs := partitionLogs{}
	consume(t, f, time.Minute, logs, haveCounts(counts))

	gone := []engine.TopicPartition{part(topics[1], 0), part(topics[1], 1), part(topics[1], 2)}
	if err := f.Unassign(ctx, gone); err != nil {
		t.Fatal(err)
	}
	for _, tp := range gone {
		delete(counts, tp)
	}
	// Unassigning what is not assigned is ignored.
	if err := f.Unassign(ctx, append(gone, part(topics[0], 99), part(testhelp.UniqueName(t, "topic"), 0))); err != nil {
		t.Fatalf("Unassign of unassigned partitions: %v", err)
	}
	f.mu.Lock()
	n := len(f.parts)
	f.mu.Unlock()
	if n != 6 {
		t.Fatalf("%d partitions assigned after unassigning 3 of 9", n)
	}
	checkSourcesPerBroker(t, f)
	for _, topic := range topics {
		for p := range int32(3) {
			produce(t, cl, topic, p, records.CodecNone, 10, []rec{{key: topic, value: "late"}})
			if topic != topics[1] {
				counts[part(topic, p)]++
			}
		}
	}
	consume(t, f, time.Minute, logs, haveCounts(counts))
	for _, tp := range gone {
		if got := len(logs[tp].msgs); got != 100 {
			t.Fatalf("unassigned %s delivered %d messages, want the 100 from before", tp, got)
		}
	}
	for tp, want := range counts {
		if got := len(logs[tp].msgs); got != want || string(logs[tp].msgs[want-1].Value) != "late" {
			t.Fatalf("%s: %d messages, want %d ending with \"late\"", tp, got, want)
		}
	}
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if fe, err := f.Poll(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Poll after everything was consumed: %s %d messages, %v", fe.TopicPartition, len(fe.Messages), err)
	}
}

// TestTopicDeleted deletes a topic while its partitions are assigned: Poll
// returns one error per partition (ErrUnknownTopic), after the messages
// fetched before, instead of blocking; the partitions pause, a new Assign of
// them is refused, and the other topics' partitions keep fetching. With one
// topic only, the same holds.
func TestTopicDeleted(t *testing.T) {
	for _, others := range []int{0, 1} {
		t.Run(fmt.Sprintf("other_topics=%d", others), func(t *testing.T) { testTopicDeleted(t, others) })
	}
}

func testTopicDeleted(t *testing.T, others int) {
	tc := testinstance.Shared()
	cl := testhelp.NewCluster(t, tc)
	doomed := testhelp.CreateTopic(t, tc, 2)
	produceTopic(t, cl, doomed, []int{10, 10})
	pos := []engine.Position{at(doomed, 0, 0), at(doomed, 1, 0)}
	counts := map[engine.TopicPartition]int{part(doomed, 0): 10, part(doomed, 1): 10}
	var kept []string
	for range others {
		topic := testhelp.CreateTopic(t, tc, 1)
		produceTopic(t, cl, topic, []int{10})
		kept = append(kept, topic)
		pos = append(pos, at(topic, 0, 0))
		counts[part(topic, 0)] = 10
	}
	cfg := testhelp.FetcherConfig()
	warned := &countingHandler{msg: "assigned partition's topic is gone"}
	cfg.Logger = slog.New(warned) // counts the warnings: one per partition
	f := newFetcher(t, cl, cfg)
	ctx := testhelp.Ctx(t, 2*time.Minute)
	if err := f.Assign(ctx, pos); err != nil {
		t.Fatal(err)
	}
	logs := partitionLogs{}
	consume(t, f, time.Minute, logs, haveCounts(counts))

	if err := tc.DeleteTopic(ctx, doomed); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	failed := func(l partitionLogs) bool {
		return len(l[part(doomed, 0)].errs) > 0 && len(l[part(doomed, 1)].errs) > 0
	}
	consume(t, f, time.Minute, logs, failed)
	t.Logf("both partitions failed %v after the deletion", time.Since(start).Round(time.Millisecond))
	for p := range int32(2) {
		l := logs[part(doomed, p)]
		if err := l.errs[0]; len(l.errs) != 1 || !errors.Is(err, kerr.ErrUnknownTopic) {
			t.Fatalf("partition %d: errors %v, want one matching ErrUnknownTopic", p, l.errs)
		}
		if l.next != 10 || len(l.msgs) != 10 {
			t.Fatalf("partition %d: %d messages, NextOffset %d before the error; want 10 and 10", p, len(l.msgs), l.next)
		}
		t.Logf("partition %d: %v", p, l.errs[0])
	}
	f.mu.Lock()
	for p := range int32(2) {
		if c := f.parts[part(doomed, p)]; !c.paused || c.src != nil {
			t.Errorf("partition %d: paused %v, source %v after its error", p, c.paused, c.src)
		}
	}
	f.mu.Unlock()
	if err := f.Assign(ctx, []engine.Position{at(doomed, 0, 10)}); !errors.Is(err, kerr.ErrUnknownTopic) {
		t.Fatalf("Assign of the deleted topic: %v, want ErrUnknownTopic", err)
	}
	if len(kept) > 0 {
		// The others fetch on; no second error for the paused ones.
		for _, topic := range kept {
			produce(t, cl, topic, 0, records.CodecNone, 1, []rec{{key: topic, value: "late"}})
			counts[part(topic, 0)]++
		}
		consume(t, f, time.Minute, logs, haveCounts(counts))
	}
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if fe, err := f.Poll(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Poll after the errors: %s %d messages, %v, %v", fe.TopicPartition, len(fe.Messages), fe.Err, err)
	}
	if n := warned.n.Load(); n != 2 {
		t.Fatalf("%d warnings logged for 2 partitions", n)
	}
}

// TestGone checks how metadata answers decide that a partition's topic is
// gone: deleted, absent after a refresh of every topic, or created again
// (another topic id); not for a transient error or a broker without topic
// ids; and only after goneAnswers distinct answers.
func TestGone(t *testing.T) {
	idA, idB := [16]byte{1}, [16]byte{2}
	c := &cursor{tp: part("t", 1), topicID: idA}
	meta := func(id [16]byte, parts int, err error) *cluster.TopicMeta {
		return &cluster.TopicMeta{Name: "t", ID: id, Partitions: make([]cluster.PartitionMeta, parts), Err: err}
	}
	snapOf := func(t *cluster.TopicMeta) *cluster.Snapshot {
		s := &cluster.Snapshot{Topics: map[string]*cluster.TopicMeta{}}
		if t != nil {
			s.Topics["t"] = t
		}
		return s
	}
	unknown := fmt.Errorf("%w: %q: %w", kerr.ErrUnknownTopic, "t", kerr.UnknownTopicOrPartition)
	for _, tt := range []struct {
		name string
		snap *cluster.Snapshot
		want error
	}{
		{"present", snapOf(meta(idA, 2, nil)), nil},
		{"no topic ids", snapOf(meta([16]byte{}, 2, nil)), nil},
		{"transient error", snapOf(meta(idA, 0, kerr.LeaderNotAvailable)), nil},
		{"deleted", snapOf(meta([16]byte{}, 0, unknown)), kerr.ErrUnknownTopic},
		{"absent", snapOf(nil), kerr.ErrUnknownTopic},
		{"created again", snapOf(meta(idB, 2, nil)), kerr.ErrUnknownTopic},
		{"created again, fewer partitions, no ids", snapOf(meta([16]byte{}, 1, nil)), kerr.ErrUnknownPartition},
	} {
		_, err := gone(c, tt.snap)
		if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}

	f := &fetcher{cfg: testhelp.FetcherConfig(), log: slog.New(slog.DiscardHandler), readyCh: make(chan struct{}, 1)}
	deleted := meta([16]byte{}, 0, unknown)
	s1, s2 := snapOf(deleted), snapOf(deleted) // two snapshots, one answer about the topic
	if f.goneLocked(c, s1) || f.goneLocked(c, s2) || f.goneLocked(c, s1) {
		t.Fatal("one metadata answer failed the partition")
	}
	if f.goneLocked(c, snapOf(meta(idA, 2, nil))) || c.goneSeen != 0 {
		t.Fatalf("the topic is back, yet %d answers still count", c.goneSeen)
	}
	if f.goneLocked(c, s1) || !f.goneLocked(c, snapOf(meta([16]byte{}, 0, unknown))) {
		t.Fatal("two answers in a row did not fail the partition")
	}
	if !c.paused || len(c.fetches) != 1 || !errors.Is(c.fetches[0].Err, kerr.ErrUnknownTopic) || c.fetches[0].TopicPartition != c.tp {
		t.Fatalf("after failing: paused %v, fetches %+v", c.paused, c.fetches)
	}
}

// TestBuildManyTopics checks a source's request: one for the fetchable
// cursors of every topic, grouped by topic with topic ids filled in, the
// cursor whose last answer was cut first; answers matched by topic and
// partition, whether the broker names topics (Fetch up to v12) or only
// gives their ids (v13 and later); and no allocation to build a request once
// the source has built one of that shape.
func TestBuildManyTopics(t *testing.T) {
	cfg := testhelp.FetcherConfig()
	cfg.QueuedMaxBytes = 0 // the rounds built here are never answered: a budget would stay spent
	f := &fetcher{cfg: cfg, sources: map[int32]*source{}}
	s := newSource(f, 1)
	ids := map[string][16]byte{"a": {0xa}, "b": {0xb}, "c": {0xc}}
	var cs []*cursor
	for i, tp := range []engine.TopicPartition{part("a", 0), part("b", 3), part("a", 2), part("c", 0), part("b", 1)} {
		c := &cursor{tp: tp, topicID: ids[tp.Topic], leaderEpoch: 5, fetchAt: int64(100 * i), offset: int64(100 * i)}
		cs = append(cs, c)
		s.add(c)
	}
	cs[4].partial = true // b/1: its last answer held part of a batch
	cs[3].paused = true  // c/0: not fetchable
	r := &round{}
	if _, ok := s.build(r); !ok {
		t.Fatal("build stopped a source that has cursors")
	}
	var got []string
	for _, rt := range s.req.Topics {
		if rt.TopicID != ids[rt.Topic] {
			t.Errorf("topic %s sent with id %x", rt.Topic, rt.TopicID)
		}
		for _, rp := range rt.Partitions {
			got = append(got, fmt.Sprintf("%s/%d@%d", rt.Topic, rp.Partition, rp.FetchOffset))
			if rp.CurrentLeaderEpoch != 5 {
				t.Errorf("%s/%d: leader epoch %d", rt.Topic, rp.Partition, rp.CurrentLeaderEpoch)
			}
		}
	}
	if got[0] != "b/1@400" || len(got) != 4 || len(s.req.Topics) != 2 || len(r.parts) != 4 {
		t.Fatalf("request %v (%d topics, %d parts), want b/1@400 first and a/0, a/2, b/3 in two topics", got, len(s.req.Topics), len(r.parts))
	}
	slices.Sort(got)
	if want := []string{"a/0@0", "a/2@200", "b/1@400", "b/3@100"}; !slices.Equal(got, want) {
		t.Fatalf("request %v, want %v", got, want)
	}

	// The answer lists topics in another order; topic b by id only.
	resp := kmsg.NewPtrFetchResponse()
	for _, name := range []string{"b", "a", "zzz"} {
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic = name
		if name == "b" {
			rt.Topic, rt.TopicID = "", ids["b"]
		}
		for _, p := range []int32{3, 2, 1, 0} {
			rp := kmsg.NewFetchResponseTopicPartition()
			rp.Partition = p
			rp.HighWatermark = int64(len(name))*1000 + int64(p) // tells the answers apart
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	r.resp = resp
	s.scan(r)
	for _, sp := range r.parts {
		if sp.rp == nil {
			t.Fatalf("%s: no answer matched", sp.c.tp)
		}
		if want := int64(len(sp.c.tp.Topic))*1000 + int64(sp.c.tp.Partition); sp.rp.HighWatermark != want || sp.rp.Partition != sp.c.tp.Partition {
			t.Fatalf("%s matched the answer of partition %d (%d)", sp.c.tp, sp.rp.Partition, sp.rp.HighWatermark)
		}
	}

	// Again, with every cursor fetchable: the request's arrays and the
	// maps have room, so building allocates nothing.
	cs[3].paused = false
	s.build(r)
	if allocs := testing.AllocsPerRun(100, func() { s.build(r) }); allocs != 0 {
		t.Fatalf("building a request allocates %.1f times", allocs)
	}
	if n := len(s.req.Topics); n != 3 || len(r.parts) != 5 {
		t.Fatalf("%d topics, %d partitions in the request; want 3 and 5", n, len(r.parts))
	}
}
