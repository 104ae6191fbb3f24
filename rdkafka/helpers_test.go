//go:build cgo && !nordkafka

package rdkafka

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
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

func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newCluster is the client's cluster view on the test cluster.
func newCluster(t testing.TB) *cluster.Cluster {
	t.Helper()
	tc := testinstance.Shared()
	cl, err := cluster.New(testCtx(t, time.Minute), cluster.Config{Bootstrap: tc.Brokers()})
	if err != nil {
		t.Fatalf("cluster.New: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// createTopic creates a topic with a name unique to the test, replicated
// on all three brokers.
func createTopic(t testing.TB, partitions int, configs map[string]string) string {
	t.Helper()
	// Kafka allows [a-zA-Z0-9._-] in topic names.
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '-'
	}, t.Name()) + fmt.Sprintf("-%08x", rand.Uint32())
	tc := testinstance.Shared()
	// The name is random: if it exists, an attempt that timed out on a
	// loaded machine created it after all.
	if err := tc.CreateTopic(testCtx(t, time.Minute), name, partitions, min(3, tc.NumBrokers()), configs); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("CreateTopic %s: %v", name, err)
	}
	return name
}

func startProducer(t testing.TB, cl *cluster.Cluster, cfg engine.ProducerConfig) engine.Producer {
	t.Helper()
	p, err := rdkafkaEngine(t).NewProducer(testCtx(t, time.Minute), cl, cfg)
	if err != nil {
		t.Fatalf("NewProducer: %v", err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

func startFetcher(t testing.TB, cl *cluster.Cluster, cfg engine.FetcherConfig) engine.Fetcher {
	t.Helper()
	f, err := rdkafkaEngine(t).NewFetcher(testCtx(t, time.Minute), cl, cfg)
	if err != nil {
		t.Fatalf("NewFetcher: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// reports collects delivery reports.
type reports struct {
	mu   sync.Mutex
	ok   []*engine.Message
	errs []error
	n    int
	all  chan struct{} // closed when n reaches want
	want int
}

func newReports(want int) *reports { return &reports{want: want, all: make(chan struct{})} }

func (r *reports) done(m *engine.Message, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.errs = append(r.errs, err)
	} else {
		r.ok = append(r.ok, m)
	}
	r.n++
	if r.n == r.want {
		close(r.all)
	}
	if r.n > r.want {
		panic(fmt.Sprintf("%d reports, want %d: a message was reported twice", r.n, r.want))
	}
}

func (r *reports) wait(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case <-r.all:
	case <-time.After(d):
		r.mu.Lock()
		defer r.mu.Unlock()
		t.Fatalf("%d of %d reports after %v", r.n, r.want, d)
	}
}

func (r *reports) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
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
	ctx := testCtx(t, 2*time.Minute)
	cmd := exec.CommandContext(ctx, "kcat", "-b", testinstance.Shared().BootstrapServers(), "-C", "-t", topic, "-e", "-J", "-q")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kcat -C: %v: %s", err, stderr.String())
	}
	var recs []kcatRecord
	sc := bufio.NewScanner(bytes.NewReader(out))
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
	args := []string{"-b", testinstance.Shared().BootstrapServers(), "-P", "-t", topic, "-p", fmt.Sprint(partition), "-K:", "-X", "enable.idempotence=true"}
	args = append(args, extra...)
	cmd := exec.CommandContext(testCtx(t, 2*time.Minute), "kcat", args...)
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kcat -P: %v: %s", err, out)
	}
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
	ctx := testCtx(t, d)
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
