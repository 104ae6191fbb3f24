//go:build cgo && !nordkafka

package rdkafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testhelp"
)

// produceLines writes n messages "key-p-i:value-p-i" to a partition with
// kcat; extra are more kcat arguments.
func produceLines(t testing.TB, topic string, partition int32, from, n int, extra ...string) {
	t.Helper()
	lines := make([]string, n)
	for i := range n {
		lines[i] = fmt.Sprintf("key-%d-%d:value-%d-%d", partition, from+i, partition, from+i)
	}
	kcatProduce(t, topic, partition, lines, extra...)
}

// assignAll assigns partitions 0..parts-1 of topic at offset.
func assignAll(t testing.TB, f engine.Fetcher, topic string, parts int, offset int64, epoch uint64) {
	t.Helper()
	var pos []engine.Position
	for p := range parts {
		pos = append(pos, engine.Position{TopicPartition: engine.TopicPartition{Topic: topic, Partition: int32(p)}, Offset: offset, Epoch: epoch})
	}
	if err := f.Assign(testhelp.Ctx(t, time.Minute), pos); err != nil {
		t.Fatalf("Assign: %v", err)
	}
}

// TestFetchKcatData reads what kcat wrote: every message once, in order,
// with key, value, headers, timestamp, and the high watermark.
func TestFetchKcatData(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	const parts, n = 3, 400
	topic := testhelp.CreateTopic(t, nil, parts)
	before := time.Now().Add(-time.Second)
	for p := range int32(parts) {
		produceLines(t, topic, p, 0, n, "-H", "h1=x", "-H", "h2=y")
	}
	after := time.Now().Add(time.Second)
	f := startFetcher(t, cl, testhelp.FetcherConfig())
	assignAll(t, f, topic, parts, 0, 7)
	got := map[engine.TopicPartition]*consumed{}
	pollUntil(t, f, time.Minute, 7, got, func() bool { return total(got) >= parts*n })
	for p := range int32(parts) {
		c := got[engine.TopicPartition{Topic: topic, Partition: p}]
		if len(c.msgs) != n || c.hwm != n {
			t.Fatalf("partition %d: %d messages, high watermark %d; want %d and %d", p, len(c.msgs), c.hwm, n, n)
		}
		for i, m := range c.msgs {
			if m.Offset != int64(i) || string(m.Key) != fmt.Sprintf("key-%d-%d", p, i) || string(m.Value) != fmt.Sprintf("value-%d-%d", p, i) {
				t.Fatalf("partition %d message %d: offset %d key %q value %q", p, i, m.Offset, m.Key, m.Value)
			}
			if len(m.Headers) != 2 || m.Headers[0].Key != "h1" || string(m.Headers[0].Value) != "x" || m.Headers[1].Key != "h2" || string(m.Headers[1].Value) != "y" {
				t.Fatalf("partition %d message %d: headers %+v", p, i, m.Headers)
			}
			if m.Timestamp.Before(before) || m.Timestamp.After(after) {
				t.Fatalf("partition %d message %d: timestamp %v outside [%v, %v]", p, i, m.Timestamp, before, after)
			}
			if m.Topic != topic {
				t.Fatalf("topic %q, want %q", m.Topic, topic)
			}
		}
	}
	// Nothing more: Poll waits until its ctx ends.
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	if fe, err := f.Poll(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Poll past the end: %+v, %v; want DeadlineExceeded", fe, err)
	}
}

// TestReassignRedelivers moves a partition back and forth many times while
// it is being read: after each Assign the partition's first message is the
// one at the new offset, every fetch carries the new epoch, and the other
// partition goes on undisturbed.
func TestReassignRedelivers(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	const n = 2000
	topic := testhelp.CreateTopic(t, nil, 2)
	// Batches of 20 messages, so that fetches are small.
	produceLines(t, topic, 0, 0, n, "-X", "batch.num.messages=20")
	produceLines(t, topic, 1, 0, n, "-X", "batch.num.messages=20")
	cfg := testhelp.FetcherConfig()
	// Small fetches and a small prefetch: many fetches per partition,
	// and much of each partition buffered when it is moved.
	cfg.QueuedMaxMessages = 100
	cfg.PartitionMaxBytes = 1024
	f := startFetcher(t, cl, cfg)
	ctx := testhelp.Ctx(t, 2*time.Minute)
	tp0, tp1 := engine.TopicPartition{Topic: topic, Partition: 0}, engine.TopicPartition{Topic: topic, Partition: 1}
	assignAll(t, f, topic, 2, 0, 1)
	epoch := uint64(1)
	next := map[int32]int64{0: 0, 1: 0}
	rng := rand.New(rand.NewPCG(1, 2))
	// Go on until the engine itself held messages of partition 0 at ten
	// of the moves (it usually has handed everything out; librdkafka
	// holds prefetched messages at every move).
	buffered := 0
	for round := 0; buffered < 10; round++ {
		if round == 2000 {
			t.Fatalf("only %d moves with messages buffered in the engine after %d rounds", buffered, round)
		}
		// Read a few fetches of partition 0 (or up to its end), and stop
		// after one of partition 1: partition 0 has then likely been
		// fetched further by the same drain and is buffered in the
		// engine, which the move must discard.
		for reads, last := 0, int32(-1); (reads < 2 || last != 1) && (next[0] < n || last != 1); {
			fe, err := f.Poll(ctx)
			if err != nil {
				t.Fatalf("round %d: Poll: %v", round, err)
			}
			if fe.Err != nil {
				t.Fatalf("round %d: %s: %v", round, fe.TopicPartition, fe.Err)
			}
			if fe.Topic != topic {
				t.Fatalf("round %d: fetch of %s", round, fe.TopicPartition)
			}
			want := uint64(1)
			if fe.Partition == 0 {
				want = epoch
				reads++
			}
			last = fe.Partition
			if fe.Epoch != want {
				t.Fatalf("round %d: partition %d fetch of epoch %d, want %d", round, fe.Partition, fe.Epoch, want)
			}
			for _, m := range fe.Messages {
				if m.Offset != next[fe.Partition] {
					t.Fatalf("round %d: partition %d: offset %d, want %d", round, fe.Partition, m.Offset, next[fe.Partition])
				}
				if want := fmt.Sprintf("value-%d-%d", fe.Partition, m.Offset); string(m.Value) != want {
					t.Fatalf("value %q at offset %d, want %q", m.Value, m.Offset, want)
				}
				next[fe.Partition]++
			}
			if fe.Partition == 1 && next[1] == n {
				// Partition 1 is done; start it over so that it keeps
				// competing with partition 0.
				if err := f.Assign(ctx, []engine.Position{{TopicPartition: tp1, Offset: 0, Epoch: 1}}); err != nil {
					t.Fatal(err)
				}
				next[1] = 0
			}
		}
		rf := f.(*fetcher)
		rf.mu.Lock()
		if len(rf.parts[tp0].msgs) > 0 {
			buffered++
		}
		rf.mu.Unlock()
		// Move partition 0: back, or forward, anywhere in the log.
		to := rng.Int64N(n - 50)
		epoch++
		if err := f.Assign(ctx, []engine.Position{{TopicPartition: tp0, Offset: to, Epoch: epoch}}); err != nil {
			t.Fatalf("round %d: Assign: %v", round, err)
		}
		next[0] = to
	}
}

// TestOutOfRange: a partition assigned past its end comes back as a Fetch
// with kerr.OffsetOutOfRange (and the assignment's epoch), stays quiet
// until assigned again, and reads normally once it is; the other
// partitions are not disturbed, among them the same partition numbers of
// another topic (the state is per topic and partition).
func TestOutOfRange(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	a, b := testhelp.CreateTopic(t, nil, 3), testhelp.CreateTopic(t, nil, 3)
	for p := range int32(3) {
		produceLines(t, a, p, 0, 20)
		produceLines(t, b, p, 0, 20)
	}
	tp := func(topic string, p int32) engine.TopicPartition {
		return engine.TopicPartition{Topic: topic, Partition: p}
	}
	f := startFetcher(t, cl, testhelp.FetcherConfig())
	ctx := testhelp.Ctx(t, 2*time.Minute)
	epochs := map[engine.TopicPartition]uint64{tp(a, 0): 3, tp(a, 1): 4, tp(a, 2): 5, tp(b, 0): 6, tp(b, 2): 7}
	if err := f.Assign(ctx, []engine.Position{
		{TopicPartition: tp(a, 0), Offset: 100, Epoch: 3},
		{TopicPartition: tp(a, 1), Offset: 0, Epoch: 4},
		{TopicPartition: tp(a, 2), Offset: 5000, Epoch: 5},
		{TopicPartition: tp(b, 0), Offset: 0, Epoch: 6},
		{TopicPartition: tp(b, 2), Offset: 0, Epoch: 7},
	}); err != nil {
		t.Fatal(err)
	}
	failed := map[engine.TopicPartition]bool{}
	read := map[engine.TopicPartition]int{}
	for len(failed) < 2 || read[tp(a, 1)] < 20 || read[tp(b, 0)] < 20 || read[tp(b, 2)] < 20 {
		fe, err := f.Poll(ctx)
		if err != nil {
			t.Fatalf("Poll: %v (failed %v, read %v)", err, failed, read)
		}
		if want, ok := epochs[fe.TopicPartition]; !ok || fe.Epoch != want {
			t.Fatalf("%s: fetch of epoch %d, want %d (assigned: %v)", fe.TopicPartition, fe.Epoch, want, ok)
		}
		switch fe.TopicPartition {
		case tp(a, 0), tp(a, 2):
			if !errors.Is(fe.Err, kerr.OffsetOutOfRange) {
				t.Fatalf("%s: %+v, want OffsetOutOfRange", fe.TopicPartition, fe)
			}
			if failed[fe.TopicPartition] {
				t.Fatalf("%s reported out of range twice", fe.TopicPartition)
			}
			if !strings.Contains(fe.Err.Error(), fe.TopicPartition.String()) {
				t.Fatalf("%s: the error does not name the partition: %v", fe.TopicPartition, fe.Err)
			}
			failed[fe.TopicPartition] = true
			t.Logf("%s: %v", fe.TopicPartition, fe.Err)
		default:
			if fe.Err != nil {
				t.Fatalf("%s: %v", fe.TopicPartition, fe.Err)
			}
			read[fe.TopicPartition] += len(fe.Messages)
		}
	}
	for _, p := range []engine.TopicPartition{tp(a, 1), tp(b, 0), tp(b, 2)} {
		if read[p] != 20 {
			t.Fatalf("read %d messages of %s, want 20", read[p], p)
		}
	}
	// Assigned again in range, the partition reads.
	if err := f.Assign(ctx, []engine.Position{{TopicPartition: tp(a, 0), Offset: 15, Epoch: 8}}); err != nil {
		t.Fatal(err)
	}
	got := map[engine.TopicPartition]*consumed{}
	pollUntil(t, f, time.Minute, 8, got, func() bool { return got[tp(a, 0)] != nil && len(got[tp(a, 0)].msgs) >= 5 })
	if c := got[tp(a, 0)]; len(c.msgs) != 5 || c.msgs[0].Offset != 15 {
		t.Fatalf("%s after reassign: %d messages from %d", tp(a, 0), len(c.msgs), c.msgs[0].Offset)
	}
	// An out-of-range partition that is unassigned and assigned anew
	// reads too (librdkafka keeps the pause of a partition across
	// assignments; the fetcher must lift it).
	if err := f.Unassign(ctx, []engine.TopicPartition{tp(a, 2)}); err != nil {
		t.Fatal(err)
	}
	if err := f.Assign(ctx, []engine.Position{{TopicPartition: tp(a, 2), Offset: 18, Epoch: 9}}); err != nil {
		t.Fatal(err)
	}
	got = map[engine.TopicPartition]*consumed{}
	pollUntil(t, f, time.Minute, 9, got, func() bool { return got[tp(a, 2)] != nil && len(got[tp(a, 2)].msgs) >= 2 })
	if c := got[tp(a, 2)]; c.msgs[0].Offset != 18 {
		t.Fatalf("%s after unassign+assign: first offset %d, want 18", tp(a, 2), c.msgs[0].Offset)
	}
}

// TestUnassign: an unassigned partition delivers nothing more, even what
// was already fetched, while the others go on.
func TestUnassign(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 2)
	produceLines(t, topic, 0, 0, 300)
	produceLines(t, topic, 1, 0, 300)
	f := startFetcher(t, cl, testhelp.FetcherConfig())
	ctx := testhelp.Ctx(t, 2*time.Minute)
	assignAll(t, f, topic, 2, 0, 1)
	tp0, tp1 := engine.TopicPartition{Topic: topic, Partition: 0}, engine.TopicPartition{Topic: topic, Partition: 1}
	// Wait until partition 0 has delivered something: librdkafka has
	// then fetched (and the engine perhaps buffered) more of it.
	got := map[engine.TopicPartition]*consumed{}
	pollUntil(t, f, time.Minute, 1, got, func() bool { return got[tp0] != nil })
	if err := f.Unassign(ctx, []engine.TopicPartition{tp0}); err != nil {
		t.Fatal(err)
	}
	if err := f.Unassign(ctx, []engine.TopicPartition{tp0, {Topic: topic, Partition: 9}, {Topic: "not-assigned", Partition: 1}}); err != nil {
		t.Fatalf("Unassign of partitions not assigned: %v", err)
	}
	produceLines(t, topic, 0, 300, 10)
	produceLines(t, topic, 1, 300, 10)
	n1 := 0
	if got[tp1] != nil {
		n1 = len(got[tp1].msgs)
	}
	for n1 < 310 {
		fe, err := f.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if fe.TopicPartition != tp1 {
			t.Fatalf("fetch of unassigned partition %s", fe.TopicPartition)
		}
		n1 += len(fe.Messages)
	}
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if fe, err := f.Poll(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Poll after everything was read: %+v, %v", fe, err)
	}
}

// TestPollHonoursContext: Poll on a quiet partition returns soon after its
// ctx is cancelled or times out.
func TestPollHonoursContext(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 1)
	f := startFetcher(t, cl, testhelp.FetcherConfig())
	assignAll(t, f, topic, 1, 0, 1)
	start := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	_, err := f.Poll(ctx)
	cancel()
	// Poll looks at ctx between waits of at most pollSlice; the margin
	// is for a loaded machine.
	if el := time.Since(start); !errors.Is(err, context.DeadlineExceeded) || el > 200*time.Millisecond+pollSlice+2*time.Second {
		t.Fatalf("Poll with a 200ms deadline: %v after %v", err, el)
	}
	ctx, cancel = context.WithCancel(t.Context())
	res := make(chan error, 1)
	go func() {
		_, err := f.Poll(ctx)
		res <- err
	}()
	// Let Poll block, then cancel.
	select {
	case err := <-res:
		t.Fatalf("Poll returned %v on a quiet partition", err)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	start = time.Now()
	select {
	case err := <-res:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Poll after cancel: %v", err)
		}
		if el := time.Since(start); el > pollSlice+2*time.Second {
			t.Fatalf("Poll noticed the cancel after %v", el)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Poll did not return after cancel")
	}
}

// TestFetcherClose: Close ends a blocked Poll with ErrClosed, is
// idempotent, makes every method fail with ErrClosed, and leaves no
// goroutine behind.
func TestFetcherClose(t *testing.T) {
	testhelp.NoLeaks(t)
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 1)
	f, err := rdkafkaEngine(t).NewFetcher(t.Context(), cl, testhelp.FetcherConfig())
	if err != nil {
		t.Fatal(err)
	}
	assignAll(t, f, topic, 1, 0, 1)
	res := make(chan error, 1)
	go func() {
		_, err := f.Poll(context.Background())
		res <- err
	}()
	select {
	case err := <-res:
		t.Fatalf("Poll returned %v on a quiet partition", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := f.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-res:
		if !errors.Is(err, kerr.ErrClosed) {
			t.Fatalf("blocked Poll at Close: %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("blocked Poll did not return at Close")
	}
	if err := f.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := f.Poll(t.Context()); !errors.Is(err, kerr.ErrClosed) {
		t.Fatalf("Poll after Close: %v", err)
	}
	tp := engine.TopicPartition{Topic: topic, Partition: 0}
	if err := f.Assign(t.Context(), []engine.Position{{TopicPartition: tp}}); !errors.Is(err, kerr.ErrClosed) {
		t.Fatalf("Assign after Close: %v", err)
	}
	if err := f.Unassign(t.Context(), []engine.TopicPartition{tp}); !errors.Is(err, kerr.ErrClosed) {
		t.Fatalf("Unassign after Close: %v", err)
	}
}

// TestAssignRejectsBadPositions: an empty topic name, a negative
// partition, a negative offset and a partition named twice fail with typed
// errors (before any metadata request) and assign nothing; so does a
// cancelled ctx.
func TestAssignRejectsBadPositions(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 1)
	f := startFetcher(t, cl, testhelp.FetcherConfig())
	ctx := t.Context()
	tp := engine.TopicPartition{Topic: topic, Partition: 0}
	for _, tc := range []struct {
		name string
		pos  []engine.Position
		want error
	}{
		{"negative offset", []engine.Position{{TopicPartition: tp, Offset: -2}}, kerr.ErrOffsetOutOfRange},
		{"twice", []engine.Position{{TopicPartition: tp}, {TopicPartition: tp, Offset: 1}}, kerr.ErrInvalidConfig},
		{"negative partition", []engine.Position{{TopicPartition: engine.TopicPartition{Topic: topic, Partition: -1}}}, kerr.ErrUnknownPartition},
		{"empty topic", []engine.Position{{TopicPartition: tp}, {TopicPartition: engine.TopicPartition{Partition: 0}}}, kerr.ErrInvalidTopic},
	} {
		if err := f.Assign(ctx, tc.pos); !errors.Is(err, tc.want) {
			t.Fatalf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := f.Assign(cancelled, []engine.Position{{TopicPartition: tp}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("Assign with a cancelled ctx: %v", err)
	}
	if n := len(f.(*fetcher).parts); n != 0 {
		t.Fatalf("%d partitions assigned by refused calls", n)
	}
}

// TestFetcherClientErrors: errors librdkafka raises for the whole client,
// not one partition, reach the fetcher (through the error_cb the batch
// path installs: batch.go), typed; none is left to librdkafka's own
// "ERROR" log line, which is what became of them while the batch path
// served them without an error_cb. The dev cluster's
// listeners are PLAINTEXT: a SASL handshake is refused there (an
// authentication failure), a TLS handshake fails (a connection failure,
// retried by librdkafka).
func TestFetcherClientErrors(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 1)
	for _, c := range []struct {
		name string
		raw  map[string]any
		auth bool // Poll fails with ErrAuthentication; else the fetcher logs an ErrConnection
	}{
		{"SASL-on-plaintext", map[string]any{"security.protocol": "sasl_plaintext", "sasl.mechanisms": "PLAIN", "sasl.username": "u", "sasl.password": "p"}, true},
		{"TLS-on-plaintext", map[string]any{"security.protocol": "ssl"}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			logs := &testhelp.Buffer{}
			cfg := testhelp.FetcherConfig()
			cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			cfg.Raw = c.raw
			f := startFetcher(t, cl, cfg)
			assignAll(t, f, topic, 1, 0, 1)
			const limit = 20 * time.Second
			ctx := testhelp.Ctx(t, limit)
			start := time.Now()
			for {
				short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				fe, err := f.Poll(short)
				cancel()
				if c.auth && err != nil && !errors.Is(err, context.DeadlineExceeded) {
					if !errors.Is(err, kerr.ErrAuthentication) {
						t.Fatalf("Poll: %v, want ErrAuthentication", err)
					}
					t.Logf("Poll failed after %v: %v", time.Since(start), err)
					break
				}
				if err == nil {
					t.Fatalf("Poll returned %+v without a broker to fetch from", fe)
				}
				if !c.auth && strings.Contains(logs.String(), "librdkafka consumer error") {
					if !strings.Contains(logs.String(), kerr.ErrConnection.Error()) {
						t.Fatalf("the consumer error is not an ErrConnection:\n%s", logs)
					}
					break
				}
				if ctx.Err() != nil {
					t.Fatalf("no client error reached the fetcher in %v; logs:\n%s", limit, logs)
				}
			}
			if strings.Contains(logs.String(), "tag=ERROR") {
				t.Fatalf("librdkafka logged an error op instead of handing it over:\n%s", logs)
			}
		})
	}
}
