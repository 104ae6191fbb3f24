package kafka_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Share groups with several members: gokafka's, Kafka's own console share
// consumer, and a member in a child process that is killed.

// shareMembers asks the group's coordinator (ShareGroupDescribe) how many
// members the group has, and how many of them have partitions assigned.
func shareMembers(ctx context.Context, cl *cluster.Cluster, group string) (members, assigned int, err error) {
	fc := kmsg.NewPtrFindCoordinatorRequest()
	fc.CoordinatorKey, fc.CoordinatorKeys = group, []string{group}
	resp, err := cl.AnyRequest(ctx, fc)
	if err != nil {
		return 0, 0, err
	}
	r := resp.(*kmsg.FindCoordinatorResponse)
	if len(r.Coordinators) != 1 || r.Coordinators[0].ErrorCode != 0 {
		return 0, 0, fmt.Errorf("FindCoordinator: %+v", r)
	}
	b, err := cl.Broker(r.Coordinators[0].NodeID)
	if err != nil {
		return 0, 0, err
	}
	req := kmsg.NewPtrShareGroupDescribeRequest()
	req.GroupIDs = []string{group}
	resp, err = b.Request(ctx, req)
	if err != nil {
		return 0, 0, err
	}
	for _, g := range resp.(*kmsg.ShareGroupDescribeResponse).Groups {
		if err := kerr.ForCode(g.ErrorCode); err != nil {
			return 0, 0, err
		}
		for _, m := range g.Members {
			members++
			if len(m.Assignment.TopicPartitions) > 0 {
				assigned++
			}
		}
	}
	return members, assigned, nil
}

// shareLag runs Kafka's kafka-share-groups tool and returns the lag of
// each partition of the group: records not yet acknowledged (accepted,
// rejected, or archived after too many deliveries).
func shareLag(t *testing.T, group string) map[int32]int64 {
	t.Helper()
	out, err := testinstance.KafkaTool(testhelp.Ctx(t, time.Minute), testinstance.Config{KafkaVersion: testinstance.Shared().KafkaVersion()}, nil,
		"kafka-share-groups", "--bootstrap-server", brokers(), "--describe", "--group", group)
	if err != nil {
		t.Fatal(err)
	}
	lag := map[int32]int64{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 5 || f[0] != group {
			continue
		}
		p, err1 := strconv.Atoi(f[2])
		l, err2 := strconv.ParseInt(f[4], 10, 64)
		if err1 != nil || err2 != nil {
			t.Fatalf("kafka-share-groups: %q", line)
		}
		lag[int32(p)] = l
	}
	return lag
}

// checkNoLag fails unless Kafka's own tool sees every record of the
// group's partitions acknowledged.
func checkNoLag(t *testing.T, group string, partitions int32) {
	t.Helper()
	lag := shareLag(t, group)
	for p := range partitions {
		if l, ok := lag[p]; !ok || l != 0 {
			t.Errorf("kafka-share-groups: partition %d has lag %d (listed: %v), want 0", p, l, ok)
		}
	}
}

// consoleLine is a record as Kafka's console share consumer prints it.
var consoleLine = regexp.MustCompile(`^Partition:(\d+)\s+Offset:(\d+)\s+Delivery:(\d+)`)

// TestShareGroupFourMembers: three gokafka members and Kafka's console
// share consumer read a 2-partition topic of 50 000 records together:
// every record is accepted exactly once across the group, all four
// members — more than the topic's partitions — get records, and Kafka's
// own tool sees nothing left.
func TestShareGroupFourMembers(t *testing.T) {
	const total = 50000
	client, topic, ok := shareTopic(t, 2, 0)
	if !ok {
		return
	}
	group := testhelp.UniqueName(t, "sg")
	ctx := testhelp.Ctx(t, 5*time.Minute)

	// The members join before a record exists, so that they all share the
	// work rather than the first one reading everything.
	ledgers := make([]*acceptLedger, 3)
	members := make([]*kafka.ShareConsumer, 3)
	for i := range members {
		ledgers[i] = newAcceptLedger()
		members[i] = newShareConsumer(t, client, group, topic.Name(), kafka.ShareConsumerConfig{
			ConsumerTimeout: 5 * time.Second, OnAcknowledged: ledgers[i].add,
		})
	}
	var console struct {
		out []byte
		err error
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		console.out, console.err = testinstance.KafkaTool(ctx, testinstance.Config{KafkaVersion: testinstance.Shared().KafkaVersion()}, nil,
			"kafka-console-share-consumer", "--bootstrap-server", brokers(), "--topic", topic.Name(), "--group", group,
			"--formatter-property", "print.partition=true", "--formatter-property", "print.offset=true",
			"--formatter-property", "print.delivery=true", "--formatter-property", "print.value=false",
			"--timeout-ms", "10000")
	})
	cl := testhelp.NewCluster(t, nil)
	testhelp.Eventually(t, 2*time.Minute, "4 members with partitions", func() error {
		m, a, err := shareMembers(ctx, cl, group)
		if err == nil && (m != 4 || a != 4) {
			err = fmt.Errorf("%d members, %d with partitions", m, a)
		}
		return err
	})
	produceTo(t, client, topic.Name(), 2, total)

	handed := make([]int, len(members))
	errs := make([]error, len(members))
	for i, c := range members {
		wg.Go(func() {
			for _, err := range c.Messages(ctx) {
				if err != nil {
					errs[i] = err
					return
				}
				handed[i]++
			}
			errs[i] = c.Close(ctx) // accepts the last records handed out
		})
	}
	wg.Wait()
	if console.err != nil {
		t.Fatalf("console share consumer: %v", console.err)
	}
	for i, err := range errs {
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
	}

	// Every record accepted exactly once: by a gokafka member, as the
	// brokers confirmed, or by the console consumer, which accepts what
	// it prints.
	count := map[kafka.TopicPartition]map[int64]int{}
	note := func(tp kafka.TopicPartition, o int64) {
		if count[tp] == nil {
			count[tp] = map[int64]int{}
		}
		count[tp][o]++
	}
	per := make([]int, 4)
	for i, l := range ledgers {
		l.check(t, fmt.Sprintf("member %d", i))
		for tp, m := range l.accepted {
			for o := range m {
				note(tp, o)
			}
		}
		per[i] = l.total()
		if per[i] != handed[i] {
			t.Errorf("member %d: handed out %d records, %d accepted", i, handed[i], per[i])
		}
	}
	for line := range strings.SplitSeq(string(console.out), "\n") {
		f := consoleLine.FindStringSubmatch(line)
		if f == nil {
			continue
		}
		p, _ := strconv.Atoi(f[1])
		o, _ := strconv.ParseInt(f[2], 10, 64)
		note(kafka.TopicPartition{Topic: topic.Name(), Partition: int32(p)}, o)
		per[3]++
	}
	n := 0
	for tp, m := range count {
		for o, c := range m {
			n++
			if c != 1 {
				t.Errorf("%s offset %d accepted %d times", tp, o, c)
			}
			if o < 0 || o >= total/2 {
				t.Errorf("%s offset %d was never produced", tp, o)
			}
		}
	}
	t.Logf("records accepted per member (gokafka x3, console): %v", per)
	if n != total {
		t.Errorf("%d distinct records accepted, want %d", n, total)
	}
	for i, c := range per {
		if c == 0 {
			t.Errorf("member %d read nothing: with 4 members on 2 partitions, all must be busy", i)
		}
	}
	checkNoLag(t, group, 2)
}

// TestShareReleaseReject: a member that releases records gets them
// delivered again (to it or another member) with a higher delivery count;
// records it rejects never come back. Every other record is accepted once.
func TestShareReleaseReject(t *testing.T) {
	const total = 2000
	client, topic, ok := shareTopic(t, 2, total)
	if !ok {
		return
	}
	group := testhelp.UniqueName(t, "sg")
	ctx := testhelp.Ctx(t, 3*time.Minute)
	type delivery struct {
		count  int16
		member int
	}
	var mu sync.Mutex
	deliveries := map[kafka.TopicPartition]map[int64][]delivery{}
	ledgers := []*acceptLedger{newAcceptLedger(), newAcceptLedger()}
	// Member 0 releases every record at an offset divisible by 10 the
	// first time it sees it, and rejects those divisible by 7 (and not
	// by 10); member 1 accepts everything it gets.
	decide := func(member int, m *kafka.Message) kafka.AckType {
		switch {
		case member == 1:
			return kafka.AcceptType
		case m.Offset%10 == 0 && m.DeliveryCount == 1:
			return kafka.ReleaseType
		case m.Offset%7 == 0 && m.Offset%10 != 0:
			return kafka.RejectType
		}
		return kafka.AcceptType
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range 2 {
		c := newShareConsumer(t, client, group, topic.Name(), kafka.ShareConsumerConfig{
			ExplicitAcknowledgement: true, ConsumerTimeout: 5 * time.Second, OnAcknowledged: ledgers[i].add,
		})
		wg.Go(func() {
			for m, err := range c.Messages(ctx) {
				if err != nil {
					errs[i] = err
					return
				}
				tp := kafka.TopicPartition{Topic: m.Topic, Partition: m.Partition}
				mu.Lock()
				if deliveries[tp] == nil {
					deliveries[tp] = map[int64][]delivery{}
				}
				deliveries[tp][m.Offset] = append(deliveries[tp][m.Offset], delivery{m.DeliveryCount, i})
				mu.Unlock()
				if err := c.Acknowledge(m, decide(i, m)); err != nil {
					errs[i] = err
					return
				}
			}
			errs[i] = c.Close(ctx)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
	}
	accepted := map[kafka.TopicPartition]map[int64]int{}
	for i, l := range ledgers {
		l.check(t, fmt.Sprintf("member %d", i))
		for tp, m := range l.accepted {
			if accepted[tp] == nil {
				accepted[tp] = map[int64]int{}
			}
			for o, n := range m {
				accepted[tp][o] += n
			}
		}
	}
	released, rejected := 0, 0
	for tp, offsets := range deliveries {
		for o, ds := range offsets {
			first := ds[0]
			switch {
			case first.member == 0 && o%10 == 0:
				// Released: delivered again, with a higher count, and
				// accepted then.
				released++
				if len(ds) < 2 || ds[1].count <= ds[0].count {
					t.Errorf("%s offset %d released, then delivered %v", tp, o, ds)
				}
				if accepted[tp][o] != 1 {
					t.Errorf("%s offset %d released, then accepted %d times", tp, o, accepted[tp][o])
				}
			case first.member == 0 && o%7 == 0:
				rejected++
				if len(ds) != 1 || accepted[tp][o] != 0 {
					t.Errorf("%s offset %d rejected, yet delivered %v and accepted %d times", tp, o, ds, accepted[tp][o])
				}
			default:
				if len(ds) != 1 || ds[0].count != 1 || accepted[tp][o] != 1 {
					t.Errorf("%s offset %d: delivered %v, accepted %d times; want once each", tp, o, ds, accepted[tp][o])
				}
			}
		}
	}
	n := 0
	for _, offsets := range deliveries {
		n += len(offsets)
	}
	t.Logf("%d records, %d released and redelivered, %d rejected", n, released, rejected)
	if n != total || released == 0 || rejected == 0 {
		t.Fatalf("%d distinct records delivered (want %d), %d released, %d rejected", n, total, released, rejected)
	}
	checkNoLag(t, group, 2)
}

// shareChildEnv marks a test binary re-executed as a share group member
// that the parent kills with SIGKILL; init hands it to runShareChild,
// before TestMain.
const shareChildEnv = "GOKAFKA_TEST_CHILD_SHARE"

func init() {
	if os.Getenv(shareChildEnv) != "" {
		runShareChild()
		os.Exit(0)
	}
}

// runShareChild is the child's main: a member that takes records without
// acknowledging them (explicit acknowledgement), prints each ("got P O D"),
// and after half a fetch prints "holding" and waits to be killed.
func runShareChild() {
	args := strings.Split(os.Getenv(shareChildEnv), "|") // topic|group
	ctx := context.Background()
	client, err := kafka.NewClient(ctx, os.Getenv("BROKERS"))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	c, err := client.NewShareConsumer(ctx, kafka.ShareConsumerConfig{
		Group: args[1], Topics: []string{args[0]}, ExplicitAcknowledgement: true, MaxRecords: 100,
	})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	for i := 0; i < 50; i++ {
		m, err := c.Consume(ctx)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Printf("got %d %d %d\n", m.Partition, m.Offset, m.DeliveryCount)
	}
	fmt.Println("holding")
	<-ctx.Done() // until SIGKILL
}

// TestShareMemberKilled: a member in a child process takes records and is
// killed with SIGKILL before it acknowledges them (mid-fetch: it handed
// out half of one). The records go to the surviving member with a higher
// delivery count — once their acquisition locks expire, or as soon as the
// broker sees the dead member's connection close — and every record is
// accepted exactly once.
func TestShareMemberKilled(t *testing.T) {
	const total = 1000
	client, topic, ok := shareTopic(t, 2, total)
	if !ok {
		return
	}
	group := testhelp.UniqueName(t, "sg")
	// Short locks and sessions, so that the dead member's records come
	// back quickly and the dead member leaves the group quickly; set
	// before the child joins (the configs are the group's).
	const lock = 3 * time.Second
	ledger := newAcceptLedger()
	setup := newShareConsumer(t, client, group, topic.Name(), kafka.ShareConsumerConfig{RecordLockDuration: lock})
	if err := setup.Close(testhelp.Ctx(t, time.Minute)); err != nil {
		t.Fatal(err)
	}
	testhelp.SetGroupConfig(t, testhelp.Ctx(t, time.Minute), testhelp.NewCluster(t, nil), group, "share.session.timeout.ms", "3000")

	child := testhelp.StartChild(t, shareChildEnv, topic.Name()+"|"+group)
	held := map[kafka.TopicPartition]map[int64]bool{}
	lines := child.Lines
	for lines.Scan() && lines.Text() != "holding" {
		var p int32
		var o int64
		var d int16
		if _, err := fmt.Sscanf(lines.Text(), "got %d %d %d", &p, &o, &d); err != nil {
			t.Fatalf("child: %q", lines.Text())
		}
		tp := kafka.TopicPartition{Topic: topic.Name(), Partition: p}
		if held[tp] == nil {
			held[tp] = map[int64]bool{}
		}
		held[tp][o] = true
	}
	child.Kill(t)
	killed := time.Now()
	if len(held) == 0 {
		t.Fatal("the child took no record")
	}

	// The dead member stays in the group until its session times out
	// (share.session.timeout.ms, 3s here), with its share of the partitions:
	// the survivor reads until it has had every record, however long
	// that takes.
	c := newShareConsumer(t, client, group, topic.Name(), kafka.ShareConsumerConfig{OnAcknowledged: ledger.add})
	ctx := testhelp.Ctx(t, 2*time.Minute)
	redelivered := 0
	var firstBack time.Duration
	seen := map[kafka.TopicPartition]map[int64]bool{}
	for distinct := 0; distinct < total; {
		m, err := c.Consume(ctx)
		if err != nil {
			t.Fatalf("after %d of %d records: %v", distinct, total, err)
		}
		tp := kafka.TopicPartition{Topic: m.Topic, Partition: m.Partition}
		if seen[tp] == nil {
			seen[tp] = map[int64]bool{}
		}
		if !seen[tp][m.Offset] {
			seen[tp][m.Offset] = true
			distinct++
		}
		if held[tp][m.Offset] {
			if m.DeliveryCount < 2 {
				t.Errorf("%s offset %d: the killed member held it, yet its delivery count is %d", tp, m.Offset, m.DeliveryCount)
			}
			if redelivered == 0 {
				firstBack = time.Since(killed)
			}
			redelivered++
		}
	}
	if err := c.Close(ctx); err != nil { // accepts the last records handed out
		t.Fatal(err)
	}
	ledger.check(t, "survivor")
	if ledger.total() != total {
		t.Errorf("survivor accepted %d records, want all %d", ledger.total(), total)
	}
	n := 0
	for _, m := range held {
		n += len(m)
	}
	if redelivered != n {
		t.Errorf("%d of the %d records the killed member held came back", redelivered, n)
	}
	t.Logf("the killed member held %d records; they came back %v after SIGKILL (lock %v)", n, firstBack.Round(time.Millisecond), lock)
	checkNoLag(t, group, 2)
}
