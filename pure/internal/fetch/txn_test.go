package fetch

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/records"
	"github.com/gokafka/kafka/internal/wire"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// txnProducer is a minimal transactional producer built from raw requests,
// enough to put commit and abort markers (and aborted records) in a log.
// It speaks transactions v1 (KIP-98): explicit AddPartitionsToTxn (v3 is
// the last client version), Produce up to v11 and EndTxn up to v4.
type txnProducer struct {
	t     testing.TB
	cl    *cluster.Cluster
	id    string
	coord *cluster.Broker
	pid   int64
	epoch int16
	seq   map[int32]int32
	added map[int32]bool
}

func newTxnProducer(t testing.TB, tc *testinstance.Cluster) *txnProducer {
	t.Helper()
	cl := testhelp.NewCluster(t, tc, cluster.Config{Conn: wire.Options{MaxVersions: map[int16]int16{0: 11, 24: 3, 26: 4}}})
	tp := &txnProducer{t: t, cl: cl, id: fmt.Sprintf("fetch-test-%x", rand.Uint64()), seq: map[int32]int32{}, added: map[int32]bool{}}
	ctx := testhelp.Ctx(t, time.Minute)
	tp.retry(ctx, "FindCoordinator", func() error {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKey = tp.id
		req.CoordinatorKeys = []string{tp.id}
		req.CoordinatorType = 1
		resp, err := cl.AnyRequest(ctx, req)
		if err != nil {
			return err
		}
		r := resp.(*kmsg.FindCoordinatorResponse)
		node, code := r.NodeID, r.ErrorCode
		if len(r.Coordinators) > 0 {
			node, code = r.Coordinators[0].NodeID, r.Coordinators[0].ErrorCode
		}
		if err := kerr.ForCode(code); err != nil {
			return err
		}
		tp.coord, err = cl.Broker(node)
		return err
	})
	tp.retry(ctx, "InitProducerID", func() error {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID = &tp.id
		req.TransactionTimeoutMillis = 60000
		resp, err := tp.coord.Request(ctx, req)
		if err != nil {
			return err
		}
		r := resp.(*kmsg.InitProducerIDResponse)
		tp.pid, tp.epoch = r.ProducerID, r.ProducerEpoch
		return kerr.ForCode(r.ErrorCode)
	})
	return tp
}

// retry runs fn until it succeeds, retrying retriable errors
// (CONCURRENT_TRANSACTIONS while the last transaction completes, a
// coordinator still loading).
func (tp *txnProducer) retry(ctx context.Context, what string, fn func() error) {
	tp.t.Helper()
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil {
			return
		}
		if !kerr.IsRetriable(err) || attempt > 50 {
			tp.t.Fatalf("%s: %v", what, err)
		}
		if err := tp.cl.Sleep(ctx, 50*time.Millisecond); err != nil {
			tp.t.Fatalf("%s: %v", what, err)
		}
	}
}

// produce writes values to partition p in the open transaction (one is
// opened implicitly) as one batch and returns its base offset.
func (tp *txnProducer) produce(topic string, p int32, values ...string) int64 {
	tp.t.Helper()
	ctx := testhelp.Ctx(tp.t, time.Minute)
	if !tp.added[p] {
		tp.retry(ctx, "AddPartitionsToTxn", func() error {
			req := kmsg.NewPtrAddPartitionsToTxnRequest()
			req.TransactionalID = tp.id
			req.ProducerID, req.ProducerEpoch = tp.pid, tp.epoch
			rt := kmsg.NewAddPartitionsToTxnRequestTopic()
			rt.Topic = topic
			rt.Partitions = []int32{p}
			req.Topics = append(req.Topics, rt)
			resp, err := tp.coord.Request(ctx, req)
			if err != nil {
				return err
			}
			r := resp.(*kmsg.AddPartitionsToTxnResponse)
			for _, t := range r.Topics {
				for _, rp := range t.Partitions {
					if err := kerr.ForCode(rp.ErrorCode); err != nil {
						return err
					}
				}
			}
			return nil
		})
		tp.added[p] = true
	}
	b := records.NewBuilder(records.CodecNone, 0)
	b.SetTransactional(true)
	for _, v := range values {
		b.Append(time.Now().UnixMilli(), nil, []byte(v), nil)
	}
	batch, err := b.Finish(nil, tp.pid, tp.epoch, tp.seq[p])
	if err != nil {
		tp.t.Fatal(err)
	}
	tp.seq[p] += int32(len(values))
	return testhelp.ProduceRaw(tp.t, ctx, tp.cl, topic, p, batch, &tp.id)
}

// end commits or aborts the open transaction.
func (tp *txnProducer) end(commit bool) {
	tp.t.Helper()
	ctx := testhelp.Ctx(tp.t, time.Minute)
	tp.retry(ctx, "EndTxn", func() error {
		req := kmsg.NewPtrEndTxnRequest()
		req.TransactionalID = tp.id
		req.ProducerID, req.ProducerEpoch = tp.pid, tp.epoch
		req.Commit = commit
		resp, err := tp.coord.Request(ctx, req)
		if err != nil {
			return err
		}
		return kerr.ForCode(resp.(*kmsg.EndTxnResponse).ErrorCode)
	})
	clear(tp.added)
}

// TestTransactions fetches a log with committed and aborted transactions,
// interleaved with plain records, under both isolation levels: control
// records never surface, positions move past them (the log ends on a
// commit marker), and read_committed drops exactly the aborted records.
func TestTransactions(t *testing.T) {
	tc := testinstance.Shared()
	cl := testhelp.NewCluster(t, tc)
	topic := testhelp.CreateTopic(t, tc, 1)
	tp := newTxnProducer(t, tc)

	var committed, all []string
	plain := func(v string) {
		produce(t, cl, topic, 0, records.CodecNone, 10, []rec{{value: v}})
		committed = append(committed, v)
		all = append(all, v)
	}
	txn := func(commit bool, vs ...string) int64 {
		base := tp.produce(topic, 0, vs...)
		all = append(all, vs...)
		if commit {
			committed = append(committed, vs...)
		}
		return base
	}
	plain("plain-0")
	plain("plain-1")
	txn(true, "c1-0", "c1-1", "c1-2")
	tp.end(true)
	abortedAt := txn(false, "a2-0", "a2-1", "a2-2")
	tp.end(false)
	txn(false, "a3-0", "a3-1")
	plain("plain-2") // inside the open transaction
	txn(false, "a3-2", "a3-3")
	tp.end(false)
	txn(true, "c4-0", "c4-1")
	tp.end(true)
	plain("plain-3")
	lastBase := txn(true, "c5-0")
	tp.end(true)
	logEnd := lastBase + 2 // c5-0 and its commit marker

	run := func(t *testing.T, iso engine.IsolationLevel, from int64, want []string) {
		cfg := testhelp.FetcherConfig()
		cfg.Isolation = iso // the subject of the test
		f := newFetcher(t, cl, cfg)
		if err := f.Assign(testhelp.Ctx(t, time.Minute), []engine.Position{at(topic, 0, from)}); err != nil {
			t.Fatal(err)
		}
		p0 := part(topic, 0)
		logs := partitionLogs{}
		consume(t, f, time.Minute, logs, func(l partitionLogs) bool {
			return l[p0] != nil && len(l[p0].msgs) >= len(want) && l[p0].next >= logEnd
		})
		l := logs[p0]
		var got []string
		for _, m := range l.msgs {
			got = append(got, string(m.Value))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("got  %q\nwant %q", got, want)
		}
		if l.next != logEnd {
			t.Fatalf("NextOffset %d, want %d (past the last commit marker)", l.next, logEnd)
		}
	}
	t.Run("read_uncommitted", func(t *testing.T) { run(t, engine.ReadUncommitted, 0, all) })
	t.Run("read_committed", func(t *testing.T) { run(t, engine.ReadCommitted, 0, committed) })
	t.Run("read_committed_from_aborted", func(t *testing.T) {
		// From inside aborted transaction 2: plain-2, c4, plain-3, c5.
		run(t, engine.ReadCommitted, abortedAt+1, committed[len(committed)-5:])
	})
}
