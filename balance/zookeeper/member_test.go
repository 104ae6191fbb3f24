package zookeeper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/offsets"
	"github.com/gokafka/kafka/testhelp"
)

func TestConfigErrorsNameTheField(t *testing.T) {
	ok := Config{Servers: []string{"127.0.0.1:2181"}, Group: "g", Subscription: topics("t")}
	cases := []struct {
		field string
		edit  func(*Config)
	}{
		{"Servers", func(c *Config) { c.Servers = nil }},
		{"Servers", func(c *Config) { c.Servers = []string{" ", ""} }},
		{"Group", func(c *Config) { c.Group = "" }},
		{"Group", func(c *Config) { c.Group = "a/b" }},
		{"Group", func(c *Config) { c.Group = ".." }},
		{"Group", func(c *Config) { c.Group = "a\x00b" }},
		{"Subscription", func(c *Config) { c.Subscription = balance.Subscription{} }},
		{"Subscription", func(c *Config) { c.Subscription = balance.Subscription{Topics: []string{}} }},
		{"Subscription.Topics", func(c *Config) { c.Subscription = topics("") }},
		{"Subscription.Topics", func(c *Config) { c.Subscription = topics("a b") }},
		{"Subscription.Topics", func(c *Config) { c.Subscription = topics("a/b") }},
		{"Subscription.Topics", func(c *Config) { c.Subscription = topics("ok", "a/b") }},
		{"Subscription.Topics", func(c *Config) {
			c.Subscription = balance.Subscription{Topics: []string{".."}, Pattern: regexp.MustCompile("x.*")}
		}},
		{"Subscription.Pattern", func(c *Config) { c.Subscription = balance.Subscription{Pattern: regexp.MustCompile("")} }},
		{"Strategy", func(c *Config) { c.Strategy = balance.CooperativeSticky }},
		{"Strategy", func(c *Config) { c.Strategy = "sticky" }},
		{"SessionTimeout", func(c *Config) { c.SessionTimeout = -time.Second }},
		{"RebalanceMaxRetries", func(c *Config) { c.RebalanceMaxRetries = -1 }},
		{"RebalanceBackoff", func(c *Config) { c.RebalanceBackoff = -1 }},
		{"PartitionCheckInterval", func(c *Config) { c.PartitionCheckInterval = -1 }},
		{"ConsumerID", func(c *Config) { c.ConsumerID = "x/y" }},
	}
	for _, tc := range cases {
		c := ok
		tc.edit(&c)
		_, err := c.withDefaults()
		var ce *kerr.ConfigError
		if !errors.Is(err, kerr.ErrInvalidConfig) || !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("%+v: got %v, want a ConfigError for %s", c, err, tc.field)
		}
	}
	c, err := ok.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Strategy != balance.Range || c.SessionTimeout != DefaultSessionTimeout || c.RebalanceMaxRetries != DefaultRebalanceMaxRetries ||
		c.RebalanceBackoff != DefaultRebalanceBackoff || c.PartitionCheckInterval != DefaultPartitionCheckInterval || c.Logger == nil {
		t.Errorf("defaults not applied: %+v", c)
	}
	// The topics are copied, sorted and deduplicated.
	in := []string{"b", "a", "b"}
	c, err = Config{Servers: ok.Servers, Group: "g", Subscription: balance.Subscription{Topics: in}}.withDefaults()
	if err != nil || !slices.Equal(c.Subscription.Topics, []string{"a", "b"}) || !slices.Equal(in, []string{"b", "a", "b"}) {
		t.Errorf("Subscription.Topics %v (from %v): %v", c.Subscription.Topics, in, err)
	}
	// Kafka's old consumer: <group>_<hostname>-<unix ms>-<8 hex>.
	if c, _ := ok.withDefaults(); !regexp.MustCompile(`^g_[^/]+-\d{13}-[0-9a-f]{8}$`).MatchString(c.ConsumerID) {
		t.Errorf("default ConsumerID %q", c.ConsumerID)
	}
	// Join checks its arguments before connecting anywhere.
	if _, err := Join(t.Context(), nil, ok, newRecorder(t, "x", testhelp.NewLedger[balance.TopicPartition](), nil)); !errors.Is(err, kerr.ErrInvalidConfig) {
		t.Errorf("Join with a nil cluster: %v", err)
	}
}

// topics is a Subscription to a list of topics.
func topics(ts ...string) balance.Subscription { return balance.Subscription{Topics: ts} }

func TestSubscriptionFormats(t *testing.T) {
	// What this package writes: the old consumer's JSON.
	at := time.UnixMilli(1700000000123)
	for _, tc := range []struct {
		sub  balance.Subscription
		want string
	}{
		{topics("events"), `{"version":1,"subscription":{"events":1},"pattern":"static","timestamp":"1700000000123"}`},
		{topics("b.x", "a"), `{"version":1,"subscription":{"a":1,"b.x":1},"pattern":"static","timestamp":"1700000000123"}`},
		{balance.Subscription{Pattern: regexp.MustCompile(`ev-.*|<x>`)}, `{"version":1,"subscription":{"ev-.*|<x>":1},"pattern":"white_list","timestamp":"1700000000123"}`},
		// Both: one expression that also matches each listed topic.
		{balance.Subscription{Topics: []string{"a.b"}, Pattern: regexp.MustCompile(`ev-.*`)}, `{"version":1,"subscription":{"(?:ev-.*)|a\\.b":1},"pattern":"white_list","timestamp":"1700000000123"}`},
	} {
		if got := string(registrationData(tc.sub, at)); got != tc.want {
			t.Errorf("registration of %v\n got %s\nwant %s", describe(tc.sub), got, tc.want)
		}
	}
	data := registrationData(topics("events"), at)

	// What other members write, read against this metadata.
	snap := &cluster.Snapshot{Topics: map[string]*cluster.TopicMeta{
		"events":             {Name: "events"},
		"events-eu":          {Name: "events-eu"},
		"other":              {Name: "other"},
		"a.b":                {Name: "a.b"},
		"axb":                {Name: "axb"},
		"__consumer_offsets": {Name: "__consumer_offsets", Internal: true},
		"gone":               {Name: "gone", Err: kerr.ErrUnknownTopic},
	}}
	for _, tc := range []struct {
		data  string
		reads []string // nil: unknown
	}{
		{string(data), []string{"events"}},
		{`{"version":1,"subscription":{"other":1},"pattern":"static","timestamp":"1"}`, []string{"other"}},
		{`{"version":1,"subscription":{"other":1,"events":1,"missing":1},"pattern":"static","timestamp":"1"}`, []string{"events", "missing", "other"}},
		{"events", []string{"events"}}, // PyKafka: the bare topic name
		{"other", []string{"other"}},
		// Patterns match whole names (Java's String.matches), never
		// internal topics nor topics the metadata does not have.
		{`{"version":1,"subscription":{"ev.*":1},"pattern":"white_list","timestamp":"1"}`, []string{"events", "events-eu"}},
		{`{"version":1,"subscription":{"events":1},"pattern":"white_list","timestamp":"1"}`, []string{"events"}},
		{`{"version":1,"subscription":{".*":1},"pattern":"white_list","timestamp":"1"}`, []string{"a.b", "axb", "events", "events-eu", "other"}},
		{`{"version":1,"subscription":{"(?:ev-.*)|a\\.b":1},"pattern":"white_list","timestamp":"1"}`, []string{"a.b"}},
		{`{"version":1,"subscription":{"ev.*|a.b":1},"pattern":"black_list","timestamp":"1"}`, []string{"other"}},
		// Unknown: counted as a reader of this member's topics.
		{`{"version":1,"subscription":{"(?=ev).*":1},"pattern":"white_list","timestamp":"1"}`, nil}, // Java-only syntax
		{`{"version":1,"subscription":{"a":1,"b":1},"pattern":"white_list","timestamp":"1"}`, nil},
		{`{"version":1,"subscription":{},"pattern":"static","timestamp":"1"}`, nil},
		{`{"version":1,"subscription":{"a":1},"pattern":"sometimes","timestamp":"1"}`, nil},
		{"{not json", nil},
		{"", nil},
	} {
		in, err := decodeRegistration([]byte(tc.data))
		if tc.reads == nil {
			if err == nil {
				t.Errorf("decodeRegistration(%s) = %+v, want an error", tc.data, in)
			}
			continue
		}
		if err != nil {
			t.Errorf("decodeRegistration(%s): %v", tc.data, err)
			continue
		}
		if got := in.read(snap); !slices.Equal(got, tc.reads) {
			t.Errorf("decodeRegistration(%s) reads %v, want %v", tc.data, got, tc.reads)
		}
	}
	// What this member reads, from its own Subscription.
	own := ownInterest(balance.Subscription{Topics: []string{"missing"}, Pattern: regexp.MustCompile(`events|a.b`)})
	if got, want := own.read(snap), []string{"a.b", "axb", "events", "missing"}; !slices.Equal(got, want) {
		t.Errorf("own subscription reads %v, want %v", got, want)
	}
	// Partition counts: unknown topics are absent; other errors keep the
	// last count.
	snap.Topics["events"].Partitions = make([]cluster.PartitionMeta, 3)
	snap.Topics["broken"] = &cluster.TopicMeta{Name: "broken", Err: kerr.TopicAuthorizationFailed}
	got := topicCounts(snap, []string{"broken", "events", "gone", "missing"}, map[string]int32{"broken": 4, "gone": 2})
	if want := map[string]int32{"broken": 4, "events": 3}; !maps.Equal(got, want) {
		t.Errorf("topicCounts = %v, want %v", got, want)
	}
	if got, want := countsChange(map[string]int32{"a": 1, "b": 2}, map[string]int32{"b": 3, "c": 1}), "topic b went from 2 to 3 partitions; topic c appeared with 1 partitions; topic a is gone"; got != want {
		t.Errorf("countsChange = %q, want %q", got, want)
	}
	if got := countsChange(map[string]int32{"a": 1}, map[string]int32{"a": 1}); got != "" {
		t.Errorf("countsChange of equal counts = %q", got)
	}
	for _, tc := range []struct {
		name string
		p    int32
		ok   bool
	}{{"0", 0, true}, {"11", 11, true}, {"-1", 0, false}, {"1a", 0, false}, {"", 0, false}, {"99999999999", 0, false}} {
		if p, ok := parsePartition(tc.name); ok != tc.ok || (ok && p != tc.p) {
			t.Errorf("parsePartition(%q) = %d, %v", tc.name, p, ok)
		}
	}
}

// TestGrowAndShrink: 1 -> 2 -> 3 members over 12 partitions with the range
// strategy, then members leave again. At every stable point each partition
// has one owner, in the Handlers and in ZooKeeper, and ranges follow
// partition numbers. Only what moves is revoked.
func TestGrowAndShrink(t *testing.T) {
	f := newFixture(t, nil, 12)
	in, l, group, topic := f.in, f.l, f.group, f.topic
	counts := map[string]int32{topic: 12}
	var ms []*Member
	var recs []*recorder
	for i := range 3 {
		r := newRecorder(t, f.config(i).ConsumerID, l, in)
		recs = append(recs, r)
		ms = append(ms, join(t, f.cl, f.config(i), r))
		took := f.waitStable(30*time.Second, fmt.Sprintf("stable with %d members", i+1), balance.Range, counts, ms, recs)
		t.Logf("%d members: stable %s after Join returned", i+1, took)
		l.Check(t)
	}
	// Range by number: 0-3, 4-7, 8-11 (string order would give 0,1,10,11).
	for i, want := range [][]balance.TopicPartition{tps(topic, 0, 1, 2, 3), tps(topic, 4, 5, 6, 7), tps(topic, 8, 9, 10, 11)} {
		if got := ms[i].Assigned(); !slices.Equal(got, want) {
			t.Fatalf("member %d: %v, want %v", i, got, want)
		}
	}
	// m0 kept 0-3 throughout: it was only ever asked to give up 4-11.
	for _, e := range recs[0].eventsOf("revoked") {
		for _, p := range e.partitions {
			if p.Partition < 4 {
				t.Errorf("m0 revoked %v, which never moved (revoked %v)", p, e.partitions)
			}
		}
	}
	if ms[0].Generation() != (offsets.Generation{}) {
		t.Errorf("Generation() = %+v, want the zero Generation", ms[0].Generation())
	}
	if ms[0].Rebalances() < 3 {
		t.Errorf("m0 Rebalances() = %d, want >= 3", ms[0].Rebalances())
	}

	// The ids node holds the subscription JSON.
	data, _, err := in.conn.Get("/consumers/" + group + "/ids/" + ms[1].ID())
	if err != nil {
		t.Fatal(err)
	}
	var sub registration
	if err := json.Unmarshal(data, &sub); err != nil || sub.Version != 1 || sub.Pattern != "static" || sub.Subscription[topic] != 1 || len(sub.Subscription) != 1 || sub.Timestamp == "" {
		t.Errorf("ids node data %s (%v)", data, err)
	}

	// The middle member leaves: the others share its partitions.
	if err := ms[1].Close(testhelp.Ctx(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := ms[1].Close(testhelp.Ctx(t, 30*time.Second)); err != nil { // idempotent
		t.Fatal(err)
	}
	if got := recs[1].ownedSorted(); len(got) != 0 || recs[1].count("revoked") == 0 {
		t.Errorf("closed member's Handler still has %v", got)
	}
	ms, recs = []*Member{ms[0], ms[2]}, []*recorder{recs[0], recs[2]}
	f.waitStable(30*time.Second, "stable after m1 left", balance.Range, counts, ms, recs)
	l.Check(t)

	// Everyone leaves: no node of the group's members remains.
	for _, m := range ms {
		if err := m.Close(testhelp.Ctx(t, 30*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	owners, err := in.owners()
	if err != nil {
		t.Fatal(err)
	}
	ids, err := in.ids()
	if err != nil {
		t.Fatal(err)
	}
	if len(owners) != 0 || len(ids) != 0 {
		t.Errorf("after Close: owners %v, ids %v", owners, ids)
	}
	l.Check(t)
}

// TestRoundRobin: partitions dealt in turn, with generated consumer ids.
func TestRoundRobin(t *testing.T) {
	f := newFixture(t, nil, 5)
	topic := f.topic
	counts := map[string]int32{topic: 5}
	ms, recs := f.join(2, func(i int, cfg *Config) {
		cfg.Strategy, cfg.ConsumerID = balance.RoundRobin, fmt.Sprintf("%s_host-%d", f.group, i)
	})
	f.waitStable(30*time.Second, "stable", balance.RoundRobin, counts, ms, recs)
	first := ms[0]
	if ms[1].ID() < first.ID() {
		first = ms[1]
	}
	if got := first.Assigned(); !slices.Equal(got, tps(topic, 0, 2, 4)) {
		t.Errorf("first member by id has %v, want [0 2 4]", got)
	}

	// Close reports the Handler's failure to commit; the partitions are
	// released all the same.
	errCommit := errors.New("commit failed")
	recs[0].revokeErr = errCommit
	if err := ms[0].Close(testhelp.Ctx(t, 30*time.Second)); !errors.Is(err, errCommit) {
		t.Errorf("Close: %v, want the Handler's error", err)
	}
	f.waitStable(30*time.Second, "the other owns everything", balance.RoundRobin, counts, ms[1:], recs[1:])
}

// TestSlowRevoke: a member slow to give partitions up makes the newcomer's
// claims fail for a while; the newcomer logs it, rebalances again later and
// gets them, and nobody owns a partition twice.
func TestSlowRevoke(t *testing.T) {
	f := newFixture(t, nil, 4)
	c0, c1 := f.config(0), f.config(1)
	c0.RebalanceMaxRetries, c0.RebalanceBackoff = 2, 100*time.Millisecond
	c1.RebalanceMaxRetries, c1.RebalanceBackoff = 2, 100*time.Millisecond
	r0, r1 := newRecorder(t, "a-"+f.group, f.l, f.in), newRecorder(t, "b-"+f.group, f.l, f.in)
	c0.ConsumerID, c1.ConsumerID = r0.name, r1.name
	m0 := join(t, f.cl, c0, r0)
	r0.delay = 1500 * time.Millisecond // far beyond b's 2 tries 100ms apart
	m1 := join(t, f.cl, c1, r1)        // returns once its first complete rebalance is done
	ms, recs := []*Member{m0, m1}, []*recorder{r0, r1}
	f.waitStable(30*time.Second, "stable", balance.Range, map[string]int32{f.topic: 4}, ms, recs)
	f.l.Check(t)
	// b watches the nodes it could not claim: it takes them as soon as a
	// deletes them, not at its next retry (by then 100ms doubling, and
	// growing).
	revoked, assigned := r0.eventsOf("revoked"), r1.eventsOf("assigned")
	if len(revoked) == 0 || len(assigned) == 0 {
		t.Fatalf("revoked %v, assigned %v", revoked, assigned)
	}
	gap := assigned[0].at.Sub(revoked[0].at)
	t.Logf("handover: b got %v %s after a's Revoked returned", assigned[0].partitions, gap.Round(time.Millisecond))
	if gap > 400*time.Millisecond {
		t.Errorf("b got its partitions %s after a released them", gap)
	}
}

func TestJoinErrors(t *testing.T) {
	testhelp.NoLeaks(t)
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 2)
	l := testhelp.NewLedger[balance.TopicPartition]()

	// Unknown topic: at once, typed.
	_, err := Join(testhelp.Ctx(t, 30*time.Second), cl, Config{Servers: []string{zkAddr(nil)}, Group: testhelp.UniqueName(t, "g"), Subscription: topics(topic, testhelp.UniqueName(t, "missing"))}, newRecorder(t, "x", l, nil))
	if !errors.Is(err, kerr.ErrUnknownTopic) {
		t.Errorf("unknown topic: %v", err)
	}

	// An empty or invalid subscription: at once, naming the field.
	for field, sub := range map[string]balance.Subscription{
		"Subscription":         {},
		"Subscription.Topics":  topics(topic, "no/slash"),
		"Subscription.Pattern": {Pattern: regexp.MustCompile("")},
	} {
		_, err := Join(testhelp.Ctx(t, 30*time.Second), cl, Config{Servers: []string{zkAddr(nil)}, Group: testhelp.UniqueName(t, "g"), Subscription: sub}, newRecorder(t, "x", l, nil))
		var ce *kerr.ConfigError
		if !errors.As(err, &ce) || ce.Field != field {
			t.Errorf("Join with Subscription %+v: %v, want a ConfigError for %s", sub, err, field)
		}
	}

	// No ZooKeeper there: fails when the context ends, with the cause.
	dead := testhelp.ClosedAddr(t)
	t0 := time.Now()
	_, err = Join(testhelp.Ctx(t, 3*time.Second), cl, Config{Servers: []string{dead}, Group: testhelp.UniqueName(t, "g"), Subscription: topics(topic), Logger: testLogger(t)}, newRecorder(t, "x", l, nil))
	if !errors.Is(err, ErrZooKeeper) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("unreachable ZooKeeper: %v", err)
	}
	if took := time.Since(t0); took > 10*time.Second {
		t.Errorf("Join took %s with a 3s context", took)
	}
	t.Logf("unreachable ZooKeeper: %v", err)

	// A consumer id already registered by a live session.
	group := testhelp.UniqueName(t, "g")
	cfg := Config{Servers: []string{zkAddr(nil)}, Group: group, Subscription: topics(topic), ConsumerID: "same"}
	join(t, cl, cfg, newRecorder(t, "same", l, nil))
	_, err = Join(testhelp.Ctx(t, 3*time.Second), cl, cfg, newRecorder(t, "same", l, nil))
	if !errors.Is(err, ErrConsumerIDInUse) {
		t.Errorf("duplicate consumer id: %v", err)
	}
}

// TestNegotiatedTimeout: the member uses the session timeout the server
// granted (testinstance's ZooKeeper has tickTime 500ms, so at most 10s),
// which go-zookeeper only reveals in a log line.
func TestNegotiatedTimeout(t *testing.T) {
	testhelp.NoLeaks(t)
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 1)
	m := join(t, cl, Config{Servers: []string{zkAddr(nil)}, Group: testhelp.UniqueName(t, "g"), Subscription: topics(topic), SessionTimeout: 60 * time.Second}, newRecorder(t, "x", testhelp.NewLedger[balance.TopicPartition](), nil))
	got := m.sess.Timeout()
	if got <= 0 || got >= 60*time.Second {
		t.Fatalf("negotiated timeout %s: the server's cap was not picked up", got)
	}
	t.Logf("asked for 60s, server granted %s", got)
}

// TestRegistrationDeleted: someone deletes a live member's ids node (an
// operator's cleanup script, say). The member notices at the membership
// event, registers again, and the group settles with it.
func TestRegistrationDeleted(t *testing.T) {
	f := newFixture(t, nil, 6)
	in, l, group, topic := f.in, f.l, f.group, f.topic
	ms, recs := f.join(2, nil)
	f.waitStable(30*time.Second, "stable", balance.Range, map[string]int32{topic: 6}, ms, recs)
	before := ms[1].Rebalances()
	if err := in.conn.Delete("/consumers/"+group+"/ids/"+ms[1].ID(), -1); err != nil {
		t.Fatal(err)
	}
	testhelp.Eventually(t, 30*time.Second, "registered again", func() error {
		if ms[1].Rebalances() == before {
			return errors.New("no rebalance yet")
		}
		return stable(in, balance.Range, map[string]int32{topic: 6}, ms, recs)
	})
	l.Check(t)
}

// stuckRevoke is a Handler whose Revoked ignores its context and waits
// for release: the worst a Handler can do to Close.
type stuckRevoke struct {
	*recorder
	release chan struct{}
}

func (s stuckRevoke) Revoked(ctx context.Context, ps []balance.TopicPartition) error {
	<-s.release
	return s.recorder.Revoked(ctx, ps)
}

// TestCloseExpiredCtx: Close returns ctx's error at once when its ctx has
// ended, even while the Handler's Revoked holds the goroutine; the
// goroutine ends (Done) once Revoked returns, and a later Close returns
// the same shutdown's result.
func TestCloseExpiredCtx(t *testing.T) {
	f := newFixture(t, nil, 2)
	cfg := f.config(0)
	h := stuckRevoke{newRecorder(t, cfg.ConsumerID, f.l, f.in), make(chan struct{})}
	m := join(t, f.cl, cfg, h)
	if got := m.Assigned(); len(got) != 2 {
		t.Fatalf("Assigned %v, want both partitions", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := make(chan error, 1)
	start := time.Now()
	go func() { res <- m.Close(ctx) }()
	returned := false
	select {
	case err := <-res:
		returned = true
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Close(expired ctx) = %v, want context.Canceled", err)
		}
		t.Logf("Close returned in %s", time.Since(start).Round(time.Microsecond))
	case <-time.After(5 * time.Second):
		t.Errorf("Close(expired ctx) still waits after 5s (for the Handler)")
	}
	select {
	case <-m.Done():
		t.Errorf("Done before the Handler's Revoked returned")
	default:
	}
	close(h.release)
	if !returned {
		<-res // the Close goroutine's: it ends with the member
	}
	select {
	case <-m.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("not Done 30s after Revoked was released")
	}
	if err := m.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if n := h.count("revoked"); n != 1 {
		t.Errorf("%d Revoked calls, want 1", n)
	}
}
