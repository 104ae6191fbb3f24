package zookeeper

import (
	"fmt"
	"testing"
	"time"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// TestMemberCrash: a member's ZooKeeper connection is cut and it cannot
// reconnect (a crash or a partition, as the server sees it). It declares
// its partitions lost before its session can expire, the session expires,
// and the others own its partitions; nobody owns a partition
// twice meanwhile. When its network comes back it finds its session
// expired, registers anew and gets its share back.
func TestMemberCrash(t *testing.T) {
	f := newFixture(t, nil, 12)
	in, l := f.in, f.l
	counts := map[string]int32{f.topic: 12}
	cut := &cutter{}
	ms, recs := f.join(3, func(i int, cfg *Config) {
		if i == 2 {
			cfg.dialer = cut.dial
		}
	})
	f.waitStable(30*time.Second, "stable with 3 members", balance.Range, counts, ms, recs)
	victim, vrec := ms[2], recs[2]
	timeout := victim.cfg.SessionTimeout
	had := victim.Assigned()

	t0 := time.Now()
	cut.cut()
	took := testhelp.Eventually(t, timeout+20*time.Second, "survivors own everything", func() error {
		return stable(in, balance.Range, counts, ms[:2], recs[:2])
	})
	lost := vrec.eventsOf("lost")
	if len(lost) == 0 || len(victim.Assigned()) != 0 || len(vrec.ownedSorted()) != 0 {
		t.Fatalf("cut-off member still has %v (Handler %v), Lost calls %v", victim.Assigned(), vrec.ownedSorted(), lost)
	}
	if got := lost[0].partitions; fmt.Sprint(got) != fmt.Sprint(had) {
		t.Errorf("Lost(%v), want everything it had: %v", got, had)
	}
	lostAfter := lost[0].at.Sub(t0)
	t.Logf("MEASURED: member cut off at t0; it declared its %d partitions lost after %s; the survivors owned all 12 after %s (session timeout %s)",
		len(had), lostAfter.Round(time.Millisecond), took.Round(time.Millisecond), timeout)
	if lostAfter >= took {
		t.Errorf("the cut-off member gave up its partitions (%s) only after others owned them (%s)", lostAfter, took)
	}
	if took < timeout/2 {
		t.Errorf("partitions moved after %s, before the session (%s) can have expired", took, timeout)
	}
	l.Check(t)

	cut.heal()
	took = testhelp.Eventually(t, 60*time.Second, "stable with 3 members again", func() error { return stable(in, balance.Range, counts, ms, recs) })
	t.Logf("after the network came back: stable with 3 members in %s", took.Round(time.Millisecond))
	l.Check(t)
}

// TestPartitionIncrease: more partitions in Kafka's metadata make the
// members rebalance over the new count.
func TestPartitionIncrease(t *testing.T) {
	f := newFixture(t, nil, 4)
	ms, recs := f.join(2, func(_ int, cfg *Config) { cfg.PartitionCheckInterval = 300 * time.Millisecond })
	f.waitStable(30*time.Second, "stable over 4 partitions", balance.Range, map[string]int32{f.topic: 4}, ms, recs)

	testhelp.AddPartitions(t, f.cl, f.topic, 10)
	took := f.waitStable(30*time.Second, "stable over 10 partitions", balance.Range, map[string]int32{f.topic: 10}, ms, recs)
	t.Logf("partition count 4 -> 10: stable again %s after CreatePartitions returned (check interval 300ms)", took.Round(time.Millisecond))
	f.l.Check(t)
}

// TestZooKeeperRestart: ZooKeeper stops under running members. They
// declare their partitions lost (they cannot prove ownership), and once
// ZooKeeper is back they register (or resume) and own everything again.
// A cluster of its own: stopping the shared cluster's ZooKeeper is refused.
func TestZooKeeperRestart(t *testing.T) {
	testhelp.NoLeaks(t) // before the private cluster, whose cleanup comes first
	ctx := testhelp.Ctx(t, 5*time.Minute)
	c := testhelp.PrivateCluster(t, testinstance.Config{Brokers: 1})
	f := newFixture(t, c, 6)
	f.nodeChecks = false // ZooKeeper goes away
	ms, recs := f.join(2, nil)
	f.waitStable(30*time.Second, "stable", balance.Range, map[string]int32{f.topic: 6}, ms, recs)

	t0 := time.Now()
	if err := c.StopZooKeeper(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("ZooKeeper stopped in %s", time.Since(t0).Round(time.Millisecond))
	took := testhelp.Eventually(t, 30*time.Second, "members declare their partitions lost", func() error {
		for i, m := range ms {
			if got := m.Assigned(); len(got) != 0 || len(recs[i].ownedSorted()) != 0 {
				return fmt.Errorf("%s still has %v", m.ID(), got)
			}
		}
		return nil
	})
	t.Logf("partitions declared lost %s after StopZooKeeper was called", took.Round(time.Millisecond))

	t1 := time.Now()
	if err := c.StartZooKeeper(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("ZooKeeper serving again after %s", time.Since(t1).Round(time.Millisecond))
	// The test's own connection lost its session with the restart: look
	// at the nodes through a new one.
	f.in = newInspector(t, f.zk, f.group)
	took = f.waitStable(60*time.Second, "stable after the restart", balance.Range, map[string]int32{f.topic: 6}, ms, recs)
	t.Logf("stable %s after ZooKeeper served again", took.Round(time.Millisecond))
	for _, r := range recs {
		lost, assigned := r.eventsOf("lost"), r.eventsOf("assigned")
		if len(lost) == 0 || len(assigned) == 0 || !assigned[len(assigned)-1].at.After(lost[0].at) {
			t.Errorf("%s: want Lost then Assigned; lost %v, assigned %v", r.name, lost, assigned)
		}
	}
	f.l.Check(t)
}

// TestCloseWhileCutOff: Close on a member that cannot reach ZooKeeper
// still revokes (the Handler commits), stops everything and returns
// promptly; the others get its partitions once its session expires.
func TestCloseWhileCutOff(t *testing.T) {
	f := newFixture(t, nil, 4)
	cut := &cutter{}
	ms, recs := f.join(2, func(i int, cfg *Config) {
		if i == 1 {
			cfg.dialer = cut.dial
		}
	})
	f.waitStable(30*time.Second, "stable", balance.Range, map[string]int32{f.topic: 4}, ms, recs)
	recs[1].in = nil // its Revoked runs while it is cut off; the inspector is not
	cut.cut()
	t0 := time.Now()
	if err := ms[1].Close(testhelp.Ctx(t, 20*time.Second)); err != nil {
		t.Fatal(err)
	}
	took := time.Since(t0)
	t.Logf("Close while cut off took %s", took.Round(time.Millisecond))
	if took > 5*time.Second {
		t.Errorf("Close took %s", took)
	}
	if recs[1].count("revoked") == 0 || len(recs[1].ownedSorted()) != 0 {
		t.Errorf("closed member's Handler: revoked %d times, still has %v", recs[1].count("revoked"), recs[1].ownedSorted())
	}
	f.waitStable(30*time.Second, "the other owns everything", balance.Range, map[string]int32{f.topic: 4}, ms[:1], recs[:1])
	f.l.Check(t)
}
