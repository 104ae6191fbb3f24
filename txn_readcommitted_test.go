package kafka_test

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
)

// TestReadCommittedConsumers: the consumers of both engines, with
// Isolation ReadCommitted, over a log of two partitions that holds, in
// order, a committed transaction (c1), an aborted one whose messages were
// written (aborted), plain messages, another committed transaction (c2),
// then a transaction left open (open) followed by plain messages
// (behind). They hand out c1, plain and c2 — never the aborted messages,
// never a control record (every value is one of the producers') — and then
// nothing while the transaction is open: they stop at the last stable
// offset, which also holds back the plain messages written after it. Once
// it commits, they read on: open, then behind. A ReadUncommitted consumer
// of the same engine reads the aborted messages, so the log does hold them.
func TestReadCommittedConsumers(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		testhelp.NoLeaks(t)
		client := newClient(t)
		ctx := testhelp.Ctx(t, 2*time.Minute)
		topic := newTopic(t, client, 2)

		txn := newProducer(t, client, kafka.ProducerConfig{TransactionalID: testhelp.UniqueName(t, "rc")})
		defer txn.Close(ctx)
		plain := newProducer(t, client, kafka.ProducerConfig{})
		defer plain.Close(ctx)
		inTxn := func(prefix string, n int, commit bool) {
			t.Helper()
			produceInTxn(t, ctx, txn, topic, prefix, n)
			end := txn.AbortTransaction
			if commit {
				end = txn.CommitTransaction
			}
			if err := end(ctx); err != nil {
				t.Fatal(err)
			}
		}
		outside := func(prefix string, n int) {
			t.Helper()
			if err := plain.ProduceSync(ctx, txnMsgs(topic, prefix, n)...).Err(); err != nil {
				t.Fatal(err)
			}
		}
		inTxn("c1", 10, true)
		inTxn("aborted", 10, false)
		outside("plain", 4)
		inTxn("c2", 10, true)
		// The open transaction, and plain messages after it.
		produceInTxn(t, ctx, txn, topic, "open", 6)
		outside("behind", 2)

		c, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerOptions: kafka.ConsumerOptions{
			Isolation: kafka.ReadCommitted, UseRdkafka: e.rdkafka,
		}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		last := map[int32]int64{0: -1, 1: -1}
		read := func(n int) map[string]int {
			t.Helper()
			got := map[string]int{}
			for _, m := range consumeN(t, c, n) {
				if m.Offset <= last[m.Partition] {
					t.Fatalf("partition %d: offset %d after %d", m.Partition, m.Offset, last[m.Partition])
				}
				last[m.Partition] = m.Offset
				got[prefix(string(m.Value))]++
			}
			return got
		}
		// stopped asserts that nothing more comes within 2 s: the consumer
		// is at the last stable offset (or the end).
		stopped := func(what string) {
			t.Helper()
			wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			m, err := c.Consume(wctx)
			if err == nil {
				t.Fatalf("%s: read %q at %d/%d, want nothing more", what, m.Value, m.Partition, m.Offset)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("%s: %v, want nothing more (ctx's deadline)", what, err)
			}
		}
		if got, want := read(24), map[string]int{"c1": 10, "plain": 4, "c2": 10}; !maps.Equal(got, want) {
			t.Fatalf("read_committed, %s: %v, want %v", e.name, got, want)
		}
		stopped("with a transaction open")
		if err := txn.CommitTransaction(ctx); err != nil {
			t.Fatal(err)
		}
		if got, want := read(8), map[string]int{"open": 6, "behind": 2}; !maps.Equal(got, want) {
			t.Fatalf("read_committed after the commit, %s: %v, want %v", e.name, got, want)
		}
		stopped("at the end")

		u, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: e.rdkafka}})
		if err != nil {
			t.Fatal(err)
		}
		defer u.Close(ctx)
		got := map[string]int{}
		for _, m := range consumeN(t, u, 42) {
			got[prefix(string(m.Value))]++
		}
		if want := map[string]int{"c1": 10, "aborted": 10, "plain": 4, "c2": 10, "open": 6, "behind": 2}; !maps.Equal(got, want) {
			t.Fatalf("read_uncommitted, %s: %v, want %v", e.name, got, want)
		}
	})
}
