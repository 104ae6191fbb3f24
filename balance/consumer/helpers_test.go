package consumer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
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

// The group settings of the tests (testhelp.FastConsumerGroup).
const (
	testHeartbeat = testhelp.FastHeartbeat
	testSession   = testhelp.FastSession
)

// supported reports whether the shared cluster has the consumer protocol
// (Kafka 4.0 and newer). On an older one (make test-compat runs Kafka 3.9)
// it asserts instead that Join fails with kerr.ErrUnsupported, so that every
// test proves something on every cluster, and the caller returns.
func supported(t *testing.T) bool {
	t.Helper()
	v := testinstance.Shared().KafkaVersion()
	if v == "" { // an external cluster whose starter did not say
		v = testinstance.DefaultKafkaVersion
	}
	head, _, _ := strings.Cut(v, ".")
	major, _ := strconv.Atoi(head)
	if major >= 4 {
		return true
	}
	cl := testhelp.NewCluster(t, nil)
	_, err := Join(testhelp.Ctx(t, time.Minute), cl, Config{
		Group:        testhelp.UniqueName(t, "group"),
		Subscription: balance.Subscription{Topics: []string{"any"}},
	}, newRecorder("old-kafka", testhelp.NewLedger[TopicPartition]()))
	if !errors.Is(err, kerr.ErrUnsupported) {
		t.Fatalf("Kafka %s: Join: want kerr.ErrUnsupported, got %v", v, err)
	}
	t.Logf("Kafka %s has no consumer group protocol: Join failed as it should: %v", v, err)
	return false
}

// setup is how most tests begin: a goroutine-leak check (first, so that it
// runs after every other cleanup), a fresh topic of parts partitions, a
// group name with the tests' heartbeat interval and session timeout, a
// context that ends after d, and the ledger of the members' Handlers.
func setup(t *testing.T, parts int, d time.Duration) (topic, group string, ctx context.Context, l *testhelp.Ledger[TopicPartition]) {
	t.Helper()
	testhelp.NoLeaks(t)
	ctx = testhelp.Ctx(t, d)
	group = testhelp.UniqueName(t, "group")
	setGroupConfig(t, ctx, group)
	return testhelp.CreateTopic(t, nil, parts), group, ctx, testhelp.NewLedger[TopicPartition]()
}

// setGroupConfig gives group the tests' heartbeat interval and session
// timeout.
func setGroupConfig(t *testing.T, ctx context.Context, group string) {
	t.Helper()
	testhelp.FastConsumerGroup(t, ctx, testhelp.NewCluster(t, nil), group)
}

// tps lists partitions of one topic.
func tps(topic string, ps ...int32) []TopicPartition {
	return testhelp.Partitions[TopicPartition](topic, ps...)
}

// subOf is the subscription to one topic.
func subOf(topic string) balance.Subscription { return balance.Subscription{Topics: []string{topic}} }

// allOf lists the partitions 0..n-1 of each topic, sorted.
func allOf(n int, topics ...string) []TopicPartition {
	return testhelp.AllPartitions[TopicPartition](n, topics...)
}

// event is one Handler call.
type event struct {
	kind       string // "revoked", "assigned", "lost"
	partitions []TopicPartition
	epoch      int32 // the member's epoch during the call
	at         time.Time
}

// recorder is a Handler that records its calls and keeps the ledger.
type recorder struct {
	name   string
	ledger *testhelp.Ledger[TopicPartition]

	// onRevoked, if set before Join, runs in Revoked (e.g. to commit).
	onRevoked func(ctx context.Context, ps []TopicPartition, gen offsets.Generation) error

	mu     sync.Mutex
	events []event
	m      *Member
}

func newRecorder(name string, l *testhelp.Ledger[TopicPartition]) *recorder {
	return &recorder{name: name, ledger: l}
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
	e := event{kind: kind, partitions: slices.Clone(ps), epoch: r.gen().ID, at: time.Now()}
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) Revoked(ctx context.Context, ps []TopicPartition) error {
	r.add("revoked", ps)
	var err error
	if r.onRevoked != nil {
		err = r.onRevoked(ctx, ps, r.gen())
	}
	r.ledger.Release(r.name, ps)
	return err
}

func (r *recorder) Assigned(ctx context.Context, ps []TopicPartition) error {
	r.ledger.Take(r.name, ps)
	r.add("assigned", ps)
	return nil
}

func (r *recorder) Lost(ctx context.Context, ps []TopicPartition) error {
	r.add("lost", ps)
	r.ledger.Release(r.name, ps)
	return nil
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
	assignor ServerAssignor
	instance string
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
	cfg := Config{
		Group:            group,
		Subscription:     sub,
		ServerAssignor:   o.assignor,
		RebalanceTimeout: 20 * time.Second,
		InstanceID:       o.instance,
		ClientID:         r.name,
		Logger:           testhelp.DebugLogger(t),
	}
	start := time.Now()
	m, err := Join(ctx, cl, cfg, r)
	if err != nil {
		return nil, err
	}
	r.setMember(m)
	t.Logf("%s joined in %v: member %s, epoch %d, partitions %v", r.name, time.Since(start).Round(time.Millisecond), m.ID(), m.Generation().ID, m.Assigned())
	testhelp.CloseAtEnd(t, r.name, 20*time.Second, m.Close)
	return m, nil
}

// kill makes m vanish like a crashed process: no Revoked, no leave, no
// more heartbeats, its connections closed.
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

// groupView is what ConsumerGroupDescribe says about a group.
type groupView struct {
	state   string
	epoch   int32
	members map[string]memberView // by member id
}

type memberView struct {
	epoch    int32
	instance string
	client   string
	assigned []TopicPartition // what the member owns, as the coordinator counts it
	target   []TopicPartition
}

// describe sends ConsumerGroupDescribe to the group's coordinator.
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
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{group}
	resp, err := b.Request(ctx, req)
	if err != nil {
		return groupView{}, err
	}
	r := resp.(*kmsg.ConsumerGroupDescribeResponse)
	if len(r.Groups) != 1 {
		return groupView{}, fmt.Errorf("ConsumerGroupDescribe: %d groups in the answer", len(r.Groups))
	}
	dg := r.Groups[0]
	if err := kerr.WithMessage(dg.ErrorCode, dg.ErrorMessage); err != nil {
		return groupView{}, err
	}
	snap := cl.Snapshot()
	name := func(id [16]byte) string {
		for n, tm := range snap.Topics {
			if tm.ID == id {
				return n
			}
		}
		return fmt.Sprintf("%x", id)
	}
	parts := func(a kmsg.Assignment) []TopicPartition {
		var ps []TopicPartition
		for _, t := range a.TopicPartitions {
			ps = append(ps, tps(name(t.TopicID), t.Partitions...)...)
		}
		slices.SortFunc(ps, TopicPartition.Compare)
		return ps
	}
	v := groupView{state: dg.State, epoch: dg.Epoch, members: map[string]memberView{}}
	for _, dm := range dg.Members {
		mv := memberView{epoch: dm.MemberEpoch, client: dm.ClientID, assigned: parts(dm.Assignment), target: parts(dm.TargetAssignment)}
		if dm.InstanceID != nil {
			mv.instance = *dm.InstanceID
		}
		v.members[dm.MemberID] = mv
	}
	return v, nil
}

// stablePoint polls until the members own every partition of want exactly
// once between them (and nothing else), and ConsumerGroupDescribe shows the
// group Stable with exactly these members, each owning what it believes it
// owns. It returns the partitions of each member.
func stablePoint(t *testing.T, ctx context.Context, cl *cluster.Cluster, group string, want []TopicPartition, ms ...*Member) [][]TopicPartition {
	t.Helper()
	var owned [][]TopicPartition
	testhelp.Eventually(t, time.Until(deadline(ctx)), "a stable point", func() error {
		var err error
		owned, err = checkStable(ctx, cl, group, want, ms)
		return err
	})
	return owned
}

func deadline(ctx context.Context) time.Time {
	d, ok := ctx.Deadline()
	if !ok {
		return time.Now().Add(time.Minute)
	}
	return d
}

func checkStable(ctx context.Context, cl *cluster.Cluster, group string, want []TopicPartition, ms []*Member) ([][]TopicPartition, error) {
	owned := make([][]TopicPartition, len(ms))
	for i, m := range ms {
		owned[i] = m.Assigned()
	}
	if err := testhelp.OwnedOnce(want, owned); err != nil {
		return nil, err
	}
	v, err := describe(ctx, cl, group)
	if err != nil {
		return nil, err
	}
	if v.state != "Stable" || len(v.members) != len(ms) {
		return nil, fmt.Errorf("ConsumerGroupDescribe: state %s with %d members, want Stable with %d", v.state, len(v.members), len(ms))
	}
	for i, m := range ms {
		mv, ok := v.members[m.ID()]
		if !ok || !slices.Equal(mv.assigned, owned[i]) {
			return nil, fmt.Errorf("ConsumerGroupDescribe: member %d (%s) assigned %v, it owns %v", i, m.ID(), mv.assigned, owned[i])
		}
		if g := m.Generation(); g.ID != mv.epoch {
			return nil, fmt.Errorf("member %d at epoch %d, the coordinator says %d", i, g.ID, mv.epoch)
		}
	}
	return owned, nil
}
