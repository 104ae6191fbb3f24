package zookeeper

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// Members over several topics, on the shared cluster. stable checks the
// owner nodes in ZooKeeper, not only the members' own view.

// threeTopics creates topics <base>-a, -b and -c (sorted in that order)
// with 4, 3 and 5 partitions.
func threeTopics(t *testing.T) (a, b, c string, counts map[string]int32) {
	base := testhelp.UniqueName(t, "topic")
	a, b, c = base+"-a", base+"-b", base+"-c"
	counts = map[string]int32{a: 4, b: 3, c: 5}
	for _, name := range []string{a, b, c} {
		testhelp.CreateNamedTopic(t, nil, name, int(counts[name]))
	}
	return a, b, c, counts
}

// ownersAre checks the owner nodes against an explicit assignment.
func ownersAre(in *inspector, want map[string][]balance.TopicPartition) error {
	owners, err := in.owners()
	if err != nil {
		return err
	}
	n := 0
	for id, ps := range want {
		n += len(ps)
		for _, p := range ps {
			if owners[p] != id {
				return fmt.Errorf("owner node of %v holds %q, want %q (all: %v)", p, owners[p], id, owners)
			}
		}
	}
	if len(owners) != n {
		return fmt.Errorf("%d owner nodes, want %d: %v", len(owners), n, owners)
	}
	return nil
}

func concat(parts ...[]balance.TopicPartition) []balance.TopicPartition {
	return slices.Concat(parts...)
}

// TestManyTopics: three members over three topics join one by one, then
// leave; after each step every partition of every topic is owned exactly
// once, as the strategy says: Range topic by topic, RoundRobin dealt
// across the topics.
func TestManyTopics(t *testing.T) {
	for _, strategy := range []balance.Strategy{balance.Range, balance.RoundRobin} {
		t.Run(string(strategy), func(t *testing.T) {
			f := newGroup(t, nil)
			in, l, group := f.in, f.l, f.group
			a, b, c, counts := threeTopics(t)
			var ms []*Member
			var recs []*recorder
			for i := range 3 {
				cfg := f.config(i)
				cfg.Subscription, cfg.Strategy = topics(c, a, b), strategy
				r := newRecorder(t, cfg.ConsumerID, l, in)
				ms, recs = append(ms, join(t, f.cl, cfg, r)), append(recs, r)
				took := f.waitStable(30*time.Second, fmt.Sprintf("stable with %d members", i+1), strategy, counts, ms, recs)
				t.Logf("%d members: stable %s after Join returned", i+1, took)
				l.Check(t)
			}
			// The assignment written out, from the owner nodes.
			m0, m1, m2 := ms[0].ID(), ms[1].ID(), ms[2].ID()
			want := map[string][]balance.TopicPartition{
				m0: concat(tps(a, 0, 1), tps(b, 0), tps(c, 0, 1)),
				m1: concat(tps(a, 2), tps(b, 1), tps(c, 2, 3)),
				m2: concat(tps(a, 3), tps(b, 2), tps(c, 4)),
			}
			if strategy == balance.RoundRobin {
				want = map[string][]balance.TopicPartition{
					m0: concat(tps(a, 0, 3), tps(b, 2), tps(c, 2)),
					m1: concat(tps(a, 1), tps(b, 0), tps(c, 0, 3)),
					m2: concat(tps(a, 2), tps(b, 1), tps(c, 1, 4)),
				}
			}
			if err := ownersAre(in, want); err != nil {
				t.Fatal(err)
			}
			// The ids node lists the three topics.
			data, _, err := in.conn.Get("/consumers/" + group + "/ids/" + m1)
			if err != nil {
				t.Fatal(err)
			}
			var reg registration
			if err := json.Unmarshal(data, &reg); err != nil || reg.Pattern != "static" || len(reg.Subscription) != 3 ||
				reg.Subscription[a] != 1 || reg.Subscription[b] != 1 || reg.Subscription[c] != 1 {
				t.Errorf("ids node data %s (%v)", data, err)
			}

			// Members leave: the middle one, then the first.
			for _, leaving := range []int{1, 0} {
				if err := ms[leaving].Close(testhelp.Ctx(t, 30*time.Second)); err != nil {
					t.Fatal(err)
				}
				if got := recs[leaving].ownedSorted(); len(got) != 0 {
					t.Errorf("closed member's Handler still has %v", got)
				}
				if err := ms[leaving].Err(); err != nil {
					t.Errorf("Err() after Close = %v, want nil", err)
				}
				ms, recs = slices.Delete(ms, leaving, leaving+1), slices.Delete(recs, leaving, leaving+1)
				took := f.waitStable(30*time.Second, fmt.Sprintf("stable with %d members", len(ms)), strategy, counts, ms, recs)
				t.Logf("%d members: stable %s after Close returned", len(ms), took)
				l.Check(t)
			}
			if err := ownersAre(in, map[string][]balance.TopicPartition{m2: concat(tps(a, 0, 1, 2, 3), tps(b, 0, 1, 2), tps(c, 0, 1, 2, 3, 4))}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestOverlappingSubscriptions: members that read different, overlapping
// topic lists. Each topic's partitions are split among its readers only.
// A listed topic that is deleted is revoked from its readers.
func TestOverlappingSubscriptions(t *testing.T) {
	for _, strategy := range []balance.Strategy{balance.Range, balance.RoundRobin} {
		t.Run(string(strategy), func(t *testing.T) {
			f := newGroup(t, nil)
			in, l := f.in, f.l
			base := testhelp.UniqueName(t, "topic")
			a, b, c := base+"-a", base+"-b", base+"-c"
			counts := map[string]int32{a: 4, b: 6, c: 3}
			for _, name := range []string{a, b, c} {
				testhelp.CreateNamedTopic(t, nil, name, int(counts[name]))
			}
			subs := []balance.Subscription{topics(a, b), topics(b, c), topics(c)}
			ms, recs := f.join(len(subs), func(i int, cfg *Config) {
				cfg.Subscription, cfg.Strategy, cfg.PartitionCheckInterval = subs[i], strategy, 300*time.Millisecond
			})
			f.waitStable(30*time.Second, "stable", strategy, counts, ms, recs)
			m0, m1, m2 := ms[0].ID(), ms[1].ID(), ms[2].ID()
			// a: m0 alone; b: m0 and m1; c: m1 and m2.
			want := map[string][]balance.TopicPartition{
				m0: concat(tps(a, 0, 1, 2, 3), tps(b, 0, 1, 2)),
				m1: concat(tps(b, 3, 4, 5), tps(c, 0, 1)),
				m2: tps(c, 2),
			}
			if strategy == balance.RoundRobin {
				// Dealt in turn over a/0..3, b/0..5, c/0..2, skipping
				// members that do not read the topic.
				want = map[string][]balance.TopicPartition{
					m0: concat(tps(a, 0, 1, 2, 3), tps(b, 1, 3, 5)),
					m1: concat(tps(b, 0, 2, 4), tps(c, 0, 2)),
					m2: tps(c, 1),
				}
			}
			if err := ownersAre(in, want); err != nil {
				t.Fatal(err)
			}
			l.Check(t)

			// m1 leaves: b goes to m0 alone, c to m2 alone.
			if err := ms[1].Close(testhelp.Ctx(t, 30*time.Second)); err != nil {
				t.Fatal(err)
			}
			ms, recs = []*Member{ms[0], ms[2]}, []*recorder{recs[0], recs[2]}
			testhelp.Eventually(t, 30*time.Second, "stable after m1 left", func() error {
				if err := stable(in, strategy, counts, ms, recs); err != nil {
					return err
				}
				return ownersAre(in, map[string][]balance.TopicPartition{
					m0: concat(tps(a, 0, 1, 2, 3), tps(b, 0, 1, 2, 3, 4, 5)),
					m2: tps(c, 0, 1, 2),
				})
			})
			l.Check(t)

			// b is deleted: m0 is left with a (no pattern here: the
			// metadata reports b unknown rather than leaving it out).
			revokedBefore := len(recs[0].eventsOf("revoked"))
			if err := testinstance.Shared().DeleteTopic(testhelp.Ctx(t, 60*time.Second), b); err != nil {
				t.Fatal(err)
			}
			delete(counts, b)
			testhelp.Eventually(t, 30*time.Second, "stable after b was deleted", func() error {
				if err := stable(in, strategy, counts, ms, recs); err != nil {
					return err
				}
				return ownersAre(in, map[string][]balance.TopicPartition{m0: tps(a, 0, 1, 2, 3), m2: tps(c, 0, 1, 2)})
			})
			if ev := recs[0].eventsOf("revoked"); len(ev) != revokedBefore+1 || !slices.Equal(ev[revokedBefore].partitions, tps(b, 0, 1, 2, 3, 4, 5)) {
				t.Errorf("m0's Revoked calls %v, want one more for all of %s", ev, b)
			}
			if n := recs[0].count("lost"); n != 0 {
				t.Errorf("m0 lost partitions %d times", n)
			}
			l.Check(t)
		})
	}
}

// TestPatternSubscription: two members subscribe to a pattern and a third
// to a list of two topics that the pattern matches. A topic created later that
// matches is picked up within the check interval, a deleted one is revoked
// (not lost: its owners are told in time to commit), and a topic whose name
// only partly matches is never read. RoundRobin deals across every topic,
// so the static member only computes the same assignment if it evaluates
// its peers' patterns on its own metadata.
func TestPatternSubscription(t *testing.T) {
	f := newGroup(t, nil)
	in, l, group := f.in, f.l, f.group
	base := testhelp.UniqueName(t, "pat")
	// t0, created later, sorts first: RoundRobin deals its partitions
	// first, which moves the static member's share too.
	t0, t1, t2, partial := base+"-0", base+"-1", base+"-2", base+"-1x"
	testhelp.CreateNamedTopic(t, nil, t1, 3)
	testhelp.CreateNamedTopic(t, nil, t2, 2)
	testhelp.CreateNamedTopic(t, nil, partial, 2)
	pattern := regexp.MustCompile(regexp.QuoteMeta(base) + `-\d+`)
	const check = 300 * time.Millisecond
	subs := []balance.Subscription{{Pattern: pattern}, {Pattern: pattern}, topics(t1, t2)}
	ms, recs := f.join(len(subs), func(i int, cfg *Config) {
		cfg.Subscription, cfg.Strategy, cfg.PartitionCheckInterval = subs[i], balance.RoundRobin, check
	})
	counts := map[string]int32{t1: 3, t2: 2}
	f.waitStable(30*time.Second, "stable over two topics", balance.RoundRobin, counts, ms, recs)
	// Dealt over t1/0..2, t2/0..1: m0, m1, m2 for t1; t2 skips m2.
	m0, m1, m2 := ms[0].ID(), ms[1].ID(), ms[2].ID()
	if err := ownersAre(in, map[string][]balance.TopicPartition{
		m0: concat(tps(t1, 0), tps(t2, 0)), m1: concat(tps(t1, 1), tps(t2, 1)), m2: tps(t1, 2),
	}); err != nil {
		t.Fatal(err)
	}
	l.Check(t)
	// The old consumer's wildcard registration.
	data, _, err := in.conn.Get("/consumers/" + group + "/ids/" + m0)
	if err != nil {
		t.Fatal(err)
	}
	var reg registration
	if err := json.Unmarshal(data, &reg); err != nil || reg.Pattern != "white_list" || len(reg.Subscription) != 1 || reg.Subscription[pattern.String()] != 1 {
		t.Errorf("ids node data %s (%v)", data, err)
	}

	// A topic created now that matches.
	start := time.Now()
	testhelp.CreateNamedTopic(t, nil, t0, 4)
	created := time.Since(start)
	counts[t0] = 4
	took := testhelp.Eventually(t, 30*time.Second, "stable with the new topic", func() error {
		if err := stable(in, balance.RoundRobin, counts, ms, recs); err != nil {
			return err
		}
		return ownersAre(in, map[string][]balance.TopicPartition{
			m0: concat(tps(t0, 0, 2), tps(t1, 1), tps(t2, 1)), m1: concat(tps(t0, 1, 3), tps(t1, 2)), m2: concat(tps(t1, 0), tps(t2, 0)),
		})
	})
	t.Logf("MEASURED: topic created (CreateTopic took %s); the group owned its partitions %s later (check interval %s)",
		created.Round(time.Millisecond), took.Round(time.Millisecond), check)
	l.Check(t)

	// A topic deleted: its partitions are revoked, their nodes deleted.
	owned := map[balance.TopicPartition]string{}
	for i, m := range ms {
		for _, tp := range m.Assigned() {
			if tp.Topic == t2 {
				owned[tp] = recs[i].name
			}
		}
	}
	if len(owned) != 2 {
		t.Fatalf("owners of %s: %v", t2, owned)
	}
	if err := testinstance.Shared().DeleteTopic(testhelp.Ctx(t, 60*time.Second), t2); err != nil {
		t.Fatal(err)
	}
	delete(counts, t2)
	f.waitStable(30*time.Second, "stable without the deleted topic", balance.RoundRobin, counts, ms, recs)
	for tp, owner := range owned {
		var r *recorder
		for _, rec := range recs {
			if rec.name == owner {
				r = rec
			}
		}
		revoked := false
		for _, e := range r.eventsOf("revoked") {
			revoked = revoked || slices.Contains(e.partitions, tp)
		}
		if !revoked || r.count("lost") != 0 {
			t.Errorf("%s owned %v of the deleted topic: revoked %v, lost %v", owner, tp, r.eventsOf("revoked"), r.eventsOf("lost"))
		}
	}
	l.Check(t)
}

// TestClusterClosed: the client's cluster closes under a member. It stops
// by itself: its partitions are lost (no commit through a closed client),
// Done is closed, Err says why, and the others take its partitions.
func TestClusterClosed(t *testing.T) {
	f := newGroup(t, nil)
	a, b, c, counts := threeTopics(t)
	// A cluster view for each member: m1's is closed under it.
	cls := []*cluster.Cluster{f.cl, testhelp.NewCluster(t, nil)}
	var ms []*Member
	var recs []*recorder
	for i, cl := range cls {
		cfg := f.config(i)
		cfg.Subscription = topics(a, b, c)
		r := newRecorder(t, cfg.ConsumerID, f.l, f.in)
		ms, recs = append(ms, join(t, cl, cfg, r)), append(recs, r)
	}
	f.waitStable(30*time.Second, "stable", balance.Range, counts, ms, recs)
	had := ms[1].Assigned()
	select {
	case <-ms[1].Done():
		t.Fatal("Done closed while the member runs")
	default:
	}
	if err := ms[1].Err(); err != nil {
		t.Fatalf("Err() while running = %v", err)
	}
	cls[1].Close()
	select {
	case <-ms[1].Done():
	case <-time.After(30 * time.Second):
		t.Fatal("the member did not stop after its cluster closed")
	}
	if err := ms[1].Err(); !errors.Is(err, kerr.ErrClosed) {
		t.Errorf("Err() = %v, want kerr.ErrClosed", err)
	}
	lost := recs[1].eventsOf("lost")
	if len(lost) != 1 || !slices.Equal(lost[0].partitions, had) || recs[1].count("revoked") != 0 {
		t.Errorf("Lost calls %v, Revoked %v; want one Lost(%v)", lost, recs[1].eventsOf("revoked"), had)
	}
	f.waitStable(30*time.Second, "the other owns everything", balance.Range, counts, ms[:1], recs[:1])
	if err := ms[1].Close(testhelp.Ctx(t, 10*time.Second)); err != nil {
		t.Errorf("Close after stopping: %v", err)
	}
	if err := ms[1].Err(); !errors.Is(err, kerr.ErrClosed) {
		t.Errorf("Err() after Close = %v, still want kerr.ErrClosed", err)
	}
	f.l.Check(t)
}

// TestPartitionCountChange: more partitions for one of the group's topics
// make the members rebalance over the new counts. With RoundRobin the
// partitions of the next topic are dealt differently too.
func TestPartitionCountChange(t *testing.T) {
	f := newGroup(t, nil)
	in := f.in
	base := testhelp.UniqueName(t, "topic")
	a, b := base+"-a", base+"-b"
	counts := map[string]int32{a: 2, b: 3}
	testhelp.CreateNamedTopic(t, nil, a, 2)
	testhelp.CreateNamedTopic(t, nil, b, 3)
	ms, recs := f.join(2, func(_ int, cfg *Config) {
		cfg.Subscription, cfg.Strategy, cfg.PartitionCheckInterval = topics(a, b), balance.RoundRobin, 300*time.Millisecond
	})
	m0, m1 := ms[0].ID(), ms[1].ID()
	testhelp.Eventually(t, 30*time.Second, "stable", func() error {
		if err := stable(in, balance.RoundRobin, counts, ms, recs); err != nil {
			return err
		}
		return ownersAre(in, map[string][]balance.TopicPartition{m0: concat(tps(a, 0), tps(b, 0, 2)), m1: concat(tps(a, 1), tps(b, 1))})
	})

	testhelp.AddPartitions(t, f.cl, a, 3)
	counts[a] = 3
	took := testhelp.Eventually(t, 30*time.Second, "stable over 3 partitions of a", func() error {
		if err := stable(in, balance.RoundRobin, counts, ms, recs); err != nil {
			return err
		}
		return ownersAre(in, map[string][]balance.TopicPartition{m0: concat(tps(a, 0, 2), tps(b, 1)), m1: concat(tps(a, 1), tps(b, 0, 2))})
	})
	t.Logf("partitions of %s 2 -> 3: stable again %s after CreatePartitions returned (check interval 300ms)", a, took.Round(time.Millisecond))
	f.l.Check(t)
}
