package fetch

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/records"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestQueuedBytesBudget: with QueuedMaxBytes, a fetcher nobody polls stops
// at the byte budget across all its partitions (give or take one batch per
// broker, which Kafka always returns whole), far below what the topic
// holds and what QueuedMaxMessages alone would allow; once polled it reads
// every message, once and in order, and the budget's counters return to 0.
func TestQueuedBytesBudget(t *testing.T) {
	tc := testinstance.Shared()
	cl := testhelp.NewCluster(t, tc)
	const parts, n, batch, size = 3, 1500, 50, 1000
	topic := testhelp.CreateTopic(t, tc, parts)
	want := map[int32][]rec{}
	counts := map[engine.TopicPartition]int{}
	var pos []engine.Position
	pad := strings.Repeat("x", size-len(value(0, 0)))
	for p := range int32(parts) {
		for i := range n {
			want[p] = append(want[p], rec{value: value(p, i) + pad})
		}
		produce(t, cl, topic, p, records.CodecNone, batch, want[p])
		counts[part(topic, p)] = n
		pos = append(pos, at(topic, p, 0))
	}
	const budget = 256 << 10
	batchBytes := batch * (size + 20)
	cfg := testhelp.FetcherConfig()
	cfg.QueuedMaxBytes = budget
	cfg.QueuedMaxMessages = 100000 // no bound from the message count
	// The largest MaxBytes of any request: no request may hold more than
	// its source's share of the budget, else one broker's long poll holds
	// back every other broker's partitions.
	var mu sync.Mutex
	var most int32
	testOnRequest = func(_ int32, req, _ *kmsg.FetchRequest) {
		mu.Lock()
		most = max(most, req.MaxBytes)
		mu.Unlock()
	}
	defer func() { testOnRequest = nil }()
	f := newFetcher(t, cl, cfg)
	if err := f.Assign(testhelp.Ctx(t, time.Minute), pos); err != nil {
		t.Fatal(err)
	}
	// Nobody polls: the fetcher fills the budget and stalls.
	deadline := time.Now().Add(30 * time.Second)
	var held int64
	for {
		f.mu.Lock()
		stalled, queued, round := f.stalled, f.queuedBytes, f.roundBytes
		f.mu.Unlock()
		held = queued + round
		if stalled && round == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no stall within 30s: queued %d, in rounds %d, budget %d", queued, round, budget)
		}
		time.Sleep(10 * time.Millisecond) // polling the fetcher's state
	}
	t.Logf("stalled holding %d bytes (budget %d, batches of ~%d, topic %d)", held, budget, batchBytes, parts*n*size)
	if held > budget+int64(parts*batchBytes) || held < budget/2 {
		t.Fatalf("held %d bytes at the stall, want about the budget %d (at most one %d-byte batch per broker over)", held, budget, batchBytes)
	}
	logs := partitionLogs{}
	consume(t, f, time.Minute, logs, haveCounts(counts))
	for p := range int32(parts) {
		checkValues(t, part(topic, p), logs[part(topic, p)].msgs, want[p], 0)
	}
	f.mu.Lock()
	queued, sources := f.queuedBytes, len(f.sources)
	f.mu.Unlock()
	if queued != 0 {
		t.Fatalf("every message polled, %d bytes still counted as queued", queued)
	}
	mu.Lock()
	defer mu.Unlock()
	if share := int32(budget / max(1, sources)); most > share {
		t.Fatalf("a request asked for %d bytes, more than its source's share %d of the budget (%d sources)", most, share, sources)
	}
	t.Logf("largest request: %d bytes, %d sources", most, sources)
}

// TestQueuedBytesBudgetCountsLiveAnswers: what the byte budget counts is
// what the fetcher keeps alive. Decoding is zero-copy, so a partition's
// fetch left queued keeps its whole answer's buffer, the partitions
// already polled included: while a poller takes one fetch at a time and
// drops it, the live heap never exceeds the counters by more than a
// little (counting each fetch's own batches instead let a slow consumer
// hold 75 MiB under a 32 MiB budget).
func TestQueuedBytesBudgetCountsLiveAnswers(t *testing.T) {
	tc := testinstance.Shared()
	cl := testhelp.NewCluster(t, tc)
	const parts, n, batch, size = 12, 300, 20, 10 << 10
	const budget, slack = 24 << 20, 1 << 20
	topic := testhelp.CreateTopic(t, tc, parts)
	pad := strings.Repeat("x", size-len(value(0, 0)))
	counts := map[engine.TopicPartition]int{}
	var pos []engine.Position
	for p := range int32(parts) {
		recs := make([]rec, n)
		for i := range recs {
			recs[i] = rec{value: value(p, i) + pad}
		}
		produce(t, cl, topic, p, records.CodecNone, batch, recs)
		counts[part(topic, p)] = n
		pos = append(pos, at(topic, p, 0))
	}
	cfg := testhelp.FetcherConfig()
	cfg.QueuedMaxBytes = budget
	cfg.QueuedMaxMessages = 1_000_000
	baseline := liveHeap()
	f := newFetcher(t, cl, cfg)
	ctx := testhelp.Ctx(t, 2*time.Minute)
	if err := f.Assign(ctx, pos); err != nil {
		t.Fatal(err)
	}
	got := map[engine.TopicPartition]int{}
	total, worst := 0, int64(0)
	for polls := 0; total < parts*n; polls++ {
		// The heap first, then the counters: only Poll (below) lowers
		// them, and what arrives in between raises them.
		held := int64(liveHeap()) - int64(baseline)
		f.mu.Lock()
		counted := f.queuedBytes + f.roundBytes
		f.mu.Unlock()
		worst = max(worst, held-counted)
		if held > counted+slack {
			t.Fatalf("after %d polls (%d messages): live heap %.1f MiB, the budget counts %.1f MiB", polls, total, float64(held)/(1<<20), float64(counted)/(1<<20))
		}
		tp, msgs := pollAndDrop(t, ctx, f)
		got[tp] += msgs
		total += msgs
	}
	t.Logf("live heap at most %.2f MiB over the count (slack %.0f MiB)", float64(worst)/(1<<20), float64(slack)/(1<<20))
	for tp, want := range counts {
		if got[tp] != want {
			t.Errorf("%s: %d messages, want %d", tp, got[tp], want)
		}
	}
}

// pollAndDrop polls one fetch and keeps nothing of it but its partition
// and message count.
func pollAndDrop(t *testing.T, ctx context.Context, f *fetcher) (engine.TopicPartition, int) {
	fe, err := f.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fe.Err != nil {
		t.Fatal(fe.Err)
	}
	return fe.TopicPartition, len(fe.Messages)
}

// liveHeap is the heap in use after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
