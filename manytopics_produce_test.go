package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
)

// kcatRecord is one record as kcat prints it with -f '%p %o %k %s\n'.
type kcatRecord struct {
	partition int32
	offset    int64
	key, val  string
}

// kcatRead reads a whole topic with kcat, a client nobody here wrote.
func kcatRead(t *testing.T, topic string, want int) []kcatRecord {
	t.Helper()
	out := testhelp.Kcat(t, nil, "", "-C", "-t", topic, "-e", "-q", "-f", "%p %o %k %s\n")
	var recs []kcatRecord
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		f := strings.SplitN(line, " ", 4)
		if len(f) != 4 {
			t.Fatalf("kcat line %q", line)
		}
		p, _ := strconv.Atoi(f[0])
		o, _ := strconv.ParseInt(f[1], 10, 64)
		recs = append(recs, kcatRecord{int32(p), o, f[2], f[3]})
	}
	if len(recs) != want {
		t.Fatalf("kcat read %d records of %s, want %d", len(recs), topic, want)
	}
	return recs
}

// TestProducerManyTopics: one producer of the client writes three topics;
// every delivery report (ProduceAsync's callback) names the partition and
// offset where kcat finds the message, and nothing is missing or doubled.
func TestProducerManyTopics(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		topics := []*kafka.Topic{newTopic(t, client, 3), newTopic(t, client, 2), newTopic(t, client, 4)}
		p := newProducer(t, client, kafka.ProducerConfig{UseRdkafka: e.rdkafka})
		ctx := testhelp.Ctx(t, 2*time.Minute)
		const n = 900
		var mu sync.Mutex
		reported := map[string]kafka.TopicPartition{} // value -> where
		offsets := map[string]int64{}
		var wg sync.WaitGroup
		for g := 0; g < 3; g++ { // three goroutines, interleaving topics
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; i < n; i += 3 {
					m := &kafka.Message{Topic: topics[i%3].Name(), Key: []byte("k" + strconv.Itoa(i)), Value: []byte("v" + strconv.Itoa(i))}
					if err := p.ProduceAsync(ctx, m, func(r kafka.DeliveryReport) {
						mu.Lock()
						defer mu.Unlock()
						if r.Err != nil {
							t.Errorf("message %s: %v", r.Message.Value, r.Err)
							return
						}
						if _, dup := reported[string(r.Message.Value)]; dup {
							t.Errorf("message %s reported twice", r.Message.Value)
						}
						reported[string(r.Message.Value)] = kafka.TopicPartition{Topic: r.Message.Topic, Partition: r.Message.Partition}
						offsets[string(r.Message.Value)] = r.Message.Offset
					}); err != nil {
						t.Errorf("Produce %d: %v", i, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if err := p.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if len(reported) != n {
			t.Fatalf("%d reports for %d messages", len(reported), n)
		}
		for ti, topic := range topics {
			for _, r := range kcatRead(t, topic.Name(), n/3) {
				where, ok := reported[r.val]
				i, _ := strconv.Atoi(strings.TrimPrefix(r.val, "v"))
				switch {
				case !ok:
					t.Fatalf("kcat read %q, never reported", r.val)
				case i%3 != ti || where.Topic != topic.Name() || where.Partition != r.partition || offsets[r.val] != r.offset:
					t.Fatalf("%q reported at %v@%d, kcat finds it in %s/%d@%d", r.val, where, offsets[r.val], topic.Name(), r.partition, r.offset)
				case r.key != "k"+strconv.Itoa(i):
					t.Fatalf("%q has key %q", r.val, r.key)
				}
			}
		}
	})
}

// TestProducerMessageErrorsFailAlone: a message without a topic, to a topic
// that does not exist, to a partition the topic does not have, or too
// large fails alone with a typed error; the others are delivered, a message
// that names its partition lands there, and a topic's producer fills in its
// topic.
func TestProducerMessageErrorsFailAlone(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e engineCase) {
		client := newClient(t)
		topic := newTopic(t, client, 3)
		p := newProducer(t, client, kafka.ProducerConfig{UseRdkafka: e.rdkafka, MaxMessageBytes: 2000})
		defer p.Close(context.Background())
		ctx := testhelp.Ctx(t, time.Minute)
		good := func(i int) *kafka.Message {
			return &kafka.Message{Topic: topic.Name(), Value: []byte("good" + strconv.Itoa(i))}
		}
		pinned := good(99)
		pinned.Partition, pinned.PartitionSet = 2, true
		badPartition := good(100)
		badPartition.Partition, badPartition.PartitionSet = 3, true
		msgs := []*kafka.Message{
			good(0),
			{Value: []byte("no topic")},
			{Topic: testhelp.UniqueName(t, "missing"), Value: []byte("unknown topic")},
			badPartition,
			{Topic: topic.Name(), Value: make([]byte, 3000)},
			{Topic: "bad name!", Value: []byte("illegal topic name")},
			pinned,
			good(1),
		}
		want := []error{nil, kafka.ErrInvalidTopic, kafka.ErrUnknownTopic, kafka.ErrUnknownPartition, kafka.ErrMessageTooLarge, kafka.ErrInvalidTopic, nil, nil}
		res := p.ProduceSync(ctx, msgs...)
		for i, r := range res {
			if want[i] == nil && r.Err != nil || want[i] != nil && !errors.Is(r.Err, want[i]) {
				t.Fatalf("message %d (%q): %v, want %v", i, msgs[i].Value, r.Err, want[i])
			}
		}
		if res.Err() == nil {
			t.Fatal("ProduceResults.Err is nil with failures")
		}
		if pinned.Partition != 2 || pinned.Offset < 0 {
			t.Fatalf("pinned message at %d@%d, want partition 2", pinned.Partition, pinned.Offset)
		}
		var onTwo int
		for _, r := range kcatRead(t, topic.Name(), 3) {
			if r.val == "good99" && r.partition == 2 {
				onTwo++
			}
		}
		if onTwo != 1 {
			t.Fatal("kcat does not find the pinned message on partition 2")
		}

		// A topic's producer fills in the topic, and ToPartition works
		// through Produce's options.
		tp, err := topic.NewProducer(kafka.ProducerConfig{UseRdkafka: e.rdkafka, Sync: true})
		if err != nil {
			t.Fatal(err)
		}
		defer tp.Close(context.Background())
		if err := tp.Produce(ctx, []byte("via topic"), kafka.ToPartition(1)); err != nil {
			t.Fatal(err)
		}
		if err := tp.Produce(ctx, []byte("x"), kafka.ToPartition(-1)); !errors.Is(err, kafka.ErrUnknownPartition) {
			t.Fatalf("ToPartition(-1): %v", err)
		}
		recs := kcatRead(t, topic.Name(), 4)
		found := false
		for _, r := range recs {
			found = found || r.val == "via topic" && r.partition == 1
		}
		if !found {
			t.Fatalf("the topic producer's message is not on partition 1: %v", recs)
		}
	})
}

// TestProduceSyncWaitsForEveryMessage: ProduceSync returns once every
// message is acknowledged, offsets set, across topics; with an expired ctx
// the unfinished messages report the ctx's error.
func TestProduceSyncWaitsForEveryMessage(t *testing.T) {
	client := newClient(t)
	a, b := newTopic(t, client, 2), newTopic(t, client, 2)
	p := newProducer(t, client, kafka.ProducerConfig{Linger: 50 * time.Millisecond})
	defer p.Close(context.Background())
	var msgs []*kafka.Message
	for i := 0; i < 200; i++ {
		topic := a
		if i%2 == 1 {
			topic = b
		}
		msgs = append(msgs, &kafka.Message{Topic: topic.Name(), Value: []byte(fmt.Sprint(i))})
	}
	res := p.ProduceSync(testhelp.Ctx(t, time.Minute), msgs...)
	if err := res.Err(); err != nil {
		t.Fatal(err)
	}
	seen := map[kafka.TopicPartition]map[int64]bool{}
	for _, r := range res {
		tp := kafka.TopicPartition{Topic: r.Message.Topic, Partition: r.Message.Partition}
		if seen[tp] == nil {
			seen[tp] = map[int64]bool{}
		}
		if r.Message.Offset < 0 || seen[tp][r.Message.Offset] {
			t.Fatalf("%v offset %d: missing or repeated", tp, r.Message.Offset)
		}
		seen[tp][r.Message.Offset] = true
	}

	// A context that ends within the 50 ms linger: the message reports
	// it (it stays queued and is delivered later, which Close waits for).
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	late := []*kafka.Message{{Topic: a.Name(), Value: []byte("late")}}
	res = p.ProduceSync(ctx, late...)
	if err := res.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ProduceSync with a context shorter than the linger: %v", err)
	}
}
