package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
)

// marksChildEnv marks a test binary re-executed as a consumer that
// processes messages concurrently and marks them, until the parent kills it
// with SIGKILL.
const marksChildEnv = "GOKAFKA_TEST_CHILD_MARKS"

// runMarksChild is the child's main: a CommitMarked group member with four
// workers that process messages out of order. A worker prints "done P O"
// before it marks the message, so the parent knows a superset of what was
// marked, hence of what may have been committed.
func runMarksChild() {
	args := strings.Split(os.Getenv(marksChildEnv), "|") // topic|group|rdkafka
	ctx := context.Background()
	client, err := kafka.NewClient(ctx, os.Getenv("BROKERS"))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	c, err := client.NewBalancedConsumer(ctx, kafka.BalancedConsumerConfig{
		Group: args[1], Topics: []string{args[0]},
		ConsumerOptions: kafka.ConsumerOptions{
			AutoCommit: true, AutoCommitInterval: 50 * time.Millisecond, CommitMarked: true,
			UseRdkafka: args[2] == "true",
		},
	})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	work := make(chan *kafka.Message, 16)
	var out sync.Mutex
	for w := 0; w < 4; w++ {
		go func() {
			for m := range work {
				time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond) // processing, out of order
				out.Lock()
				fmt.Printf("done %d %d\n", m.Partition, m.Offset)
				out.Unlock()
				if err := c.Mark(m); err != nil {
					fmt.Println("error", err)
					os.Exit(1)
				}
			}
		}()
	}
	fmt.Println("started")
	for {
		m, err := c.Consume(ctx)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		work <- m
	}
}

// TestMarksNeverPassUnprocessed: a member that processes concurrently and
// commits only what it marked is killed with SIGKILL mid-processing; no
// committed offset passes a message it did not process.
func TestMarksNeverPassUnprocessed(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		topic := newTopic(t, client, 3)
		produceTo(t, client, topic.Name(), 3, 3000)
		group := testhelp.UniqueName(t, "g")
		child := testhelp.StartChild(t, marksChildEnv, strings.Join([]string{topic.Name(), group, strconv.FormatBool(e.rdkafka)}, "|"))
		done := map[kafka.TopicPartition]map[int64]bool{}
		lines := child.Lines
		n := 0
		for n < 600 && lines.Scan() {
			var p int32
			var o int64
			if _, err := fmt.Sscanf(lines.Text(), "done %d %d", &p, &o); err != nil {
				if lines.Text() != "started" {
					t.Fatalf("child: %q", lines.Text())
				}
				continue
			}
			tp := kafka.TopicPartition{Topic: topic.Name(), Partition: p}
			if done[tp] == nil {
				done[tp] = map[int64]bool{}
			}
			done[tp][o] = true
			n++
		}
		child.Kill(t)
		for lines.Scan() { // what it printed before dying was processed too
			var p int32
			var o int64
			if _, err := fmt.Sscanf(lines.Text(), "done %d %d", &p, &o); err == nil {
				tp := kafka.TopicPartition{Topic: topic.Name(), Partition: p}
				if done[tp] == nil {
					done[tp] = map[int64]bool{}
				}
				done[tp][o] = true
			}
		}

		// The group's committed offsets, read by a consumer of the group.
		ctx := testhelp.Ctx(t, time.Minute)
		_, committed := committedOffsets(t, ctx, topic, kafka.ConsumerConfig{ConsumerGroup: group})
		progress := int64(0)
		for tp, c := range committed {
			for o := int64(0); o < c; o++ {
				if !done[tp][o] {
					t.Fatalf("%s committed at %d, but offset %d was never processed", tp, c, o)
				}
			}
			progress += c
		}
		if progress == 0 {
			t.Fatalf("nothing committed after %d messages processed: the test proved nothing", n)
		}
		t.Logf("%d processed, %d committed when killed", n, progress)
	})
}

// TestGroupResetOffsetsAnytime: a group member moves an owned partition at
// any time (not only in OnAssign) and reads it again from there; a
// partition it does not own is refused with ErrRebalanced, as is a mark of
// a message it no longer owns.
func TestGroupResetOffsetsAnytime(t *testing.T) {
	for _, mode := range groupModes {
		t.Run(mode.name, func(t *testing.T) {
			client := newClient(t)
			topic := newTopic(t, client, 2)
			produceTo(t, client, topic.Name(), 2, 20)
			ctx := testhelp.Ctx(t, 2*time.Minute)
			cfg := balancedConfig(t, mode, engines[0], testhelp.UniqueName(t, "g"))
			m, err := topic.NewBalancedConsumer(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close(context.Background())
			consumeN(t, m, 20)
			p1 := kafka.TopicPartition{Topic: topic.Name(), Partition: 1}
			if err := m.ResetOffsets(ctx, map[kafka.TopicPartition]int64{p1: 4}); err != nil {
				t.Fatal(err)
			}
			for want := int64(4); want < 10; want++ {
				msg, err := m.Consume(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if msg.Partition != 1 || msg.Offset != want {
					t.Fatalf("after the reset: %d@%d, want 1@%d", msg.Partition, msg.Offset, want)
				}
			}
			other := kafka.TopicPartition{Topic: topic.Name(), Partition: 5}
			if err := m.ResetOffsets(ctx, map[kafka.TopicPartition]int64{other: 0}); !errors.Is(err, kafka.ErrRebalanced) {
				t.Fatalf("reset of a partition not owned: %v", err)
			}
			if err := m.Mark(&kafka.Message{Topic: topic.Name(), Partition: 5}); !errors.Is(err, kafka.ErrRebalanced) {
				t.Fatalf("mark of a partition not owned: %v", err)
			}
		})
	}
}
