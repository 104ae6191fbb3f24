package fetch

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/records"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

func TestMain(m *testing.M) {
	testinstance.Main(m, testinstance.Config{Brokers: 3, NoZooKeeper: true})
}

// part names partition p of topic.
func part(topic string, p int32) engine.TopicPartition {
	return engine.TopicPartition{Topic: topic, Partition: p}
}

// at is the position of partition p of topic at offset.
func at(topic string, p int32, offset int64) engine.Position {
	return engine.Position{TopicPartition: part(topic, p), Offset: offset}
}

func newFetcher(t testing.TB, cl *cluster.Cluster, cfg engine.FetcherConfig) *fetcher {
	t.Helper()
	f, err := New(testhelp.Ctx(t, time.Minute), cl, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f.(*fetcher)
}

// rec is a record to produce or an expected message.
type rec struct {
	key, value string
	headers    []records.Header
}

// value returns the deterministic value of message i of a partition.
func value(p int32, i int) string { return fmt.Sprintf("p%d-m%06d", p, i) }

// produce writes recs to a partition with acks=all, in batches of batchSize
// records, through raw Produce requests, and returns the offset of the
// first record.
func produce(t testing.TB, cl *cluster.Cluster, topic string, p int32, codec records.Codec, batchSize int, recs []rec) int64 {
	t.Helper()
	ctx := testhelp.Ctx(t, time.Minute)
	b := records.NewBuilder(codec, 0)
	first := int64(-1)
	ts := time.Now().UnixMilli()
	for start := 0; start < len(recs); start += batchSize {
		b.Reset()
		for _, r := range recs[start:min(start+batchSize, len(recs))] {
			var k []byte
			if r.key != "" {
				k = []byte(r.key)
			}
			b.Append(ts, k, []byte(r.value), r.headers)
		}
		batch, err := b.Finish(nil, -1, -1, -1)
		if err != nil {
			t.Fatalf("Finish: %v", err)
		}
		base := testhelp.ProduceRaw(t, ctx, cl, topic, p, batch, nil)
		if first < 0 {
			first = base
		}
	}
	return first
}

// kcatProduce pipes "key:value" lines into kcat, compressed with codec.
func kcatProduce(t testing.TB, tc *testinstance.Cluster, topic string, p int32, codec string, lines []string) {
	t.Helper()
	args := []string{"-P", "-t", topic, "-p", fmt.Sprint(p), "-K:", "-X", "acks=all", "-X", "linger.ms=5"}
	if codec != "" {
		args = append(args, "-z", codec)
	}
	testhelp.Kcat(t, tc, strings.Join(lines, "\n")+"\n", args...)
}

// partitionLog is what a test consumed from one partition.
type partitionLog struct {
	msgs  []*engine.Message
	next  int64  // NextOffset of the last fetch
	hw    int64  // HighWatermark of the last fetch
	epoch uint64 // Epoch of the last fetch
	errs  []error
}

// partitionLogs are what a test consumed, by partition.
type partitionLogs map[engine.TopicPartition]*partitionLog

// consume polls f until done says the logs are complete, failing the test
// at the deadline. Every fetch is checked: in order, no repeats, offsets
// strictly increasing and below NextOffset, every message of the fetch's
// topic and partition.
func consume(t testing.TB, f *fetcher, d time.Duration, logs partitionLogs, done func(partitionLogs) bool) {
	t.Helper()
	ctx := testhelp.Ctx(t, d)
	for !done(logs) {
		fe, err := f.Poll(ctx)
		if err != nil {
			t.Fatalf("Poll: %v (consumed so far: %s)", err, summary(logs))
		}
		l := logs[fe.TopicPartition]
		if l == nil {
			l = &partitionLog{next: -1}
			logs[fe.TopicPartition] = l
		}
		l.epoch = fe.Epoch
		if fe.Err != nil {
			l.errs = append(l.errs, fe.Err)
			continue
		}
		for _, m := range fe.Messages {
			if m.Partition != fe.Partition || m.Topic != fe.Topic {
				t.Fatalf("message %s/%d@%d in a fetch of %s", m.Topic, m.Partition, m.Offset, fe.TopicPartition)
			}
			if n := len(l.msgs); n > 0 && m.Offset <= l.msgs[n-1].Offset {
				t.Fatalf("%s: offset %d after %d", fe.TopicPartition, m.Offset, l.msgs[n-1].Offset)
			}
			if m.Offset >= fe.NextOffset {
				t.Fatalf("%s: offset %d not below NextOffset %d", fe.TopicPartition, m.Offset, fe.NextOffset)
			}
			l.msgs = append(l.msgs, m)
		}
		if fe.NextOffset < l.next {
			t.Fatalf("%s: NextOffset went back from %d to %d", fe.TopicPartition, l.next, fe.NextOffset)
		}
		l.next = fe.NextOffset
		l.hw = fe.HighWatermark
	}
}

func summary(logs partitionLogs) string {
	var sb strings.Builder
	for tp, l := range logs {
		fmt.Fprintf(&sb, "%s: %d msgs next %d errs %v; ", tp, len(l.msgs), l.next, l.errs)
	}
	return sb.String()
}

// haveCounts is a done func: every listed partition has n messages.
func haveCounts(want map[engine.TopicPartition]int) func(partitionLogs) bool {
	return func(logs partitionLogs) bool {
		for tp, n := range want {
			l := logs[tp]
			if l == nil || len(l.msgs) < n {
				return false
			}
		}
		return true
	}
}

// checkValues compares the values consumed from tp with the expected ones,
// in order.
func checkValues(t testing.TB, tp engine.TopicPartition, got []*engine.Message, want []rec, firstOffset int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d messages, want %d", tp, len(got), len(want))
	}
	for i, m := range got {
		if string(m.Value) != want[i].value || string(m.Key) != want[i].key {
			t.Fatalf("%s message %d (offset %d): %q:%q, want %q:%q", tp, i, m.Offset, m.Key, m.Value, want[i].key, want[i].value)
		}
		if firstOffset >= 0 && m.Offset != firstOffset+int64(i) {
			t.Fatalf("%s message %d: offset %d, want %d", tp, i, m.Offset, firstOffset+int64(i))
		}
	}
}

// getenv exists so that tests can show which cluster they ran against.
func clusterKind() string {
	if os.Getenv(testinstance.EnvBrokers) != "" {
		return "external " + os.Getenv(testinstance.EnvBrokers)
	}
	return "testinstance"
}
