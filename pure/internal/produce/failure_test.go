package produce

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/wire"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// partitioner cuts a client off from chosen brokers, as a network partition
// would: dials to a blocked address are refused and its open connections
// are closed. The brokers themselves keep running, so the metadata keeps
// naming the blocked broker as leader.
type partitioner struct {
	mu      sync.Mutex
	blocked map[string]bool
	conns   map[string][]net.Conn
}

func newPartitioner() *partitioner {
	return &partitioner{blocked: map[string]bool{}, conns: map[string][]net.Conn{}}
}

func (np *partitioner) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	np.mu.Lock()
	blocked := np.blocked[addr]
	np.mu.Unlock()
	if blocked {
		return nil, fmt.Errorf("test network partition: %s: %w", addr, syscall.ECONNREFUSED)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	np.mu.Lock()
	np.conns[addr] = append(np.conns[addr], c)
	np.mu.Unlock()
	return c, nil
}

func (np *partitioner) block(addr string, on bool) {
	np.mu.Lock()
	defer np.mu.Unlock()
	np.blocked[addr] = on
	if on {
		for _, c := range np.conns[addr] {
			c.Close()
		}
		np.conns[addr] = nil
	}
}

// leaderAddr returns the address of partition p's leader.
func leaderAddr(t *testing.T, cl *cluster.Cluster, topic string, p int32) (int32, string) {
	t.Helper()
	br, _, err := cl.Leader(topic, p)
	if err != nil {
		t.Fatalf("leader of %s/%d: %v", topic, p, err)
	}
	return br.ID, br.Addr
}

// TestUnreachableLeader: a partition whose leader cannot be reached fails
// its messages with ErrDeliveryTimeout while the other partitions deliver;
// once the leader is back, the partition recovers, under a new producer ID
// (the timed-out batches left a hole in the sequence).
func TestUnreachableLeader(t *testing.T) {
	tc := testinstance.Shared()
	cl := testhelp.NewCluster(t, nil)
	const parts = 6
	topic := newTopic(t, tc, cl, parts)
	leader0, addr0 := leaderAddr(t, cl, topic, 0)
	var others []int32
	for p := int32(1); p < parts; p++ {
		if id, _ := leaderAddr(t, cl, topic, p); id != leader0 {
			others = append(others, p)
		}
	}
	if len(others) == 0 {
		t.Fatalf("every partition of %s is led by broker %d", topic, leader0)
	}

	np := newPartitioner()
	pcl := testhelp.NewCluster(t, tc, cluster.Config{
		Conn:            wire.Options{Dialer: np.dial},
		RetryBackoffMax: 200 * time.Millisecond, // redial soon after the partition heals
	})
	if err := pcl.RefreshTopics(testhelp.Ctx(t, 10*time.Second), topic); err != nil {
		t.Fatal(err)
	}
	cfg := testhelp.ProducerConfig()
	cfg.DeliveryTimeout = 3 * time.Second // shorter than the partition, so that messages expire in it
	p := newProducer(t, pcl, cfg)

	// Phase 1: the leader is reachable.
	rep := testhelp.NewReports(10)
	for i := range 10 {
		mustProduce(t, p, msg(topic, 0, fmt.Sprint("before-", i)), rep.Done)
	}
	if err := p.Flush(testhelp.Ctx(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if errs := rep.Errors(); len(errs) > 0 {
		t.Fatal(errs[0])
	}

	// Phase 2: cut off.
	np.block(addr0, true)
	start := time.Now()
	n := 10 + 10*len(others)
	rep = testhelp.NewReports(n + 1)
	for i := range 10 {
		mustProduce(t, p, msg(topic, 0, fmt.Sprint("lost-", i)), rep.Done)
	}
	for _, o := range others {
		for i := range 10 {
			mustProduce(t, p, msg(topic, o, fmt.Sprint("ok-", i)), rep.Done)
		}
	}
	// Flush cannot finish while partition 0 is cut off; its ctx ends it.
	fctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err := p.Flush(fctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush with an unreachable leader: %v, want DeadlineExceeded", err)
	}
	mustProduce(t, p, msg(topic, 0, "lost-after-flush"), rep.Done)
	rep.Wait(t, 30*time.Second)
	elapsed := time.Since(start)
	failed := 0
	for m, err := range rep.Results() {
		switch {
		case m.Partition == 0 && errors.Is(err, kerr.ErrDeliveryTimeout):
			failed++
		case m.Partition == 0:
			t.Fatalf("partition 0 message %q: %v, want ErrDeliveryTimeout", m.Value, err)
		case err != nil:
			t.Fatalf("partition %d (reachable) message %q failed: %v", m.Partition, m.Value, err)
		}
	}
	if failed != 11 {
		t.Fatalf("%d partition-0 messages timed out, want 11", failed)
	}
	if elapsed < cfg.DeliveryTimeout || elapsed > cfg.DeliveryTimeout+10*time.Second {
		t.Fatalf("delivery timeout of %v reported after %v", cfg.DeliveryTimeout, elapsed)
	}

	// Phase 3: healed. The next batch's sequence follows the lost ones,
	// which the broker never saw: the producer must recover, not fail.
	np.block(addr0, false)
	rep = testhelp.NewReports(10)
	for i := range 10 {
		mustProduce(t, p, msg(topic, 0, fmt.Sprint("after-", i)), rep.Done)
	}
	if err := p.Flush(testhelp.Ctx(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if errs := rep.Errors(); len(errs) > 0 {
		t.Fatalf("after the partition healed: %v", errs[0])
	}
	got := fetchAll(t, cl, topic, 0, 20)
	for i, r := range got {
		want := fmt.Sprint("before-", i)
		if i >= 10 {
			want = fmt.Sprint("after-", i-10)
		}
		if string(r.Value) != want {
			t.Fatalf("offset %d: %q, want %q", i, r.Value, want)
		}
	}
	if got[0].ProducerID == got[10].ProducerID {
		t.Fatalf("same producer ID %d before and after the sequence hole", got[0].ProducerID)
	}
	if got[10].BaseSequence != 0 {
		t.Fatalf("first batch under the new producer ID has sequence %d", got[10].BaseSequence)
	}
	if hw := highWatermark(t, cl, topic, 0); hw != 20 {
		t.Fatalf("partition 0 holds %d records, want 20", hw)
	}
}

// TestCloseGivesUp: Close with messages that cannot be delivered fails them
// with ErrClosed when its context ends, and stops every goroutine.
func TestCloseGivesUp(t *testing.T) {
	tc := testinstance.Shared()
	cl := testhelp.NewCluster(t, nil)
	topic := newTopic(t, tc, cl, 1)
	_, addr := leaderAddr(t, cl, topic, 0)
	np := newPartitioner()
	pcl := testhelp.NewCluster(t, tc, cluster.Config{Conn: wire.Options{Dialer: np.dial}})
	if err := pcl.RefreshTopics(testhelp.Ctx(t, 10*time.Second), topic); err != nil {
		t.Fatal(err)
	}
	np.block(addr, true)
	ep, err := New(context.Background(), pcl, testhelp.ProducerConfig())
	if err != nil {
		t.Fatal(err)
	}
	p := ep.(*Producer)
	rep := testhelp.NewReports(50)
	for i := range 50 {
		mustProduce(t, p, msg(topic, 0, fmt.Sprint(i)), rep.Done)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = p.Close(ctx)
	if !errors.Is(err, kerr.ErrClosed) {
		t.Fatalf("Close: %v, want ErrClosed", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v with a 500ms context", d)
	}
	rep.Wait(t, time.Second)
	for m, err := range rep.Results() {
		if !errors.Is(err, kerr.ErrClosed) {
			t.Fatalf("message %q: %v, want ErrClosed", m.Value, err)
		}
	}
	noGoroutinesLeft(t)
}

// TestUnknownTopic: messages for a topic that does not exist wait for it
// (it may be being created) and fail at the delivery timeout, saying why.
func TestUnknownTopic(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := fmt.Sprintf("gokafka-no-such-topic-%d", time.Now().UnixNano())
	cfg := testhelp.ProducerConfig()
	cfg.DeliveryTimeout = time.Second // the failure under test, without waiting two minutes
	p := newProducer(t, cl, cfg)
	rep := testhelp.NewReports(3)
	start := time.Now()
	for i := range 3 {
		mustProduce(t, p, msg(topic, int32(i), "v"), rep.Done)
	}
	rep.Wait(t, 30*time.Second)
	if d := time.Since(start); d < time.Second {
		t.Fatalf("failed after %v, before the delivery timeout", d)
	}
	for _, err := range rep.Errors() {
		if !errors.Is(err, kerr.ErrDeliveryTimeout) || !strings.Contains(err.Error(), "unknown topic") || !strings.Contains(err.Error(), topic+"/") {
			t.Fatalf("error %v; want ErrDeliveryTimeout naming the unknown topic and partition", err)
		}
	}
	if len(rep.Errors()) != 3 {
		t.Fatalf("%d failures, want 3", len(rep.Errors()))
	}
}
