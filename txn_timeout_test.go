package kafka_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
)

// brokerCode is the protocol name of the broker error in err, or "".
func brokerCode(err error) string {
	var be *kafka.BrokerError
	if errors.As(err, &be) {
		return be.Name
	}
	return ""
}

// timedOutForGood reports whether err is how a commit of a transaction
// that its coordinator aborted for its age ends the producer: fenced
// (the classic protocol, and librdkafka), or the coordinator's
// INVALID_TXN_STATE (transactions v2), as Kafka's Java client 4.3 has it.
func timedOutForGood(err error) bool {
	return errors.Is(err, kafka.ErrProducerFenced) || brokerCode(err) == "INVALID_TXN_STATE"
}

// TestTransactionOutlivesTimeout: a transaction open longer than its
// TransactionTimeout (2 s) is aborted by the coordinator (which looks every
// 10 s, Kafka's default). Its messages, acknowledged before the timeout,
// are never visible to a read_committed reader (kcat), while a later
// transaction of another producer on the same partition becomes visible
// once the coordinator aborted the first. Then:
//
//   - commit: the commit fails with a typed error that ends the producer
//     (ErrProducerFenced, or INVALID_TXN_STATE with transactions v2), and
//     so does every later call; a new producer with the id goes on.
//   - produce: messages produced after the timeout fail; the transaction
//     cannot commit (ErrAbortRequired or the fatal error); with
//     transactions v2 the abort works and the producer goes on, else the
//     abort is refused as fenced.
//
// Both engines; nothing of a timed-out transaction is ever visible.
func TestTransactionOutlivesTimeout(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		for _, what := range []string{"commit", "produce"} {
			t.Run(what, func(t *testing.T) {
				testhelp.NoLeaks(t)
				client := newClient(t)
				ctx := testhelp.Ctx(t, 2*time.Minute)
				topic := newTopic(t, client, 1)
				id := testhelp.UniqueName(t, "expire")
				cfg := kafka.ProducerConfig{TransactionalID: id, TransactionTimeout: 2 * time.Second, UseRdkafka: e.rdkafka}
				p := newProducer(t, client, cfg)
				defer p.Close(ctx)
				produceInTxn(t, ctx, p, topic, "stale", 5)
				// Another producer's transaction after it on the
				// partition: visible only once the stale one is
				// aborted (the last stable offset stops at it).
				q := newProducer(t, client, kafka.ProducerConfig{TransactionalID: id + "-other", UseRdkafka: e.rdkafka})
				defer q.Close(ctx)
				commitTxnMsgs(t, ctx, q, topic, "after", 3)
				t0 := time.Now()
				waitReadCommittedWithin(t, time.Minute, topic.Name(), map[string]int{"after": 3}, prefix)
				t.Logf("the coordinator aborted the stale transaction %v after the next one committed", time.Since(t0).Round(100*time.Millisecond))

				switch what {
				case "commit":
					err := p.CommitTransaction(ctx)
					if !timedOutForGood(err) {
						t.Fatalf("commit after the timeout: %v, want ErrProducerFenced or INVALID_TXN_STATE", err)
					}
					t.Logf("commit after the timeout: %v", err)
					if err2 := p.BeginTransaction(ctx); !timedOutForGood(err2) {
						t.Fatalf("BeginTransaction after the fatal error: %v", err2)
					}
					// A new producer with the id takes over.
					again := newProducer(t, client, cfg)
					defer again.Close(ctx)
					commitTxnMsgs(t, ctx, again, topic, "again", 2)
					waitReadCommitted(t, topic.Name(), map[string]int{"after": 3, "again": 2}, prefix)
				case "produce":
					res := p.ProduceSync(ctx, txnMsgs(topic, "late", 2)...)
					if res.Err() == nil {
						t.Fatal("messages produced after the timeout were acknowledged")
					}
					err := p.CommitTransaction(ctx)
					t.Logf("produce after the timeout: %v; commit: %v", res.Err(), err)
					if err == nil {
						t.Fatal("a transaction whose messages failed committed")
					}
					if errors.Is(err, kafka.ErrAbortRequired) {
						err = p.AbortTransaction(ctx)
						t.Logf("abort: %v", err)
					}
					want := map[string]int{"after": 3}
					switch {
					case err == nil: // the producer goes on (transactions v2)
						commitTxnMsgs(t, ctx, p, topic, "next", 2)
						want["next"] = 2
					case !timedOutForGood(err):
						t.Fatalf("after the late messages: %v, want the abort to work or a fatal ErrProducerFenced/INVALID_TXN_STATE", err)
					}
					waitReadCommitted(t, topic.Name(), want, prefix)
				}
				// The stale messages were written; they never show.
				if got := counts(readUncommitted(t, topic.Name())); got["stale"] != 5 {
					t.Fatalf("read_uncommitted (kcat): %v, want the 5 stale messages on the log", got)
				}
			})
		}
	})
}
