//go:build cgo && !nordkafka

package rdkafka

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

func TestMain(m *testing.M) { testinstance.Main(m, testinstance.Config{Brokers: 3}) }

// rdkafkaEngine is the engine as the root finds it: through the registry.
func rdkafkaEngine(t testing.TB) engine.Engine {
	t.Helper()
	e, err := engine.Lookup("rdkafka")
	if err != nil {
		t.Fatalf("engine.Lookup(rdkafka): %v", err)
	}
	return e
}

func startProducer(t testing.TB, cl *cluster.Cluster, cfg engine.ProducerConfig) engine.Producer {
	t.Helper()
	p, err := rdkafkaEngine(t).NewProducer(testhelp.Ctx(t, time.Minute), cl, cfg)
	if err != nil {
		t.Fatalf("NewProducer: %v", err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

func startFetcher(t testing.TB, cl *cluster.Cluster, cfg engine.FetcherConfig) engine.Fetcher {
	t.Helper()
	f, err := rdkafkaEngine(t).NewFetcher(testhelp.Ctx(t, time.Minute), cl, cfg)
	if err != nil {
		t.Fatalf("NewFetcher: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// kcatRecord is one line of `kcat -C -J`.
type kcatRecord struct {
	Partition int32    `json:"partition"`
	Offset    int64    `json:"offset"`
	TsType    string   `json:"tstype"`
	Ts        int64    `json:"ts"`
	Headers   []string `json:"headers"`
	Key       *string  `json:"key"`
	Payload   *string  `json:"payload"`
}

// kcatConsume reads a whole topic with kcat.
func kcatConsume(t testing.TB, topic string) []kcatRecord {
	t.Helper()
	out := testhelp.Kcat(t, nil, "", "-C", "-t", topic, "-e", "-J", "-q")
	var recs []kcatRecord
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var r kcatRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("kcat output %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

// kcatProduce writes lines "key:value" to one partition with kcat; extra
// are more kcat arguments (-H for headers, -X for librdkafka properties).
func kcatProduce(t testing.TB, topic string, partition int32, lines []string, extra ...string) {
	t.Helper()
	// Idempotence: on a loaded machine a retried request must not write
	// a message twice, or the tests' expectations of the log break.
	args := append([]string{"-P", "-t", topic, "-p", fmt.Sprint(partition), "-K:", "-X", "enable.idempotence=true"}, extra...)
	testhelp.Kcat(t, nil, strings.Join(lines, "\n")+"\n", args...)
}

// consumed is what a fetcher returned for one partition.
type consumed struct {
	msgs []*engine.Message
	next int64
	hwm  int64
}

// pollUntil polls f until done says so, failing the test after d. Every
// Fetch must carry epoch (the only assignment the caller made) and be
// consecutive with what came before it.
func pollUntil(t testing.TB, f engine.Fetcher, d time.Duration, epoch uint64, got map[engine.TopicPartition]*consumed, done func() bool) {
	t.Helper()
	ctx := testhelp.Ctx(t, d)
	for !done() {
		fe, err := f.Poll(ctx)
		if err != nil {
			t.Fatalf("Poll: %v (got so far: %s)", err, summary(got))
		}
		if fe.Err != nil {
			t.Fatalf("%s: %v", fe.TopicPartition, fe.Err)
		}
		if fe.Epoch != epoch {
			t.Fatalf("%s: fetch of epoch %d, want %d", fe.TopicPartition, fe.Epoch, epoch)
		}
		c := got[fe.TopicPartition]
		if c == nil {
			c = &consumed{next: -1}
			got[fe.TopicPartition] = c
		}
		if len(fe.Messages) == 0 {
			t.Fatalf("%s: empty fetch without error", fe.TopicPartition)
		}
		for _, m := range fe.Messages {
			if m.Topic != fe.Topic || m.Partition != fe.Partition {
				t.Fatalf("message of %s/%d in a fetch of %s", m.Topic, m.Partition, fe.TopicPartition)
			}
			if c.next >= 0 && m.Offset < c.next {
				t.Fatalf("%s: offset %d after next offset %d", fe.TopicPartition, m.Offset, c.next)
			}
			c.msgs = append(c.msgs, m)
			c.next = m.Offset + 1
		}
		if fe.NextOffset != c.next {
			t.Fatalf("%s: NextOffset %d, want %d", fe.TopicPartition, fe.NextOffset, c.next)
		}
		c.hwm = fe.HighWatermark
	}
}

func summary(got map[engine.TopicPartition]*consumed) string {
	var b strings.Builder
	for tp, c := range got {
		fmt.Fprintf(&b, "%s:%d ", tp, len(c.msgs))
	}
	return b.String()
}

func total(got map[engine.TopicPartition]*consumed) int {
	n := 0
	for _, c := range got {
		n += len(c.msgs)
	}
	return n
}
