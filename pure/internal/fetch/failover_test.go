package fetch

import (
	"os"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/records"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// TestBrokerFailure fetches while brokers die: one is killed (kill -9) in
// the middle of fetching, later restarted, and another is stopped
// gracefully. Leaders move; every message must still arrive exactly once
// and in order. It needs a cluster of its own (brokers of the shared one
// cannot be stopped when it is external).
func TestBrokerFailure(t *testing.T) {
	ctx := testhelp.Ctx(t, 8*time.Minute)
	tc := testhelp.PrivateCluster(t, testinstance.Config{Brokers: 3, NoZooKeeper: true, Log: os.Stderr})
	cl := testhelp.NewCluster(t, tc, cluster.Config{MetadataMinAge: 50 * time.Millisecond})
	const parts = 6
	topic := testhelp.CreateTopic(t, tc, parts)

	want := map[engine.TopicPartition][]rec{}
	add := func(n int) {
		for p := int32(0); p < parts; p++ {
			var rs []rec
			tp := part(topic, p)
			for range n {
				rs = append(rs, rec{value: value(p, len(want[tp])+len(rs))})
			}
			produce(t, cl, topic, p, records.CodecSnappy, 100, rs)
			want[tp] = append(want[tp], rs...)
		}
	}
	counts := func() map[engine.TopicPartition]int {
		m := map[engine.TopicPartition]int{}
		for tp, rs := range want {
			m[tp] = len(rs)
		}
		return m
	}
	add(3000)

	cfg := testhelp.FetcherConfig()
	cfg.QueuedMaxMessages = 300      // keep the fetcher from reading everything before the kill
	cfg.PartitionMaxBytes = 32 << 10 // small fetches, so that some are in flight at the kill
	f := newFetcher(t, cl, cfg)
	var pos []engine.Position
	for p := int32(0); p < parts; p++ {
		pos = append(pos, at(topic, p, 0))
	}
	if err := f.Assign(ctx, pos); err != nil {
		t.Fatal(err)
	}
	logs := partitionLogs{}
	early := map[engine.TopicPartition]int{}
	for tp := range want {
		early[tp] = 500
	}
	consume(t, f, time.Minute, logs, haveCounts(early))

	// After each fault, n more messages per partition, and every message
	// must arrive, once and in order, within d.
	addAndCheck := func(n int, d time.Duration) {
		t.Helper()
		add(n)
		consume(t, f, d, logs, haveCounts(counts()))
		for tp, rs := range want {
			checkValues(t, tp, logs[tp].msgs, rs, 0)
		}
	}

	// Kill the leader of partition 0 in the middle of fetching.
	victim := leaderIndex(t, tc, cl, topic, 0)
	t.Logf("killing broker index %d (leader of partition 0)", victim)
	if err := tc.KillBroker(victim); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	addAndCheck(1000, 3*time.Minute) // produced while leaders move
	t.Logf("everything consumed %v after the kill", time.Since(start))

	t.Logf("restarting broker index %d", victim)
	if err := tc.StartBroker(ctx, victim); err != nil {
		t.Fatal(err)
	}
	addAndCheck(500, 2*time.Minute)

	// A graceful stop of another leader: controlled shutdown moves its
	// partitions first.
	other := leaderIndex(t, tc, cl, topic, 1)
	t.Logf("stopping broker index %d (leader of partition 1)", other)
	if err := tc.StopBroker(ctx, other); err != nil {
		t.Fatal(err)
	}
	addAndCheck(500, 2*time.Minute)
	f.Close()
	cl.Close()
}

// leaderIndex returns the testinstance index of the broker leading p.
func leaderIndex(t *testing.T, tc *testinstance.Cluster, cl *cluster.Cluster, topic string, p int32) int {
	t.Helper()
	if err := cl.RefreshTopics(testhelp.Ctx(t, time.Minute), topic); err != nil {
		t.Fatal(err)
	}
	_, pm, err := cl.Leader(topic, p)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range tc.NodeIDs() {
		if id == pm.Leader {
			return i
		}
	}
	t.Fatalf("leader %d of partition %d is not a node of the cluster %v", pm.Leader, p, tc.NodeIDs())
	return -1
}
