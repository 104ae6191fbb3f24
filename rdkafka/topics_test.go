//go:build cgo && !nordkafka

package rdkafka

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testhelp"
)

// kcatPos is where kcat found a message.
type kcatPos struct {
	partition int32
	offset    int64
}

// kcatAt is where kcat finds each message of a topic (by payload), read
// with `kcat -C -t topic -e -f '%p %o %s\n'`.
func kcatAt(t testing.TB, topic string) map[string]kcatPos {
	t.Helper()
	out := testhelp.Kcat(t, nil, "", "-C", "-t", topic, "-e", "-q", "-f", `%p %o %s\n`)
	at := map[string]kcatPos{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var p int32
		var o int64
		var payload string
		if _, err := fmt.Sscanf(sc.Text(), "%d %d %s", &p, &o, &payload); err != nil {
			t.Fatalf("kcat line %q: %v", sc.Text(), err)
		}
		if _, dup := at[payload]; dup {
			t.Fatalf("kcat read %q twice in %s", payload, topic)
		}
		at[payload] = kcatPos{p, o}
	}
	return at
}

// TestProduceThreeTopics: one producer (one librdkafka instance) writes
// three topics of 1, 2 and 3 partitions, messages interleaved across them.
// Every delivery report gives the partition and offset where kcat finds
// the message, offsets are dense from 0 in each partition, and every batch
// on the brokers carries the same producer ID.
func TestProduceThreeTopics(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topics := []string{testhelp.CreateTopic(t, nil, 1), testhelp.CreateTopic(t, nil, 2), testhelp.CreateTopic(t, nil, 3)}
	parts := map[string]int{topics[0]: 1, topics[1]: 2, topics[2]: 3}
	p := startProducer(t, cl, testhelp.ProducerConfig())
	const n = 1200
	var clock engine.Clock
	sent := make([]*engine.Message, n)
	rep := testhelp.NewReports(n)
	for i := range n {
		topic := topics[i%3]
		sent[i] = &engine.Message{
			Topic:     topic,
			Partition: int32(i / 3 % parts[topic]),
			Key:       fmt.Appendf(nil, "k%d", i),
			Value:     fmt.Appendf(nil, "v%d", i),
			Timestamp: clock.Now(), // as the root stamps it
		}
		if err := p.Produce(t.Context(), sent[i], rep.Done); err != nil {
			t.Fatalf("Produce %d to %s/%d: %v", i, topic, sent[i].Partition, err)
		}
	}
	rep.Wait(t, time.Minute)
	if len(rep.Errors()) > 0 {
		t.Fatalf("%d deliveries failed, first: %v", len(rep.Errors()), rep.Errors()[0])
	}
	// Dense offsets per partition: each one was written once.
	seen := map[engine.TopicPartition]map[int64]bool{}
	for i, m := range sent {
		if m.Topic != topics[i%3] || m.Partition != int32(i/3%parts[m.Topic]) {
			t.Fatalf("message %d reported on %s/%d, produced to %s/%d", i, m.Topic, m.Partition, topics[i%3], i/3%parts[topics[i%3]])
		}
		tp := engine.TopicPartition{Topic: m.Topic, Partition: m.Partition}
		if seen[tp] == nil {
			seen[tp] = map[int64]bool{}
		}
		if seen[tp][m.Offset] {
			t.Fatalf("%s: offset %d reported twice", tp, m.Offset)
		}
		seen[tp][m.Offset] = true
	}
	for tp, offs := range seen {
		for o := range int64(len(offs)) {
			if !offs[o] {
				t.Fatalf("%s: offsets reported are not 0..%d (%d missing)", tp, len(offs)-1, o)
			}
		}
	}
	if len(seen) != 6 {
		t.Fatalf("reports on %d partitions, want 6", len(seen))
	}
	// kcat finds every message where its report said, and nothing else.
	for _, topic := range topics {
		at := kcatAt(t, topic)
		if len(at) != n/3 {
			t.Fatalf("kcat read %d messages of %s, want %d", len(at), topic, n/3)
		}
		for i := range sent {
			m := sent[i]
			if m.Topic != topic {
				continue
			}
			k, ok := at[string(m.Value)]
			if !ok {
				t.Fatalf("kcat did not find %q in %s", m.Value, topic)
			}
			if k.partition != m.Partition || k.offset != m.Offset {
				t.Fatalf("%q: reported at %s/%d offset %d, kcat reads it at %s/%d offset %d", m.Value, m.Topic, m.Partition, m.Offset, topic, k.partition, k.offset)
			}
		}
	}
	// One idempotent producer: one producer ID in every topic.
	pid := int64(-1)
	for _, topic := range topics {
		for _, b := range rawBatches(t, cl, topic) {
			if pid == -1 {
				pid = b.ProducerID
			}
			if b.ProducerID < 0 || b.ProducerID != pid {
				t.Fatalf("%s/0: batch at %d has producer ID %d, want %d for every topic", topic, b.BaseOffset, b.ProducerID, pid)
			}
		}
	}
}

// TestFetchThreeTopics: one fetcher, assigned every partition of three
// topics in one call, reads every message kcat wrote exactly once, in
// offset order per partition, each in a Fetch of its own topic and
// partition; then nothing more.
func TestFetchThreeTopics(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topics := []string{testhelp.CreateTopic(t, nil, 1), testhelp.CreateTopic(t, nil, 2), testhelp.CreateTopic(t, nil, 3)}
	const n = 150 // per partition
	var pos []engine.Position
	for ti, topic := range topics {
		for p := range int32(ti + 1) {
			lines := make([]string, n)
			for i := range n {
				lines[i] = fmt.Sprintf("k-%d-%d-%d:v-%d-%d-%d", ti, p, i, ti, p, i)
			}
			kcatProduce(t, topic, p, lines)
			pos = append(pos, engine.Position{TopicPartition: engine.TopicPartition{Topic: topic, Partition: p}, Epoch: 1})
		}
	}
	f := startFetcher(t, cl, testhelp.FetcherConfig())
	if err := f.Assign(testhelp.Ctx(t, time.Minute), pos); err != nil {
		t.Fatalf("Assign %d partitions of 3 topics: %v", len(pos), err)
	}
	got := map[engine.TopicPartition]*consumed{}
	// pollUntil checks that every Fetch names its messages' partition.
	pollUntil(t, f, 2*time.Minute, 1, got, func() bool { return total(got) >= len(pos)*n })
	if len(got) != len(pos) {
		t.Fatalf("fetched %d partitions, want %d: %s", len(got), len(pos), summary(got))
	}
	for ti, topic := range topics {
		for p := range int32(ti + 1) {
			tp := engine.TopicPartition{Topic: topic, Partition: p}
			c := got[tp]
			if c == nil || len(c.msgs) != n || c.hwm != n {
				t.Fatalf("%s: %s; want %d messages and high watermark %d", tp, summary(got), n, n)
			}
			for i, m := range c.msgs {
				if m.Offset != int64(i) || string(m.Value) != fmt.Sprintf("v-%d-%d-%d", ti, p, i) || string(m.Key) != fmt.Sprintf("k-%d-%d-%d", ti, p, i) {
					t.Fatalf("%s message %d: offset %d key %q value %q", tp, i, m.Offset, m.Key, m.Value)
				}
			}
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	if fe, err := f.Poll(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Poll past the end: %s %d messages, %v; want DeadlineExceeded", fe.TopicPartition, len(fe.Messages), err)
	}
}

// TestAssignRefusedAtomically: an Assign naming a topic or a partition the
// cluster does not have, or a negative offset, fails with a typed error
// that names it, and changes nothing: the partitions it also named are not
// assigned, and the one it would have moved goes on where it was, in its
// old epoch. A topic the client's metadata does not know yet, but the
// cluster has, is looked up and assigned.
func TestAssignRefusedAtomically(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	a := testhelp.CreateTopic(t, nil, 2)
	produceLines(t, a, 0, 0, 10)
	produceLines(t, a, 1, 0, 10)
	a0, a1 := engine.TopicPartition{Topic: a, Partition: 0}, engine.TopicPartition{Topic: a, Partition: 1}
	f := startFetcher(t, cl, testhelp.FetcherConfig())
	ctx := testhelp.Ctx(t, 2*time.Minute)
	if err := f.Assign(ctx, []engine.Position{{TopicPartition: a0, Epoch: 1}}); err != nil {
		t.Fatal(err)
	}
	got := map[engine.TopicPartition]*consumed{}
	pollUntil(t, f, time.Minute, 1, got, func() bool { return total(got) >= 10 })

	missing := testhelp.UniqueName(t, "missing") // never created
	for _, tc := range []struct {
		name string
		bad  engine.Position
		want error
		says string
	}{
		{"unknown topic", engine.Position{TopicPartition: engine.TopicPartition{Topic: missing, Partition: 0}, Epoch: 2}, kerr.ErrUnknownTopic, missing},
		{"unknown partition", engine.Position{TopicPartition: engine.TopicPartition{Topic: a, Partition: 7}, Epoch: 2}, kerr.ErrUnknownPartition, a + "/7"},
		{"negative offset", engine.Position{TopicPartition: a1, Offset: -1, Epoch: 2}, kerr.ErrOffsetOutOfRange, a + "/1"},
	} {
		// The bad position comes last, after a move of a0 and a new a1.
		err := f.Assign(ctx, []engine.Position{{TopicPartition: a0, Offset: 3, Epoch: 2}, {TopicPartition: a1, Epoch: 2}, tc.bad})
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
			t.Fatalf("%s: Assign: %v; want %v naming %s", tc.name, err, tc.want, tc.says)
		}
		t.Logf("%s: %v", tc.name, err)
		rf := f.(*fetcher)
		rf.mu.Lock()
		n, p := len(rf.parts), rf.parts[a0]
		rf.mu.Unlock()
		if n != 1 || p == nil || p.epoch != 1 || p.next != 10 {
			t.Fatalf("%s: after the refused Assign %d partitions assigned, %s: %+v; want only %s, epoch 1 at offset 10", tc.name, n, a0, p, a0)
		}
	}
	// The refused calls changed nothing that Poll shows either: a0 goes
	// on from offset 10 in epoch 1 (pollUntil fails on any other epoch),
	// and a1, which has messages, delivers none.
	produceLines(t, a, 0, 10, 5)
	produceLines(t, a, 1, 10, 5)
	pollUntil(t, f, time.Minute, 1, got, func() bool { return total(got) >= 15 })
	if c := got[a0]; len(c.msgs) != 15 || c.msgs[10].Offset != 10 || got[a1] != nil {
		t.Fatalf("after the refused Assigns: %s", summary(got))
	}
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if fe, err := f.Poll(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Poll: %s %d messages, %v; want nothing (DeadlineExceeded)", fe.TopicPartition, len(fe.Messages), err)
	}

	// A topic created after the client last looked: Assign looks it up.
	b := testhelp.CreateTopic(t, nil, 1)
	if _, err := cl.Snapshot().Topic(b); err == nil {
		t.Fatalf("the client's metadata knows %s already: the test needs a topic it has not seen", b)
	}
	produceLines(t, b, 0, 0, 3)
	b0 := engine.TopicPartition{Topic: b, Partition: 0}
	if err := f.Assign(ctx, []engine.Position{{TopicPartition: b0, Epoch: 1}}); err != nil {
		t.Fatalf("Assign of a topic new to the client: %v", err)
	}
	pollUntil(t, f, time.Minute, 1, got, func() bool { return got[b0] != nil && len(got[b0].msgs) >= 3 })
}
