package offsets

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testhelp"
)

func TestNewGroupValidates(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	if _, err := NewGroup(cl, "", GroupOptions{}); !errors.Is(err, kerr.ErrNoGroup) {
		t.Errorf("empty group id: err = %v, want kerr.ErrNoGroup", err)
	}
	if _, err := NewGroup(nil, "g", GroupOptions{}); !errors.Is(err, kerr.ErrInvalidConfig) {
		t.Errorf("nil cluster: err = %v, want kerr.ErrInvalidConfig", err)
	}
	g := newGroup(t, cl)
	ctx := testhelp.Ctx(t, 10*time.Second)
	if err := g.Commit(ctx, on("", map[int32]Commit{0: At(1)}), Generation{}); !errors.Is(err, kerr.ErrInvalidTopic) {
		t.Errorf("Commit to empty topic: err = %v, want kerr.ErrInvalidTopic", err)
	}
	if _, err := g.Fetch(ctx, tps("", 0)); !errors.Is(err, kerr.ErrInvalidTopic) {
		t.Errorf("Fetch of empty topic: err = %v, want kerr.ErrInvalidTopic", err)
	}
	if err := g.Commit(ctx, nil, Generation{}); err != nil {
		t.Errorf("Commit of nothing: %v", err)
	}
	if got, err := g.Fetch(ctx, nil); err != nil || len(got) != 0 {
		t.Errorf("Fetch of nothing = %v, %v; want an empty map", got, err)
	}
	err := g.Commit(ctx, map[TopicPartition]Commit{part("t", -1): At(1), part("t", 0): At(-5), part("", 0): At(1)}, Generation{})
	pe := Partitions(err)
	if !errors.Is(pe[part("t", -1)], kerr.ErrUnknownPartition) || !errors.Is(pe[part("t", 0)], kerr.ErrInvalidConfig) ||
		!errors.Is(pe[part("", 0)], kerr.ErrInvalidTopic) || len(pe) != 3 {
		t.Errorf("Commit of partition -1, offset -5 and an empty topic: err = %v, want ErrUnknownPartition, ErrInvalidConfig and ErrInvalidTopic", err)
	}
}

func TestCoordinatorFoundAndCached(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	g := newGroup(t, cl)
	ctx := testhelp.Ctx(t, 30*time.Second)
	b := coordinatorOf(t, ctx, g)
	if _, ok := cl.Snapshot().Brokers[b.ID]; !ok || b.ID < 0 {
		t.Fatalf("coordinator %d (%s) is not a broker of the cluster: %v", b.ID, b.Addr, cl.Snapshot().Brokers)
	}
	// Every broker must name the same coordinator; ask one directly.
	id, err := g.findCoordinator(ctx)
	if err != nil || id != b.ID {
		t.Fatalf("FindCoordinator again: %d, %v; want %d", id, err, b.ID)
	}
	cached := g.coord.CachedID()
	if cached != b.ID {
		t.Fatalf("cached coordinator id = %d, want %d", cached, b.ID)
	}
	if id, err := g.Coordinator(ctx); err != nil || id != b.ID || g.cached() != b {
		t.Fatalf("Coordinator: %v, %v; want the cached %v", id, err, b.ID)
	}
	g.forget(b.ID + 1000) // someone else's stale failure: keep ours
	if g.cached() != b {
		t.Fatalf("forget of another id dropped the cache")
	}
	g.forget(b.ID)
	if g.cached() != nil {
		t.Fatalf("forget(%d) kept the cache", b.ID)
	}
}

func TestCommitThenFetch(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 3)
	g := newGroup(t, cl)
	ctx := testhelp.Ctx(t, 60*time.Second)

	want := on(topic, map[int32]Commit{
		0: {Offset: 42, LeaderEpoch: 0, Metadata: "consumer-a"},
		1: {Offset: 7, LeaderEpoch: -1, Metadata: ""},
		2: {Offset: 0, LeaderEpoch: 3, Metadata: strings.Repeat("m", 1000)},
	})
	if err := g.Commit(ctx, want, Generation{}); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	got, err := g.Fetch(ctx, tps(topic, 0, 1, 2))
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("Fetch = %v, want %v", got, want)
	}

	// FetchAll: every partition the group committed.
	if got, err = g.FetchAll(ctx); err != nil || !maps.Equal(got, want) {
		t.Fatalf("FetchAll = %v, %v; want %v", got, err, want)
	}

	// A second commit of one partition moves only that one.
	if err := g.Commit(ctx, on(topic, map[int32]Commit{1: At(8)}), Generation{}); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	want[part(topic, 1)] = At(8)
	if got, err = g.Fetch(ctx, tps(topic, 0, 1, 2, 1)); err != nil || !maps.Equal(got, want) {
		t.Fatalf("Fetch after recommit = %v, %v; want %v", got, err, want)
	}
}

func TestFetchNothingCommitted(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 2)
	g := newGroup(t, cl)
	ctx := testhelp.Ctx(t, 30*time.Second)
	got, err := g.Fetch(ctx, tps(topic, 0, 1))
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if len(got) != 0 {
		t.Fatalf("Fetch of a group that never committed = %v, want an empty map", got)
	}
	if got, err := g.FetchAll(ctx); err != nil || len(got) != 0 {
		t.Fatalf("FetchAll of a group that never committed = %v, %v; want an empty map", got, err)
	}

	// Committing one partition leaves the other absent.
	if err := g.Commit(ctx, on(topic, map[int32]Commit{1: At(5)}), Generation{}); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	got, err = g.Fetch(ctx, tps(topic, 0, 1))
	if err != nil || len(got) != 1 || got[part(topic, 1)] != At(5) {
		t.Fatalf("Fetch = %v, %v; want only partition 1 at 5", got, err)
	}
}

func TestCommitMetadataTooLarge(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 2)
	g := newGroup(t, cl)
	ctx := testhelp.Ctx(t, 30*time.Second)
	start := time.Now()
	err := g.Commit(ctx, on(topic, map[int32]Commit{
		0: {Offset: 1, LeaderEpoch: -1, Metadata: strings.Repeat("x", 5000)}, // offset.metadata.max.bytes is 4096
		1: At(2),
	}), Generation{})
	if !errors.Is(err, kerr.OffsetMetadataTooLarge) {
		t.Fatalf("Commit with 5000 bytes of metadata: err = %v, want OFFSET_METADATA_TOO_LARGE", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("a non-retriable error took %v to come back", time.Since(start))
	}
	pe := Partitions(err)
	if p0 := pe[part(topic, 0)]; len(pe) != 1 || p0 == nil || p0.Topic != topic || p0.Partition != 0 || p0.Group != g.ID() {
		t.Fatalf("Partitions(err) = %v, want only partition 0", pe)
	}
	// The other partition was committed regardless.
	got, err := g.Fetch(ctx, tps(topic, 0, 1))
	if err != nil || len(got) != 1 || got[part(topic, 1)] != At(2) {
		t.Fatalf("Fetch = %v, %v; want only partition 1 at 2", got, err)
	}
}

// TestCommitGenerations commits against a group with an active member made
// of raw JoinGroup/SyncGroup requests.
func TestCommitGenerations(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 1)
	g := newGroup(t, cl)
	ctx := testhelp.Ctx(t, 60*time.Second)
	offs := on(topic, map[int32]Commit{0: At(3)})

	m := join(t, g, topic)
	if m.gen.ID < 1 || m.gen.MemberID == "" {
		t.Fatalf("JoinGroup gave generation %+v", m.gen)
	}
	// Joined but not synced: the group is completing its rebalance.
	if err := g.Commit(ctx, offs, m.gen); !errors.Is(err, kerr.RebalanceInProgress) {
		t.Fatalf("Commit during the rebalance: err = %v, want REBALANCE_IN_PROGRESS", err)
	}
	m.sync(t, topic)

	if err := g.Commit(ctx, offs, m.gen); err != nil {
		t.Fatalf("Commit with the member's generation: %v", err)
	}
	wrongGen := m.gen
	wrongGen.ID++
	if err := g.Commit(ctx, on(topic, map[int32]Commit{0: At(4)}), wrongGen); !errors.Is(err, kerr.IllegalGeneration) {
		t.Fatalf("Commit with generation %d (group at %d): err = %v, want ILLEGAL_GENERATION", wrongGen.ID, m.gen.ID, err)
	}
	stranger := Generation{ID: m.gen.ID, MemberID: "not-a-member"}
	if err := g.Commit(ctx, on(topic, map[int32]Commit{0: At(5)}), stranger); !errors.Is(err, kerr.UnknownMemberID) {
		t.Fatalf("Commit from an unknown member: err = %v, want UNKNOWN_MEMBER_ID", err)
	}
	// A simple commit (no membership) to a group with a member is refused
	// too: that is what protects a balanced group from a stray consumer.
	err := g.Commit(ctx, on(topic, map[int32]Commit{0: At(6)}), Generation{})
	if err == nil || kerr.IsRetriable(err) {
		t.Fatalf("simple Commit to a group with an active member: err = %v, want a non-retriable rejection", err)
	}
	t.Logf("simple commit to an active group: %v", err)

	got, err := g.Fetch(ctx, tps(topic, 0))
	if err != nil || got[part(topic, 0)] != At(3) {
		t.Fatalf("Fetch = %v, %v; want only the member's commit (3)", got, err)
	}
}

// TestCommitUnknownTopicOrPartition: the coordinator answers
// UNKNOWN_TOPIC_OR_PARTITION (retriable); when the metadata confirms the
// topic or partition does not exist, Commit fails at once instead of
// retrying until its deadline.
func TestCommitUnknownTopicOrPartition(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	g := newGroup(t, cl)
	topic := testhelp.CreateTopic(t, nil, 1)
	ctx := testhelp.Ctx(t, 30*time.Second)
	start := time.Now()
	err := g.Commit(ctx, on(testhelp.UniqueName(t, "missing"), map[int32]Commit{0: At(1)}), Generation{})
	if !errors.Is(err, kerr.ErrUnknownTopic) || !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Errorf("Commit to a missing topic: err = %v, want kerr.ErrUnknownTopic", err)
	}
	err = g.Commit(ctx, on(topic, map[int32]Commit{0: At(1), 5: At(1)}), Generation{})
	if pe := Partitions(err); len(pe) != 1 || !errors.Is(pe[part(topic, 5)], kerr.ErrUnknownPartition) {
		t.Errorf("Commit to partition 5 of 1: err = %v, want only partition 5 with kerr.ErrUnknownPartition", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("unknown topic and partition took %v to fail", took)
	}
	// Fetch: the coordinator answers "nothing committed" for them.
	got, err := g.Fetch(ctx, tps(topic, 0, 5))
	if err != nil || len(got) != 1 || got[part(topic, 0)] != At(1) {
		t.Errorf("Fetch = %v, %v; want only partition 0 at 1", got, err)
	}
}
