package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/offsets"
	"github.com/gokafka/kafka/testhelp"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupType is what the group's coordinator says the group is: "consumer"
// if ConsumerGroupDescribe knows it, else "classic" (the coordinator
// answers GROUP_ID_NOT_FOUND for a group of another type).
func groupType(t *testing.T, ctx context.Context, group string) string {
	t.Helper()
	cl := testhelp.NewCluster(t, nil)
	g, err := offsets.NewGroup(cl, group, offsets.GroupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	id, err := g.Coordinator(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := cl.Broker(id)
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{group}
	resp, err := b.Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	dg := resp.(*kmsg.ConsumerGroupDescribeResponse).Groups[0]
	switch err := kerr.ForCode(dg.ErrorCode); {
	case err == nil:
		return "consumer"
	case errors.Is(err, kerr.GroupIDNotFound):
		return "classic"
	default:
		t.Fatalf("ConsumerGroupDescribe %s: %v", group, err)
		return ""
	}
}

// TestMigrationToConsumerProtocol: a classic group of gokafka members moves
// to the consumer protocol as its members restart with it, under a steady
// stream of messages, and nothing is lost: offline (every member stops,
// then they come back on the new protocol: Kafka converts the empty group,
// whatever group.consumer.migration.policy says) and rolling (one member
// at a time: Kafka converts the group when the first consumer-protocol
// member joins while classic members are still in it, as
// group.consumer.migration.policy=bidirectional, which testinstance sets,
// allows). Committed offsets carry over: the new members resume where the
// old ones committed.
func TestMigrationToConsumerProtocol(t *testing.T) {
	for _, rolling := range []bool{false, true} {
		name := "offline"
		if rolling {
			name = "rolling"
		}
		t.Run(name, func(t *testing.T) { testMigration(t, rolling) })
	}
}

func testMigration(t *testing.T, rolling bool) {
	testhelp.NoLeaks(t)
	client := newClient(t)
	const parts = 6
	topic := newTopic(t, client, parts)
	if !consumerProtocol(t, topic) {
		return
	}
	ctx := testhelp.Ctx(t, 4*time.Minute)
	r := newGroupRun(t, "migration", topic)
	fastGroup(t, r.group)

	// A producer keeps writing through the migration.
	p, err := topic.NewProducer(kafka.ProducerConfig{Linger: 2 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var produced atomic.Int64
	stopProducing := make(chan struct{})
	var prodWG sync.WaitGroup
	prodWG.Add(1)
	go func() {
		defer prodWG.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopProducing:
				return
			case <-tick.C: // the pace of production, not synchronisation
			}
			for range 3 {
				i := produced.Load()
				if err := p.Produce(ctx, []byte(strconv.FormatInt(i, 10)), kafka.ToPartition(int32(i%parts))); err != nil {
					t.Errorf("Produce: %v", err)
					return
				}
				produced.Add(1)
			}
		}
	}()

	classic := kafka.BalancedConsumerConfig{
		Protocol: kafka.GroupProtocolClassic, Strategy: kafka.CooperativeStickyStrategy,
		SessionTimeout: testhelp.FastSession, HeartbeatInterval: testhelp.FastHeartbeat,
		ConsumerOptions: kafka.ConsumerOptions{AutoCommit: true},
	}
	consumerCfg := kafka.BalancedConsumerConfig{
		Protocol:        kafka.GroupProtocolConsumer,
		ConsumerOptions: kafka.ConsumerOptions{AutoCommit: true},
	}
	members := []*goMember{r.startGo(ctx, "classic-1", classic), r.startGo(ctx, "classic-2", classic)}
	r.waitBalanced(testhelp.Ctx(t, time.Minute), parts)
	testhelp.WaitUntil(t, time.Minute, "the classic members read", func() bool { d, _ := r.counts(); return d > 500 })
	if got := groupType(t, ctx, r.group); got != "classic" {
		t.Fatalf("the group is %s before the migration", got)
	}
	stop := func(m *goMember) {
		t.Helper()
		if err := m.stop(ctx); err != nil {
			t.Errorf("%s: %v", m.name(), err)
		}
		r.remove(m)
	}
	if rolling {
		for i, m := range members {
			stop(m)
			members[i] = r.startGo(ctx, fmt.Sprintf("consumer-%d", i+1), consumerCfg)
			r.waitBalanced(testhelp.Ctx(t, time.Minute), parts)
			if got := groupType(t, ctx, r.group); got != "consumer" {
				t.Fatalf("after %d of 2 members restarted: the group is %s", i+1, got)
			}
			testhelp.Eventually(t, time.Minute, "Kafka's consumer-groups tool agrees", func() error {
				return r.toolAgrees(testhelp.Ctx(t, time.Minute))
			})
			before, _ := r.counts()
			testhelp.WaitUntil(t, time.Minute, "the group reads on", func() bool { d, _ := r.counts(); return d > before+300 })
		}
	} else {
		for _, m := range members {
			stop(m)
		}
		for i := range members {
			members[i] = r.startGo(ctx, fmt.Sprintf("consumer-%d", i+1), consumerCfg)
		}
		r.waitBalanced(testhelp.Ctx(t, time.Minute), parts)
		if got := groupType(t, ctx, r.group); got != "consumer" {
			t.Fatalf("after the restart: the group is %s", got)
		}
		testhelp.Eventually(t, time.Minute, "Kafka's consumer-groups tool agrees", func() error {
			return r.toolAgrees(testhelp.Ctx(t, time.Minute))
		})
	}

	close(stopProducing)
	prodWG.Wait()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	n := int(produced.Load())
	testhelp.Eventually(t, 2*time.Minute, "every message read", func() error {
		if d, _ := r.counts(); d < n {
			return fmt.Errorf("%d of %d read; missing %v", d, n, r.missing(n))
		}
		return nil
	})
	for _, m := range members {
		stop(m)
	}
	r.ledger.Check(t)
	distinct, again := r.counts()
	t.Logf("%d messages produced, %d read, %d re-deliveries", n, distinct, again)
	if distinct != n {
		t.Fatalf("read %d distinct messages, produced %d", distinct, n)
	}
	// The members committed as they stopped: a restart resumes there, it
	// does not read the topic again.
	if again > n/10 {
		t.Errorf("%d re-deliveries of %d messages: the committed offsets did not carry over", again, n)
	}
}
