package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
)

// TestTransactionConfigErrors: a transactional id needs acks=all and
// idempotence; a transaction timeout needs a transactional id.
func TestTransactionConfigErrors(t *testing.T) {
	client := newClient(t)
	checkConfigErrors(t, func(cfg kafka.ProducerConfig) error {
		_, err := client.NewProducer(cfg)
		return err
	}, []configCase[kafka.ProducerConfig]{
		{"ProducerConfig.TransactionalID", kafka.ProducerConfig{TransactionalID: "x", Acks: kafka.AcksLeader}},
		{"ProducerConfig.TransactionalID", kafka.ProducerConfig{TransactionalID: "x", DisableIdempotence: true}},
		{"ProducerConfig.TransactionTimeout", kafka.ProducerConfig{TransactionTimeout: time.Second}},
		{"ProducerConfig.TransactionTimeout", kafka.ProducerConfig{TransactionalID: "x", TransactionTimeout: -1}},
	})
}

// readCommitted reads a topic with kcat as a read_committed consumer, a
// client nobody here wrote, and returns the values.
func readCommitted(t *testing.T, topic string) []string {
	t.Helper()
	return kcatValues(t, topic, "read_committed")
}

// kcatValues reads a topic to its end with kcat at isolation (librdkafka's
// isolation.level) and returns the values, one a line, in the order kcat
// printed them.
func kcatValues(t *testing.T, topic, isolation string) []string {
	t.Helper()
	out := testhelp.Kcat(t, nil, "", "-C", "-t", topic, "-e", "-q", "-X", "isolation.level="+isolation, "-f", "%s\n")
	var vals []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" {
			vals = append(vals, l)
		}
	}
	return vals
}

// TestTransactionStateErrors: producing, committing or sending offsets
// outside a transaction, and beginning one twice, are typed errors; a
// committed transaction over two topics is visible to a read_committed
// reader, an aborted one is not, and Close aborts an open one.
func TestTransactionStateErrors(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		a, b := newTopic(t, client, 2), newTopic(t, client, 3)
		p := newProducer(t, client, kafka.ProducerConfig{TransactionalID: testhelp.UniqueName(t, "txn"), UseRdkafka: e.rdkafka})
		ctx := testhelp.Ctx(t, 2*time.Minute)
		msg := func(topic *kafka.Topic, v string) *kafka.Message {
			return &kafka.Message{Topic: topic.Name(), Value: []byte(v)}
		}
		if err := p.ProduceMessage(ctx, msg(a, "outside")); !errors.Is(err, kafka.ErrNoTransaction) {
			t.Fatalf("Produce outside a transaction: %v", err)
		}
		if err := p.CommitTransaction(ctx); !errors.Is(err, kafka.ErrNoTransaction) {
			t.Fatalf("Commit without Begin: %v", err)
		}
		if err := p.AbortTransaction(ctx); !errors.Is(err, kafka.ErrNoTransaction) {
			t.Fatalf("Abort without Begin: %v", err)
		}
		if err := p.BeginTransaction(ctx); err != nil {
			t.Fatal(err)
		}
		if err := p.BeginTransaction(ctx); !errors.Is(err, kafka.ErrTransactionOpen) {
			t.Fatalf("Begin twice: %v", err)
		}
		for i := 0; i < 10; i++ {
			if err := p.ProduceMessage(ctx, msg(a, fmt.Sprint("c", i))); err != nil {
				t.Fatal(err)
			}
			if err := p.ProduceMessage(ctx, msg(b, fmt.Sprint("c", i))); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.CommitTransaction(ctx); err != nil {
			t.Fatal(err)
		}
		// beginWith begins a transaction holding the one message m.
		beginWith := func(m *kafka.Message) {
			t.Helper()
			if err := p.BeginTransaction(ctx); err != nil {
				t.Fatal(err)
			}
			if err := p.ProduceMessage(ctx, m); err != nil {
				t.Fatal(err)
			}
		}
		beginWith(msg(a, "aborted"))
		if err := p.AbortTransaction(ctx); err != nil {
			t.Fatal(err)
		}
		beginWith(msg(b, "closed"))
		if err := p.Close(ctx); err != nil { // aborts the open transaction
			t.Fatal(err)
		}
		// A last committed transaction, so the topics' last stable
		// offsets are past the aborted ones and the reader's -e ends.
		q := newProducer(t, client, kafka.ProducerConfig{TransactionalID: testhelp.UniqueName(t, "txn2"), UseRdkafka: e.rdkafka})
		defer q.Close(context.Background())
		if err := q.BeginTransaction(ctx); err != nil {
			t.Fatal(err)
		}
		if err := q.ProduceSync(ctx, msg(a, "end"), msg(b, "end")).Err(); err != nil {
			t.Fatal(err)
		}
		if err := q.CommitTransaction(ctx); err != nil {
			t.Fatal(err)
		}
		for _, topic := range []*kafka.Topic{a, b} {
			// c0..c9 and end once each: nothing aborted, closed or
			// outside.
			want := map[string]int{"end": 1}
			for i := 0; i < 10; i++ {
				want[fmt.Sprint("c", i)] = 1
			}
			waitReadCommitted(t, topic.Name(), want, func(v string) string { return v })
		}
	})
}
