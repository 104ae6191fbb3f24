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
	counts := map[int32]int{}
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
		want[p], counts[p] = rs, perPartition
	}
	after := time.Now().Add(time.Second)

	f := newFetcher(t, cl, testhelp.FetcherConfig(topic))
	var pos []engine.PartitionOffset
	for p := int32(0); p < 6; p++ {
		pos = append(pos, engine.PartitionOffset{Partition: p, Offset: 0})
	}
	if err := f.Assign(testhelp.Ctx(t, time.Minute), pos); err != nil {
		t.Fatal(err)
	}
	logs := map[int32]*partitionLog{}
	consume(t, f, time.Minute, logs, haveCounts(counts))
	for p := int32(0); p < 6; p++ {
		l := logs[p]
		checkValues(t, p, l.msgs, want[p], 0)
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
	f := newFetcher(t, cl, testhelp.FetcherConfig(topic))
	const start = 777 // inside some batch: earlier records must be dropped
	var pos []engine.PartitionOffset
	counts := map[int32]int{}
	for i := range codecs {
		pos = append(pos, engine.PartitionOffset{Partition: int32(i), Offset: start})
		counts[int32(i)] = n - start
	}
	if err := f.Assign(testhelp.Ctx(t, time.Minute), pos); err != nil {
		t.Fatal(err)
	}
	logs := map[int32]*partitionLog{}
	consume(t, f, time.Minute, logs, haveCounts(counts))
	for i, codec := range codecs {
		p := int32(i)
		t.Run(codec, func(t *testing.T) {
			checkValues(t, p, logs[p].msgs, want[p][start:], start)
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
	f := newFetcher(t, cl, testhelp.FetcherConfig(topic))
	ctx := testhelp.Ctx(t, time.Minute)
	if err := f.Assign(ctx, []engine.PartitionOffset{{Partition: 1, Offset: 0}, {Partition: 3, Offset: 100}}); err != nil {
		t.Fatal(err)
	}
	logs := map[int32]*partitionLog{}
	consume(t, f, time.Minute, logs, haveCounts(map[int32]int{1: n, 3: n - 100}))
	for p := range logs {
		if p != 1 && p != 3 {
			t.Fatalf("got a fetch of unassigned partition %d", p)
		}
	}
	if len(logs[1].msgs) != n || len(logs[3].msgs) != n-100 || logs[3].msgs[0].Offset != 100 {
		t.Fatalf("wrong counts: %s", summary(logs))
	}

	// Unassign 3, produce more to both: only 1 delivers.
	if err := f.Unassign(ctx, []int32{3}); err != nil {
		t.Fatal(err)
	}
	produce(t, cl, topic, 3, records.CodecNone, 100, []rec{{value: "late-3"}})
	produce(t, cl, topic, 1, records.CodecNone, 100, []rec{{value: "late-1"}})
	consume(t, f, time.Minute, logs, haveCounts(map[int32]int{1: n + 1}))
	if got := string(logs[1].msgs[n].Value); got != "late-1" {
		t.Fatalf("partition 1: %q", got)
	}
	if len(logs[3].msgs) != n-100 {
		t.Fatalf("unassigned partition 3 delivered more: %d", len(logs[3].msgs))
	}
	f.mu.Lock()
	_, has3 := f.parts[3]
	f.mu.Unlock()
	if has3 {
		t.Fatal("partition 3 still has a cursor")
	}
	// Assigning a partition the topic does not have fails, changing nothing.
	err := f.Assign(ctx, []engine.PartitionOffset{{Partition: 0, Offset: 0}, {Partition: 99, Offset: 0}})
	if !errors.Is(err, kerr.ErrUnknownPartition) {
		t.Fatalf("Assign of partition 99: %v, want ErrUnknownPartition", err)
	}
	if err := f.Assign(ctx, []engine.PartitionOffset{{Partition: 0, Offset: -2}}); !errors.Is(err, kerr.ErrOffsetOutOfRange) {
		t.Fatalf("Assign at offset -2: %v", err)
	}
	f.mu.Lock()
	_, has0 := f.parts[0]
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
	cfg := testhelp.FetcherConfig(topic)
	cfg.PartitionMaxBytes = 16 << 10 // many small fetches
	f := newFetcher(t, cl, cfg)
	ctx := testhelp.Ctx(t, time.Minute)
	if err := f.Assign(ctx, []engine.PartitionOffset{{Partition: 0, Offset: 0}}); err != nil {
		t.Fatal(err)
	}
	logs := map[int32]*partitionLog{}
	consume(t, f, time.Minute, logs, haveCounts(map[int32]int{0: n}))
	checkValues(t, 0, logs[0].msgs, want, 0)

	// Back to 10: re-delivered from there.
	for round, off := range []int64{10, 4321, 0, 4999} {
		epoch := uint64(10 * (round + 1))
		if err := f.Assign(ctx, []engine.PartitionOffset{{Partition: 0, Offset: off, Epoch: epoch}}); err != nil {
			t.Fatal(err)
		}
		// Let fetches from the new position be queued and in flight,
		// then move again before polling: none of them may surface.
		if round%2 == 0 {
			testhelp.WaitUntil(t, 30*time.Second, "data queued", func() bool {
				f.mu.Lock()
				defer f.mu.Unlock()
				return f.parts[0].buffered > 0
			})
			epoch++
			if err := f.Assign(ctx, []engine.PartitionOffset{{Partition: 0, Offset: off + 1, Epoch: epoch}}); err != nil {
				t.Fatal(err)
			}
			off++
		}
		logs := map[int32]*partitionLog{}
		consume(t, f, time.Minute, logs, haveCounts(map[int32]int{0: int(n - off)}))
		if first := logs[0].msgs[0].Offset; first != off {
			t.Fatalf("round %d: first message after Assign at %d has offset %d", round, off, first)
		}
		checkValues(t, 0, logs[0].msgs, want[off:], off)
		if logs[0].epoch != epoch {
			t.Fatalf("round %d: fetches carry epoch %d, want the Assign's %d", round, logs[0].epoch, epoch)
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
	f := newFetcher(t, cl, testhelp.FetcherConfig(topic))
	ctx := testhelp.Ctx(t, time.Minute)
	if err := f.Assign(ctx, []engine.PartitionOffset{{Partition: 0, Offset: 1000, Epoch: 7}, {Partition: 1, Offset: 0}}); err != nil {
		t.Fatal(err)
	}
	logs := map[int32]*partitionLog{}
	consume(t, f, time.Minute, logs, func(l map[int32]*partitionLog) bool {
		return l[0] != nil && len(l[0].errs) > 0 && l[1] != nil && len(l[1].msgs) == 1
	})
	if err := logs[0].errs[0]; !errors.Is(err, kerr.OffsetOutOfRange) || logs[0].epoch != 7 {
		t.Fatalf("partition 0 error %v with epoch %d, want OFFSET_OUT_OF_RANGE with 7", err, logs[0].epoch)
	}
	f.mu.Lock()
	paused := f.parts[0].paused
	f.mu.Unlock()
	if !paused {
		t.Fatal("partition 0 not paused after OFFSET_OUT_OF_RANGE")
	}
	// Paused: more data does not arrive, no second error either.
	produce(t, cl, topic, 1, records.CodecNone, 10, []rec{{value: "y"}})
	consume(t, f, time.Minute, logs, haveCounts(map[int32]int{1: 2}))
	if len(logs[0].errs) != 1 || len(logs[0].msgs) != 0 {
		t.Fatalf("paused partition 0 delivered: %s", summary(logs))
	}
	if err := f.Assign(ctx, []engine.PartitionOffset{{Partition: 0, Offset: 1}}); err != nil {
		t.Fatal(err)
	}
	consume(t, f, time.Minute, logs, haveCounts(map[int32]int{0: 2}))
	checkValues(t, 0, logs[0].msgs, []rec{{value: "b"}, {value: "c"}}, 1)
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
	cfg := testhelp.FetcherConfig(topic)
	cfg.QueuedMaxMessages = limit // the limit under test
	f := newFetcher(t, cl, cfg)
	ctx := testhelp.Ctx(t, 2*time.Minute)
	if err := f.Assign(ctx, []engine.PartitionOffset{{Partition: 0, Offset: 0}, {Partition: 1, Offset: 0}, {Partition: 2, Offset: 0}}); err != nil {
		t.Fatal(err)
	}
	most := 0
	checkBound := func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		for p, c := range f.parts {
			most = max(most, c.buffered+c.pending)
			if c.buffered+c.pending > bound || c.pending < 0 {
				t.Fatalf("partition %d holds %d messages and reserved %d, bound %d", p, c.buffered, c.pending, bound)
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
	logs := map[int32]*partitionLog{}
	polled := map[int32]int{}
	for polls := 0; !haveCounts(map[int32]int{0: n, 1: n, 2: n})(logs); polls++ {
		checkBound()
		fe, err := f.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(fe.Messages) > bound {
			t.Fatalf("a fetch of %d messages, bound %d", len(fe.Messages), bound)
		}
		l := logs[fe.Partition]
		if l == nil {
			l = &partitionLog{}
			logs[fe.Partition] = l
		}
		l.msgs = append(l.msgs, fe.Messages...)
		polled[fe.Partition] += len(fe.Messages)
		// The fetcher's position (what it queued or asked for) minus
		// what was polled.
		f.mu.Lock()
		c := f.parts[fe.Partition]
		ahead := max(c.offset, c.fetchAt) - int64(polled[fe.Partition])
		f.mu.Unlock()
		if ahead > int64(bound) {
			t.Fatalf("partition %d: fetched %d messages ahead of the poller, bound %d", fe.Partition, ahead, bound)
		}
		if polls%10 == 0 {
			time.Sleep(2 * time.Millisecond) // a slow poller: give the fetcher every chance to overrun
		}
	}
	t.Logf("at most %d messages queued or reserved per partition (limit %d, batches of %d)", most, limit, batch)
	for p := int32(0); p < 3; p++ {
		checkValues(t, p, logs[p].msgs, want[p], 0)
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
	fi, err := New(testhelp.Ctx(t, time.Minute), cl, testhelp.FetcherConfig(topic))
	if err != nil {
		t.Fatal(err)
	}
	f := fi.(*fetcher)
	ctx := testhelp.Ctx(t, time.Minute)
	if err := f.Assign(ctx, []engine.PartitionOffset{{Partition: 0, Offset: 0}, {Partition: 1, Offset: 0}, {Partition: 2, Offset: 0}}); err != nil {
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
	if err := f.Unassign(ctx, []int32{0, 1, 2}); err != nil {
		t.Fatal(err)
	}
	testhelp.WaitUntil(t, 30*time.Second, "sources to stop", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.sources) == 0
	})
	if err := f.Assign(ctx, []engine.PartitionOffset{{Partition: 0, Offset: 1}, {Partition: 1, Offset: 0}}); err != nil {
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
	if err := f.Assign(ctx, []engine.PartitionOffset{{Partition: 0, Offset: 0}}); !errors.Is(err, kerr.ErrClosed) {
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
	if _, err := New(ctx, cl, testhelp.FetcherConfig(testhelp.UniqueName(t, "topic"))); !errors.Is(err, kerr.ErrUnknownTopic) {
		t.Fatalf("New on a missing topic: %v", err)
	}
	cfg := testhelp.FetcherConfig("x")
	cfg.QueuedMaxMessages = 0 // invalid: New must refuse it
	if _, err := New(ctx, cl, cfg); !errors.Is(err, kerr.ErrInvalidConfig) {
		t.Fatalf("New with QueuedMaxMessages 0: %v", err)
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
	cfg := testhelp.FetcherConfig(topic)
	cfg.PartitionMaxBytes = 8 << 10 // many requests, so that drops hit some in flight
	cfg.QueuedMaxMessages = 2000    // a full queue pauses fetching, so requests come and go
	failed := &countingHandler{msg: "fetch request failed"}
	cfg.Logger = slog.New(failed)
	f := newFetcher(t, cl, cfg)
	ctx := testhelp.Ctx(t, 2*time.Minute)
	if err := f.Assign(ctx, []engine.PartitionOffset{{Partition: 0}, {Partition: 1}, {Partition: 2}}); err != nil {
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
	logs := map[int32]*partitionLog{}
	consume(t, f, 2*time.Minute, logs, haveCounts(map[int32]int{0: n, 1: n, 2: n}))
	close(stop)
	wg.Wait()
	t.Logf("connections dropped %d times, %d requests failed", drops, failed.n.Load())
	if failed.n.Load() == 0 {
		t.Fatal("no request failed: the test did not test anything")
	}
	for p := int32(0); p < 3; p++ {
		checkValues(t, p, logs[p].msgs, want[p], 0)
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
