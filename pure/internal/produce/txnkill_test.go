package produce

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// TestTxnCoordinatorKill kills (SIGKILL) the broker that is the
// transaction coordinator while a transactional producer commits one
// transaction after another over three partitions. The producer finds the
// new coordinator by itself; every transaction it committed is visible to
// read_committed readers exactly once, every one it had to abort is not.
//
// It needs a cluster whose brokers it may kill, so it starts its own.
func TestTxnCoordinatorKill(t *testing.T) {
	tc := testhelp.PrivateCluster(t, testinstance.Config{Brokers: 3, NoZooKeeper: true, Log: os.Stderr})
	cl := testhelp.NewCluster(t, tc)
	protocols(t, func(t *testing.T, classic bool) {
		const parts, perTxn, txns = 3, 300, 40
		topic := newTopic(t, tc, cl, parts, "min.insync.replicas", "2")
		tp := newTxnProducer(t, cl, txnConfig(t), classic)
		var committed []string
		aborted := 0
		killedAt := time.Time{}
		var recovered time.Duration
		var victim int
		for n := range txns {
			if n == txns/4 {
				coord := tp.tx.coord.CachedID()
				victim = slices.Index(tc.NodeIDs(), coord)
				if victim < 0 {
					t.Fatalf("coordinator %d is not among nodes %v", coord, tc.NodeIDs())
				}
				t.Logf("killing broker %d, the transaction coordinator, after %d transactions", coord, n)
				if err := tc.KillBroker(victim); err != nil {
					t.Fatal(err)
				}
				killedAt = time.Now()
			}
			begin(t, tp, classic)
			vs := values(fmt.Sprintf("t%02d", n), perTxn)
			rep := produceValues(t, tp, []string{topic}, parts, vs)
			err := tp.EndTxn(testhelp.Ctx(t, 3*time.Minute), true)
			switch {
			case err == nil:
				committed = append(committed, vs...)
				if !killedAt.IsZero() && recovered == 0 {
					recovered = time.Since(killedAt)
				}
			case errors.Is(err, kerr.ErrAbortRequired):
				t.Logf("transaction %d: %v; aborting", n, err)
				endTxn(t, tp, false)
				aborted++
			default:
				t.Fatalf("transaction %d: EndTxn(commit): %v", n, err)
			}
			rep.Wait(t, time.Minute)
		}
		t.Logf("%d transactions committed, %d aborted; the first commit after the kill came %v after it", txns-aborted, aborted, recovered.Round(time.Millisecond))
		if aborted > 3 {
			t.Fatalf("%d transactions aborted around one broker kill", aborted)
		}
		if err := tc.StartBroker(testhelp.Ctx(t, 3*time.Minute), victim); err != nil {
			t.Fatalf("restarting broker %d: %v", tc.NodeIDs()[victim], err)
		}
		checkCommittedOn(t, tc, committed, true, topic)
	})
}
