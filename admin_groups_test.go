package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// ownedBy returns nil once Kafka's tool (the offsets view) shows every one
// of the group's partitions owned, by members distinct members in all.
func ownedBy(ctx context.Context, group string, partitions, members int) error {
	tool, err := testhelp.GroupOffsets[kafka.TopicPartition](ctx, nil, group)
	if err != nil {
		return err
	}
	ids := map[string]bool{}
	owned := 0
	for _, o := range tool {
		if o.MemberID != "" {
			ids[o.MemberID] = true
			owned++
		}
	}
	if owned != partitions || len(ids) != members {
		return fmt.Errorf("%d of %d partitions owned, by %d members (want %d): %v", owned, partitions, len(ids), members, tool)
	}
	return nil
}

// startReader starts an outside group member (kcat -G, Kafka's console
// consumer), whose output the test ignores, and stops it with the test or
// when stop is called.
func startReader(t *testing.T, name string, cmd *exec.Cmd) (stop func()) {
	t.Helper()
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var once sync.Once
	stop = func() { once.Do(func() { cmd.Process.Kill(); cmd.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// lagView is GroupLag's answer in the shape of Kafka's tool's.
func lagView(l *kafka.GroupLag) map[kafka.TopicPartition]testhelp.ToolOffset {
	out := map[kafka.TopicPartition]testhelp.ToolOffset{}
	for _, p := range l.Partitions {
		out[p.TopicPartition] = testhelp.ToolOffset{Committed: p.Committed, LogEnd: p.LogEnd, Lag: p.Lag, MemberID: p.MemberID, Host: p.Host, ClientID: p.ClientID}
	}
	return out
}

// sameLag polls until GroupLag and kafka-consumer-groups --describe agree
// on every partition (twice the same answer from gokafka around the
// tool's, so that a commit in between cannot fake agreement), and cond
// holds of the agreed view.
func sameLag(t *testing.T, client *kafka.Client, group string, cond func(map[kafka.TopicPartition]testhelp.ToolOffset) error) map[kafka.TopicPartition]testhelp.ToolOffset {
	t.Helper()
	// Each look runs a JVM: minutes on a loaded two-core machine.
	ctx := testhelp.Ctx(t, 5*time.Minute)
	var agreed map[kafka.TopicPartition]testhelp.ToolOffset
	testhelp.Eventually(t, 4*time.Minute, "GroupLag equal to kafka-consumer-groups --describe", func() error {
		before, err := client.GroupLag(ctx, group)
		if err != nil {
			return err
		}
		tool, err := testhelp.GroupOffsets[kafka.TopicPartition](ctx, nil, group)
		if err != nil {
			return err
		}
		after, err := client.GroupLag(ctx, group)
		if err != nil {
			return err
		}
		ours := lagView(after)
		if fmt.Sprint(lagView(before)) != fmt.Sprint(ours) {
			return errors.New("the group moved during the comparison")
		}
		if fmt.Sprint(ours) != fmt.Sprint(tool) {
			return fmt.Errorf("gokafka %v\nkafka-consumer-groups %v", ours, tool)
		}
		if err := cond(ours); err != nil {
			return err
		}
		agreed = ours
		return nil
	})
	return agreed
}

// TestGroupLagMatchesKafkaTool: a classic group whose members are gokafka
// (both engines), kcat -G and Kafka's console consumer. The gokafka members
// commit half of what they read, the others all of it: GroupLag's
// committed offsets, log end offsets, lag and owners equal what Kafka's
// kafka-consumer-groups --describe prints, with the members live and
// after they left and more was produced.
func TestGroupLagMatchesKafkaTool(t *testing.T) {
	client := newClient(t)
	topic := newTopic(t, client, 6)
	group := testhelp.UniqueName(t, "g")
	ctx := testhelp.Ctx(t, 8*time.Minute)
	readCtx, stopReading := context.WithCancel(ctx)
	defer stopReading()

	var members []*kafka.BalancedConsumer
	for _, e := range engines {
		cfg := balancedConfig(t, groupModes[1], e, group)
		cfg.AutoCommit = false
		cfg.Topics = []string{topic.Name()}
		m, err := client.NewBalancedConsumer(ctx, cfg)
		if errors.Is(err, kafka.ErrEngineNotEnabled) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(context.Background())
		members = append(members, m)
	}
	stops := []func(){
		startReader(t, "kcat", exec.CommandContext(readCtx, "kcat", "-b", brokers(), "-G", group, "-q", "-X", "session.timeout.ms=6000",
			"-X", "heartbeat.interval.ms=500", "-X", "auto.offset.reset=earliest", "-X", "auto.commit.interval.ms=200", topic.Name())),
	}
	lib := kafkaToolsCommand(t)
	stops = append(stops, startReader(t, "java console consumer", exec.CommandContext(readCtx, lib[0], append(lib[1:],
		"--bootstrap-server", brokers(), "--group", group, "--topic", topic.Name(),
		"--consumer-property", "session.timeout.ms=6000", "--consumer-property", "heartbeat.interval.ms=500",
		"--consumer-property", "auto.offset.reset=earliest", "--consumer-property", "auto.commit.interval.ms=200")...)))

	// Kafka's view: every member in, each partition owned (the offsets
	// view, which Kafka 3.9 and 4.x print alike).
	want := len(members) + 2
	testhelp.Eventually(t, 4*time.Minute, "a stable group of every member", func() error {
		return ownedBy(ctx, group, 6, want)
	})
	// The gokafka members commit offset 5 of each partition they read
	// to the end (10 messages each).
	var wg sync.WaitGroup
	for _, m := range members {
		wg.Go(func() {
			half := map[int32]*kafka.Message{}
			for msg, err := range m.Messages(readCtx) {
				if err != nil {
					return
				}
				if msg.Offset == 4 {
					half[msg.Partition] = msg
				}
				if msg.Offset == 9 && half[msg.Partition] != nil {
					if err := m.CommitMessages(readCtx, half[msg.Partition]); err != nil {
						t.Errorf("commit: %v", err)
					}
				}
			}
		})
	}
	produceTo(t, client, topic.Name(), 6, 60)
	gokafkaOwned := map[kafka.TopicPartition]bool{}
	for _, m := range members {
		for _, tp := range m.Partitions() {
			gokafkaOwned[tp] = true
		}
	}
	sameLag(t, client, group, func(v map[kafka.TopicPartition]testhelp.ToolOffset) error {
		if len(v) != 6 {
			return fmt.Errorf("%d partitions", len(v))
		}
		for tp, o := range v {
			wantLag := int64(0)
			if gokafkaOwned[tp] {
				wantLag = 5
			}
			if o.LogEnd != 10 || o.Lag != wantLag || o.MemberID == "" || o.ClientID == "" || o.Host == "" {
				return fmt.Errorf("%s: %+v, want lag %d and an owner", tp, o, wantLag)
			}
		}
		return nil
	})

	// Members gone, more produced: the lag grows by one per partition.
	stopReading()
	wg.Wait()
	for _, m := range members {
		m.Close(ctx)
	}
	for _, stop := range stops {
		stop()
	}
	testhelp.Eventually(t, time.Minute, "the group empty", func() error {
		d, err := client.DescribeGroups(ctx, group)
		if err != nil {
			return err
		}
		if len(d[0].Members) != 0 {
			return fmt.Errorf("%d members left", len(d[0].Members))
		}
		return nil
	})
	produceTo(t, client, topic.Name(), 6, 6)
	sameLag(t, client, group, func(v map[kafka.TopicPartition]testhelp.ToolOffset) error {
		for tp, o := range v {
			if o.LogEnd != 11 || o.MemberID != "" || (o.Lag != 1 && o.Lag != 6) {
				return fmt.Errorf("%s: %+v", tp, o)
			}
		}
		return nil
	})
}

// produceAt produces n messages per partition of topic, each with the
// timestamp at(i), i counting from 0 in each partition.
func produceAt(t *testing.T, client *kafka.Client, topic string, partitions int32, n int, at func(i int) time.Time) {
	t.Helper()
	var msgs []*kafka.Message
	for i := 0; i < n; i++ {
		for part := int32(0); part < partitions; part++ {
			msgs = append(msgs, &kafka.Message{Topic: topic, Partition: part, PartitionSet: true, Timestamp: at(i), Value: fmt.Appendf(nil, "%d:%d", part, i)})
		}
	}
	produceSync(t, client, msgs)
}

// TestResetGroupOffsets: each target (offset, shift back and past the end,
// earliest, latest, a time), a dry run that commits nothing, a shift
// without a committed offset, and the refusal while a member is live.
func TestResetGroupOffsets(t *testing.T) {
	client := newClient(t)
	topic := newTopic(t, client, 3).Name()
	group := testhelp.UniqueName(t, "g")
	ctx := testhelp.Ctx(t, 3*time.Minute)
	base := time.Now().Add(-2 * time.Hour).Truncate(time.Millisecond)
	produceAt(t, client, topic, 3, 10, func(i int) time.Time {
		if i < 6 {
			return base
		}
		return base.Add(time.Hour)
	})
	all := map[string][]int32{topic: nil}
	check := func(r kafka.GroupOffsetReset, want int64) {
		t.Helper()
		res, err := client.ResetGroupOffsets(ctx, group, r)
		if err != nil || len(res) != 3 {
			t.Fatalf("reset %+v: %v %+v", r, err, res)
		}
		for _, x := range res {
			if x.New != want {
				t.Fatalf("reset %+v: %+v, want %d", r, x, want)
			}
		}
		got, err := client.CommittedOffsets(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range res {
			if r.DryRun && got[x.TopicPartition] != x.Previous || !r.DryRun && got[x.TopicPartition] != want {
				t.Fatalf("reset %+v: committed %v", r, got)
			}
		}
	}
	check(kafka.GroupOffsetReset{To: kafka.ResetToOffset, Offset: 3, Topics: all}, 3)
	check(kafka.GroupOffsetReset{To: kafka.ResetShiftBy, Shift: -2}, 1)
	check(kafka.GroupOffsetReset{To: kafka.ResetShiftBy, Shift: 100}, 10)
	check(kafka.GroupOffsetReset{To: kafka.ResetToEarliest, DryRun: true}, 0)
	check(kafka.GroupOffsetReset{To: kafka.ResetToEarliest}, 0)
	check(kafka.GroupOffsetReset{To: kafka.ResetToLatest}, 10)
	check(kafka.GroupOffsetReset{To: kafka.ResetToTime, Time: base.Add(time.Minute)}, 6)
	check(kafka.GroupOffsetReset{To: kafka.ResetToTime, Time: time.Now()}, 10)

	res, err := client.ResetGroupOffsets(ctx, testhelp.UniqueName(t, "new"), kafka.GroupOffsetReset{To: kafka.ResetShiftBy, Shift: 1, Topics: all})
	if !errors.Is(err, kafka.ErrNoCommittedOffset) || len(res) != 3 || !errors.Is(res[0].Err, kafka.ErrNoCommittedOffset) {
		t.Fatalf("shift without committed offsets: %v %+v", err, res)
	}
	if _, err := client.ResetGroupOffsets(ctx, group, kafka.GroupOffsetReset{To: kafka.ResetToLatest, Topics: map[string][]int32{topic + "-missing": nil}}); !errors.Is(err, kafka.ErrUnknownTopic) {
		t.Fatalf("reset of an unknown topic: %v", err)
	}

	m := managedMember(t, ctx, client, group, topic)
	defer m.Close(context.Background())
	waitAssigned(t, ctx, []kafka.TopicPartition{{Topic: topic, Partition: 0}, {Topic: topic, Partition: 1}, {Topic: topic, Partition: 2}}, m)
	if _, err := client.ResetGroupOffsets(ctx, group, kafka.GroupOffsetReset{To: kafka.ResetToEarliest}); !errors.Is(err, kafka.ErrGroupNotEmpty) {
		t.Fatalf("reset with a live member: %v", err)
	}
}

// TestDeleteGroupOffsetsAndGroups: deleting one partition's offset, the
// broker's refusals while a member reads the topic or is in the group, a
// group that does not exist, and the group's deletion once empty.
func TestDeleteGroupOffsetsAndGroups(t *testing.T) {
	client := newClient(t)
	topic := newTopic(t, client, 2).Name()
	group := testhelp.UniqueName(t, "g")
	ctx := testhelp.Ctx(t, 3*time.Minute)
	if _, err := client.ResetGroupOffsets(ctx, group, kafka.GroupOffsetReset{To: kafka.ResetToOffset, Offset: 0, Topics: map[string][]int32{topic: nil}}); err != nil {
		t.Fatal(err)
	}
	p0, p1 := kafka.TopicPartition{Topic: topic, Partition: 0}, kafka.TopicPartition{Topic: topic, Partition: 1}
	res, err := client.DeleteGroupOffsets(ctx, group, p1)
	if err != nil || len(res) != 1 || res[0].Err != nil {
		t.Fatalf("DeleteGroupOffsets: %v %+v", err, res)
	}
	got, err := client.CommittedOffsets(ctx, group)
	if err != nil || len(got) != 1 || got[p0] != 0 {
		t.Fatalf("committed after deleting p1: %v %v", got, err)
	}

	m := managedMember(t, ctx, client, group, topic)
	waitAssigned(t, ctx, []kafka.TopicPartition{p0, p1}, m)
	if _, err := client.DeleteGroupOffsets(ctx, group, p0); !errors.Is(err, kafka.ErrGroupSubscribed) {
		t.Fatalf("DeleteGroupOffsets of a topic a member reads: %v", err)
	}
	del, err := client.DeleteGroups(ctx, group, testhelp.UniqueName(t, "none"))
	if !errors.Is(del[0].Err, kafka.ErrNonEmptyGroup) || !errors.Is(del[1].Err, kafka.ErrUnknownGroup) || !errors.Is(err, kafka.ErrUnknownGroup) {
		t.Fatalf("DeleteGroups of a live and an unknown group: %v %+v", err, del)
	}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if del, err := client.DeleteGroups(ctx, group); err != nil || del[0].Err != nil {
		t.Fatalf("DeleteGroups: %v %+v", err, del)
	}
	if _, err := client.GroupLag(ctx, group); !errors.Is(err, kafka.ErrUnknownGroup) {
		t.Fatalf("GroupLag of a deleted group: %v", err)
	}
}

// TestListAndDescribeGroups: a classic group of a gokafka member and a
// consumer group (KIP-848) of Kafka's console consumer, listed with their
// types and states and described with their members, as Kafka's tool sees
// them. Kafka 3.9 does not run KIP-848 groups unless configured to: there
// the console consumer's group is a classic one too.
func TestListAndDescribeGroups(t *testing.T) {
	modernType, modernProtocol := kafka.GroupConsumer, "consumer"
	if strings.HasPrefix(testinstance.Shared().KafkaVersion(), "3.") {
		modernType, modernProtocol = kafka.GroupClassic, "classic"
	}
	client := newClient(t)
	topic := newTopic(t, client, 3).Name()
	ctx := testhelp.Ctx(t, 3*time.Minute)
	classic, modern := testhelp.UniqueName(t, "classic"), testhelp.UniqueName(t, "consumer")

	m := managedMember(t, ctx, client, classic, topic)
	defer m.Close(context.Background())
	lib := kafkaToolsCommand(t)
	startReader(t, "java console consumer", exec.CommandContext(ctx, lib[0], append(lib[1:],
		"--bootstrap-server", brokers(), "--group", modern, "--topic", topic, "--consumer-property", "group.protocol="+modernProtocol)...))

	var descs []kafka.GroupDescription
	testhelp.Eventually(t, 2*time.Minute, "both groups stable", func() error {
		var err error
		descs, err = client.DescribeGroups(ctx, classic, modern)
		if err != nil {
			return err
		}
		for _, d := range descs {
			var owned []kafka.TopicPartition
			for _, mem := range d.Members {
				owned = append(owned, mem.Assignment...)
			}
			if d.State != "Stable" || len(owned) != 3 {
				return fmt.Errorf("%s: %s, owned %v", d.ID, d.State, owned)
			}
		}
		return nil
	})
	c, n := descs[0], descs[1]
	if c.Type != kafka.GroupClassic || c.ProtocolType != "consumer" || c.Protocol != "range" || len(c.Members) != 1 || c.Members[0].ID != m.MemberID() ||
		!strings.HasPrefix(c.Members[0].Host, "/127.0.0.1") || c.Members[0].ClientID == "" {
		t.Fatalf("classic group: %+v", c)
	}
	if n.Type != modernType || modernType == kafka.GroupConsumer && (n.Epoch <= 0 || !slices.Equal(n.Members[0].SubscribedTopics, []string{topic})) || len(n.Members) != 1 || n.Members[0].ClientID == "" {
		t.Fatalf("consumer group: %+v", n)
	}
	for _, d := range descs {
		tool, err := testhelp.GroupOffsets[kafka.TopicPartition](ctx, nil, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		owned := map[kafka.TopicPartition]testhelp.ToolOffset{}
		for tp, o := range tool {
			if o.MemberID != "" {
				owned[tp] = o
			}
		}
		if len(owned) != len(d.Members[0].Assignment) {
			t.Fatalf("%s: kafka-consumer-groups %v, gokafka %+v", d.ID, tool, d.Members)
		}
		for _, tp := range d.Members[0].Assignment {
			if o := owned[tp]; o.MemberID != d.Members[0].ID || o.ClientID != d.Members[0].ClientID || o.Host != d.Members[0].Host {
				t.Fatalf("%s %s: kafka-consumer-groups %+v, gokafka %+v", d.ID, tp, o, d.Members[0])
			}
		}
	}

	list, err := client.ListGroups(ctx, kafka.ListGroupsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]kafka.GroupListing{}
	for _, l := range list {
		byID[l.ID] = l
	}
	if l := byID[classic]; l.Type != kafka.GroupClassic || l.State != "Stable" || l.ProtocolType != "consumer" {
		t.Fatalf("ListGroups: classic %+v", l)
	}
	if l := byID[modern]; l.Type != modernType || !strings.EqualFold(l.State, "Stable") {
		t.Fatalf("ListGroups: consumer %+v", l)
	}
	only, err := client.ListGroups(ctx, kafka.ListGroupsOptions{Types: []kafka.GroupType{modernType}})
	if err != nil || !slices.ContainsFunc(only, func(l kafka.GroupListing) bool { return l.ID == modern }) ||
		slices.ContainsFunc(only, func(l kafka.GroupListing) bool { return l.Type != modernType }) {
		t.Fatalf("ListGroups of consumer groups: %v %+v", err, only)
	}
	if _, err := client.DescribeGroups(ctx, testhelp.UniqueName(t, "none")); !errors.Is(err, kafka.ErrUnknownGroup) {
		t.Fatalf("DescribeGroups of an unknown group: %v", err)
	}
}

// TestShareGroupLag: a share group (KIP-932) of a gokafka member is listed
// and described with its type, and GroupLag's start offsets and lag equal
// what Kafka's kafka-share-groups --describe prints, once the member has
// acknowledged what it read, and after more was produced.
func TestShareGroupLag(t *testing.T) {
	client := newClient(t)
	if strings.HasPrefix(testinstance.Shared().KafkaVersion(), "3.") {
		// No share groups before Kafka 4.1, nor ShareGroupDescribe: the
		// describer that needs it gives way.
		if _, err := client.DescribeGroups(testhelp.Ctx(t, time.Minute), testhelp.UniqueName(t, "none")); !errors.Is(err, kafka.ErrUnknownGroup) {
			t.Fatalf("DescribeGroups of an unknown group on Kafka 3.9: %v", err)
		}
		return
	}
	topic := newTopic(t, client, 2).Name()
	group := testhelp.UniqueName(t, "share")
	ctx := testhelp.Ctx(t, 5*time.Minute)
	produceTo(t, client, topic, 2, 10)
	m, err := client.NewShareConsumer(ctx, kafka.ShareConsumerConfig{Group: group, Topics: []string{topic}, AutoOffsetReset: kafka.ShareResetEarliest})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if _, err := m.Consume(ctx); err != nil {
			t.Fatal(err)
		}
	}
	d, err := client.DescribeGroups(ctx, group)
	if err != nil || d[0].Type != kafka.GroupShare || len(d[0].Members) != 1 || d[0].Members[0].ID != m.MemberID() {
		t.Fatalf("DescribeGroups of a share group: %v %+v", err, d)
	}
	if err := m.Close(ctx); err != nil { // accepts the records handed out
		t.Fatal(err)
	}
	only, err := client.ListGroups(ctx, kafka.ListGroupsOptions{Types: []kafka.GroupType{kafka.GroupShare}})
	if err != nil || !slices.ContainsFunc(only, func(l kafka.GroupListing) bool { return l.ID == group && l.Type == kafka.GroupShare }) {
		t.Fatalf("ListGroups of share groups: %v %+v", err, only)
	}

	same := func(wantLag int64) {
		t.Helper()
		testhelp.Eventually(t, 3*time.Minute, "GroupLag equal to kafka-share-groups --describe", func() error {
			lag, err := client.GroupLag(ctx, group)
			if err != nil {
				return err
			}
			out, err := testinstance.KafkaTool(ctx, testinstance.Config{KafkaVersion: testinstance.Shared().KafkaVersion()}, nil,
				"kafka-share-groups", "--bootstrap-server", brokers(), "--describe", "--group", group)
			if err != nil {
				return err
			}
			tool := map[int32]string{}
			for _, line := range strings.Split(string(out), "\n") {
				if f := strings.Fields(line); len(f) == 5 && f[0] == group {
					p, _ := strconv.Atoi(f[2])
					tool[int32(p)] = f[3] + " " + f[4]
				}
			}
			var total int64
			for _, p := range lag.Partitions {
				if got := fmt.Sprintf("%d %d", p.Committed, p.Lag); tool[p.Partition] != got {
					return fmt.Errorf("partition %d: gokafka %s, kafka-share-groups %q", p.Partition, got, tool[p.Partition])
				}
				total += p.Lag
			}
			if len(lag.Partitions) != 2 || len(tool) != 2 || total != wantLag || lag.Type != kafka.GroupShare {
				return fmt.Errorf("gokafka %+v (total lag %d, want %d), kafka-share-groups %v", lag, total, wantLag, tool)
			}
			return nil
		})
	}
	same(0)
	produceTo(t, client, topic, 2, 4)
	same(4)
}

// managedMember joins group as a managed (classic protocol) balanced
// consumer of topic through client, with the first engine, failing the
// test if it cannot; the caller closes it.
func managedMember(t *testing.T, ctx context.Context, client *kafka.Client, group, topic string) *kafka.BalancedConsumer {
	t.Helper()
	cfg := balancedConfig(t, groupModes[1], engines[0], group)
	cfg.Topics = []string{topic}
	m, err := client.NewBalancedConsumer(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
