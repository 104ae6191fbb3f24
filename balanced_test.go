package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"os"
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

// groupMode is one way of coordinating a balanced consumer group.
type groupMode struct {
	name    string
	managed bool
}

var groupModes = []groupMode{{"zookeeper", false}, {"managed", true}}

func balancedConfig(t *testing.T, mode groupMode, e engineCase, group string) kafka.BalancedConsumerConfig {
	cfg := kafka.BalancedConsumerConfig{
		Group:           group,
		Managed:         mode.managed,
		SessionTimeout:  3 * time.Second,
		ConsumerOptions: kafka.ConsumerOptions{AutoCommit: true, UseRdkafka: e.rdkafka},
	}
	if mode.managed {
		cfg.HeartbeatInterval = 500 * time.Millisecond
	} else {
		cfg.ZooKeeper = testinstance.Shared().ZooKeeper()
	}
	return cfg
}

// waitExclusive polls until the members together own every partition
// exactly once, and returns the owner of each partition.
func waitExclusive(t *testing.T, ctx context.Context, partitions int, members []*kafka.BalancedConsumer) map[kafka.TopicPartition]int {
	t.Helper()
	for {
		owner := map[kafka.TopicPartition]int{}
		ok := true
		for i, m := range members {
			for _, p := range m.Partitions() {
				if _, dup := owner[p]; dup {
					ok = false
				}
				owner[p] = i
			}
		}
		if ok && len(owner) == partitions {
			return owner
		}
		if ctx.Err() != nil {
			t.Fatalf("no stable assignment of %d partitions: %s", partitions, memberViews(members))
		}
		time.Sleep(20 * time.Millisecond) // polling the members' state
	}
}

// tally counts what a group of consumers read: no message may be missing;
// duplicates are allowed (at-least-once) and reported.
type tally struct {
	mu   sync.Mutex
	seen map[string]int
}

func (ta *tally) add(m *kafka.Message) {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	if ta.seen == nil {
		ta.seen = map[string]int{}
	}
	ta.seen[string(m.Value)]++
}

func (ta *tally) counts() (distinct, dups int) {
	ta.mu.Lock()
	defer ta.mu.Unlock()
	for _, n := range ta.seen {
		distinct++
		dups += n - 1
	}
	return
}

// consumeInto reads from c into ta until ctx ends or c closes.
func consumeInto(ctx context.Context, c *kafka.BalancedConsumer, ta *tally, wg *sync.WaitGroup) {
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			m, err := c.Consume(ctx)
			if err != nil {
				return
			}
			ta.add(m)
		}
	}()
}

// memberViews says which partitions each member owns, for a failure's
// message.
func memberViews(members []*kafka.BalancedConsumer) string {
	var views []string
	for i, m := range members {
		views = append(views, fmt.Sprintf("member %d: %v", i, m.Partitions()))
	}
	return strings.Join(views, "; ")
}

func TestBalancedConsumersShareAndHandOver(t *testing.T) {
	for _, mode := range groupModes {
		t.Run(mode.name, func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, e engineCase) {
				client := newClient(t)
				const partitions = 12
				topic := newTopic(t, client, partitions)
				group := testhelp.UniqueName(t, "g")
				ctx := testhelp.Ctx(t, 4*time.Minute)
				runCtx, stop := context.WithCancel(ctx)
				defer stop()

				// A producer keeps writing through every rebalance.
				var produced int
				var prodWG sync.WaitGroup
				p, err := topic.NewProducer(kafka.ProducerConfig{Linger: time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				prodWG.Add(1)
				go func() {
					defer prodWG.Done()
					for runCtx.Err() == nil {
						if err := p.Produce(runCtx, []byte(strconv.Itoa(produced))); err != nil {
							return
						}
						produced++
						if produced%50 == 0 {
							time.Sleep(10 * time.Millisecond) // pace the producer, not synchronisation
						}
					}
				}()

				var ta tally
				var wg sync.WaitGroup
				var members []*kafka.BalancedConsumer
				for i := 0; i < 3; i++ {
					m, err := topic.NewBalancedConsumer(ctx, balancedConfig(t, mode, e, group))
					if err != nil {
						t.Fatalf("member %d: %v", i, err)
					}
					members = append(members, m)
					consumeInto(runCtx, m, &ta, &wg)
					owner := waitExclusive(t, testhelp.Ctx(t, 30*time.Second), partitions, members)
					perMember := map[int]int{}
					for _, o := range owner {
						perMember[o]++
					}
					for j := range members {
						if perMember[j] != partitions/len(members) {
							t.Fatalf("with %d members, member %d owns %d partitions: %v", len(members), j, perMember[j], owner)
						}
					}
					t.Logf("%d member(s): each owns %d partitions", len(members), partitions/len(members))
				}

				// One member leaves cleanly: the others take over.
				if err := members[0].Close(ctx); err != nil {
					t.Fatal(err)
				}
				waitExclusive(t, testhelp.Ctx(t, 30*time.Second), partitions, members[1:])

				stop()
				prodWG.Wait()
				if err := p.Close(ctx); err != nil {
					t.Fatal(err)
				}
				// Drain what remains, then every produced message must
				// have been read at least once.
				drainCtx, cancelDrain := context.WithTimeout(ctx, time.Minute)
				defer cancelDrain()
				for _, m := range members[1:] {
					consumeInto(drainCtx, m, &ta, &wg)
				}
				for {
					if distinct, _ := ta.counts(); distinct >= produced || drainCtx.Err() != nil {
						break
					}
					time.Sleep(50 * time.Millisecond) // polling the tally
				}
				cancelDrain()
				for _, m := range members[1:] {
					m.Close(ctx)
				}
				wg.Wait()
				distinct, dups := ta.counts()
				t.Logf("produced %d, read %d distinct, %d duplicates (at-least-once across rebalances)", produced, distinct, dups)
				if distinct != produced {
					t.Fatalf("lost %d of %d messages", produced-distinct, produced)
				}
			})
		})
	}
}

// childEnv marks a test binary re-executed as a consumer process that the
// parent kills with SIGKILL: the only honest way to die without Close.
const childEnv = "GOKAFKA_TEST_CHILD_CONSUMER"

// runChildConsumer is the child's main: join the group, print "owned" lines
// and consumed values, until killed.
func runChildConsumer() {
	var cfg kafka.BalancedConsumerConfig
	args := strings.Split(os.Getenv(childEnv), "|") // topic|group|managed|rdkafka|zookeeper
	cfg.Group = args[1]
	cfg.Managed = args[2] == "true"
	cfg.UseRdkafka = args[3] == "true"
	cfg.ZooKeeper = args[4]
	cfg.SessionTimeout = 3 * time.Second
	cfg.HeartbeatInterval = 500 * time.Millisecond
	ctx := context.Background()
	client, err := kafka.NewClient(ctx, os.Getenv("BROKERS"))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	topic, err := client.Topic(ctx, args[0])
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	c, err := topic.NewBalancedConsumer(ctx, cfg)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("owned", c.Partitions())
	for {
		if _, err := c.Consume(ctx); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
	}
}

func TestKilledMemberLosesItsPartitions(t *testing.T) {
	for _, mode := range groupModes {
		t.Run(mode.name, func(t *testing.T) {
			forEachEngine(t, func(t *testing.T, e engineCase) {
				client := newClient(t)
				const partitions = 6
				topic := newTopic(t, client, partitions)
				group := testhelp.UniqueName(t, "g")
				ctx := testhelp.Ctx(t, 3*time.Minute)

				survivor, err := topic.NewBalancedConsumer(ctx, balancedConfig(t, mode, e, group))
				if err != nil {
					t.Fatal(err)
				}
				defer survivor.Close(context.Background())

				zk := ""
				if !mode.managed {
					zk = testinstance.Shared().ZooKeeper()
				}
				child := testhelp.StartChild(t, childEnv, strings.Join([]string{topic.Name(), group, strconv.FormatBool(mode.managed), strconv.FormatBool(e.rdkafka), zk}, "|"))
				lines := child.Lines
				if !lines.Scan() || !strings.HasPrefix(lines.Text(), "owned") {
					t.Fatalf("child consumer: %q", lines.Text())
				}
				// Wait until the two members split the partitions.
				for len(survivor.Partitions()) != partitions/2 {
					if ctx.Err() != nil {
						t.Fatalf("survivor owns %v with a second member", survivor.Partitions())
					}
					time.Sleep(20 * time.Millisecond) // polling
				}
				lost := slices.Clone(survivor.Partitions())

				killed := time.Now()
				child.Kill(t)
				for len(survivor.Partitions()) != partitions {
					if ctx.Err() != nil {
						t.Fatalf("the killed member's partitions never came back: survivor owns %v", survivor.Partitions())
					}
					time.Sleep(20 * time.Millisecond) // polling
				}
				reassigned := time.Since(killed)

				// And they are consumed again: a message to each of the
				// dead member's partitions reaches the survivor.
				var theirs []int32
				for p := int32(0); p < partitions; p++ {
					if !slices.Contains(lost, tp(topic, p)) {
						theirs = append(theirs, p)
					}
				}
				produce(t, topic, kafka.ProducerConfig{Partitioner: kafka.NewRoundRobinPartitioner()}, partitions, func(i int) *kafka.Message {
					return &kafka.Message{Value: []byte("after-death-" + strconv.Itoa(i))}
				})
				got := map[int32]bool{}
				for len(got) < len(theirs) {
					m, err := survivor.Consume(ctx)
					if err != nil {
						t.Fatal(err)
					}
					if strings.HasPrefix(string(m.Value), "after-death-") && slices.Contains(theirs, m.Partition) {
						got[m.Partition] = true
					}
				}
				t.Logf("%s/%s: killed member's partitions reassigned %v after SIGKILL, consumed again %v after (session timeout 3s)",
					mode.name, e.name, reassigned.Round(time.Millisecond), time.Since(killed).Round(time.Millisecond))
			})
		})
	}
}

func TestBalancedConfigErrors(t *testing.T) {
	client := newClient(t)
	topic := newTopic(t, client, 1)
	checkConfigErrors(t, func(cfg kafka.BalancedConsumerConfig) error {
		_, err := topic.NewBalancedConsumer(context.Background(), cfg)
		return err
	}, []configCase[kafka.BalancedConsumerConfig]{
		{"BalancedConsumerConfig.Group", kafka.BalancedConsumerConfig{Managed: true}},
		{"BalancedConsumerConfig.ZooKeeper", kafka.BalancedConsumerConfig{Group: "g", Protocol: kafka.GroupProtocolZooKeeper}},
		{"BalancedConsumerConfig.ZooKeeper", kafka.BalancedConsumerConfig{Group: "g", Protocol: kafka.GroupProtocolClassic, ZooKeeper: "127.0.0.1:1"}},
		{"BalancedConsumerConfig.Managed", kafka.BalancedConsumerConfig{Group: "g", Managed: true, Protocol: kafka.GroupProtocolZooKeeper}},
		{"BalancedConsumerConfig.Protocol", kafka.BalancedConsumerConfig{Group: "g", Protocol: 9}},
		{"BalancedConsumerConfig.Topics", kafka.BalancedConsumerConfig{Group: "g", Topics: []string{"x"}}}, // a Topic's consumer reads its own
		{"BalancedConsumerConfig.Strategy", kafka.BalancedConsumerConfig{Group: "g", ZooKeeper: "127.0.0.1:1", Strategy: kafka.CooperativeStickyStrategy}},
		{"BalancedConsumerConfig.Strategy", kafka.BalancedConsumerConfig{Group: "g", Managed: true, Strategy: "sticky-ish"}},
		{"BalancedConsumerConfig.InstanceID", kafka.BalancedConsumerConfig{Group: "g", ZooKeeper: "127.0.0.1:1", InstanceID: "a"}},
		{"BalancedConsumerConfig.SessionTimeout", kafka.BalancedConsumerConfig{Group: "g", Managed: true, SessionTimeout: -1}},
	})
	// A client's consumer needs topics or a pattern, and a legal pattern.
	checkConfigErrors(t, func(cfg kafka.BalancedConsumerConfig) error {
		_, err := client.NewBalancedConsumer(context.Background(), cfg)
		return err
	}, []configCase[kafka.BalancedConsumerConfig]{
		{"BalancedConsumerConfig", kafka.BalancedConsumerConfig{Group: "g"}},
		{"BalancedConsumerConfig.Topics", kafka.BalancedConsumerConfig{Group: "g", Topics: []string{"bad name"}}},
		{"BalancedConsumerConfig.Pattern", kafka.BalancedConsumerConfig{Group: "g", Pattern: "a["}},
	})
}

// A static member whose instance id is taken by another member is fenced:
// its Consume must fail with the cause, not wait forever.
func TestFencedStaticMemberFailsConsume(t *testing.T) {
	client := newClient(t)
	topic := newTopic(t, client, 2)
	group := testhelp.UniqueName(t, "g")
	ctx := testhelp.Ctx(t, time.Minute)
	cfg := balancedConfig(t, groupMode{"managed", true}, engines[0], group)
	cfg.InstanceID = "static-1"
	first, err := topic.NewBalancedConsumer(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close(context.Background())
	second, err := topic.NewBalancedConsumer(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close(context.Background())
	_, err = first.Consume(ctx)
	if !errors.Is(err, kafka.ErrFencedInstanceID) {
		t.Fatalf("fenced member's Consume: %v, want ErrFencedInstanceID", err)
	}
}
