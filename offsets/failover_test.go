package offsets

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// committer commits ever-growing offsets of partitions 0..2 in a loop until
// stopped, every commit with its own generous deadline: while the
// coordinator moves, each commit must still succeed, after retries. Stopping
// lets the commit in flight finish, so that the last offset committed is
// known.
type committer struct {
	g     *Group
	topic string

	stopping chan struct{}
	done     chan struct{}

	mu     sync.Mutex
	last   int64 // the offset of the last successful commit
	ok     int   // commits that succeeded
	errs   []error
	coords map[int32]int // coordinator node id -> commits made while it was cached
}

func startCommitter(g *Group, topic string) *committer {
	c := &committer{g: g, topic: topic, stopping: make(chan struct{}), done: make(chan struct{}), coords: map[int32]int{}}
	go func() {
		defer close(c.done)
		for off := int64(1); ; off++ {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			err := g.Commit(ctx, on(topic, map[int32]Commit{0: At(off), 1: At(off), 2: At(off)}), Generation{})
			cancel()
			c.mu.Lock()
			if err == nil {
				c.last, c.ok = off, c.ok+1
				c.coords[g.coord.CachedID()]++
			} else {
				c.errs = append(c.errs, err)
			}
			c.mu.Unlock()
			select {
			case <-c.stopping:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return c
}

// stop ends the loop and returns the last offset committed.
func (c *committer) stop(t *testing.T) int64 {
	t.Helper()
	close(c.stopping)
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, err := range c.errs {
		t.Errorf("commit failed while the coordinator moved: %v", err)
	}
	t.Logf("%d commits, by coordinator node: %v", c.ok, c.coords)
	return c.last
}

// waitCommits waits until n more commits succeeded with a coordinator other
// than old.
func (c *committer) waitCommits(t *testing.T, old int32, n int) {
	t.Helper()
	testhelp.Eventually(t, 90*time.Second, fmt.Sprintf("%d commits through a coordinator other than %d", n, old), func() error {
		c.mu.Lock()
		defer c.mu.Unlock()
		moved := 0
		for id, k := range c.coords {
			if id != old && id >= 0 {
				moved += k
			}
		}
		if moved < n {
			return fmt.Errorf("%d so far; errors %v", moved, c.errs)
		}
		return nil
	})
}

// TestCoordinatorMoves stops, then kills, the group's coordinator broker
// while commits go on; every commit must succeed, through the new
// coordinator, and the offsets read back must be the last ones committed.
// It needs brokers it may stop, so it starts its own cluster.
func TestCoordinatorMoves(t *testing.T) {
	ctx := testhelp.Ctx(t, 5*time.Minute)
	kc := testhelp.PrivateCluster(t, testinstance.Config{Brokers: 3, NoZooKeeper: true, Log: os.Stderr})
	cl := testhelp.NewCluster(t, kc)
	topic := testhelp.UniqueName(t, "topic")
	if err := kc.CreateTopic(ctx, topic, 3, 3, nil); err != nil {
		t.Fatalf("CreateTopic: %v", err)
	}
	produceN(t, cl, topic, 0, 5)
	g := newGroup(t, cl)
	index := func(id int32) int {
		i := slices.Index(kc.NodeIDs(), id)
		if i < 0 {
			t.Fatalf("node %d not in %v", id, kc.NodeIDs())
		}
		return i
	}
	coordinator := func() int32 {
		id, err := g.Coordinator(testhelp.Ctx(t, 60*time.Second))
		if err != nil {
			t.Fatalf("Coordinator: %v", err)
		}
		return id
	}
	check := func(last int64) {
		t.Helper()
		got, err := g.Fetch(testhelp.Ctx(t, 60*time.Second), tps(topic, 0, 1, 2))
		want := on(topic, map[int32]Commit{0: At(last), 1: At(last), 2: At(last)})
		if err != nil || !maps.Equal(got, want) {
			t.Fatalf("Fetch = %v, %v; want %v", got, err, want)
		}
	}

	// 1. Graceful stop: leadership of the offsets partition moves away
	// (controlled shutdown), the old coordinator's connection drops.
	c := startCommitter(g, topic)
	c.waitCommits(t, -2, 5) // running
	first := coordinator()
	stopped := index(first)
	t.Logf("stopping coordinator node %d (broker %d)", first, stopped)
	if err := kc.StopBroker(ctx, stopped); err != nil {
		t.Fatalf("StopBroker: %v", err)
	}
	c.waitCommits(t, first, 5)
	check(c.stop(t))
	if got, err := List(testhelp.Ctx(t, 60*time.Second), cl, tps(topic, 0), Latest); err != nil || got[part(topic, 0)] != 5 {
		t.Fatalf("List(Latest) with a broker down = %v, %v; want 5", got, err)
	}
	if err := kc.StartBroker(ctx, stopped); err != nil {
		t.Fatalf("StartBroker: %v", err)
	}

	// 2. Crash: no controlled shutdown; the controller notices when the
	// broker's session times out, and only then elects a new leader.
	c = startCommitter(g, topic)
	c.waitCommits(t, -2, 5)
	second := coordinator()
	t.Logf("killing coordinator node %d (broker %d)", second, index(second))
	if err := kc.KillBroker(index(second)); err != nil {
		t.Fatalf("KillBroker: %v", err)
	}
	start := time.Now()
	c.waitCommits(t, second, 5)
	t.Logf("commits flowed through a new coordinator %v after the kill", time.Since(start).Round(time.Millisecond))
	check(c.stop(t))
}
