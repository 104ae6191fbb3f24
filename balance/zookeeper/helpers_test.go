package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
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

// fixture is the setting of most tests: a cluster view, a fresh topic and
// group, the test's inspector of the group's nodes, and the ledger its
// members' Handlers keep.
type fixture struct {
	t            *testing.T
	cl           *cluster.Cluster
	zk           string // ZooKeeper's address
	topic, group string
	in           *inspector
	l            *testhelp.Ledger
	// nodeChecks makes the members' recorders check the owner nodes in
	// Assigned and Revoked (see recorder); off where ZooKeeper goes away.
	nodeChecks bool
}

// newFixture checks for goroutine leaks (first: its check runs after every
// other cleanup), and sets up a topic of parts partitions and a group on tc
// (the shared cluster when nil).
func newFixture(t *testing.T, tc *testinstance.Cluster, parts int) *fixture {
	t.Helper()
	testhelp.NoLeaks(t)
	f := &fixture{t: t, cl: testhelp.NewCluster(t, tc), zk: zkAddr(tc), topic: testhelp.CreateTopic(t, tc, parts),
		group: testhelp.UniqueName(t, "group"), l: testhelp.NewLedger(), nodeChecks: true}
	f.in = newInspector(t, f.zk, f.group, f.topic)
	return f
}

// config is member i's configuration: consumer id m<i>-<group>.
func (f *fixture) config(i int) Config {
	return Config{Servers: []string{f.zk}, Group: f.group, Topic: f.topic, ConsumerID: fmt.Sprintf("m%d-%s", i, f.group)}
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
// strategy's assignment of parts partitions (see stable), and returns how
// long that took.
func (f *fixture) waitStable(d time.Duration, what string, strategy balance.Strategy, parts int, ms []*Member, recs []*recorder) time.Duration {
	f.t.Helper()
	return testhelp.Eventually(f.t, d, what, func() error { return stable(f.in, strategy, parts, ms, recs) })
}

// inspector is the test's own ZooKeeper connection, to look at the nodes.
type inspector struct {
	conn         *zk.Conn
	group, topic string
	events       <-chan zk.Event
}

func newInspector(t *testing.T, addr, group, topic string) *inspector {
	t.Helper()
	conn, events, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	in := &inspector{conn: conn, events: events, group: group, topic: topic}
	t.Cleanup(func() {
		conn.Close()
		for range events { // closed once its goroutines ended
		}
	})
	return in
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// owners reads /consumers/<group>/owners/<topic>: partition -> owner id.
func (in *inspector) owners() (map[int32]string, error) {
	dir := "/consumers/" + in.group + "/owners/" + in.topic
	names, _, err := in.conn.Children(dir)
	if errors.Is(err, zk.ErrNoNode) {
		return map[int32]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := map[int32]string{}
	for _, n := range names {
		p, ok := parsePartition(n)
		if !ok {
			return nil, fmt.Errorf("owner node with a non-numeric name %q", n)
		}
		data, _, err := in.conn.Get(dir + "/" + n)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[p] = string(data)
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
	partitions []int32
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
	l     *testhelp.Ledger
	in    *inspector // nil: no node checks (ZooKeeper may be down)
	delay time.Duration
	// revokeErr is what Revoked returns (a failed commit).
	revokeErr error

	mu     sync.Mutex
	owned  map[int32]bool
	events []event
}

func newRecorder(t *testing.T, name string, l *testhelp.Ledger, in *inspector) *recorder {
	return &recorder{t: t, name: name, l: l, in: in, owned: map[int32]bool{}}
}

func (r *recorder) nodeCheck(kind string, ps []int32) {
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
			r.l.Violation("%s %s(%d): owner node holds %q", r.name, kind, p, owners[p])
		}
	}
}

func (r *recorder) record(kind string, ps []int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, event{kind, slices.Clone(ps), time.Now()})
	for _, p := range ps {
		if kind == "assigned" {
			if r.owned[p] {
				r.l.Violation("%s: assigned %d twice", r.name, p)
			}
			r.owned[p] = true
		} else {
			if !r.owned[p] {
				r.l.Violation("%s: %s %d, which it did not have", r.name, kind, p)
			}
			delete(r.owned, p)
		}
	}
	r.t.Logf("%s: %s %v", r.name, kind, ps)
}

func (r *recorder) Assigned(ctx context.Context, ps []int32) error {
	r.nodeCheck("Assigned", ps)
	r.l.Take(r.name, ps)
	r.record("assigned", ps)
	return nil
}

func (r *recorder) Revoked(ctx context.Context, ps []int32) error {
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

func (r *recorder) Lost(ctx context.Context, ps []int32) error {
	r.l.Release(r.name, ps)
	r.record("lost", ps)
	return nil
}

func (r *recorder) ownedSorted() []int32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]int32, 0, len(r.owned))
	for p := range r.owned {
		out = append(out, p)
	}
	slices.Sort(out)
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

// stable checks that the group reached the assignment that strategy gives
// for these members over n partitions: each member's Assigned, its
// Handler's view and the owner nodes all agree, each partition has exactly
// one owner, and the ids nodes are exactly these members.
func stable(in *inspector, strategy balance.Strategy, n int, ms []*Member, recs []*recorder) error {
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.ID())
	}
	slices.Sort(ids)
	all := make([]int32, n)
	for i := range all {
		all[i] = int32(i)
	}
	want := balance.Assign(strategy, ids, all)
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
	if len(owners) != n {
		return fmt.Errorf("%d owner nodes, want %d: %v", len(owners), n, owners)
	}
	for id, ps := range want {
		for _, p := range ps {
			if owners[p] != id {
				return fmt.Errorf("owner node of %d holds %q, want %q", p, owners[p], id)
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
		case <-m.done: // closed by the test, which checked the result
			return
		default:
		}
		if err := m.Close(context.Background()); err != nil {
			t.Errorf("Close(%s): %v", m.ID(), err)
		}
	})
	return m
}
