package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
)

// readUncommitted reads a topic with kcat as a read_uncommitted consumer:
// everything on the log, aborted transactions included (control records are
// never handed out).
func readUncommitted(t *testing.T, topic string) []string {
	t.Helper()
	return kcatValues(t, topic, "read_uncommitted")
}

// counts counts values by prefix.
func counts(vals []string) map[string]int {
	out := map[string]int{}
	for _, v := range vals {
		out[prefix(v)]++
	}
	return out
}

// txnMsgs are n messages "prefix-i" for topic, spread over its partitions.
func txnMsgs(topic *kafka.Topic, prefix string, n int) []*kafka.Message {
	parts := int32(len(topic.Partitions()))
	out := make([]*kafka.Message, n)
	for i := range out {
		out[i] = &kafka.Message{Topic: topic.Name(), Partition: int32(i) % parts, PartitionSet: true, Value: []byte(fmt.Sprintf("%s-%d", prefix, i))}
	}
	return out
}

// produceInTxn begins a transaction on p and produces txnMsgs(topic,
// prefix, n) in it, failing the test at the first error. The transaction
// stays open: the caller ends it (or tests what ending it does).
func produceInTxn(t *testing.T, ctx context.Context, p *kafka.Producer, topic *kafka.Topic, prefix string, n int) {
	t.Helper()
	if err := p.BeginTransaction(ctx); err != nil {
		t.Fatalf("BeginTransaction: %v", err)
	}
	if err := p.ProduceSync(ctx, txnMsgs(topic, prefix, n)...).Err(); err != nil {
		t.Fatalf("%d %q messages in the transaction: %v", n, prefix, err)
	}
}

// commitTxnMsgs is produceInTxn followed by a commit that must succeed.
func commitTxnMsgs(t *testing.T, ctx context.Context, p *kafka.Producer, topic *kafka.Topic, prefix string, n int) {
	t.Helper()
	produceInTxn(t, ctx, p, topic, prefix, n)
	if err := p.CommitTransaction(ctx); err != nil {
		t.Fatalf("CommitTransaction of the %q messages: %v", prefix, err)
	}
}

// waitReadCommitted polls kcat, a read_committed reader, until what it
// reads of topic, counted by key, is want, and fails the test if that has
// not happened within 30 s. A committed transaction becomes visible once
// its coordinator has written the markers, which it does after answering
// the commit: the reader may lag the commit a little, never more.
func waitReadCommitted(t *testing.T, topic string, want map[string]int, key func(string) string) {
	t.Helper()
	waitReadCommittedWithin(t, 30*time.Second, topic, want, key)
}

// waitReadCommittedWithin is waitReadCommitted within d.
func waitReadCommittedWithin(t *testing.T, d time.Duration, topic string, want map[string]int, key func(string) string) {
	t.Helper()
	testhelp.Eventually(t, d, fmt.Sprintf("read_committed (kcat) reads %v", want), func() error {
		got := map[string]int{}
		for _, v := range readCommitted(t, topic) {
			got[key(v)]++
		}
		if !maps.Equal(got, want) {
			return fmt.Errorf("read %v", got)
		}
		return nil
	})
}

// prefix is what comes before a value's first '-'.
func prefix(v string) string {
	p, _, _ := strings.Cut(v, "-")
	return p
}

// isFenced reports whether err says that the producer was fenced: a newer
// producer with the TransactionalID took over.
func isFenced(err error) bool { return errors.Is(err, kafka.ErrProducerFenced) }

// TestTransactionZombieFencing: two producers with one TransactionalID, of
// every pair of engines. The older one (the zombie) writes 12 messages in a
// transaction — acknowledged, on the log — then the newer one begins
// (initializing the id fences the older and aborts its open transaction),
// writes and commits. The zombie's commit, and everything it tries after,
// fails with ErrProducerFenced; a second zombie that produces after the
// fence ends fenced too (its late messages fail, its commit cannot pass).
// kcat, as a read_committed reader, sees the newer producer's messages
// only; as a read_uncommitted reader it sees the zombie's were written.
func TestTransactionZombieFencing(t *testing.T) {
	forEachEngine(t, func(t *testing.T, older engineCase) {
		for _, newer := range engines {
			t.Run("newer-"+newer.name, func(t *testing.T) {
				if newer.rdkafka && !rdkafkaCompiled(t, newTopic(t, newClient(t), 1)) {
					return // forEachEngine's rdkafka case asserts the typed error
				}
				for _, late := range []bool{false, true} {
					t.Run(fmt.Sprintf("produce-after-fence=%v", late), func(t *testing.T) {
						zombieFencing(t, older, newer, late)
					})
				}
			})
		}
	})
}

func zombieFencing(t *testing.T, older, newer engineCase, late bool) {
	testhelp.NoLeaks(t)
	client := newClient(t)
	ctx := testhelp.Ctx(t, 2*time.Minute)
	topic := newTopic(t, client, 3)
	id := testhelp.UniqueName(t, "zombie")
	zombie := newProducer(t, client, kafka.ProducerConfig{TransactionalID: id, UseRdkafka: older.rdkafka})
	defer zombie.Close(ctx)
	produceInTxn(t, ctx, zombie, topic, "zombie", 12) // its messages before the fence

	successor := newProducer(t, client, kafka.ProducerConfig{TransactionalID: id, UseRdkafka: newer.rdkafka})
	defer successor.Close(ctx)
	if err := successor.BeginTransaction(ctx); err != nil { // fences the zombie
		t.Fatalf("the newer producer's first BeginTransaction: %v", err)
	}

	var zombieErrs []error
	if late {
		// The zombie goes on as if nothing happened. Its messages
		// carry the fenced epoch: the partition leaders refuse them.
		res := zombie.ProduceSync(ctx, txnMsgs(topic, "late", 6)...)
		if res.Err() == nil {
			t.Fatal("the zombie's messages after the fence were acknowledged")
		}
		zombieErrs = append(zombieErrs, res.Err())
	}
	err := zombie.CommitTransaction(ctx)
	zombieErrs = append(zombieErrs, err)
	switch {
	case isFenced(err):
	case late && errors.Is(err, kafka.ErrAbortRequired):
		// Its messages failed first (INVALID_PRODUCER_EPOCH from a
		// leader: the fence is only certain once the coordinator
		// says so), so the transaction can only abort — and the
		// coordinator refuses the abort as fenced.
		err = zombie.AbortTransaction(ctx)
		zombieErrs = append(zombieErrs, err)
		if !isFenced(err) {
			t.Fatalf("zombie's abort after the fence: %v, want ErrProducerFenced (errors so far %v)", err, zombieErrs)
		}
	default:
		t.Fatalf("zombie's commit after the fence: %v, want ErrProducerFenced", err)
	}
	// Fenced is fatal: every later call says so.
	if err := zombie.BeginTransaction(ctx); !isFenced(err) {
		t.Fatalf("zombie's BeginTransaction after the fence: %v, want ErrProducerFenced", err)
	}
	if err := zombie.ProduceMessage(ctx, txnMsgs(topic, "after", 1)[0]); !isFenced(err) {
		t.Fatalf("zombie's Produce after the fence: %v, want ErrProducerFenced", err)
	}
	t.Logf("zombie (%s) after a %s producer took its id: %v", older.name, newer.name, zombieErrs)

	if err := successor.ProduceSync(ctx, txnMsgs(topic, "successor", 9)...).Err(); err != nil {
		t.Fatal(err)
	}
	if err := successor.CommitTransaction(ctx); err != nil {
		t.Fatalf("the newer producer's commit: %v", err)
	}

	// Nothing of the zombie's, ever: its transaction was aborted before
	// the successor's began, so the successor's are visible only after
	// the abort's markers.
	waitReadCommitted(t, topic.Name(), map[string]int{"successor": 9}, prefix)
	// The zombie's messages were on the log all along: the fence aborted
	// them, it did not stop them being written.
	if got := counts(readUncommitted(t, topic.Name())); got["zombie"] != 12 || got["successor"] != 9 {
		t.Fatalf("read_uncommitted (kcat): %v, want zombie 12 and successor 9", got)
	}
}
