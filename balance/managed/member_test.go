package managed

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/offsets"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

func TestJoinValidates(t *testing.T) {
	testhelp.NoLeaks(t)
	cl := testhelp.NewCluster(t, nil)
	ctx := testhelp.Ctx(t, 30*time.Second)
	r := newRecorder("r", testhelp.NewLedger[TopicPartition]())
	good := Config{Group: "g", Subscription: balance.Subscription{Topics: []string{"t"}}}
	for _, c := range []struct {
		field string
		mod   func(*Config)
	}{
		{"Config.Group", func(c *Config) { c.Group = "" }},
		{"Config.Subscription", func(c *Config) { c.Subscription = balance.Subscription{} }},
		{"Config.Subscription", func(c *Config) { c.Subscription.Topics = []string{} }},
		{"Config.Subscription.Topics", func(c *Config) { c.Subscription.Topics = []string{"t", ""} }},
		{"Config.Subscription.Topics", func(c *Config) { c.Subscription.Topics = []string{"a b"} }},
		{"Config.Subscription.Topics", func(c *Config) { c.Subscription.Topics = []string{".."} }},
		{"Config.Subscription.Topics", func(c *Config) { c.Subscription.Topics = []string{strings.Repeat("x", 250)} }},
		{"Config.Subscription.Pattern", func(c *Config) { c.Subscription = balance.Subscription{Pattern: regexp.MustCompile("")} }},
		{"Config.Strategy", func(c *Config) { c.Strategy = "sticky" }},
		{"Config.SessionTimeout", func(c *Config) { c.SessionTimeout = -time.Second }},
		{"Config.SessionTimeout", func(c *Config) { c.SessionTimeout = time.Microsecond }},
		{"Config.SessionTimeout", func(c *Config) { c.SessionTimeout = 1000 * time.Hour }},
		{"Config.HeartbeatInterval", func(c *Config) { c.SessionTimeout, c.HeartbeatInterval = 3*time.Second, 3*time.Second }},
		{"Config.HeartbeatInterval", func(c *Config) { c.HeartbeatInterval = -1 }},
		{"Config.RebalanceTimeout", func(c *Config) { c.RebalanceTimeout = -1 }},
	} {
		cfg := good
		c.mod(&cfg)
		_, err := Join(ctx, cl, cfg, r)
		var ce *kerr.ConfigError
		if !errors.Is(err, kerr.ErrInvalidConfig) || !errors.As(err, &ce) || ce.Field != c.field {
			t.Errorf("%+v: err = %v, want a config error naming %s", cfg, err, c.field)
		}
	}
	if _, err := Join(ctx, nil, good, r); !errors.Is(err, kerr.ErrInvalidConfig) {
		t.Errorf("nil cluster: err = %v", err)
	}
	if _, err := Join(ctx, cl, good, nil); !errors.Is(err, kerr.ErrInvalidConfig) {
		t.Errorf("nil handler: err = %v", err)
	}
	// A pattern alone, or with topics, is a subscription.
	for _, sub := range []balance.Subscription{
		{Pattern: regexp.MustCompile(`t.*`)},
		{Topics: []string{"t"}, Pattern: regexp.MustCompile(`u.*`)},
	} {
		if _, err := (Config{Group: "g", Subscription: sub}).withDefaults(); err != nil {
			t.Errorf("%+v: %v", sub, err)
		}
	}
	// The topics are copied, sorted, without duplicates.
	topics := []string{"b", "a", "b"}
	cfg, err := Config{Group: "g", Subscription: balance.Subscription{Topics: topics}}.withDefaults()
	topics[0] = "changed"
	if err != nil || !slices.Equal(cfg.Subscription.Topics, []string{"a", "b"}) {
		t.Errorf("topics %v, %v; want [a b]", cfg.Subscription.Topics, err)
	}
	// Defaults.
	cfg, err = good.withDefaults()
	if err != nil || cfg.Strategy != balance.Range || cfg.SessionTimeout != 10*time.Second ||
		cfg.HeartbeatInterval != 3*time.Second || cfg.RebalanceTimeout != 60*time.Second {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}
	cfg, err = Config{Group: "g", Subscription: good.Subscription, SessionTimeout: 3 * time.Second}.withDefaults()
	if err != nil || cfg.HeartbeatInterval != time.Second {
		t.Errorf("default heartbeat with a 3s session = %v, %v; want 1s", cfg.HeartbeatInterval, err)
	}
}

// TestJoinRefusedByBroker: a session timeout below the broker's
// group.min.session.timeout.ms (1s on the test cluster) is refused at once
// with a typed error, and nothing is left running.
func TestJoinRefusedByBroker(t *testing.T) {
	testhelp.NoLeaks(t)
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 1)
	ctx := testhelp.Ctx(t, 30*time.Second)
	start := time.Now()
	_, err := Join(ctx, cl, Config{Group: testhelp.UniqueName(t, "group"), Subscription: balance.Subscription{Topics: []string{topic}}, SessionTimeout: 500 * time.Millisecond}, newRecorder("r", testhelp.NewLedger[TopicPartition]()))
	if !errors.Is(err, kerr.InvalidSessionTimeout) {
		t.Fatalf("Join with a 500ms session: err = %v, want INVALID_SESSION_TIMEOUT", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the refusal took %v", took)
	}
}

// TestJoinTimeout: a Join whose context ends returns its error and stops
// everything it started.
func TestJoinTimeout(t *testing.T) {
	testhelp.NoLeaks(t)
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 1)
	ctx, cancel := context.WithTimeout(t.Context(), time.Millisecond)
	defer cancel()
	_, err := Join(ctx, cl, Config{Group: testhelp.UniqueName(t, "group"), Subscription: balance.Subscription{Topics: []string{topic}}}, newRecorder("r", testhelp.NewLedger[TopicPartition]()))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Join with 1ms: err = %v, want context.DeadlineExceeded", err)
	}
}

// TestGrowAndShrink: members join one by one, then leave, with each
// strategy; at every stable point each partition has exactly one owner
// (members' view, DescribeGroups, and the ledger over the whole run).
// Eager members revoke everything at each rebalance; cooperative ones
// never revoke a partition they keep. All members share one cluster view,
// as consumers of one client do.
func TestGrowAndShrink(t *testing.T) {
	forEachStrategy(t, allStrategies, func(t *testing.T, s balance.Strategy) { growAndShrink(t, s, []int{6}) })
}

// growAndShrink is TestGrowAndShrink over topics of these partition
// counts, each member reading all of them. Every member gets its share
// (see shares): of each topic with Range, of the total otherwise.
func growAndShrink(t *testing.T, s balance.Strategy, counts []int) {
	testhelp.NoLeaks(t)
	cl := testhelp.NewCluster(t, nil)
	var want []TopicPartition
	var topics []string
	for _, n := range counts {
		topic := testhelp.CreateTopic(t, nil, n)
		topics = append(topics, topic)
		want = append(want, allOf(n, topic)...)
	}
	slices.SortFunc(want, TopicPartition.Compare)
	group := testhelp.UniqueName(t, "group")
	ctx := testhelp.Ctx(t, 3*time.Minute)
	l := testhelp.NewLedger[TopicPartition]()
	opts := memberOpts{strategy: s}

	var ms []*Member
	var rs []*recorder
	var before [][]TopicPartition // each member's partitions at the last stable point
	var marks []int
	step := func(what string) {
		t.Helper()
		gen, owned := stablePoint(t, ctx, cl, group, want, ms...)
		l.Check(t)
		t.Logf("%s: generation %d, %v", what, gen, owned)
		for i, o := range owned {
			if err := shares(s, want, len(owned), o); err != nil {
				t.Fatalf("%s: unbalanced with %d members: %s %v; all: %v", what, len(owned), rs[i].name, err, owned)
			}
		}
		for i, r := range rs {
			evs := r.since(marks[i])
			if lost := union(evs, "lost"); len(lost) > 0 {
				t.Errorf("%s: %s lost %v", what, r.name, lost)
			}
			if i >= len(before) {
				continue // joined in this step
			}
			revoked := union(evs, "revoked")
			if s == balance.CooperativeSticky {
				for _, p := range revoked {
					if slices.Contains(before[i], p) && slices.Contains(owned[i], p) {
						t.Errorf("%s: %s revoked partition %v, which it kept (revoked %v; before %v, after %v)", what, r.name, p, revoked, before[i], owned[i])
					}
				}
			} else {
				for _, p := range before[i] {
					if !slices.Contains(revoked, p) {
						t.Errorf("%s: eager member %s did not revoke partition %v (revoked %v of %v)", what, r.name, p, revoked, before[i])
					}
				}
			}
		}
		before = owned
		marks = marks[:0]
		for _, r := range rs {
			marks = append(marks, r.mark())
		}
	}
	for _, name := range []string{"a", "b", "c"} {
		r := newRecorder(name, l)
		rs = append(rs, r)
		marks = append(marks, 0)
		ms = append(ms, joinSub(t, ctx, cl, group, balance.Subscription{Topics: topics}, opts, r))
		step(name + " joined")
	}
	if len(topics) > 1 {
		checkTool(t, ctx, cl, group, want) // as Kafka's own tool sees it
	}
	for len(ms) > 1 {
		last := len(ms) - 1
		closed, r := ms[last], rs[last]
		if err := closed.Close(ctx); err != nil {
			t.Fatalf("Close %s: %v", r.name, err)
		}
		if got := union(r.since(marks[last]), "revoked"); !slices.Equal(got, before[last]) {
			t.Errorf("Close revoked %v, the member owned %v", got, before[last])
		}
		if len(closed.Assigned()) != 0 {
			t.Errorf("after Close, Assigned() = %v", closed.Assigned())
		}
		ms, rs, before, marks = ms[:last], rs[:last], before[:last], marks[:last]
		step(r.name + " closed")
	}
	if err := ms[0].Close(ctx); err != nil || ms[0].Close(ctx) != nil {
		t.Fatalf("Close twice: %v", err)
	}
	if ms[0].Err() != nil {
		t.Errorf("Err after Close = %v", ms[0].Err())
	}
}

// TestMemberDeath: a member that vanishes without Close loses its
// partitions to the others once its session times out. The time from its
// death to the reassignment is measured.
func TestMemberDeath(t *testing.T) {
	const parts, session = 6, 3 * time.Second
	topic, group, ctx, l := setup(t, parts, 2*time.Minute)
	opts := memberOpts{session: session, heartbeat: 500 * time.Millisecond}
	var ms []*Member
	var rs []*recorder
	var cls []*cluster.Cluster
	for _, name := range []string{"a", "b", "c"} {
		cl := testhelp.NewCluster(t, nil) // one per member, as separate processes
		r := newRecorder(name, l)
		cls, rs = append(cls, cl), append(rs, r)
		ms = append(ms, join(t, ctx, cl, group, topic, opts, r))
	}
	gen, _ := stablePoint(t, ctx, cls[0], group, allOf(parts, topic), ms...)
	mark := []int{rs[0].mark(), rs[1].mark()}

	died := time.Now()
	kill(t, ms[2])
	l.Forget("c")
	// Poll the survivors' own view first, for the timing.
	for {
		if a, b := ms[0].Assigned(), ms[1].Assigned(); len(a)+len(b) == parts && ms[0].Generation().ID == ms[1].Generation().ID && ms[0].Generation().ID > gen {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the dead member's partitions were never reassigned: %v %v", ms[0].Assigned(), ms[1].Assigned())
		}
		time.Sleep(10 * time.Millisecond) // polling interval of a condition with a deadline
	}
	took := time.Since(died)
	t.Logf("death to reassignment: %v (session timeout %v, heartbeat %v)", took.Round(time.Millisecond), session, opts.heartbeat)
	// The coordinator notices after SessionTimeout (from the last
	// heartbeat, up to one interval before the death); the survivors after
	// their next heartbeat; then one rebalance.
	if took > session+3*time.Second {
		t.Errorf("reassignment took %v, more than the session timeout %v plus 3s", took, session)
	}
	stablePoint(t, ctx, cls[0], group, allOf(parts, topic), ms[:2]...)
	l.Check(t)
	for i := range 2 {
		if lost := union(rs[i].since(mark[i]), "lost"); len(lost) > 0 {
			t.Errorf("survivor %s lost %v", rs[i].name, lost)
		}
	}
}

// TestHeartbeatsLost: a member whose heartbeats do not get through for the
// session timeout reports its partitions lost (no Revoked: it cannot
// commit), and rejoins once they do.
func TestHeartbeatsLost(t *testing.T) {
	const parts, session = 4, 3 * time.Second
	topic, group, ctx, l := setup(t, parts, 2*time.Minute)
	opts := memberOpts{session: session, heartbeat: 500 * time.Millisecond}
	cla, clb := testhelp.NewCluster(t, nil), testhelp.NewCluster(t, nil)
	ra, rb := newRecorder("a", l), newRecorder("b", l)
	a := join(t, ctx, cla, group, topic, opts, ra)
	b := join(t, ctx, clb, group, topic, opts, rb)
	_, owned := stablePoint(t, ctx, cla, group, allOf(parts, topic), a, b)
	mark := rb.mark()

	muted := time.Now()
	b.beat.mute.Store(true)
	testhelp.Eventually(t, session+5*time.Second, "b reports its partitions lost", func() error {
		if lost := union(rb.since(mark), "lost"); !slices.Equal(lost, owned[1]) {
			return errors.New("not yet")
		}
		return nil
	})
	t.Logf("heartbeats muted to Lost: %v (session timeout %v)", time.Since(muted).Round(time.Millisecond), session)
	if revoked := union(rb.since(mark), "revoked"); len(revoked) > 0 {
		t.Errorf("b revoked %v: a member that lost its session cannot commit", revoked)
	}
	b.beat.mute.Store(false)
	_, owned = stablePoint(t, ctx, cla, group, allOf(parts, topic), a, b)
	if len(owned[0]) != 2 || len(owned[1]) != 2 {
		t.Errorf("after b rejoined: %v", owned)
	}
	l.Check(t)
}

// TestSlowHandler: a Handler that blocks longer than the session timeout
// (in Assigned, then in Revoked) does not get its member dropped, because
// heartbeats go on: no rebalance storm.
func TestSlowHandler(t *testing.T) {
	const parts, session, slow = 6, 3 * time.Second, 5 * time.Second
	topic, group, ctx, l := setup(t, parts, 3*time.Minute)
	opts := memberOpts{session: session, heartbeat: 500 * time.Millisecond}
	cla, clb, clc := testhelp.NewCluster(t, nil), testhelp.NewCluster(t, nil), testhelp.NewCluster(t, nil)
	a := join(t, ctx, cla, group, topic, opts, newRecorder("a", l))

	rb := newRecorder("b", l)
	rb.slow(slow, 0)
	start := time.Now()
	b := join(t, ctx, clb, group, topic, opts, rb)
	if took := time.Since(start); took < slow {
		t.Fatalf("b joined in %v: Assigned was not slow", took)
	}
	gen, _ := stablePoint(t, ctx, cla, group, allOf(parts, topic), a, b)
	if a.Rebalances() != 2 || b.Rebalances() != 1 {
		t.Fatalf("rebalances: a %d (want 2: its join and b's), b %d (want 1)", a.Rebalances(), b.Rebalances())
	}
	// A few more heartbeats: still the same generation.
	beats := b.beat.accepted.Load()
	testhelp.Eventually(t, 10*time.Second, "b heartbeats", func() error {
		if b.beat.accepted.Load() < beats+4 {
			return errors.New("not yet")
		}
		return nil
	})
	if a.Generation().ID != gen || b.Generation().ID != gen || a.Rebalances() != 2 {
		t.Fatalf("the group rebalanced without a reason: generation %d -> %d/%d, a rebalances %d", gen, a.Generation().ID, b.Generation().ID, a.Rebalances())
	}

	// Now a slow Revoked: c joins while b takes 5s to give its partitions
	// up. One rebalance, not a storm.
	rb.slow(0, slow)
	c := join(t, ctx, clc, group, topic, opts, newRecorder("c", l))
	gen2, _ := stablePoint(t, ctx, cla, group, allOf(parts, topic), a, b, c)
	if gen2 != gen+1 || a.Rebalances() != 3 || b.Rebalances() != 2 {
		t.Errorf("after c joined: generation %d (want %d), rebalances a %d (want 3), b %d (want 2)", gen2, gen+1, a.Rebalances(), b.Rebalances())
	}
	l.Check(t)
	rb.slow(0, 0) // and a prompt Close
}

// TestCommitGenerations: commits with the member's generation pass, a
// commit with a stale generation is refused (ILLEGAL_GENERATION), and the
// Handler's Revoked commits with the generation that is ending.
func TestCommitGenerations(t *testing.T) {
	testhelp.NoLeaks(t)
	const parts = 4
	topic := testhelp.CreateTopic(t, nil, parts)
	group := testhelp.UniqueName(t, "group")
	ctx := testhelp.Ctx(t, 2*time.Minute)
	cl := testhelp.NewCluster(t, nil)
	g, err := offsets.NewGroup(cl, group, offsets.GroupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l := testhelp.NewLedger[TopicPartition]()
	ra := newRecorder("a", l)
	var revokedWith []offsets.Generation
	ra.onRevoked = func(ctx context.Context, ps []TopicPartition, gen offsets.Generation) error {
		ra.mu.Lock()
		revokedWith = append(revokedWith, gen)
		ra.mu.Unlock()
		offs := map[TopicPartition]offsets.Commit{}
		for _, p := range ps {
			offs[p] = offsets.At(100)
		}
		return g.Commit(ctx, offs, gen)
	}
	a := join(t, ctx, testhelp.NewCluster(t, nil), group, topic, memberOpts{}, ra)
	gen1 := a.Generation()
	if gen1.ID < 1 || gen1.MemberID != a.ID() || gen1.InstanceID != nil {
		t.Fatalf("Generation() = %+v, member %s", gen1, a.ID())
	}
	if err := g.Commit(ctx, map[TopicPartition]offsets.Commit{{Topic: topic}: offsets.At(1)}, a.Generation()); err != nil {
		t.Fatalf("Commit with the member's generation: %v", err)
	}

	b := join(t, ctx, testhelp.NewCluster(t, nil), group, topic, memberOpts{}, newRecorder("b", l))
	gen, _ := stablePoint(t, ctx, cl, group, allOf(parts, topic), a, b)
	if gen == gen1.ID {
		t.Fatalf("b's join did not open a new generation (%d)", gen)
	}
	ra.mu.Lock()
	errs, with := slices.Clone(ra.revErrs), slices.Clone(revokedWith)
	ra.mu.Unlock()
	if len(errs) != 1 || errs[0] != nil || with[0] != gen1 {
		t.Fatalf("Revoked's commits: generations %+v, errors %v; want one successful commit with %+v", with, errs, gen1)
	}
	if err := g.Commit(ctx, map[TopicPartition]offsets.Commit{{Topic: topic}: offsets.At(2)}, gen1); !errors.Is(err, kerr.IllegalGeneration) {
		t.Errorf("Commit with the stale generation %d (group at %d): err = %v, want ILLEGAL_GENERATION", gen1.ID, gen, err)
	}
	for _, m := range []*Member{a, b} {
		if err := g.Commit(ctx, map[TopicPartition]offsets.Commit{m.Assigned()[0]: offsets.At(3)}, m.Generation()); err != nil {
			t.Errorf("Commit with %s's generation %+v: %v", m.ID(), m.Generation(), err)
		}
	}
}

// TestPartitionsAdded: when the topic grows, the members rejoin and the
// new partitions are assigned.
func TestPartitionsAdded(t *testing.T) {
	topic, group, ctx, l := setup(t, 2, 2*time.Minute)
	fast := cluster.Config{MetadataMaxAge: time.Second} // how soon members see the change
	cla, clb := testhelp.NewCluster(t, nil, fast), testhelp.NewCluster(t, nil, fast)
	a := join(t, ctx, cla, group, topic, memberOpts{}, newRecorder("a", l))
	b := join(t, ctx, clb, group, topic, memberOpts{}, newRecorder("b", l))
	stablePoint(t, ctx, cla, group, allOf(2, topic), a, b)

	testhelp.AddPartitions(t, cla, topic, 4)
	start := time.Now()
	_, owned := stablePoint(t, ctx, cla, group, allOf(4, topic), a, b)
	t.Logf("4 partitions assigned %v after CreatePartitions: %v", time.Since(start).Round(time.Millisecond), owned)
	l.Check(t)
}

// TestTopicCreatedLater: a member of a topic that does not exist yet joins
// with nothing, and gets the partitions once the topic is created.
func TestTopicCreatedLater(t *testing.T) {
	testhelp.NoLeaks(t)
	topic := testhelp.UniqueName(t, "topic")
	group := testhelp.UniqueName(t, "group")
	ctx := testhelp.Ctx(t, time.Minute)
	cl := testhelp.NewCluster(t, nil, cluster.Config{MetadataMaxAge: time.Second})
	a := join(t, ctx, cl, group, topic, memberOpts{}, newRecorder("a", testhelp.NewLedger[TopicPartition]()))
	if got := a.Assigned(); len(got) != 0 {
		t.Fatalf("member of a missing topic owns %v", got)
	}
	if err := testinstance.Shared().CreateTopic(ctx, topic, 3, -1, nil); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	stablePoint(t, ctx, cl, group, allOf(3, topic), a)
}

// TestCloseDuringRebalance: Close while the member's JoinGroup waits for a
// slow member returns at once (the JoinGroup is abandoned, LeaveGroup sent
// on the other connection) and the others complete the rebalance without
// it.
func TestCloseDuringRebalance(t *testing.T) {
	const parts = 4
	topic, group, ctx, l := setup(t, parts, 2*time.Minute)
	ra, rb := newRecorder("a", l), newRecorder("b", l)
	a := join(t, ctx, testhelp.NewCluster(t, nil), group, topic, memberOpts{}, ra)
	b := join(t, ctx, testhelp.NewCluster(t, nil), group, topic, memberOpts{}, rb)
	stablePoint(t, ctx, testhelp.NewCluster(t, nil), group, allOf(parts, topic), a, b)
	markA := ra.mark()
	rb.slow(0, 6*time.Second) // b takes its time to revoke: a waits in JoinGroup

	type joined struct {
		m   *Member
		err error
	}
	cc := make(chan joined, 1)
	clc := testhelp.NewCluster(t, nil)
	rc := newRecorder("c", l)
	go func() {
		m, err := joinErr(t, ctx, clc, group, balance.Subscription{Topics: []string{topic}}, memberOpts{}, rc)
		cc <- joined{m, err}
	}()
	testhelp.Eventually(t, 20*time.Second, "a revokes and rejoins", func() error {
		if len(union(ra.since(markA), "revoked")) == 0 {
			return errors.New("not yet")
		}
		return nil
	})
	start := time.Now()
	if err := a.Close(ctx); err != nil {
		t.Fatalf("Close during the rebalance: %v", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Close during the rebalance took %v", took)
	}
	t.Logf("Close during a pending JoinGroup: %v", time.Since(start).Round(time.Millisecond))
	j := <-cc
	if j.err != nil {
		t.Fatalf("c: %v", j.err)
	}
	rb.slow(0, 0)
	stablePoint(t, ctx, clc, group, allOf(parts, topic), b, j.m)
	l.Check(t)
}
