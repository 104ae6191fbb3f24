package managed

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/offsets"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestMain(m *testing.M) {
	testinstance.Main(m, testinstance.Config{Brokers: 3, NoZooKeeper: true})
}

// The strategies of the tests: every one, or one per protocol (eager
// Range and CooperativeSticky) for the longer tests.
var (
	allStrategies       = []balance.Strategy{balance.Range, balance.RoundRobin, balance.CooperativeSticky}
	eagerAndCooperative = []balance.Strategy{balance.Range, balance.CooperativeSticky}
)

// forEachStrategy runs test once per strategy, as a subtest named after it.
func forEachStrategy(t *testing.T, strategies []balance.Strategy, test func(t *testing.T, s balance.Strategy)) {
	for _, s := range strategies {
		t.Run(string(s), func(t *testing.T) { test(t, s) })
	}
}

// setup is how most tests begin: a goroutine-leak check (first, so that it
// runs after every other cleanup), a fresh topic of parts partitions and a
// group name, a context that ends after d, and the ledger of the members'
// Handlers.
func setup(t *testing.T, parts int, d time.Duration) (topic, group string, ctx context.Context, l *testhelp.Ledger[TopicPartition]) {
	t.Helper()
	testhelp.NoLeaks(t)
	return testhelp.CreateTopic(t, nil, parts), testhelp.UniqueName(t, "group"), testhelp.Ctx(t, d), testhelp.NewLedger[TopicPartition]()
}

// tps lists partitions of one topic.
func tps(topic string, ps ...int32) []TopicPartition {
	return testhelp.Partitions[TopicPartition](topic, ps...)
}

// allOf lists the partitions 0..n-1 of each topic, sorted.
func allOf(n int, topics ...string) []TopicPartition {
	return testhelp.AllPartitions[TopicPartition](n, topics...)
}

// event is one Handler call.
type event struct {
	kind       string // "revoked", "assigned", "lost"
	partitions []TopicPartition
	gen        int32 // the member's Generation().ID during the call
}

// recorder is a Handler that records its calls and keeps the ledger.
type recorder struct {
	name   string
	ledger *testhelp.Ledger[TopicPartition]

	// onRevoked, if set before Join, runs in Revoked (e.g. to commit).
	onRevoked func(ctx context.Context, ps []TopicPartition, gen offsets.Generation) error

	mu           sync.Mutex
	events       []event
	m            *Member
	revErrs      []error
	slowAssigned time.Duration // block this long in Assigned (with partitions)
	slowRevoked  time.Duration // and in Revoked
}

// slow makes the Handler block in Assigned and Revoked.
func (r *recorder) slow(assigned, revoked time.Duration) {
	r.mu.Lock()
	r.slowAssigned, r.slowRevoked = assigned, revoked
	r.mu.Unlock()
}

func (r *recorder) delays() (assigned, revoked time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.slowAssigned, r.slowRevoked
}

func newRecorder(name string, l *testhelp.Ledger[TopicPartition]) *recorder {
	r := &recorder{name: name, ledger: l}
	return r
}

func (r *recorder) setMember(m *Member) {
	r.mu.Lock()
	r.m = m
	r.mu.Unlock()
}

func (r *recorder) gen() offsets.Generation {
	r.mu.Lock()
	m := r.m
	r.mu.Unlock()
	if m == nil {
		return offsets.Generation{}
	}
	return m.Generation()
}

func (r *recorder) add(kind string, ps []TopicPartition) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var gen int32 = -1
	if r.m != nil {
		gen = r.m.Generation().ID
	}
	r.events = append(r.events, event{kind: kind, partitions: slices.Clone(ps), gen: gen})
}

func (r *recorder) Revoked(ctx context.Context, ps []TopicPartition) error {
	r.add("revoked", ps)
	var err error
	if r.onRevoked != nil {
		err = r.onRevoked(ctx, ps, r.gen())
		r.mu.Lock()
		r.revErrs = append(r.revErrs, err)
		r.mu.Unlock()
	}
	if _, d := r.delays(); d > 0 {
		sleepCtx(ctx, d)
	}
	r.ledger.Release(r.name, ps)
	return err
}

func (r *recorder) Assigned(ctx context.Context, ps []TopicPartition) error {
	r.ledger.Take(r.name, ps)
	r.add("assigned", ps)
	if d, _ := r.delays(); d > 0 && len(ps) > 0 {
		sleepCtx(ctx, d)
	}
	return nil
}

func (r *recorder) Lost(ctx context.Context, ps []TopicPartition) error {
	r.add("lost", ps)
	r.ledger.Release(r.name, ps)
	return nil
}

// sleepCtx is a slow Handler's work: it blocks for d (the point of the
// test), or until the member gives up on it.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// mark returns the number of events so far, to look at what comes after.
func (r *recorder) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// since returns the events after mark.
func (r *recorder) since(mark int) []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events[mark:])
}

// union of the partitions of the events of kind.
func union(evs []event, kind string) []TopicPartition {
	var ps []TopicPartition
	for _, e := range evs {
		if e.kind == kind {
			ps = append(ps, e.partitions...)
		}
	}
	slices.SortFunc(ps, TopicPartition.Compare)
	return slices.Compact(ps)
}

var _ balance.Handler = (*recorder)(nil)

// memberOpts are the fields of Config the tests vary.
type memberOpts struct {
	strategy  balance.Strategy
	session   time.Duration
	heartbeat time.Duration
	instance  string
}

// join makes a member of group reading topic with r as its Handler, closed
// at the end of the test.
func join(t *testing.T, ctx context.Context, cl *cluster.Cluster, group, topic string, o memberOpts, r *recorder) *Member {
	t.Helper()
	return joinSub(t, ctx, cl, group, balance.Subscription{Topics: []string{topic}}, o, r)
}

// joinSub is join with any subscription.
func joinSub(t *testing.T, ctx context.Context, cl *cluster.Cluster, group string, sub balance.Subscription, o memberOpts, r *recorder) *Member {
	t.Helper()
	m, err := joinErr(t, ctx, cl, group, sub, o, r)
	if err != nil {
		t.Fatalf("Join %s: %v", r.name, err)
	}
	return m
}

func joinErr(t *testing.T, ctx context.Context, cl *cluster.Cluster, group string, sub balance.Subscription, o memberOpts, r *recorder) (*Member, error) {
	t.Helper()
	if o.session == 0 {
		o.session = 6 * time.Second
	}
	if o.heartbeat == 0 {
		o.heartbeat = 300 * time.Millisecond
	}
	cfg := Config{
		Group:             group,
		Subscription:      sub,
		Strategy:          o.strategy,
		SessionTimeout:    o.session,
		HeartbeatInterval: o.heartbeat,
		RebalanceTimeout:  20 * time.Second,
		InstanceID:        o.instance,
		ClientID:          r.name,
		Logger:            testhelp.DebugLogger(t),
	}
	start := time.Now()
	m, err := Join(ctx, cl, cfg, r)
	if err != nil {
		return nil, err
	}
	r.setMember(m)
	t.Logf("%s joined in %v: member %s, generation %d, partitions %v", r.name, time.Since(start).Round(time.Millisecond), m.ID(), m.Generation().ID, m.Assigned())
	testhelp.CloseAtEnd(t, r.name, 20*time.Second, m.Close)
	return m, nil
}

// kill makes m vanish like a crashed process: no Revoked, no LeaveGroup,
// no more heartbeats, its connections closed.
func kill(t *testing.T, m *Member) {
	t.Helper()
	m.abandoned.Store(true)
	m.hcancel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Close(ctx); err != nil {
		t.Fatalf("kill: %v", err)
	}
}

// groupView is what DescribeGroups says about a group.
type groupView struct {
	state    string
	protocol string
	members  map[string][]TopicPartition // member id -> its partitions, sorted
	clients  map[string]string           // member id -> client id
	topics   map[string][]string         // member id -> the topics of its subscription (JoinGroup metadata)
}

// describe sends DescribeGroups to the group's coordinator and decodes each
// member's assignment (kmsg.ConsumerMemberAssignment).
func describe(ctx context.Context, cl *cluster.Cluster, group string) (groupView, error) {
	g, err := offsets.NewGroup(cl, group, offsets.GroupOptions{})
	if err != nil {
		return groupView{}, err
	}
	id, err := g.Coordinator(ctx)
	if err != nil {
		return groupView{}, err
	}
	b, err := cl.Broker(id)
	if err != nil {
		return groupView{}, err
	}
	req := kmsg.NewPtrDescribeGroupsRequest()
	req.Groups = []string{group}
	resp, err := b.Request(ctx, req)
	if err != nil {
		return groupView{}, err
	}
	r := resp.(*kmsg.DescribeGroupsResponse)
	if len(r.Groups) != 1 {
		return groupView{}, fmt.Errorf("DescribeGroups: %d groups in the answer", len(r.Groups))
	}
	dg := r.Groups[0]
	if err := kerr.ForCode(dg.ErrorCode); err != nil {
		return groupView{}, err
	}
	v := groupView{state: dg.State, protocol: dg.Protocol, members: map[string][]TopicPartition{}, clients: map[string]string{}, topics: map[string][]string{}}
	for _, dm := range dg.Members {
		a := kmsg.NewConsumerMemberAssignment()
		var ps []TopicPartition
		if len(dm.MemberAssignment) > 0 {
			if err := a.ReadFrom(dm.MemberAssignment); err != nil {
				return v, fmt.Errorf("member %s: assignment: %w", dm.MemberID, err)
			}
			for _, at := range a.Topics {
				ps = append(ps, tps(at.Topic, at.Partitions...)...)
			}
		}
		slices.SortFunc(ps, TopicPartition.Compare)
		v.members[dm.MemberID] = ps
		meta := kmsg.NewConsumerMemberMetadata()
		if err := meta.ReadFrom(dm.ProtocolMetadata); err != nil {
			return v, fmt.Errorf("member %s: metadata: %w", dm.MemberID, err)
		}
		v.topics[dm.MemberID] = meta.Topics
		v.clients[dm.MemberID] = dm.ClientID
	}
	return v, nil
}

// stablePoint polls until the members agree on one generation, own every
// partition of want exactly once between them (and nothing else), and
// DescribeGroups shows the group Stable with exactly these members and
// assignments. It returns the generation and the partitions of each member.
func stablePoint(t *testing.T, ctx context.Context, cl *cluster.Cluster, group string, want []TopicPartition, ms ...*Member) (int32, [][]TopicPartition) {
	t.Helper()
	var why error
	for {
		gen, owned, err := checkStable(ctx, cl, group, want, ms)
		if err == nil {
			return gen, owned
		}
		why = err
		if ctx.Err() != nil {
			t.Fatalf("no stable point: %v", why)
		}
		time.Sleep(20 * time.Millisecond) // polling interval of a condition with a deadline
	}
}

func checkStable(ctx context.Context, cl *cluster.Cluster, group string, want []TopicPartition, ms []*Member) (int32, [][]TopicPartition, error) {
	gen := ms[0].Generation().ID
	owned := make([][]TopicPartition, len(ms))
	for i, m := range ms {
		if g := m.Generation().ID; g != gen || g < 1 {
			return 0, nil, fmt.Errorf("member %d at generation %d, member 0 at %d", i, g, gen)
		}
		owned[i] = m.Assigned()
	}
	if err := testhelp.OwnedOnce(want, owned); err != nil {
		return 0, nil, err
	}
	v, err := describe(ctx, cl, group)
	if err != nil {
		return 0, nil, err
	}
	if v.state != "Stable" || len(v.members) != len(ms) {
		return 0, nil, fmt.Errorf("DescribeGroups: state %s with %d members, want Stable with %d", v.state, len(v.members), len(ms))
	}
	for i, m := range ms {
		got, ok := v.members[m.ID()]
		if !ok || !slices.Equal(got, owned[i]) {
			return 0, nil, fmt.Errorf("DescribeGroups: member %d (%s) assigned %v, it owns %v", i, m.ID(), got, owned[i])
		}
	}
	return gen, owned, nil
}
