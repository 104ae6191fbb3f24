package kafka_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// TestTransactionZooKeeperGroup: what a transaction can and cannot do for a
// ZooKeeper-coordinated group, whose offsets live in Kafka but whose
// membership Kafka's group coordinator never sees. The member's
// GroupMetadata has generation -1 and no member id; its positions, sent in
// a transaction (each engine's producer), are committed with it and not
// when it aborts, and the outputs likewise (kcat, read_committed). What is
// not possible: fencing a stale member. Offsets sent for the group with
// generation -1 by any producer — a zombie that lost its partitions, say —
// are accepted, even when they move the committed offsets back.
func TestTransactionZooKeeperGroup(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		testhelp.NoLeaks(t)
		client := newClient(t)
		ctx := testhelp.Ctx(t, 2*time.Minute)
		in, out := newTopic(t, client, 2), newTopic(t, client, 2)
		produceTo(t, client, in.Name(), 2, 20)
		group := testhelp.UniqueName(t, "zk")
		c, err := client.NewBalancedConsumer(ctx, kafka.BalancedConsumerConfig{
			Group: group, Topics: []string{in.Name()},
			Protocol: kafka.GroupProtocolZooKeeper, ZooKeeper: testinstance.Shared().ZooKeeper(),
		})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close(ctx)
		if md := c.GroupMetadata(); md.Group != group || md.Generation != -1 || md.MemberID != "" {
			t.Fatalf("a ZooKeeper member's GroupMetadata: %+v, want the group, generation -1, no member id", md)
		}
		p := newProducer(t, client, kafka.ProducerConfig{TransactionalID: testhelp.UniqueName(t, "zktxn"), UseRdkafka: e.rdkafka})
		defer p.Close(ctx)
		committed := func() int64 {
			t.Helper()
			got, err := client.CommittedOffsets(ctx, group)
			if err != nil {
				t.Fatal(err)
			}
			var sum int64
			for _, o := range got {
				sum += o
			}
			return sum
		}
		// copy reads n inputs and writes them to out in a transaction
		// with the consumer's positions, then commits or aborts it.
		copyN := func(n int, commit bool) {
			t.Helper()
			if err := p.BeginTransaction(ctx); err != nil {
				t.Fatal(err)
			}
			for _, m := range consumeN(t, c, n) {
				if err := p.ProduceMessage(ctx, &kafka.Message{Topic: out.Name(), Value: m.Value}); err != nil {
					t.Fatal(err)
				}
			}
			if err := p.SendConsumerOffsets(ctx, c); err != nil {
				t.Fatal(err)
			}
			end := p.AbortTransaction
			if commit {
				end = p.CommitTransaction
			}
			if err := end(ctx); err != nil {
				t.Fatal(err)
			}
		}
		// (After the abort the consumer is not rewound, as a real loop
		// must do and Pipeline does: the committed offsets below count
		// the 6 aborted inputs as read.)
		copyN(6, false)
		if n := committed(); n != 0 {
			t.Fatalf("offsets of an aborted transaction committed: %d", n)
		}
		copyN(10, true)
		testhelp.Eventually(t, 30*time.Second, "the transaction's offsets committed", func() error {
			if n := committed(); n != 16 {
				return fmt.Errorf("committed offsets add up to %d, want 16 (6 aborted + 10 committed inputs read)", n)
			}
			return nil
		})
		waitReadCommitted(t, out.Name(), map[string]int{"": 10}, func(string) string { return "" })

		// Not possible: nothing fences a stale member's offsets.
		zombie := newProducer(t, client, kafka.ProducerConfig{TransactionalID: testhelp.UniqueName(t, "zkzombie"), UseRdkafka: e.rdkafka})
		defer zombie.Close(context.Background())
		if err := zombie.BeginTransaction(ctx); err != nil {
			t.Fatal(err)
		}
		if err := zombie.SendOffsets(ctx, kafka.GroupMetadata{Group: group, Generation: -1}, at(in, map[int32]int64{0: 0, 1: 0})); err != nil {
			t.Fatalf("a stale member's offsets: %v (Kafka cannot refuse them: it does not know the group's generations)", err)
		}
		if err := zombie.CommitTransaction(ctx); err != nil {
			t.Fatal(err)
		}
		testhelp.Eventually(t, 30*time.Second, "the stale offsets committed", func() error {
			if n := committed(); n != 0 {
				return fmt.Errorf("committed offsets add up to %d, want 0: the stale member's", n)
			}
			return nil
		})
	})
}
