package produce

import (
	"fmt"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// TestLeaderKill kills (SIGKILL) the leader of a partition while an
// idempotent producer writes to it and to others. Every message must be
// acknowledged, and the log must hold each exactly once, in order, at the
// offset its report gave.
//
// It needs a cluster whose brokers it may kill, so it starts its own.
func TestLeaderKill(t *testing.T) {
	ctx := testhelp.Ctx(t, 10*time.Minute)
	tc := testhelp.PrivateCluster(t, testinstance.Config{Brokers: 3, NoZooKeeper: true, Log: os.Stderr})
	cl := testhelp.NewCluster(t, tc)
	const parts, each = 3, 20000
	topic := newTopic(t, tc, cl, parts, "min.insync.replicas", "2")
	victim, _ := leaderAddr(t, cl, topic, 0)
	victimIdx := slices.Index(tc.NodeIDs(), victim)
	if victimIdx < 0 {
		t.Fatalf("leader %d is not among nodes %v", victim, tc.NodeIDs())
	}

	cfg := testhelp.ProducerConfig()
	cfg.BatchBytes = 16 << 10 // many batches, so some are in flight at the kill
	cfg.MaxQueued = 5000      // Produce blocks, so that messages are still queued at the kill
	p := newProducer(t, cl, cfg)
	rep := testhelp.NewReports(parts * each)
	var acked atomic.Int64
	done := func(m *engine.Message, err error) {
		if err == nil {
			acked.Add(1)
		}
		rep.Done(m, err)
	}
	sent := make([][]*engine.Message, parts)
	wait := produceConcurrently(t, p, parts, each, done, func(part, i int) *engine.Message { // a goroutine per partition
		m := msg(topic, int32(part), fmt.Sprintf("%d:%06d", part, i))
		sent[part] = append(sent[part], m)
		return m
	})
	testhelp.WaitUntil(t, 30*time.Second, "a third of the messages acknowledged", func() bool { return acked.Load() > parts*each/3 })
	t.Logf("killing broker %d (leader of partition 0) with %d of %d acknowledged", victim, acked.Load(), parts*each)
	if err := tc.KillBroker(victimIdx); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	wait()
	rep.Wait(t, 3*time.Minute)
	t.Logf("all reported %v after the kill", time.Since(killedAt).Round(time.Millisecond))
	if errs := rep.Errors(); len(errs) > 0 {
		t.Fatalf("%d messages failed, first: %v", len(errs), errs[0])
	}
	for part := range parts {
		got := fetchAll(t, cl, topic, int32(part), each)
		if len(got) != each {
			t.Fatalf("partition %d: %d records, want %d", part, len(got), each)
		}
		for i, r := range got {
			m := sent[part][i]
			if string(r.Value) != string(m.Value) {
				t.Fatalf("partition %d offset %d: %q, want %q (duplicate or reordered)", part, i, r.Value, m.Value)
			}
			if m.Offset != r.Offset {
				t.Fatalf("partition %d: %q reported at offset %d, stored at %d", part, m.Value, m.Offset, r.Offset)
			}
		}
		if hw := highWatermark(t, cl, topic, int32(part)); hw != each {
			t.Fatalf("partition %d: high watermark %d, want %d", part, hw, each)
		}
	}
	if err := tc.StartBroker(ctx, victimIdx); err != nil {
		t.Fatalf("restarting broker %d: %v", victim, err)
	}
}
