package produce

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/records"
	"github.com/gokafka/kafka/offsets"
	"github.com/gokafka/kafka/testhelp"
)

// TestTxnCommitAbort: committed transactions of messages to several topics
// are what read_committed readers nobody here wrote (kcat, Kafka's console
// consumer) see; an aborted one, whose messages are in the log (a
// read_uncommitted reader sees them), is not. The batches are
// transactional; with transactions v2 each transaction has a new epoch and
// its sequences start at 0, with the classic protocol the epoch stays and
// the sequences go on.
func TestTxnCommitAbort(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	protocols(t, func(t *testing.T, classic bool) {
		const parts = 3
		topics := []string{newTopic(t, nil, cl, parts), newTopic(t, nil, cl, parts)}
		tp := newTxnProducer(t, cl, txnConfig(t), classic)

		begin(t, tp, classic)
		first := values("first", 60)
		allAcked(t, produceValues(t, tp, topics, parts, first), "first transaction")
		epoch1 := tp.pid.Load().epoch
		endTxn(t, tp, true)

		begin(t, tp, classic)
		aborted := values("aborted", 30)
		allAcked(t, produceValues(t, tp, topics, parts, aborted), "aborted transaction") // in the log before the abort
		endTxn(t, tp, false)

		begin(t, tp, classic)
		last := values("last", 30)
		rep := produceValues(t, tp, topics, parts, last)
		endTxn(t, tp, true) // flushes
		allAcked(t, rep, "last transaction")
		epoch3 := tp.pid.Load().epoch

		committed := slices.Concat(first, last)
		checkCommitted(t, committed, true, topics...)
		if got := kcatValues(t, nil, "read_uncommitted", topics...); len(got) != len(committed)+len(aborted) {
			t.Fatalf("kcat (read_uncommitted) read %d values, want %d: the aborted messages are in the log", len(got), len(committed)+len(aborted))
		}

		// The records as written: transactional batches, stamped with
		// the transaction's epoch and sequence.
		switch {
		case classic && epoch3 != epoch1:
			t.Fatalf("classic protocol: epoch %d after three transactions, want %d throughout", epoch3, epoch1)
		case !classic && epoch3 < epoch1+2:
			t.Fatalf("transactions v2: epoch %d after two EndTxn, want at least %d (each bumps it)", epoch3, epoch1+2)
		}
		got := fetchAll(t, cl, topics[0], 0, 20)
		for _, r := range got {
			if strings.HasPrefix(string(r.Value), "last-") && !classic && r.BaseSequence != 0 {
				t.Fatalf("transactions v2: the last transaction's batch on %s/0 has base sequence %d, want 0 (new epoch)", topics[0], r.BaseSequence)
			}
			if strings.HasPrefix(string(r.Value), "last-") && classic && r.BaseSequence == 0 {
				t.Fatalf("classic protocol: the last transaction's batch on %s/0 starts at sequence 0; the epoch did not change, the sequence must go on", topics[0])
			}
		}
		batches := 0
		fp := testhelp.FetchRaw(t, cl, topics[0], 0, 0)
		if err := records.DecodeBatches(fp.RecordBatches, records.DecodeOptions{}, func(info *records.BatchInfo, _ []records.Record) error {
			if !info.Transactional {
				t.Errorf("batch at %d is not transactional", info.BaseOffset)
			}
			batches++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if batches == 0 {
			t.Fatal("no batch fetched")
		}
	})
}

// TestTxnManyPartitions: a transaction over 2 topics x 12 partitions
// commits, and with the classic protocol the partitions are added in a few
// AddPartitionsToTxn requests, not one each.
func TestTxnManyPartitions(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	protocols(t, func(t *testing.T, classic bool) {
		const parts = 12
		topics := []string{newTopic(t, nil, cl, parts), newTopic(t, nil, cl, parts)}
		tp := newTxnProducer(t, cl, txnConfig(t), classic)
		for round := range 3 {
			begin(t, tp, classic)
			vs := values("round"+string(rune('a'+round)), 2*parts*5)
			rep := produceValues(t, tp, topics, parts, vs)
			endTxn(t, tp, true)
			allAcked(t, rep, "transaction")
		}
		if adds := tp.tx.adds.Load(); classic && (adds == 0 || adds > 3*6) {
			t.Fatalf("%d AddPartitionsToTxn requests for 3 transactions of 24 partitions, want a few per transaction", adds)
		} else if !classic && adds != 0 {
			t.Fatalf("transactions v2 sent %d AddPartitionsToTxn requests, want none", adds)
		}
		t.Logf("%d AddPartitionsToTxn requests for 3 transactions of 24 partitions", tp.tx.adds.Load())
		var want []string
		for round := range 3 {
			want = append(want, values("round"+string(rune('a'+round)), 2*parts*5)...)
		}
		checkCommitted(t, want, false, topics...)
	})
}

// TestTxnOffsets: offsets sent in a transaction are the group's committed
// offsets once it commits, and not if it aborts.
func TestTxnOffsets(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	protocols(t, func(t *testing.T, classic bool) {
		in := newTopic(t, nil, cl, 2)
		out := newTopic(t, nil, cl, 1)
		group := testhelp.UniqueName(t, "group")
		g, err := offsets.NewGroup(cl, group, offsets.GroupOptions{})
		if err != nil {
			t.Fatal(err)
		}
		tp := newTxnProducer(t, cl, txnConfig(t), classic)
		send := func(off0, off1 int64) error {
			return tp.SendOffsets(testhelp.Ctx(t, time.Minute), engine.GroupCommit{
				Group: group, Generation: -1,
				Offsets: map[engine.TopicPartition]int64{{Topic: in, Partition: 0}: off0, {Topic: in, Partition: 1}: off1},
			})
		}
		committed := func() map[int32]int64 {
			got, err := g.Fetch(testhelp.Ctx(t, time.Minute), []offsets.TopicPartition{{Topic: in, Partition: 0}, {Topic: in, Partition: 1}})
			if err != nil {
				t.Fatalf("Fetch: %v", err)
			}
			m := map[int32]int64{}
			for tp, c := range got {
				m[tp.Partition] = c.Offset
			}
			return m
		}

		begin(t, tp, classic)
		produceValues(t, tp, []string{out}, 1, values("out", 5))
		if err := send(10, 20); err != nil {
			t.Fatalf("SendOffsets: %v", err)
		}
		endTxn(t, tp, true)
		if got := committed(); got[0] != 10 || got[1] != 20 {
			t.Fatalf("committed offsets after commit: %v, want 0:10 1:20", got)
		}
		// The same with Kafka's own tool.
		tool, err := testhelp.GroupOffsets[offsets.TopicPartition](testhelp.Ctx(t, 2*time.Minute), nil, group)
		if err != nil {
			t.Fatal(err)
		}
		if tool[offsets.TopicPartition{Topic: in, Partition: 0}].Committed != 10 || tool[offsets.TopicPartition{Topic: in, Partition: 1}].Committed != 20 {
			t.Fatalf("kafka-consumer-groups: %v, want 0:10 1:20", tool)
		}

		begin(t, tp, classic)
		if err := send(11, 21); err != nil {
			t.Fatalf("SendOffsets: %v", err)
		}
		endTxn(t, tp, false)
		if got := committed(); got[0] != 10 || got[1] != 20 {
			t.Fatalf("committed offsets after an aborted transaction: %v, want 0:10 1:20 still", got)
		}

		// Offsets alone, without messages, commit too.
		begin(t, tp, classic)
		if err := send(12, 22); err != nil {
			t.Fatalf("SendOffsets: %v", err)
		}
		endTxn(t, tp, true)
		if got := committed(); got[0] != 12 || got[1] != 22 {
			t.Fatalf("committed offsets after commit: %v, want 0:12 1:22", got)
		}
		checkCommitted(t, values("out", 5), false, out)
	})
}

// TestTxnStaleGeneration: a member that rejoined has a new generation; an
// offset commit under the old one is refused (KIP-447), the transaction can
// only abort, and the producer goes on.
func TestTxnStaleGeneration(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	protocols(t, func(t *testing.T, classic bool) {
		in := newTopic(t, nil, cl, 1)
		out := newTopic(t, nil, cl, 1)
		group := testhelp.UniqueName(t, "group")
		gen1, member := joinGroup(t, cl, group, in, "")
		t.Cleanup(func() { leaveGroup(cl, group, member) })
		gen2, _ := joinGroup(t, cl, group, in, member)
		if gen2 == gen1 {
			t.Fatalf("rejoining kept generation %d", gen1)
		}
		tp := newTxnProducer(t, cl, txnConfig(t), classic)
		commit := func(gen int32, off int64) error {
			return tp.SendOffsets(testhelp.Ctx(t, time.Minute), engine.GroupCommit{
				Group: group, Generation: gen, MemberID: member,
				Offsets: map[engine.TopicPartition]int64{{Topic: in, Partition: 0}: off},
			})
		}

		begin(t, tp, classic)
		rep := produceValues(t, tp, []string{out}, 1, values("stale", 3))
		err := commit(gen1, 5)
		if !errors.Is(err, kerr.ErrAbortRequired) || !errors.Is(err, kerr.IllegalGeneration) {
			t.Fatalf("SendOffsets with the old generation: %v, want ErrAbortRequired and ILLEGAL_GENERATION", err)
		}
		if err := tp.EndTxn(testhelp.Ctx(t, time.Minute), true); !errors.Is(err, kerr.ErrAbortRequired) {
			t.Fatalf("EndTxn(commit) after a refused offset commit: %v, want ErrAbortRequired", err)
		}
		endTxn(t, tp, false)
		rep.Wait(t, time.Minute)

		begin(t, tp, classic)
		produceValues(t, tp, []string{out}, 1, values("fresh", 3))
		if err := commit(gen2, 7); err != nil {
			t.Fatalf("SendOffsets with the current generation: %v", err)
		}
		endTxn(t, tp, true)
		checkCommitted(t, values("fresh", 3), false, out)
		g, _ := offsets.NewGroup(cl, group, offsets.GroupOptions{})
		got, err := g.Fetch(testhelp.Ctx(t, time.Minute), []offsets.TopicPartition{{Topic: in, Partition: 0}})
		if err != nil || got[offsets.TopicPartition{Topic: in, Partition: 0}].Offset != 7 {
			t.Fatalf("committed offset: %v, %v; want 7", got, err)
		}
	})
}

// TestTxnFencing: a second producer with the same transactional id fences
// the first: the first's commit fails with ErrProducerFenced, so does every
// later call, and nothing of its open transaction is visible; the second
// commits.
func TestTxnFencing(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	protocols(t, func(t *testing.T, classic bool) {
		topic := newTopic(t, nil, cl, 2)
		cfg := txnConfig(t)
		old := newTxnProducer(t, cl, cfg, classic)
		begin(t, old, classic)
		allAcked(t, produceValues(t, old, []string{topic}, 2, values("zombie", 10)), "old producer")

		young := newTxnProducer(t, cl, cfg, classic)
		begin(t, young, classic) // fences old and aborts its transaction
		err := old.EndTxn(testhelp.Ctx(t, time.Minute), true)
		if !errors.Is(err, kerr.ErrProducerFenced) {
			t.Fatalf("old producer's commit: %v, want ErrProducerFenced", err)
		}
		t.Logf("old producer's commit: %v", err)
		ctx := testhelp.Ctx(t, time.Minute)
		if err := old.Produce(ctx, msg(topic, 0, "late"), func(*engine.Message, error) { t.Error("a refused message was reported") }); !errors.Is(err, kerr.ErrProducerFenced) {
			t.Fatalf("old producer's Produce after the fence: %v, want ErrProducerFenced", err)
		}
		if err := old.BeginTxn(ctx); !errors.Is(err, kerr.ErrProducerFenced) {
			t.Fatalf("old producer's BeginTxn after the fence: %v, want ErrProducerFenced", err)
		}
		if err := old.EndTxn(ctx, false); !errors.Is(err, kerr.ErrProducerFenced) {
			t.Fatalf("old producer's EndTxn(abort) after the fence: %v, want ErrProducerFenced", err)
		}
		if err := old.SendOffsets(ctx, engine.GroupCommit{Group: "g", Offsets: map[engine.TopicPartition]int64{{Topic: topic}: 1}}); !errors.Is(err, kerr.ErrProducerFenced) {
			t.Fatalf("old producer's SendOffsets after the fence: %v, want ErrProducerFenced", err)
		}

		young1 := values("young", 10)
		allAcked(t, produceValues(t, young, []string{topic}, 2, young1), "young producer")
		endTxn(t, young, true)
		checkCommitted(t, young1, true, topic)
	})
}

// TestTxnFencedWhileProducing: the fence meets the old producer's messages
// rather than its commit. The partition leaders refuse the old epoch;
// whatever the first error (Java's client: INVALID_PRODUCER_EPOCH, which
// the transaction survives by aborting), the old producer ends fenced by
// the time it tries to end the transaction, and nothing of it is visible.
func TestTxnFencedWhileProducing(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	protocols(t, func(t *testing.T, classic bool) {
		topic := newTopic(t, nil, cl, 2)
		cfg := txnConfig(t)
		old := newTxnProducer(t, cl, cfg, classic)
		begin(t, old, classic)
		allAcked(t, produceValues(t, old, []string{topic}, 2, values("zombie", 4)), "old producer, before the fence")
		young := newTxnProducer(t, cl, cfg, classic)
		begin(t, young, classic)

		rep := produceValues(t, old, []string{topic}, 2, values("late", 4))
		rep.Wait(t, time.Minute)
		errs := rep.Errors()
		if len(errs) != 4 {
			t.Fatalf("%d of 4 messages of the fenced producer failed, want all", len(errs))
		}
		t.Logf("fenced producer's message: %v", errs[0])
		err := old.EndTxn(testhelp.Ctx(t, time.Minute), true)
		if !errors.Is(err, kerr.ErrProducerFenced) && !errors.Is(err, kerr.ErrAbortRequired) {
			t.Fatalf("old producer's commit: %v, want ErrAbortRequired or ErrProducerFenced", err)
		}
		if err := old.EndTxn(testhelp.Ctx(t, time.Minute), false); !errors.Is(err, kerr.ErrProducerFenced) {
			t.Fatalf("old producer's abort: %v, want ErrProducerFenced", err)
		}
		endTxn(t, young, true)
		checkCommitted(t, nil, false, topic)
	})
}

// TestTxnFailedBatch: a message the topic refuses (larger than its
// max.message.bytes) fails its batch; the commit is refused with
// ErrAbortRequired, the abort works, and the next transaction commits.
func TestTxnFailedBatch(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	protocols(t, func(t *testing.T, classic bool) {
		topic := newTopic(t, nil, cl, 1, "max.message.bytes", "2000")
		other := newTopic(t, nil, cl, 1)
		tp := newTxnProducer(t, cl, txnConfig(t), classic)

		begin(t, tp, classic)
		ok := produceValues(t, tp, []string{other}, 1, values("doomed", 5))
		allAcked(t, ok, "messages before the failure")
		big := msg(topic, 0, strings.Repeat("x", 5000))
		bigRep := testhelp.NewReports(1)
		mustProduce(t, tp.Producer, big, bigRep.Done)
		bigRep.Wait(t, time.Minute)
		if errs := bigRep.Errors(); len(errs) != 1 || !errors.Is(errs[0], kerr.MessageTooLarge) {
			t.Fatalf("the large message: %v, want MESSAGE_TOO_LARGE", errs)
		}
		err := tp.EndTxn(testhelp.Ctx(t, time.Minute), true)
		if !errors.Is(err, kerr.ErrAbortRequired) || !errors.Is(err, kerr.MessageTooLarge) {
			t.Fatalf("EndTxn(commit): %v, want ErrAbortRequired, caused by MESSAGE_TOO_LARGE", err)
		}
		// Until it aborts, the transaction takes nothing more.
		if err := tp.Produce(testhelp.Ctx(t, time.Minute), msg(other, 0, "refused"), func(*engine.Message, error) { t.Error("a refused message was reported") }); !errors.Is(err, kerr.ErrAbortRequired) {
			t.Fatalf("Produce in a failed transaction: %v, want ErrAbortRequired", err)
		}
		epoch := tp.pid.Load().epoch
		endTxn(t, tp, false)
		if after := tp.pid.Load().epoch; after == epoch {
			t.Fatalf("epoch %d after aborting a failed transaction; want a new one (KIP-360 bump, or transactions v2's EndTxn)", after)
		}

		begin(t, tp, classic)
		next := values("next", 5)
		rep := produceValues(t, tp, []string{other, topic}, 1, next)
		endTxn(t, tp, true)
		allAcked(t, rep, "next transaction")
		checkCommitted(t, next, true, other, topic)
	})
}

// TestTxnTimeout: a transaction that outlives TransactionTimeout is aborted
// by its coordinator, and nothing of it is visible. What comes next is what
// Java's client (4.3) makes of it: a commit is refused for good (the
// coordinator answers INVALID_TXN_STATE with transactions v2,
// PRODUCER_FENCED with the classic protocol: fatal errors); messages
// produced after the timeout fail with INVALID_PRODUCER_EPOCH, the
// transaction can only abort, and with transactions v2 the abort works and
// the producer goes on, while the classic coordinator refuses the abort as
// fenced.
func TestTxnTimeout(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	expire := func(t *testing.T, classic bool) (*TxnProducer, string) {
		topic := newTopic(t, nil, cl, 1)
		cfg := txnConfig(t)
		cfg.TransactionTimeout = time.Second
		tp := newTxnProducer(t, cl, cfg, classic)
		begin(t, tp, classic)
		allAcked(t, produceValues(t, tp, []string{topic}, 1, values("expired", 5)), "before the timeout")
		// The coordinator looks for expired transactions every
		// transaction.abort.timed.out.transaction.cleanup.interval.ms
		// (10 s by default). CompleteAbort, not PrepareAbort: until
		// the abort markers are written, a partition leader still
		// takes the old epoch (the classic case below saw its late
		// messages acknowledged, then aborted by the markers).
		took := testhelp.WaitUntil(t, time.Minute, "the coordinator aborts the expired transaction", func() bool {
			return txnState(t, tp) == "CompleteAbort"
		})
		t.Logf("aborted by the coordinator %v after the messages", took)
		return tp, topic
	}
	protocols(t, func(t *testing.T, classic bool) {
		t.Run("commit", func(t *testing.T) {
			tp, topic := expire(t, classic)
			err := tp.EndTxn(testhelp.Ctx(t, time.Minute), true)
			var want error = kerr.InvalidTxnState
			if classic {
				want = kerr.ErrProducerFenced
			}
			if !errors.Is(err, want) {
				t.Fatalf("EndTxn(commit) after the timeout: %v, want %v", err, want)
			}
			if err2 := tp.BeginTxn(testhelp.Ctx(t, time.Minute)); !errors.Is(err2, want) {
				t.Fatalf("BeginTxn after a fatal error: %v, want %v", err2, want)
			}
			checkCommitted(t, nil, false, topic)
		})
		t.Run("produce", func(t *testing.T) {
			tp, topic := expire(t, classic)
			rep := produceValues(t, tp, []string{topic}, 1, values("late", 2))
			rep.Wait(t, time.Minute)
			if errs := rep.Errors(); len(errs) != 2 || !errors.Is(errs[0], kerr.InvalidProducerEpoch) {
				t.Fatalf("messages after the timeout: %v, want INVALID_PRODUCER_EPOCH", errs)
			}
			if err := tp.EndTxn(testhelp.Ctx(t, time.Minute), true); !errors.Is(err, kerr.ErrAbortRequired) {
				t.Fatalf("EndTxn(commit): %v, want ErrAbortRequired", err)
			}
			err := tp.EndTxn(testhelp.Ctx(t, time.Minute), false)
			if classic {
				if !errors.Is(err, kerr.ErrProducerFenced) {
					t.Fatalf("classic: EndTxn(abort) after the timeout: %v, want ErrProducerFenced", err)
				}
				checkCommitted(t, nil, false, topic)
				return
			}
			if err != nil {
				t.Fatalf("EndTxn(abort): %v", err)
			}
			begin(t, tp, classic)
			next := values("next", 3)
			rep = produceValues(t, tp, []string{topic}, 1, next)
			endTxn(t, tp, true)
			allAcked(t, rep, "next transaction")
			checkCommitted(t, next, false, topic)
		})
	})
}

// TestTxnCloseAborts: Close with a transaction open aborts it: the
// coordinator completes the abort, the partitions' last stable offset
// catches up with their end, nothing is visible.
func TestTxnCloseAborts(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	protocols(t, func(t *testing.T, classic bool) {
		topic := newTopic(t, nil, cl, 2)
		cfg := txnConfig(t)
		cfg.Linger = time.Hour // nothing is sent but by Flush
		tp := newTxnProducer(t, cl, cfg, classic)
		begin(t, tp, classic)
		open := produceValues(t, tp, []string{topic}, 2, values("open", 6))
		if err := tp.Flush(testhelp.Ctx(t, time.Minute)); err != nil {
			t.Fatal(err)
		}
		allAcked(t, open, "open transaction")
		unsent := testhelp.NewReports(1)
		mustProduce(t, tp.Producer, msg(topic, 1, "unsent"), unsent.Done) // lingers: Close fails it
		if lso, hwm := lastStable(t, cl, topic, 0); lso >= hwm {
			t.Fatalf("partition 0: last stable offset %d, end %d: the open transaction should hold it back", lso, hwm)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := tp.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		unsent.Wait(t, time.Minute)
		if errs := unsent.Errors(); len(errs) != 1 {
			t.Fatalf("the unsent message: %v, want it failed", errs)
		}
		if st := txnState(t, tp); st != "CompleteAbort" && st != "PrepareAbort" {
			t.Fatalf("transaction state after Close: %s, want aborted", st)
		}
		testhelp.Eventually(t, time.Minute, "markers written", func() error {
			for p := int32(0); p < 2; p++ {
				if lso, hwm := lastStable(t, cl, topic, p); lso != hwm {
					return errors.New("last stable offset behind the end")
				}
			}
			return nil
		})
		checkCommitted(t, nil, false, topic)
		if err := tp.BeginTxn(ctx); !errors.Is(err, kerr.ErrClosed) {
			t.Fatalf("BeginTxn after Close: %v, want ErrClosed", err)
		}
	})
}

// TestTxnMisuse: the calls out of order fail with typed errors and change
// nothing.
func TestTxnMisuse(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := newTopic(t, nil, cl, 1)
	tp := newTxnProducer(t, cl, txnConfig(t), false)
	ctx := testhelp.Ctx(t, time.Minute)
	never := func(*engine.Message, error) { t.Error("a refused message was reported") }
	if err := tp.Produce(ctx, msg(topic, 0, "outside"), never); !errors.Is(err, kerr.ErrNoTransaction) {
		t.Fatalf("Produce before BeginTxn: %v, want ErrNoTransaction", err)
	}
	if err := tp.EndTxn(ctx, true); !errors.Is(err, kerr.ErrNoTransaction) {
		t.Fatalf("EndTxn before BeginTxn: %v, want ErrNoTransaction", err)
	}
	if err := tp.SendOffsets(ctx, engine.GroupCommit{Group: "g", Offsets: map[engine.TopicPartition]int64{{Topic: topic}: 1}}); !errors.Is(err, kerr.ErrNoTransaction) {
		t.Fatalf("SendOffsets before BeginTxn: %v, want ErrNoTransaction", err)
	}
	if err := tp.BeginTxn(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tp.BeginTxn(ctx); !errors.Is(err, kerr.ErrTransactionOpen) {
		t.Fatalf("BeginTxn twice: %v, want ErrTransactionOpen", err)
	}
	endTxn(t, tp, true) // empty: nothing sent
	if err := tp.Produce(ctx, msg(topic, 0, "after"), never); !errors.Is(err, kerr.ErrNoTransaction) {
		t.Fatalf("Produce after EndTxn: %v, want ErrNoTransaction", err)
	}
	if err := tp.EndTxn(ctx, false); !errors.Is(err, kerr.ErrNoTransaction) {
		t.Fatalf("EndTxn twice: %v, want ErrNoTransaction", err)
	}

	for _, bad := range []func(*engine.ProducerConfig){
		func(c *engine.ProducerConfig) { c.TransactionTimeout = 0 },
		func(c *engine.ProducerConfig) { c.Idempotent = false; c.Acks = engine.RequireLeader },
	} {
		cfg := txnConfig(t)
		bad(&cfg)
		if _, err := New(context.Background(), cl, cfg); !errors.Is(err, kerr.ErrInvalidConfig) {
			t.Fatalf("New(%+v): %v, want ErrInvalidConfig", cfg, err)
		}
	}
	// A plain producer is no TxnProducer.
	ep, err := New(context.Background(), cl, testhelp.ProducerConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close(ctx)
	if _, ok := ep.(engine.TxnProducer); ok {
		t.Fatal("a producer without TransactionalID implements engine.TxnProducer")
	}
}

// TestTxnEndInterrupted: an EndTxn whose context ends first (here while a
// message waits for a partition that does not exist yet) leaves the
// transaction to another call: a commit cut short commits when called again
// (the partition has come), or becomes an abort.
func TestTxnEndInterrupted(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	protocols(t, func(t *testing.T, classic bool) {
		topic := newTopic(t, nil, cl, 2)
		tp := newTxnProducer(t, cl, txnConfig(t), classic)
		short := func() context.Context {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			t.Cleanup(cancel)
			return ctx
		}

		// Cut short, then aborted.
		begin(t, tp, classic)
		rep := produceValues(t, tp, []string{topic}, 2, values("aborted", 4))
		waiting := testhelp.NewReports(1)
		mustProduce(t, tp.Producer, msg(topic, 2, "nowhere"), waiting.Done)
		if err := tp.EndTxn(short(), true); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("EndTxn(commit) while a message waits: %v, want context.DeadlineExceeded", err)
		}
		endTxn(t, tp, false)
		rep.Wait(t, time.Minute)
		waiting.Wait(t, time.Minute)
		if errs := waiting.Errors(); len(errs) != 1 || !errors.Is(errs[0], kerr.ErrTransactionAborted) {
			t.Fatalf("the waiting message after the abort: %v, want it failed with ErrTransactionAborted", errs)
		}

		// Cut short, then committed once the partition exists.
		begin(t, tp, classic)
		kept := values("kept", 4)
		rep = produceValues(t, tp, []string{topic}, 2, kept)
		waiting = testhelp.NewReports(1)
		mustProduce(t, tp.Producer, msg(topic, 2, "late-partition"), waiting.Done)
		if err := tp.EndTxn(short(), true); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("EndTxn(commit) while a message waits: %v, want context.DeadlineExceeded", err)
		}
		testhelp.AddPartitions(t, cl, topic, 3)
		endTxn(t, tp, true)
		allAcked(t, rep, "committed after a retry")
		allAcked(t, waiting, "the message to the new partition")
		checkCommitted(t, append(kept, "late-partition"), false, topic)
	})
}
