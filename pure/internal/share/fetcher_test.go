package share

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	bshare "github.com/gokafka/kafka/balance/share"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/pure/internal/produce"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// The fetcher on the real cluster, below the root: what the share consumer
// tests (share_test.go, share_group_test.go at the root) do not reach —
// acknowledgements outside the session, a lost connection, Close giving
// records back. Kafka 3.9 has no share groups: this package's tests are
// not part of make test-compat.

func TestMain(m *testing.M) {
	testinstance.Main(m, testinstance.Config{Brokers: 3, NoZooKeeper: true})
}

// group is a share group on the shared cluster reading a fresh topic of
// records (values "p<partition>-<i>"), from the earliest, with one member
// joined for the fetchers to fetch as.
type group struct {
	cl       *cluster.Cluster
	topic    string
	name     string
	memberID string
}

// noHandler is a member's Handler that does nothing: the tests assign
// partitions to fetchers themselves.
type noHandler struct{}

func (noHandler) Assigned(context.Context, []TopicPartitionAlias) error { return nil }
func (noHandler) Revoked(context.Context, []TopicPartitionAlias) error  { return nil }
func (noHandler) Lost(context.Context, []TopicPartitionAlias) error     { return nil }

// TopicPartitionAlias is balance's TopicPartition, as the Handler takes it.
type TopicPartitionAlias = bshare.TopicPartition

func newGroup(t *testing.T, partitions int32, perPartition int) *group {
	t.Helper()
	ctx := testhelp.Ctx(t, 2*time.Minute)
	cl := testhelp.NewCluster(t, nil)
	g := &group{cl: cl, topic: testhelp.CreateTopic(t, nil, int(partitions)), name: testhelp.UniqueName(t, "sg")}
	p, err := produce.New(ctx, cl, testhelp.ProducerConfig())
	if err != nil {
		t.Fatal(err)
	}
	reports := testhelp.NewReports(int(partitions) * perPartition)
	for part := range partitions {
		for i := range perPartition {
			m := &engine.Message{Topic: g.topic, Partition: part, Value: fmt.Appendf(nil, "p%d-%d", part, i), Timestamp: time.Now()}
			if err := p.Produce(ctx, m, reports.Done); err != nil {
				t.Fatal(err)
			}
		}
	}
	reports.Wait(t, time.Minute)
	if errs := reports.Errors(); len(errs) > 0 {
		t.Fatal(errs[0])
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	m, err := bshare.Join(ctx, cl, bshare.Config{Group: g.name, Topics: []string{g.topic},
		GroupConfig: map[string]string{"share.auto.offset.reset": "earliest"}}, noHandler{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	g.memberID = m.ID()
	return g
}

// acks collects a fetcher's acknowledgement outcomes.
type acks struct {
	mu       sync.Mutex
	accepted map[engine.TopicPartition]map[int64]int
	failed   []engine.ShareAckResult
}

func (a *acks) add(rs []engine.ShareAckResult) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.accepted == nil {
		a.accepted = map[engine.TopicPartition]map[int64]int{}
	}
	for _, r := range rs {
		if r.Err != nil {
			a.failed = append(a.failed, r)
			continue
		}
		if a.accepted[r.TopicPartition] == nil {
			a.accepted[r.TopicPartition] = map[int64]int{}
		}
		for o := r.FirstOffset; o <= r.LastOffset; o++ {
			a.accepted[r.TopicPartition][o]++
		}
	}
}

func (a *acks) count() (accepted int, failed []engine.ShareAckResult) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, m := range a.accepted {
		accepted += len(m)
	}
	return accepted, slices.Clone(a.failed)
}

func (g *group) fetcher(t *testing.T, a *acks) *fetcher {
	t.Helper()
	f, err := New(testhelp.Ctx(t, time.Minute), g.cl, engine.ShareFetcherConfig{
		Group: g.name, MemberID: g.memberID, MinBytes: 1, MaxBytes: 1 << 20, MaxWait: 200 * time.Millisecond,
		MaxRecords: 100, ClientID: testhelp.ClientID, Acked: a.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close(context.Background()) })
	return f.(*fetcher)
}

func (g *group) partitions(n int32) []engine.TopicPartition {
	var out []engine.TopicPartition
	for p := range n {
		out = append(out, engine.TopicPartition{Topic: g.topic, Partition: p})
	}
	return out
}

// poll takes fetches until want records came, failing on errors.
func poll(t *testing.T, f *fetcher, want int) []engine.ShareFetch {
	t.Helper()
	ctx := testhelp.Ctx(t, time.Minute)
	var fetches []engine.ShareFetch
	for n := 0; n < want; {
		fe, err := f.Poll(ctx)
		if err != nil {
			t.Fatalf("Poll after %d of %d records: %v", n, want, err)
		}
		if fe.Err != nil {
			t.Fatalf("Poll: %v", fe.Err)
		}
		if !fe.LockDeadline.After(time.Now()) {
			t.Fatalf("a fetch whose locks expired already: %v", fe.LockDeadline)
		}
		fetches = append(fetches, fe)
		n += len(fe.Messages)
	}
	return fetches
}

// messages are the records of fetches.
func messages(fetches []engine.ShareFetch) []*engine.Message {
	var out []*engine.Message
	for _, fe := range fetches {
		out = append(out, fe.Messages...)
	}
	return out
}

// acknowledge is one ack of type t per record of fetches.
func acknowledge(fetches []engine.ShareFetch, t engine.AckType) []engine.ShareAck {
	var out []engine.ShareAck
	for _, fe := range fetches {
		for _, m := range fe.Messages {
			out = append(out, engine.ShareAck{TopicPartition: fe.TopicPartition, FirstOffset: m.Offset, LastOffset: m.Offset, Type: t, Session: fe.Session})
		}
	}
	return out
}

// acceptAll accepts every record of fetches through f and flushes (within
// ctx), then fails the test unless a, f's Acked, counts want records
// accepted and no failure.
func acceptAll(t *testing.T, ctx context.Context, f *fetcher, fetches []engine.ShareFetch, a *acks, want int) {
	t.Helper()
	f.Acknowledge(acknowledge(fetches, engine.AckAccept))
	if err := f.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n, failed := a.count(); n != want || len(failed) > 0 {
		t.Fatalf("accepted %d of %d, failed %v", n, want, failed)
	}
}

// TestFetchAcknowledge: every record of two partitions is acquired once,
// delivery count 1, and accepted; Flush returns once every outcome is in.
func TestFetchAcknowledge(t *testing.T) {
	testhelp.NoLeaks(t)
	g := newGroup(t, 2, 300)
	var a acks
	f := g.fetcher(t, &a)
	if err := f.Assign(testhelp.Ctx(t, time.Minute), g.partitions(2)); err != nil {
		t.Fatal(err)
	}
	fetches := poll(t, f, 600)
	seen := map[string]bool{}
	for _, m := range messages(fetches) {
		if m.DeliveryCount != 1 || seen[string(m.Value)] || string(m.Value) != fmt.Sprintf("p%d-%d", m.Partition, m.Offset) {
			t.Fatalf("%s/%d@%d %q: delivery %d, seen %v", m.Topic, m.Partition, m.Offset, m.Value, m.DeliveryCount, seen[string(m.Value)])
		}
		seen[string(m.Value)] = true
	}
	acceptAll(t, testhelp.Ctx(t, time.Minute), f, fetches, &a, 600)
}

// TestFetchUnassignedAcknowledge: records of a partition that left the
// fetcher (and its share session) can still be acknowledged: they go in a
// ShareAcknowledge.
func TestFetchUnassignedAcknowledge(t *testing.T) {
	testhelp.NoLeaks(t)
	g := newGroup(t, 1, 50)
	var a acks
	f := g.fetcher(t, &a)
	ctx := testhelp.Ctx(t, time.Minute)
	if err := f.Assign(ctx, g.partitions(1)); err != nil {
		t.Fatal(err)
	}
	fetches := poll(t, f, 50)
	if err := f.Unassign(ctx, g.partitions(1)); err != nil {
		t.Fatal(err)
	}
	acceptAll(t, ctx, f, fetches, &a, 50)
}

// TestFetchCloseReleases: Close gives back what the fetcher acquired and
// did not hand out, and what it handed out and nobody acknowledged (the
// session it closes held them): another fetcher of the group gets them,
// delivered a second time. Acknowledging after Close fails, reported.
func TestFetchCloseReleases(t *testing.T) {
	testhelp.NoLeaks(t)
	g := newGroup(t, 2, 200)
	var a, b acks
	first := g.fetcher(t, &a)
	ctx := testhelp.Ctx(t, time.Minute)
	if err := first.Assign(ctx, g.partitions(2)); err != nil {
		t.Fatal(err)
	}
	held := poll(t, first, 1)
	testhelp.WaitUntil(t, 30*time.Second, "a second fetch waiting for Poll", func() bool {
		first.mu.Lock()
		defer first.mu.Unlock()
		return len(first.ready) > 0
	})
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	first.Acknowledge(acknowledge(held[:1], engine.AckAccept)[:1])
	if _, failed := a.count(); len(failed) != 1 || !errors.Is(failed[0].Err, kerr.ErrClosed) {
		t.Fatalf("acknowledging after Close: %v", failed)
	}

	second := g.fetcher(t, &b)
	if err := second.Assign(ctx, g.partitions(2)); err != nil {
		t.Fatal(err)
	}
	fetches := poll(t, second, 400)
	again := 0
	for _, m := range messages(fetches) {
		if m.DeliveryCount > 1 {
			again++
		}
	}
	if n := len(messages(held)); again < n+1 {
		t.Fatalf("%d records delivered again, want the %d handed out and the fetch waiting for Poll", again, n)
	}
	acceptAll(t, ctx, second, fetches, &b, 400)
}

// TestFetchConnectionLost: the fetcher's connections drop mid-way. The
// broker ends the share session with them (its records go back to the
// group); acknowledgements that no longer have a session fail, reported;
// the fetcher opens a new session and gets the records again, and in the
// end every record is accepted exactly once.
func TestFetchConnectionLost(t *testing.T) {
	testhelp.NoLeaks(t)
	const total = 400
	g := newGroup(t, 2, total/2)
	var a acks
	f := g.fetcher(t, &a)
	ctx := testhelp.Ctx(t, 2*time.Minute)
	if err := f.Assign(ctx, g.partitions(2)); err != nil {
		t.Fatal(err)
	}
	first := poll(t, f, 1)
	f.mu.Lock()
	brokers := make([]*cluster.Broker, 0, len(f.brokers))
	for b := range f.brokers {
		brokers = append(brokers, b)
	}
	f.mu.Unlock()
	for _, b := range brokers {
		b.CloseLane(f.lane)
	}
	f.Acknowledge(acknowledge(first, engine.AckAccept))
	for {
		n, _ := a.count()
		if n == total {
			break
		}
		fe, err := f.Poll(ctx)
		if err != nil {
			n, failed := a.count()
			t.Fatalf("Poll with %d of %d accepted (failures %v): %v", n, total, failed, err)
		}
		if fe.Err != nil {
			t.Fatal(fe.Err)
		}
		f.Acknowledge(acknowledge([]engine.ShareFetch{fe}, engine.AckAccept))
		if err := f.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for tp, m := range a.accepted {
		for o, n := range m {
			if n != 1 {
				t.Errorf("%s offset %d accepted %d times", tp, o, n)
			}
		}
	}
	for _, r := range a.failed {
		if !errors.Is(r.Err, kerr.ShareSessionNotFound) && !errors.Is(r.Err, kerr.InvalidShareSessionEpoch) &&
			!errors.Is(r.Err, kerr.InvalidRecordState) && !errors.Is(r.Err, kerr.ErrConnection) {
			t.Errorf("acknowledgement failed: %v", r.Err)
		}
	}
	t.Logf("%d acknowledgements failed with the lost session; every record accepted once", len(a.failed))
}
