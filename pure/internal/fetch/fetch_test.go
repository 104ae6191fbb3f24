package fetch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/records"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
	"go.uber.org/goleak"
)

// TestFetchEveryPartition produces to six partitions (leaders on all three
// brokers), then checks that every message arrives exactly once, in order,
// with every field set.
func TestFetchEveryPartition(t *testing.T) {
	t.Logf("cluster: %s", clusterKind())
	tc := testinstance.Shared()
	cl := testhelp.NewCluster(t, tc)
	topic := testhelp.CreateTopic(t, tc, 6)
	const perPartition = 3000
	want := map[int32][]rec{}
	counts := map[engine.TopicPartition]int{}
	before := time.Now().Add(-time.Second)
	for p := int32(0); p < 6; p++ {
		var rs []rec
		for i := range perPartition {
			r := rec{key: fmt.Sprintf("k%d", i%7), value: value(p, i)}
			if i%5 == 0 {
				r.headers = []records.Header{{Key: "h", Value: []byte(fmt.Sprint(i))}, {Key: "null"}}
			}
			rs = append(rs, r)
		}
		produce(t, cl, topic, p, records.CodecNone, 250, rs)
		want[p], counts[part(topic, p)] = rs, perPartition
	}
	after := time.Now().Add(time.Second)

	f := newFetcher(t, cl, testhelp.FetcherConfig())
	var pos []engine.Position
	for p := int32(0); p < 6; p++ {
		pos = append(pos, at(topic, p, 0))
	}
	if err := f.Assign(testhelp.Ctx(t, time.Minute), pos); err != nil {
		t.Fatal(err)
	}
	logs := partitionLogs{}
	consume(t, f, time.Minute, logs, haveCounts(counts))
	for p := int32(0); p < 6; p++ {
		l := logs[part(topic, p)]
		checkValues(t, part(topic, p), l.msgs, want[p], 0)
		if l.next != perPartition {
			t.Errorf("partition %d: NextOffset %d, want %d", p, l.next, perPartition)
		}
		for i, m := range l.msgs {
			if m.Timestamp.Before(before) || m.Timestamp.After(after) {
				t.Fatalf("partition %d offset %d: timestamp %v not within [%v, %v]", p, m.Offset, m.Timestamp, before, after)
			}
			if i%5 == 0 {
				if len(m.Headers) != 2 || m.Headers[0].Key != "h" || string(m.Headers[0].Value) != fmt.Sprint(i) ||
					m.Headers[1].Key != "null" || m.Headers[1].Value != nil {
					t.Fatalf("partition %d offset %d: headers %+v", p, m.Offset, m.Headers)
				}
			} else if len(m.Headers) != 0 {
				t.Fatalf("partition %d offset %d: unexpected headers %+v", p, m.Offset, m.Headers)
			}
		}
	}
	// Nothing more is delivered: a short Poll times out.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if fe, err := f.Poll(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Poll after everything was consumed: %+v, %v", fe, err)
	}
}

// TestFetchCompressed checks each codec as librdkafka (kcat) writes it,
// one codec per partition, starting in the middle of a batch.
func TestFetchCompressed(t *testing.T) {
	tc := testinstance.Shared()
	cl := testhelp.NewCluster(t, tc)
	codecs := []string{"none", "gzip", "snappy", "lz4", "zstd"}
	topic := testhelp.CreateTopic(t, tc, len(codecs))
	const n = 2000
	want := map[int32][]rec{}
	for i, codec := range codecs {
		p := int32(i)
		var lines []string
		for j := range n {
			r := rec{key: fmt.Sprintf("key-%d", j), value: value(p, j) + "-" + codec}
			lines = append(lines, r.key+":"+r.value)
			want[p] = append(want[p], r)
		}
		kcatProduce(t, tc, topic, p, codec, lines)
	}
	f := newFetcher(t, cl, testhelp.FetcherConfig())
	const start = 777 // inside some batch: earlier records must be dropped
	var pos []engine.Position
	counts := map[engine.TopicPartition]int{}
	for i := range codecs {
		pos = append(pos, at(topic, int32(i), start))
		counts[part(topic, int32(i))] = n - start
	}
	if err := f.Assign(testhelp.Ctx(t, time.Minute), pos); err != nil {
		t.Fatal(err)
	}
	logs := partitionLogs{}
	consume(t, f, time.Minute, logs, haveCounts(counts))
	for i, codec := range codecs {
		p := int32(i)
		t.Run(codec, func(t *testing.T) {
			checkValues(t, part(topic, p), logs[part(topic, p)].msgs, want[p][start:], start)
		})
	}
}

// TestFetchPartitionSubset assigns some partitions only, then drops one.
func TestFetchPartitionSubset(t *testing.T) {
	tc := testinstance.Shared()
	cl := testhelp.NewCluster(t, tc)
	topic := testhelp.CreateTopic(t, tc, 4)
	const n = 500
	for p := int32(0); p < 4; p++ {
		var rs []rec
		for i := range n {
			rs = append(rs, rec{value: value(p, i)})
		}
		produce(t, cl, topic, p, records.CodecNone, 100, rs)
	}
	f := newFetcher(t, cl, testhelp.FetcherConfig())
	ctx := testhelp.Ctx(t, time.Minute)
	p1, p3 := part(topic, 1), part(topic, 3)
	if err := f.Assign(ctx, []engine.Position{at(topic, 1, 0), at(topic, 3, 100)}); err != nil {
		t.Fatal(err)
	}
	logs := partitionLogs{}
	consume(t, f, time.Minute, logs, haveCounts(map[engine.TopicPartition]int{p1: n, p3: n - 100}))
	for tp := range logs {
		if tp != p1 && tp != p3 {
			t.Fatalf("got a fetch of unassigned partition %s", tp)
		}
	}
	if len(logs[p1].msgs) != n || len(logs[p3].msgs) != n-100 || logs[p3].msgs[0].Offset != 100 {
		t.Fatalf("wrong counts: %s", summary(logs))
	}

	// Unassign 3, produce more to both: only 1 delivers.
	if err := f.Unassign(ctx, []engine.TopicPartition{p3}); err != nil {
		t.Fatal(err)
	}
	produce(t, cl, topic, 3, records.CodecNone, 100, []rec{{value: "late-3"}})
	produce(t, cl, topic, 1, records.CodecNone, 100, []rec{{value: "late-1"}})
	consume(t, f, time.Minute, logs, haveCounts(map[engine.TopicPartition]int{p1: n + 1}))
	if got := string(logs[p1].msgs[n].Value); got != "late-1" {
		t.Fatalf("partition 1: %q", got)
	}
	if len(logs[p3].msgs) != n-100 {
		t.Fatalf("unassigned partition 3 delivered more: %d", len(logs[p3].msgs))
	}
	f.mu.Lock()
	_, has3 := f.parts[p3]
	f.mu.Unlock()
	if has3 {
		t.Fatal("partition 3 still has a cursor")
	}
	// Assigning a partition the topic does not have fails, changing nothing.
	err := f.Assign(ctx, []engine.Position{at(topic, 0, 0), at(topic, 99, 0)})
	if !errors.Is(err, kerr.ErrUnknownPartition) {
		t.Fatalf("Assign of partition 99: %v, want ErrUnknownPartition", err)
	}
	if err := f.Assign(ctx, []engine.Position{at(topic, 0, -2)}); !errors.Is(err, kerr.ErrOffsetOutOfRange) {
		t.Fatalf("Assign at offset -2: %v", err)
	}
	f.mu.Lock()
	_, has0 := f.parts[part(topic, 0)]
	f.mu.Unlock()
	if has0 {
		t.Fatal("a refused Assign added partition 0")
	}
}

// TestReassign checks that Assign moves a partition: to an earlier offset
// it re-delivers, and nothing fetched before the Assign comes out after it,
// even with a full queue and requests in flight.
func TestReassign(t *testing.T) {
	tc := testinstance.Shared()
	cl := testhelp.NewCluster(t, tc)
	topic := testhelp.CreateTopic(t, tc, 1)
	const n = 5000
	var want []rec
	for i := range n {
		want = append(want, rec{value: value(0, i)})
	}
	produce(t, cl, topic, 0, records.CodecNone, 100, want)
	cfg := testhelp.FetcherConfig()
	cfg.PartitionMaxBytes = 16 << 10 // many small fetches
	f := newFetcher(t, cl, cfg)
	ctx := testhelp.Ctx(t, time.Minute)
	p0 := part(topic, 0)
	if err := f.Assign(ctx, []engine.Position{at(topic, 0, 0)}); err != nil {
		t.Fatal(err)
	}
	logs := partitionLogs{}
	consume(t, f, time.Minute, logs, haveCounts(map[engine.TopicPartition]int{p0: n}))
	checkValues(t, p0, logs[p0].msgs, want, 0)

	// Back to 10: re-delivered from there.
	for round, off := range []int64{10, 4321, 0, 4999} {
		epoch := uint64(10 * (round + 1))
		if err := f.Assign(ctx, []engine.Position{{TopicPartition: p0, Offset: off, Epoch: epoch}}); err != nil {
			t.Fatal(err)
		}
		// Let fetches from the new position be queued and in flight,
		// then move again before polling: none of them may surface.
		if round%2 == 0 {
			testhelp.WaitUntil(t, 30*time.Second, "data queued", func() bool {
				f.mu.Lock()
				defer f.mu.Unlock()
				return f.parts[p0].buffered > 0
			})
			epoch++
			if err := f.Assign(ctx, []engine.Position{{TopicPartition: p0, Offset: off + 1, Epoch: epoch}}); err != nil {
				t.Fatal(err)
			}
			off++
		}
		logs := partitionLogs{}
		consume(t, f, time.Minute, logs, haveCounts(map[engine.TopicPartition]int{p0: int(n - off)}))
		if first := logs[p0].msgs[0].Offset; first != off {
			t.Fatalf("round %d: first message after Assign at %d has offset %d", round, off, first)
		}
		checkValues(t, p0, logs[p0].msgs, want[off:], off)
		if logs[p0].epoch != epoch {
			t.Fatalf("round %d: fetches carry epoch %d, want the Assign's %d", round, logs[p0].epoch, epoch)
		}
	}
}

// TestOffsetOutOfRange checks that an offset past the end is reported
// through Poll, the partition pauses, and a new Assign resumes it.
func TestOffsetOutOfRange(t *testing.T) {
	tc := testinstance.Shared()
	cl := testhelp.NewCluster(t, tc)
	topic := testhelp.CreateTopic(t, tc, 2)
	produce(t, cl, topic, 0, records.CodecNone, 10, []rec{{value: "a"}, {value: "b"}, {value: "c"}})
	produce(t, cl, topic, 1, records.CodecNone, 10, []rec{{value: "x"}})
	f := newFetcher(t, cl, testhelp.FetcherConfig())
	ctx := testhelp.Ctx(t, time.Minute)
	p0, p1 := part(topic, 0), part(topic, 1)
	if err := f.Assign(ctx, []engine.Position{{TopicPartition: p0, Offset: 1000, Epoch: 7}, at(topic, 1, 0)}); err != nil {
		t.Fatal(err)
	}
	logs := partitionLogs{}
	consume(t, f, time.Minute, logs, func(l partitionLogs) bool {
		return l[p0] != nil && len(l[p0].errs) > 0 && l[p1] != nil && len(l[p1].msgs) == 1
	})
	if err := logs[p0].errs[0]; !errors.Is(err, kerr.OffsetOutOfRange) || logs[p0].epoch != 7 {
		t.Fatalf("partition 0 error %v with epoch %d, want OFFSET_OUT_OF_RANGE with 7", err, logs[p0].epoch)
	}
	f.mu.Lock()
	paused := f.parts[p0].paused
	f.mu.Unlock()
	if !paused {
		t.Fatal("partition 0 not paused after OFFSET_OUT_OF_RANGE")
	}
	// Paused: more data does not arrive, no second error either.
	produce(t, cl, topic, 1, records.CodecNone, 10, []rec{{value: "y"}})
	consume(t, f, time.Minute, logs, haveCounts(map[engine.TopicPartition]int{p1: 2}))
	if len(logs[p0].errs) != 1 || len(logs[p0].msgs) != 0 {
		t.Fatalf("paused partition 0 delivered: %s", summary(logs))
	}
	if err := f.Assign(ctx, []engine.Position{at(topic, 0, 1)}); err != nil {
		t.Fatal(err)
	}
	consume(t, f, time.Minute, logs, haveCounts(map[engine.TopicPartition]int{p0: 2}))
	checkValues(t, p0, logs[p0].msgs, []rec{{value: "b"}, {value: "c"}}, 1)
}

// TestBoundedPrefetch checks that a slow poller holds about
// QueuedMaxMessages per partition: the limit is a threshold ("prefetch stops
// at this many"), exceeded by at most one batch since requests are sized to
// the room left, and the fetcher never runs further ahead of the poller.
// Everything still arrives, in order.
func TestBoundedPrefetch(t *testing.T) {
	for _, batch := range []int{200, 1000} { // records per produced batch
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) { testBoundedPrefetch(t, batch) })
	}
}

func testBoundedPrefetch(t *testing.T, batch int) {
	tc := testinstance.Shared()
	cl := testhelp.NewCluster(t, tc)
	topic := testhelp.CreateTopic(t, tc, 3)
	const n = 6000
	const limit = 500
	bound := limit + batch
	want := map[int32][]rec{}
	for p := int32(0); p < 3; p++ {
		for i := range n {
			want[p] = append(want[p], rec{value: value(p, i)})
		}
		produce(t, cl, topic, p, records.CodecLZ4, batch, want[p])
	}
	cfg := testhelp.FetcherConfig()
	cfg.QueuedMaxMessages = limit // small, so that a slow poller fills it many times over
	f := newFetcher(t, cl, cfg)
	ctx := testhelp.Ctx(t, 2*time.Minute)
	if err := f.Assign(ctx, []engine.Position{at(topic, 0, 0), at(topic, 1, 0), at(topic, 2, 0)}); err != nil {
		t.Fatal(err)
	}
	most := 0
	checkBound := func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for tp, c := range f.parts {
			most = max(most, c.buffered+c.pending)
			if c.buffered+c.pending > bound || c.pending < 0 {
				t.Fatalf("%s holds %d messages and reserved %d, bound %d", tp, c.buffered, c.pending, bound)
			}
		}
	}
	// Before polling: the queues fill past half the limit, and fetching
	// stops there.
	testhelp.WaitUntil(t, 30*time.Second, "queues to fill", func() bool {
		checkBound()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, c := range f.parts {
			if c.fetchable(limit) || c.pending > 0 {
				return false
			}
		}
		return true
	})
	logs := partitionLogs{}
	polled := map[engine.TopicPartition]int{}
	all := map[engine.TopicPartition]int{part(topic, 0): n, part(topic, 1): n, part(topic, 2): n}
	for polls := 0; !haveCounts(all)(logs); polls++ {
		checkBound()
		fe, err := f.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(fe.Messages) > bound {
			t.Fatalf("a fetch of %d messages, bound %d", len(fe.Messages), bound)
		}
		l := logs[fe.TopicPartition]
		if l == nil {
			l = &partitionLog{}
			logs[fe.TopicPartition] = l
		}
		l.msgs = append(l.msgs, fe.Messages...)
		polled[fe.TopicPartition] += len(fe.Messages)
		// The fetcher's position (what it queued or asked for) minus
		// what was polled.
		f.mu.Lock()
		c := f.parts[fe.TopicPartition]
		ahead := max(c.offset, c.fetchAt) - int64(polled[fe.TopicPartition])
		f.mu.Unlock()
		if ahead > int64(bound) {
			t.Fatalf("%s: fetched %d messages ahead of the poller, bound %d", fe.TopicPartition, ahead, bound)
		}
		if polls%10 == 0 {
			time.Sleep(2 * time.Millisecond) // a slow poller: give the fetcher every chance to overrun
		}
	}
	t.Logf("at most %d messages queued or reserved per partition (limit %d, batches of %d)", most, limit, batch)
	for p := int32(0); p < 3; p++ {
		checkValues(t, part(topic, p), logs[part(topic, p)].msgs, want[p], 0)
	}
}

// TestPollAndClose covers Poll's context and Close: Poll waits for ctx,
// returns ErrClosed after Close (also when blocked in it), Close is
// idempotent, and no goroutine is left behind.
func TestPollAndClose(t *testing.T) {
	testhelp.NoLeaks(t)
	tc := testinstance.Shared()
	topic := testhelp.CreateTopic(t, tc, 3)
	cl := testhelp.NewCluster(t, tc)
	produce(t, cl, topic, 0, records.CodecNone, 10, []rec{{value: "a"}})
	// Everything the fetcher starts, its connections' readers included,
	// must be gone after its Close, while the cluster stays open.
	before := goleak.IgnoreCurrent()
	fi, err := New(testhelp.Ctx(t, time.Minute), cl, testhelp.FetcherConfig())
	if err != nil {
		t.Fatal(err)
	}
	f := fi.(*fetcher)
	ctx := testhelp.Ctx(t, time.Minute)
	if err := f.Assign(ctx, []engine.Position{at(topic, 0, 0), at(topic, 1, 0), at(topic, 2, 0)}); err != nil {
		t.Fatal(err)
	}
	fe, err := f.Poll(ctx)
	if err != nil || len(fe.Messages) != 1 || string(fe.Messages[0].Value) != "a" {
		t.Fatalf("Poll: %+v, %v", fe, err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := f.Poll(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Poll with nothing to fetch: %v", err)
	}
	f.mu.Lock()
	nsrc := len(f.sources)
	f.mu.Unlock()
	if nsrc == 0 {
		t.Fatal("no source goroutine runs")
	}
	// Unassigning everything stops every source.
	if err := f.Unassign(ctx, []engine.TopicPartition{part(topic, 0), part(topic, 1), part(topic, 2)}); err != nil {
		t.Fatal(err)
	}
	testhelp.WaitUntil(t, 30*time.Second, "sources to stop", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.sources) == 0
	})
	if err := f.Assign(ctx, []engine.Position{at(topic, 0, 1), at(topic, 1, 0)}); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	wg.Add(1)
	var pollErr error
	go func() {
		defer wg.Done()
		_, pollErr = f.Poll(context.Background())
	}()
	time.Sleep(50 * time.Millisecond) // let Poll block (it also must work if it has not yet)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if !errors.Is(pollErr, kerr.ErrClosed) {
		t.Fatalf("blocked Poll returned %v at Close", pollErr)
	}
	if _, err := f.Poll(ctx); !errors.Is(err, kerr.ErrClosed) {
		t.Fatalf("Poll after Close: %v", err)
	}
	if err := f.Assign(ctx, []engine.Position{at(topic, 0, 0)}); !errors.Is(err, kerr.ErrClosed) {
		t.Fatalf("Assign after Close: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := goleak.Find(before); err != nil {
		t.Fatalf("goroutines left after Close (lanes not closed?): %v", err)
	}
}

// TestNewErrors checks the constructor's validation.
func TestNewErrors(t *testing.T) {
	tc := testinstance.Shared()
	cl := testhelp.NewCluster(t, tc)
	ctx := testhelp.Ctx(t, time.Minute)
	cfg := testhelp.FetcherConfig()
	cfg.QueuedMaxMessages = 0 // invalid: no room for a single message
	if _, err := New(ctx, cl, cfg); !errors.Is(err, kerr.ErrInvalidConfig) {
		t.Fatalf("New with QueuedMaxMessages 0: %v", err)
	}
	if _, err := New(ctx, nil, testhelp.FetcherConfig()); !errors.Is(err, kerr.ErrInvalidConfig) {
		t.Fatalf("New without a cluster: %v", err)
	}
}

// TestConnectionDrops closes the fetcher's connections again and again
// while it fetches: every request in flight fails, the fetcher reconnects
// and carries on, and every message still arrives exactly once, in order.
func TestConnectionDrops(t *testing.T) {
	tc := testinstance.Shared()
	cl := testhelp.NewCluster(t, tc)
	topic := testhelp.CreateTopic(t, tc, 3)
	const n = 20000
	want := map[int32][]rec{}
	for p := int32(0); p < 3; p++ {
		for i := range n {
			want[p] = append(want[p], rec{value: value(p, i)})
		}
		produce(t, cl, topic, p, records.CodecZstd, 500, want[p])
	}
	cfg := testhelp.FetcherConfig()
	cfg.PartitionMaxBytes = 8 << 10 // many requests, so that drops hit some in flight
	cfg.QueuedMaxMessages = 2000    // and many rounds of them, with a poller that keeps up
	failed := &countingHandler{msg: "fetch request failed"}
	cfg.Logger = slog.New(failed) // counts the failed requests, to show drops hit some
	f := newFetcher(t, cl, cfg)
	ctx := testhelp.Ctx(t, 2*time.Minute)
	if err := f.Assign(ctx, []engine.Position{at(topic, 0, 0), at(topic, 1, 0), at(topic, 2, 0)}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	drops := 0
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			// Kill the live connection as a network failure would
			// (Broker.CloseLane is not safe against a concurrent dial
			// of the same lane, see the report).
			for _, id := range tc.NodeIDs() {
				if b, err := cl.Broker(id); err == nil {
					if c, err := b.Conn(ctx, f.lane); err == nil {
						c.Close()
					}
				}
			}
			drops++
		}
	}()
	logs := partitionLogs{}
	consume(t, f, 2*time.Minute, logs, haveCounts(map[engine.TopicPartition]int{part(topic, 0): n, part(topic, 1): n, part(topic, 2): n}))
	close(stop)
	wg.Wait()
	t.Logf("connections dropped %d times, %d requests failed", drops, failed.n.Load())
	if failed.n.Load() == 0 {
		t.Fatal("no request failed: the test did not test anything")
	}
	for p := int32(0); p < 3; p++ {
		checkValues(t, part(topic, p), logs[part(topic, p)].msgs, want[p], 0)
	}
}

// countingHandler counts log records with a given message.
type countingHandler struct {
	msg string
	n   atomic.Int64
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.n.Add(1)
	}
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }
