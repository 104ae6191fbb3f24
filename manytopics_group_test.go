package kafka_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// allPartitions lists every partition of the topics.
func allPartitions(topics map[string]int32) []kafka.TopicPartition {
	var out []kafka.TopicPartition
	for t, n := range topics {
		for p := int32(0); p < n; p++ {
			out = append(out, kafka.TopicPartition{Topic: t, Partition: p})
		}
	}
	slices.SortFunc(out, kafka.TopicPartition.Compare)
	return out
}

// waitAssigned polls until the members together own exactly want, each
// partition once.
func waitAssigned(t *testing.T, ctx context.Context, want []kafka.TopicPartition, members ...*kafka.BalancedConsumer) {
	t.Helper()
	for {
		var owned []kafka.TopicPartition
		for _, m := range members {
			owned = append(owned, m.Partitions()...)
		}
		slices.SortFunc(owned, kafka.TopicPartition.Compare)
		if slices.Equal(owned, want) {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("want %v owned once; %s", want, memberViews(members))
		}
		time.Sleep(20 * time.Millisecond) // polling the members' state
	}
}

// TestBalancedManyTopics: members of both engines share a group over three
// topics, in each coordination mode: every partition is owned once, and
// every message is read once when the group is stable.
func TestBalancedManyTopics(t *testing.T) {
	for _, mode := range groupModes {
		t.Run(mode.name, func(t *testing.T) {
			client := newClient(t)
			topics := map[string]int32{}
			var names []string
			for _, n := range []int32{3, 2, 4} {
				name := newTopic(t, client, n).Name()
				topics[name] = n
				names = append(names, name)
			}
			group := testhelp.UniqueName(t, "g")
			ctx := testhelp.Ctx(t, 3*time.Minute)
			var members []*kafka.BalancedConsumer
			for _, e := range engines {
				cfg := balancedConfig(t, mode, e, group)
				cfg.Topics = names
				m, err := client.NewBalancedConsumer(ctx, cfg)
				if errors.Is(err, kafka.ErrEngineNotEnabled) {
					continue // a build without the rdkafka engine
				}
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close(context.Background())
				members = append(members, m)
			}
			waitAssigned(t, ctx, allPartitions(topics), members...)
			for _, m := range members {
				if m.Topic() != nil || len(m.Partitions()) == 0 {
					t.Fatalf("member %s: Topic %v, partitions %v", m.MemberID(), m.Topic(), m.Partitions())
				}
			}
			for name, n := range topics {
				produceTo(t, client, name, n, 30*int(n))
			}
			var ta tally
			var wg sync.WaitGroup
			readCtx, stop := context.WithCancel(ctx)
			for _, m := range members {
				consumeInto(readCtx, m, &ta, &wg)
			}
			for {
				if distinct, _ := ta.counts(); distinct == 30*9 {
					break
				}
				if ctx.Err() != nil {
					distinct, _ := ta.counts()
					t.Fatalf("read %d of %d messages", distinct, 30*9)
				}
				time.Sleep(20 * time.Millisecond) // polling the readers
			}
			stop()
			wg.Wait()
			if _, dups := ta.counts(); dups != 0 {
				t.Fatalf("%d messages read twice in a stable group", dups)
			}
		})
	}
}

// TestBalancedPattern: a member subscribed to a pattern picks up a matching
// topic created after it joined, and drops a deleted one, within the
// metadata refresh interval; a topic that does not match stays out.
func TestBalancedPattern(t *testing.T) {
	for _, mode := range groupModes {
		t.Run(mode.name, func(t *testing.T) {
			client := newClient(t, kafka.WithMetadataMaxAge(time.Second))
			prefix := testhelp.UniqueName(t, "pat")
			ctx := testhelp.Ctx(t, 3*time.Minute)
			create := func(name string, n int32) {
				t.Helper()
				if _, err := client.CreateTopic(ctx, name, kafka.TopicConfig{Partitions: n, ReplicationFactor: 3}); err != nil {
					t.Fatal(err)
				}
			}
			create(prefix+"-a", 2)
			create(prefix+"-x-other", 1) // matches the prefix, not the pattern
			cfg := balancedConfig(t, mode, engines[0], testhelp.UniqueName(t, "g"))
			cfg.Pattern = regexp.QuoteMeta(prefix) + `-[a-z]`
			m, err := client.NewBalancedConsumer(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close(context.Background())
			waitAssigned(t, ctx, allPartitions(map[string]int32{prefix + "-a": 2}), m)

			create(prefix+"-b", 3)
			waitAssigned(t, ctx, allPartitions(map[string]int32{prefix + "-a": 2, prefix + "-b": 3}), m)
			produceTo(t, client, prefix+"-b", 3, 9)
			var fromB int
			for fromB < 9 {
				msg, err := m.Consume(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if msg.Topic != prefix+"-b" {
					t.Fatalf("a message of %s", msg.Topic)
				}
				fromB++
			}

			if err := client.DeleteTopic(ctx, prefix+"-a"); err != nil {
				t.Fatal(err)
			}
			waitAssigned(t, ctx, allPartitions(map[string]int32{prefix + "-b": 3}), m)
		})
	}
}

// TestMixedGroupManyTopics: a classic group over three topics whose members
// are gokafka (both engines), two kcat -G and one Java console consumer
// (Kafka's own, with an --include pattern): Kafka's consumer-groups tool
// sees five members and each partition owned once, and every message
// produced then is read by exactly one member.
func TestMixedGroupManyTopics(t *testing.T) {
	client := newClient(t)
	prefix := testhelp.UniqueName(t, "mix")
	topics := map[string]int32{prefix + "-a": 4, prefix + "-b": 3, prefix + "-c": 2}
	var names []string
	ctx := testhelp.Ctx(t, 4*time.Minute)
	for name, n := range topics {
		if _, err := client.CreateTopic(ctx, name, kafka.TopicConfig{Partitions: n, ReplicationFactor: 3}); err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	slices.Sort(names)
	group := testhelp.UniqueName(t, "g")
	var ta tally
	var wg sync.WaitGroup
	readCtx, stop := context.WithCancel(ctx)
	defer stop()

	members := 0
	for _, e := range engines {
		cfg := balancedConfig(t, groupModes[1], e, group)
		cfg.Topics = names
		m, err := client.NewBalancedConsumer(ctx, cfg)
		if errors.Is(err, kafka.ErrEngineNotEnabled) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(context.Background())
		consumeInto(readCtx, m, &ta, &wg)
		members++
	}
	// Outside readers print one value per line.
	reader := func(name string, cmd *exec.Cmd) {
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		members++
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		wg.Add(1)
		go func() {
			defer wg.Done()
			lines := bufio.NewScanner(out)
			for lines.Scan() {
				if strings.HasPrefix(lines.Text(), prefix) { // values are "<topic>:<i>"; the tools print other lines too
					ta.add(&kafka.Message{Value: []byte(lines.Text())})
				} else {
					t.Logf("%s: %s", name, lines.Text())
				}
			}
		}()
	}
	for i := 0; i < 2; i++ {
		reader("kcat", exec.CommandContext(readCtx, "kcat", append([]string{"-b", brokers(), "-G", group, "-q", "-u", "-f", "%s\n",
			"-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500", "-X", "auto.offset.reset=earliest"}, names...)...))
	}
	lib := kafkaToolsCommand(t)
	reader("java console consumer", exec.CommandContext(readCtx, lib[0], append(lib[1:],
		"--bootstrap-server", brokers(), "--group", group, "--include", regexp.QuoteMeta(prefix)+"-.*",
		"--consumer-property", "session.timeout.ms=6000", "--consumer-property", "heartbeat.interval.ms=500",
		"--consumer-property", "auto.offset.reset=earliest")...))

	// Kafka's own view: five members, each partition owned once.
	want := allPartitions(topics)
	for {
		owners, n := describeMembers(t, ctx, group)
		var owned []kafka.TopicPartition
		for tp := range owners {
			owned = append(owned, tp)
		}
		slices.SortFunc(owned, kafka.TopicPartition.Compare)
		dup := false
		for _, o := range owners {
			dup = dup || o > 1
		}
		if n == members && slices.Equal(owned, want) && !dup {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("consumer-groups sees %d members (want %d) owning %v", n, members, owners)
		}
		time.Sleep(500 * time.Millisecond) // polling Kafka's tool: a JVM per look
	}
	total := 0
	for name, n := range topics {
		produceTo(t, client, name, n, 20*int(n))
		total += 20 * int(n)
	}
	for {
		if distinct, _ := ta.counts(); distinct == total {
			break
		}
		if ctx.Err() != nil {
			distinct, _ := ta.counts()
			t.Fatalf("the group read %d of %d messages", distinct, total)
		}
		time.Sleep(50 * time.Millisecond) // polling the readers
	}
	if _, dups := ta.counts(); dups != 0 {
		t.Fatalf("%d messages read twice in a stable group", dups)
	}
}

// kafkaToolsCommand is the java command line that runs Kafka's console
// consumer (testinstance.KafkaTool runs a tool to completion; this one
// stays up).
func kafkaToolsCommand(t *testing.T) []string {
	t.Helper()
	lib, err := testinstance.KafkaLib(testhelp.Ctx(t, 5*time.Minute), testinstance.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return []string{"java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Dlog4j2.level=warn",
		"-cp", filepath.Join(lib, "*"), testinstance.KafkaTools["kafka-console-consumer"]}
}

// describeMembers asks Kafka's consumer-groups tool how many members own
// each partition, and how many members the group has.
func describeMembers(t *testing.T, ctx context.Context, group string) (map[kafka.TopicPartition]int, int) {
	t.Helper()
	members, err := testhelp.GroupMembers[kafka.TopicPartition](ctx, group)
	if err != nil {
		return nil, 0 // the group may not be formed yet
	}
	owners := map[kafka.TopicPartition]int{}
	for _, ps := range members {
		for _, tp := range ps {
			owners[tp]++
		}
	}
	return owners, len(members)
}
