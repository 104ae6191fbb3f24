package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/testinstance"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	testinstance.Main(m, testinstance.Config{Brokers: 1})
}

// noLeaks fails the test if goroutines started after this call are still
// running once every later cleanup has run (cleanups run last-in first-out,
// so this one runs after the members, connections and clusters closed).
func noLeaks(t *testing.T) {
	t.Helper()
	before := goleak.IgnoreCurrent()
	// testinstance starts JVMs from one goroutine locked to its thread for
	// the life of the process (see its sysproc_linux.go): not a leak.
	spawner := goleak.IgnoreTopFunction("github.com/gokafka/kafka/testinstance.startCmd.func1.1")
	t.Cleanup(func() { goleak.VerifyNone(t, before, spawner) })
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func uniqueName(t *testing.T, kind string) string {
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	return fmt.Sprintf("%s-%s-%08x", kind, name, rand.Uint32())
}

func testLogger(t *testing.T) *slog.Logger {
	level := slog.LevelInfo
	if os.Getenv("ZKTEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newCluster connects to the brokers of c (the shared cluster when nil).
func newCluster(t *testing.T, c *testinstance.Cluster) *cluster.Cluster {
	t.Helper()
	if c == nil {
		c = testinstance.Shared()
	}
	cl, err := cluster.New(testCtx(t, 30*time.Second), cluster.Config{Bootstrap: c.Brokers(), RetryBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("cluster.New: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func createTopic(t *testing.T, c *testinstance.Cluster, partitions int) string {
	t.Helper()
	if c == nil {
		c = testinstance.Shared()
	}
	topic := uniqueName(t, "topic")
	if err := c.CreateTopic(testCtx(t, 60*time.Second), topic, partitions, 1, nil); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	return topic
}

func zkAddr(c *testinstance.Cluster) string {
	if c == nil {
		c = testinstance.Shared()
	}
	return c.ZooKeeper()
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

// ledger is shared by the recorders of one test: who has each partition,
// as the Handlers see it. A partition Assigned to one Handler while another
// still has it is a violation of "never two owners".
type ledger struct {
	mu         sync.Mutex
	owner      map[balance.TopicPartition]string
	violations []string
}

func newLedger() *ledger { return &ledger{owner: map[balance.TopicPartition]string{}} }

func (l *ledger) check(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.violations) > 0 {
		t.Fatalf("ownership violations:\n%s", strings.Join(l.violations, "\n"))
	}
}

type event struct {
	kind       string // "assigned", "revoked", "lost"
	partitions []balance.TopicPartition
	at         time.Time
}

// recorder is a balance.Handler that records its calls, keeps the ledger,
// and checks the owner nodes while it is called: in Assigned and Revoked
// the node must hold its id (ownership is exclusive, and released only
// after Revoked returned).
type recorder struct {
	t     *testing.T
	name  string
	l     *ledger
	in    *inspector // nil: no node checks (ZooKeeper may be down)
	delay time.Duration
	// revokeErr is what Revoked returns (a failed commit).
	revokeErr error

	mu     sync.Mutex
	owned  map[balance.TopicPartition]bool
	events []event
}

func newRecorder(t *testing.T, name string, l *ledger, in *inspector) *recorder {
	return &recorder{t: t, name: name, l: l, in: in, owned: map[balance.TopicPartition]bool{}}
}

func (r *recorder) nodeCheck(kind string, ps []balance.TopicPartition) {
	if r.in == nil {
		return
	}
	owners, err := r.in.owners()
	if err != nil {
		r.violation("%s %s: reading owners: %v", r.name, kind, err)
		return
	}
	for _, p := range ps {
		if owners[p] != r.name {
			r.violation("%s %s(%v): owner node holds %q", r.name, kind, p, owners[p])
		}
	}
}

func (r *recorder) violation(format string, args ...any) {
	r.l.mu.Lock()
	r.l.violations = append(r.l.violations, fmt.Sprintf(format, args...))
	r.l.mu.Unlock()
}

func (r *recorder) record(kind string, ps []balance.TopicPartition) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.IsSortedFunc(ps, balance.TopicPartition.Compare) {
		r.violation("%s: %s %v, not sorted", r.name, kind, ps)
	}
	r.events = append(r.events, event{kind, slices.Clone(ps), time.Now()})
	for _, p := range ps {
		if kind == "assigned" {
			if r.owned[p] {
				r.violation("%s: assigned %v twice", r.name, p)
			}
			r.owned[p] = true
		} else {
			if !r.owned[p] {
				r.violation("%s: %s %v, which it did not have", r.name, kind, p)
			}
			delete(r.owned, p)
		}
	}
	r.t.Logf("%s: %s %v", r.name, kind, ps)
}

func (r *recorder) Assigned(ctx context.Context, ps []balance.TopicPartition) error {
	r.nodeCheck("Assigned", ps)
	r.l.mu.Lock()
	for _, p := range ps {
		if o, ok := r.l.owner[p]; ok && o != r.name {
			r.l.violations = append(r.l.violations, fmt.Sprintf("%s assigned %v while %s has it", r.name, p, o))
		}
		r.l.owner[p] = r.name
	}
	r.l.mu.Unlock()
	r.record("assigned", ps)
	return nil
}

func (r *recorder) drop(ps []balance.TopicPartition) {
	r.l.mu.Lock()
	for _, p := range ps {
		if r.l.owner[p] == r.name {
			delete(r.l.owner, p)
		}
	}
	r.l.mu.Unlock()
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
	r.drop(ps)
	r.record("revoked", ps)
	return r.revokeErr
}

func (r *recorder) Lost(ctx context.Context, ps []balance.TopicPartition) error {
	r.drop(ps)
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
	out := make([]balance.TopicPartition, len(ps))
	for i, p := range ps {
		out[i] = balance.TopicPartition{Topic: topic, Partition: p}
	}
	return out
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

// waitFor polls cond until it returns nil or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() error) time.Duration {
	t.Helper()
	t0 := time.Now()
	deadline := t0.Add(d)
	for {
		err := cond()
		if err == nil {
			return time.Since(t0)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %s: %v", what, d, err)
		}
		select {
		case <-t.Context().Done():
			t.Fatalf("%s: test ended: %v", what, err)
		case <-time.After(25 * time.Millisecond):
		}
	}
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
	m, err := Join(testCtx(t, 60*time.Second), cl, cfg, h)
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
