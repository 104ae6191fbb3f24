package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

func TestMain(m *testing.M) {
	testinstance.Main(m, testinstance.Config{Brokers: 1})
}

func testLogger(t *testing.T) *slog.Logger {
	level := slog.LevelInfo
	if os.Getenv("ZKTEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(testhelp.LogWriter(t), &slog.HandlerOptions{Level: level}))
}

func zkAddr(c *testinstance.Cluster) string {
	if c == nil {
		c = testinstance.Shared()
	}
	return c.ZooKeeper()
}

// fixture is the setting of most tests: a cluster view, a group, the
// test's inspector of the group's nodes, the ledger its members' Handlers
// keep, and (newFixture) a fresh topic.
type fixture struct {
	t  *testing.T
	cl *cluster.Cluster
	zk string // ZooKeeper's address
	// topic is the topic newFixture created, which config subscribes to;
	// "" for newGroup, whose tests create and subscribe to their own.
	topic, group string
	in           *inspector
	l            *testhelp.Ledger[balance.TopicPartition]
	// nodeChecks makes the members' recorders check the owner nodes in
	// Assigned and Revoked (see recorder); off where ZooKeeper goes away.
	nodeChecks bool
}

// newGroup checks for goroutine leaks (first: its check runs after every
// other cleanup), and sets up a group on tc (the shared cluster when nil),
// without a topic.
func newGroup(t *testing.T, tc *testinstance.Cluster) *fixture {
	t.Helper()
	testhelp.NoLeaks(t)
	f := &fixture{t: t, cl: testhelp.NewCluster(t, tc), zk: zkAddr(tc), group: testhelp.UniqueName(t, "group"),
		l: testhelp.NewLedger[balance.TopicPartition](), nodeChecks: true}
	f.in = newInspector(t, f.zk, f.group)
	return f
}

// newFixture is newGroup with a topic of parts partitions, which config
// subscribes to.
func newFixture(t *testing.T, tc *testinstance.Cluster, parts int) *fixture {
	t.Helper()
	f := newGroup(t, tc)
	f.topic = testhelp.CreateTopic(t, tc, parts)
	return f
}

// config is member i's configuration: consumer id m<i>-<group>, subscribed
// to the fixture's topic (to nothing, for newGroup: set Subscription).
func (f *fixture) config(i int) Config {
	cfg := Config{Servers: []string{f.zk}, Group: f.group, ConsumerID: fmt.Sprintf("m%d-%s", i, f.group)}
	if f.topic != "" {
		cfg.Subscription = topics(f.topic)
	}
	return cfg
}

// join starts n members, each with a recorder; mod, if not nil, adjusts
// member i's configuration first.
func (f *fixture) join(n int, mod func(i int, cfg *Config)) ([]*Member, []*recorder) {
	f.t.Helper()
	var ms []*Member
	var recs []*recorder
	for i := range n {
		cfg := f.config(i)
		if mod != nil {
			mod(i, &cfg)
		}
		in := f.in
		if !f.nodeChecks {
			in = nil
		}
		r := newRecorder(f.t, cfg.ConsumerID, f.l, in)
		ms, recs = append(ms, join(f.t, f.cl, cfg, r)), append(recs, r)
	}
	return ms, recs
}

// waitStable waits (up to d) until ms, whose Handlers are recs, settle on
// strategy's assignment of the topics of counts (topic -> partition count;
// see stable), and returns how long that took.
func (f *fixture) waitStable(d time.Duration, what string, strategy balance.Strategy, counts map[string]int32, ms []*Member, recs []*recorder) time.Duration {
	f.t.Helper()
	return testhelp.Eventually(f.t, d, what, func() error { return stable(f.in, strategy, counts, ms, recs) })
}

// inspector is the test's own ZooKeeper connection, to look at the nodes.
type inspector struct {
	conn   *zk.Conn
	group  string
	events <-chan zk.Event
}

func newInspector(t *testing.T, addr, group string) *inspector {
	t.Helper()
	conn, events, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	in := &inspector{conn: conn, events: events, group: group}
	t.Cleanup(func() {
		conn.Close()
		for range events { // closed once its goroutines ended
		}
	})
	return in
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// owners reads /consumers/<group>/owners/<topic>/<partition> for every
// topic: partition -> owner id.
func (in *inspector) owners() (map[balance.TopicPartition]string, error) {
	root := "/consumers/" + in.group + "/owners"
	topics, _, err := in.conn.Children(root)
	if errors.Is(err, zk.ErrNoNode) {
		return map[balance.TopicPartition]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[balance.TopicPartition]string{}
	for _, topic := range topics {
		dir := root + "/" + topic
		names, _, err := in.conn.Children(dir)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			p, ok := parsePartition(n)
			if !ok {
				return nil, fmt.Errorf("owner node with a non-numeric name %s/%q", topic, n)
			}
			data, _, err := in.conn.Get(dir + "/" + n)
			if errors.Is(err, zk.ErrNoNode) {
				continue
			}
			if err != nil {
				return nil, err
			}
			out[balance.TopicPartition{Topic: topic, Partition: p}] = string(data)
		}
	}
	return out, nil
}

func (in *inspector) ids() ([]string, error) {
	ids, _, err := in.conn.Children("/consumers/" + in.group + "/ids")
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	slices.Sort(ids)
	return ids, err
}

type event struct {
	kind       string // "assigned", "revoked", "lost"
	partitions []balance.TopicPartition
	at         time.Time
}

// recorder is a balance.Handler that records its calls, keeps the ledger
// (shared by the recorders of one test: who has each partition, as the
// Handlers see it), and checks the owner nodes while it is called: in
// Assigned and Revoked the node must hold its id (ownership is exclusive,
// and released only after Revoked returned).
type recorder struct {
	t     *testing.T
	name  string
	l     *testhelp.Ledger[balance.TopicPartition]
	in    *inspector // nil: no node checks (ZooKeeper may be down)
	delay time.Duration
	// revokeErr is what Revoked returns (a failed commit).
	revokeErr error

	mu     sync.Mutex
	owned  map[balance.TopicPartition]bool
	events []event
}

func newRecorder(t *testing.T, name string, l *testhelp.Ledger[balance.TopicPartition], in *inspector) *recorder {
	return &recorder{t: t, name: name, l: l, in: in, owned: map[balance.TopicPartition]bool{}}
}

func (r *recorder) nodeCheck(kind string, ps []balance.TopicPartition) {
	if r.in == nil {
		return
	}
	owners, err := r.in.owners()
	if err != nil {
		r.l.Violation("%s %s: reading owners: %v", r.name, kind, err)
		return
	}
	for _, p := range ps {
		if owners[p] != r.name {
			r.l.Violation("%s %s(%v): owner node holds %q", r.name, kind, p, owners[p])
		}
	}
}

func (r *recorder) record(kind string, ps []balance.TopicPartition) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.IsSortedFunc(ps, balance.TopicPartition.Compare) {
		r.l.Violation("%s: %s %v, not sorted", r.name, kind, ps)
	}
	r.events = append(r.events, event{kind, slices.Clone(ps), time.Now()})
	for _, p := range ps {
		if kind == "assigned" {
			if r.owned[p] {
				r.l.Violation("%s: assigned %v twice", r.name, p)
			}
			r.owned[p] = true
		} else {
			if !r.owned[p] {
				r.l.Violation("%s: %s %v, which it did not have", r.name, kind, p)
			}
			delete(r.owned, p)
		}
	}
	r.t.Logf("%s: %s %v", r.name, kind, ps)
}

func (r *recorder) Assigned(ctx context.Context, ps []balance.TopicPartition) error {
	r.nodeCheck("Assigned", ps)
	r.l.Take(r.name, ps)
	r.record("assigned", ps)
	return nil
}

func (r *recorder) Revoked(ctx context.Context, ps []balance.TopicPartition) error {
	r.nodeCheck("Revoked", ps)
	if r.delay > 0 {
		// A slow Handler (committing through a slow coordinator) is the
		// scenario here, not a synchronisation.
		select {
		case <-time.After(r.delay):
		case <-ctx.Done():
		}
	}
	r.l.Release(r.name, ps)
	r.record("revoked", ps)
	return r.revokeErr
}

func (r *recorder) Lost(ctx context.Context, ps []balance.TopicPartition) error {
	r.l.Release(r.name, ps)
	r.record("lost", ps)
	return nil
}

func (r *recorder) ownedSorted() []balance.TopicPartition {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]balance.TopicPartition, 0, len(r.owned))
	for p := range r.owned {
		out = append(out, p)
	}
	slices.SortFunc(out, balance.TopicPartition.Compare)
	return out
}

func (r *recorder) count(kind string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.kind == kind {
			n++
		}
	}
	return n
}

func (r *recorder) eventsOf(kind string) []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []event
	for _, e := range r.events {
		if e.kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// tps lists partitions of one topic.
func tps(topic string, ps ...int32) []balance.TopicPartition {
	return testhelp.Partitions[balance.TopicPartition](topic, ps...)
}

// reads lists the topics of counts that m subscribes to, by its
// configuration (the test's own reading: listed, or whole name matching).
func reads(m *Member, counts map[string]int32) []string {
	var out []string
	s := m.cfg.Subscription
	for topic := range counts {
		if slices.Contains(s.Topics, topic) || s.Pattern != nil && regexp.MustCompile(`^(?:`+s.Pattern.String()+`)$`).MatchString(topic) {
			out = append(out, topic)
		}
	}
	slices.Sort(out)
	return out
}

// stable checks that the group reached the assignment that strategy gives
// for these members over the topics of counts (topic -> partition count;
// each member reads those its Subscription names or matches): each
// member's Assigned, its Handler's view and the owner nodes all agree, each
// partition of a topic someone reads has exactly one owner node, no other
// owner node exists in the group, and the ids nodes are exactly these
// members.
func stable(in *inspector, strategy balance.Strategy, counts map[string]int32, ms []*Member, recs []*recorder) error {
	var ids []string
	var subs []balance.Subscriber
	read := map[string]bool{}
	for _, m := range ms {
		ids = append(ids, m.ID())
		ts := reads(m, counts)
		subs = append(subs, balance.Subscriber{Key: m.ID(), Topics: ts})
		for _, t := range ts {
			read[t] = true
		}
	}
	slices.Sort(ids)
	want := balance.AssignTopics(strategy, subs, counts)
	for i, m := range ms {
		if got := m.Assigned(); !slices.Equal(got, want[m.ID()]) {
			return fmt.Errorf("%s: Assigned() = %v, want %v", m.ID(), got, want[m.ID()])
		}
		if got := recs[i].ownedSorted(); !slices.Equal(got, want[m.ID()]) {
			return fmt.Errorf("%s: Handler has %v, want %v", m.ID(), got, want[m.ID()])
		}
	}
	owners, err := in.owners()
	if err != nil {
		return err
	}
	n := 0
	for t := range read {
		n += int(counts[t])
	}
	if len(owners) != n {
		return fmt.Errorf("%d owner nodes, want %d: %v", len(owners), n, owners)
	}
	for id, ps := range want {
		for _, p := range ps {
			if owners[p] != id {
				return fmt.Errorf("owner node of %v holds %q, want %q", p, owners[p], id)
			}
		}
	}
	zids, err := in.ids()
	if err != nil {
		return err
	}
	if !slices.Equal(zids, ids) {
		return fmt.Errorf("ids nodes %v, want %v", zids, ids)
	}
	return nil
}

// cutter is a ZooKeeper dialer whose connections the test can cut, and
// whose new dials it can refuse: a crashed or partitioned member, as the
// ZooKeeper server sees it.
type cutter struct {
	mu      sync.Mutex
	blocked bool
	conns   []net.Conn
}

func (c *cutter) dial(network, addr string, timeout time.Duration) (net.Conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.blocked {
		return nil, errors.New("cutter: network cut")
	}
	conn, err := net.DialTimeout(network, addr, timeout)
	if err == nil {
		c.conns = append(c.conns, conn)
	}
	return conn, err
}

func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.blocked = true
	for _, conn := range c.conns {
		conn.Close()
	}
	c.conns = nil
}

func (c *cutter) heal() {
	c.mu.Lock()
	c.blocked = false
	c.mu.Unlock()
}

// join starts a member and closes it at the end of the test.
func join(t *testing.T, cl *cluster.Cluster, cfg Config, h balance.Handler) *Member {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	m, err := Join(testhelp.Ctx(t, 60*time.Second), cl, cfg, h)
	if err != nil {
		t.Fatalf("Join(%s): %v", cfg.ConsumerID, err)
	}
	t.Cleanup(func() {
		select {
		case <-m.Done(): // closed by the test, which checked the result
			return
		default:
		}
		if err := m.Close(context.Background()); err != nil {
			t.Errorf("Close(%s): %v", m.ID(), err)
		}
	})
	return m
}
