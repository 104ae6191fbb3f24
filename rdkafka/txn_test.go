//go:build cgo && !nordkafka

package rdkafka

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/balance/managed"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/offsets"
	"github.com/gokafka/kafka/testhelp"
)

// txnTimeout is the tests' transaction timeout: longer than any test waits
// for a transaction to be finished, so that only the producer can have
// finished it (not the coordinator's timeout).
const txnTimeout = 90 * time.Second

// txnConfig is a transactional producer's configuration as the root gives
// it (defaults applied).
func txnConfig(id string) engine.ProducerConfig {
	cfg := testhelp.ProducerConfig()
	cfg.TransactionalID = id
	cfg.TransactionTimeout = txnTimeout
	return cfg
}

func startTxn(t testing.TB, cl *cluster.Cluster, id string) engine.TxnProducer {
	t.Helper()
	p := startProducer(t, cl, txnConfig(id))
	tp, ok := p.(engine.TxnProducer)
	if !ok {
		t.Fatalf("a producer with a TransactionalID is a %T, not an engine.TxnProducer", p)
	}
	return tp
}

// produceValues produces one message per value to topic's partitions in
// turn, reporting to rep.
func produceValues(t testing.TB, p engine.Producer, topic string, partitions int, values []string, rep *testhelp.Reports) {
	t.Helper()
	for i, v := range values {
		m := &engine.Message{Topic: topic, Partition: int32(i % partitions), Value: []byte(v)}
		if err := p.Produce(t.Context(), m, rep.Done); err != nil {
			t.Fatalf("Produce %q: %v", v, err)
		}
	}
}

func values(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

// kcatValues reads a whole topic with kcat, read_committed or not, and
// returns the values, sorted.
func kcatValues(t testing.TB, topic string, committed bool) []string {
	t.Helper()
	level := "read_uncommitted"
	if committed {
		level = "read_committed"
	}
	out := testhelp.Kcat(t, nil, "", "-C", "-t", topic, "-e", "-q", "-f", `%s\n`, "-X", "isolation.level="+level)
	vs := strings.Fields(out)
	slices.Sort(vs)
	return vs
}

// waitKcat waits until kcat reads exactly want (any order) from topic: the
// coordinator writes a transaction's markers after EndTxn answered, so the
// last stable offset, where a read_committed reader stops, gets there a
// moment later.
func waitKcat(t testing.TB, topic string, committed bool, want []string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	testhelp.Eventually(t, 60*time.Second, "kcat reads "+topic, func() error {
		got := kcatValues(t, topic, committed)
		if !slices.Equal(got, want) {
			return fmt.Errorf("read %d values, want %d: %s", len(got), len(want), testhelp.Diff(got, want))
		}
		return nil
	})
}

// checkConsole checks that Kafka's console consumer reads exactly want
// (read_committed) from the topics matching include. It asks for one
// message more than want, so that an extra one (an aborted message shown)
// is read rather than left behind.
func checkConsole(t testing.TB, include string, want []string) {
	t.Helper()
	got := testhelp.ConsoleCommitted(t, nil, include, len(want)+1, 15*time.Second)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Fatalf("Kafka's console consumer (read_committed) read %d values, want %d: %s", len(got), len(want), testhelp.Diff(got, want))
	}
}

func checkReports(t testing.TB, rep *testhelp.Reports, what string) {
	t.Helper()
	rep.Wait(t, time.Minute)
	if errs := rep.Errors(); len(errs) > 0 {
		t.Fatalf("%s: %d message(s) failed, the first with %v", what, len(errs), errs[0])
	}
}

// flushedInTxn begins a transaction on p and produces n values prefix-i to
// partition 0 of topic in it, flushed and every one acknowledged (checked
// as what): the messages are on the log, the transaction still open.
func flushedInTxn(t testing.TB, ctx context.Context, p engine.TxnProducer, topic, prefix string, n int, what string) {
	t.Helper()
	if err := p.BeginTxn(ctx); err != nil {
		t.Fatal(err)
	}
	rep := testhelp.NewReports(n)
	produceValues(t, p, topic, 1, values(prefix, n), rep)
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	checkReports(t, rep, what)
}

// commitLaterTxn commits, with a new transactional producer of its own
// id, n values later-i to partition 0 of topic, every one acknowledged:
// the transaction that comes after an open (or aborted) one on the
// partition.
func commitLaterTxn(t testing.TB, ctx context.Context, cl *cluster.Cluster, topic string, n int) {
	t.Helper()
	later := startTxn(t, cl, testhelp.UniqueName(t, "tid2"))
	if err := later.BeginTxn(ctx); err != nil {
		t.Fatal(err)
	}
	lrep := testhelp.NewReports(n)
	produceValues(t, later, topic, 1, values("later", n), lrep)
	if err := later.EndTxn(ctx, true); err != nil {
		t.Fatal(err)
	}
	checkReports(t, lrep, "the later transaction")
}

// TestTxnCommitAbortAcrossTopics: transactions over three topics; the
// committed ones are what read_committed readers nobody here wrote (kcat,
// Kafka's console consumer) see, the aborted one is on the log (a
// read_uncommitted reader sees it) but hidden from them.
func TestTxnCommitAbortAcrossTopics(t *testing.T) {
	testhelp.NoLeaks(t)
	cl := testhelp.NewCluster(t, nil)
	const parts, n = 3, 60
	base := testhelp.UniqueName(t, "txn")
	topics := []string{base + "-a", base + "-b", base + "-c"}
	for _, topic := range topics {
		testhelp.CreateNamedTopic(t, nil, topic, parts)
	}
	p := startTxn(t, cl, testhelp.UniqueName(t, "tid"))
	ctx := testhelp.Ctx(t, 3*time.Minute)

	txn := func(prefix string, commit bool) {
		t.Helper()
		if err := p.BeginTxn(ctx); err != nil {
			t.Fatalf("BeginTxn (%s): %v", prefix, err)
		}
		rep := testhelp.NewReports(len(topics) * n)
		for _, topic := range topics {
			produceValues(t, p, topic, parts, values(prefix+"-"+topic[len(base)+1:], n), rep)
		}
		if !commit {
			// On the log before the abort, so that the abort
			// hides them rather than never sending them.
			if err := p.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.EndTxn(ctx, commit); err != nil {
			t.Fatalf("EndTxn(commit=%v) (%s): %v", commit, prefix, err)
		}
		checkReports(t, rep, prefix)
	}
	txn("c1", true)
	txn("a2", false)
	txn("c3", true)

	for _, topic := range topics {
		suffix := topic[len(base)+1:]
		committed := slices.Concat(values("c1-"+suffix, n), values("c3-"+suffix, n))
		waitKcat(t, topic, true, committed)
		waitKcat(t, topic, false, slices.Concat(committed, values("a2-"+suffix, n)))
	}
	var all []string
	for _, topic := range topics {
		suffix := topic[len(base)+1:]
		all = slices.Concat(all, values("c1-"+suffix, n), values("c3-"+suffix, n))
	}
	checkConsole(t, regexp.QuoteMeta(base)+"-[abc]", all)
}

// TestTxnFencing: a second producer with the same transactional id fences
// the first: the first's commit fails with ErrProducerFenced, and so does
// everything it tries after; nothing of its open transaction is visible to
// read_committed readers, though it was on the log.
func TestTxnFencing(t *testing.T) {
	testhelp.NoLeaks(t)
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 2)
	id := testhelp.UniqueName(t, "tid")
	ctx := testhelp.Ctx(t, 3*time.Minute)

	old := startTxn(t, cl, id)
	if err := old.BeginTxn(ctx); err != nil {
		t.Fatal(err)
	}
	oldRep := testhelp.NewReports(20)
	produceValues(t, old, topic, 2, values("old", 20), oldRep)
	if err := old.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	checkReports(t, oldRep, "old producer's messages")

	young := startTxn(t, cl, id)
	if err := young.BeginTxn(ctx); err != nil {
		t.Fatalf("BeginTxn of the newer producer: %v", err)
	}
	rep := testhelp.NewReports(20)
	produceValues(t, young, topic, 2, values("new", 20), rep)
	if err := young.EndTxn(ctx, true); err != nil {
		t.Fatalf("commit of the newer producer: %v", err)
	}
	checkReports(t, rep, "newer producer's messages")

	err := old.EndTxn(ctx, true)
	if !errors.Is(err, kerr.ErrProducerFenced) {
		t.Fatalf("commit of the fenced producer: %v, want ErrProducerFenced", err)
	}
	t.Logf("fenced commit: %v", err)
	if err := old.BeginTxn(ctx); !errors.Is(err, kerr.ErrProducerFenced) {
		t.Fatalf("BeginTxn after the fence: %v, want ErrProducerFenced", err)
	}
	// Produce after the fence fails, synchronously or in its report.
	late := testhelp.NewReports(1)
	if err := old.Produce(ctx, &engine.Message{Topic: topic, Value: []byte("late")}, late.Done); err != nil {
		if !errors.Is(err, kerr.ErrProducerFenced) {
			t.Fatalf("Produce after the fence: %v, want ErrProducerFenced", err)
		}
	} else {
		late.Wait(t, time.Minute)
		if errs := late.Errors(); len(errs) != 1 || !errors.Is(errs[0], kerr.ErrProducerFenced) {
			t.Fatalf("report of a message produced after the fence: %v, want ErrProducerFenced", errs)
		}
	}
	if err := old.Close(ctx); err != nil {
		t.Fatalf("Close of the fenced producer: %v", err)
	}

	waitKcat(t, topic, true, values("new", 20))
	waitKcat(t, topic, false, slices.Concat(values("old", 20), values("new", 20)))
	checkConsole(t, regexp.QuoteMeta(topic), values("new", 20))
}

// TestTxnAbortAfterFailedMessage: a message the broker refuses makes the
// commit fail with ErrAbortRequired; the abort succeeds, nothing of the
// transaction is visible, and the next transaction commits.
func TestTxnAbortAfterFailedMessage(t *testing.T) {
	testhelp.NoLeaks(t)
	cl := testhelp.NewCluster(t, nil)
	good := testhelp.CreateTopic(t, nil, 1)
	small := testhelp.CreateTopic(t, nil, 1, "max.message.bytes", "2000")
	p := startTxn(t, cl, testhelp.UniqueName(t, "tid"))
	ctx := testhelp.Ctx(t, 3*time.Minute)

	if err := p.BeginTxn(ctx); err != nil {
		t.Fatal(err)
	}
	rep := testhelp.NewReports(11)
	produceValues(t, p, good, 1, values("failed", 10), rep)
	big := &engine.Message{Topic: small, Value: make([]byte, 10000)}
	if err := p.Produce(ctx, big, rep.Done); err != nil {
		t.Fatal(err)
	}
	err := p.EndTxn(ctx, true)
	if !errors.Is(err, kerr.ErrAbortRequired) {
		t.Fatalf("commit of a transaction with a refused message: %v, want ErrAbortRequired", err)
	}
	t.Logf("commit: %v", err)
	rep.Wait(t, time.Minute)
	if berr, _ := rep.Result(big); !errors.Is(berr, kerr.MessageTooLarge) {
		t.Fatalf("the refused message's report: %v, want MESSAGE_TOO_LARGE", berr)
	}
	for _, m := range rep.Acked() {
		if m == big {
			t.Fatal("the refused message was acknowledged")
		}
	}
	for _, e := range rep.Errors() {
		if !errors.Is(e, kerr.MessageTooLarge) && !errors.Is(e, kerr.ErrTransactionAborted) {
			t.Fatalf("a message of the failed transaction reported %v", e)
		}
	}
	if err := p.EndTxn(ctx, false); err != nil {
		t.Fatalf("abort after the failure: %v", err)
	}
	// The next transaction commits. A known fault of librdkafka (2.11):
	// its first commit after such an abort sometimes fails with
	// OUT_OF_ORDER_SEQUENCE_NUMBER ("skipped sequence numbers", a
	// sequence of the aborted transaction's other partition); that
	// error requires an abort, which bumps the epoch, and the
	// transaction after it commits. Seen on Kafka 3.9.1 in 2 to 3 runs
	// of 6, on 4.3.1 in CI once. Nothing of an aborted transaction is
	// ever visible (checked below with kcat).
	var after *testhelp.Reports
	for attempt := 1; ; attempt++ {
		if err := p.BeginTxn(ctx); err != nil {
			t.Fatalf("BeginTxn after the abort: %v", err)
		}
		after = testhelp.NewReports(10)
		produceValues(t, p, good, 1, values("after", 10), after)
		err := p.EndTxn(ctx, true)
		if err == nil {
			break
		}
		if attempt > 1 || !errors.Is(err, kerr.OutOfOrderSequenceNumber) || !errors.Is(err, kerr.ErrAbortRequired) {
			t.Fatalf("commit after the abort (attempt %d): %v", attempt, err)
		}
		t.Logf("commit after the abort: %v (librdkafka's known fault; aborting and trying once more)", err)
		after.Wait(t, time.Minute)
		if err := p.EndTxn(ctx, false); err != nil {
			t.Fatalf("abort after the out-of-order commit: %v", err)
		}
	}
	checkReports(t, after, "the next transaction")
	waitKcat(t, good, true, values("after", 10))
	waitKcat(t, small, true, nil)
}

// TestTxnCloseAbortsOpen: Close with a transaction open aborts it: its
// messages, on the log, are never visible to read_committed readers, and
// the partition's last stable offset moves on at once (a transaction left
// open would hold back every later message until its timeout, txnTimeout,
// which is longer than the test waits).
func TestTxnCloseAbortsOpen(t *testing.T) {
	testhelp.NoLeaks(t)
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 1)
	ctx := testhelp.Ctx(t, 3*time.Minute)

	p, err := rdkafkaEngine(t).NewProducer(ctx, cl, txnConfig(testhelp.UniqueName(t, "tid")))
	if err != nil {
		t.Fatal(err)
	}
	tp := p.(engine.TxnProducer)
	flushedInTxn(t, ctx, tp, topic, "open", 10, "the open transaction's messages")
	start := time.Now()
	if err := tp.Close(ctx); err != nil {
		t.Fatalf("Close with an open transaction: %v", err)
	}
	t.Logf("Close aborted the open transaction in %v", time.Since(start).Round(time.Millisecond))

	commitLaterTxn(t, ctx, cl, topic, 10)
	waitKcat(t, topic, true, values("later", 10))
	waitKcat(t, topic, false, slices.Concat(values("open", 10), values("later", 10)))
}

// noHandler is a group member's handler that does nothing.
type noHandler struct{}

func (noHandler) Revoked(context.Context, []balance.TopicPartition) error  { return nil }
func (noHandler) Assigned(context.Context, []balance.TopicPartition) error { return nil }
func (noHandler) Lost(context.Context, []balance.TopicPartition) error     { return nil }

// committedOffsets is what the group coordinator has committed for the
// partitions of topic (an OffsetFetch that waits for pending transactional
// offsets, as a read_committed consumer's does).
func committedOffsets(t testing.TB, cl *cluster.Cluster, group, topic string, parts int32) map[int32]int64 {
	t.Helper()
	g, err := offsets.NewGroup(cl, group, offsets.GroupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var tps []offsets.TopicPartition
	for p := range parts {
		tps = append(tps, offsets.TopicPartition{Topic: topic, Partition: p})
	}
	got, err := g.Fetch(testhelp.Ctx(t, time.Minute), tps)
	if err != nil {
		t.Fatalf("fetching the group's offsets: %v", err)
	}
	out := map[int32]int64{}
	for tp, c := range got {
		out[tp.Partition] = c.Offset
	}
	return out
}

func waitCommitted(t testing.TB, cl *cluster.Cluster, group, topic string, want map[int32]int64) {
	t.Helper()
	testhelp.Eventually(t, time.Minute, "committed offsets of "+group, func() error {
		got := committedOffsets(t, cl, group, topic, int32(len(want)))
		for p, off := range want {
			if got[p] != off {
				return fmt.Errorf("got %v, want %v", got, want)
			}
		}
		return nil
	})
}

// TestTxnSendOffsets: offsets sent in a transaction carry the generation
// and member id of a member of the Go group layer (balance/managed): they
// are committed with the transaction; once another member joined and the
// generation moved on, the old generation's offsets are refused
// (ILLEGAL_GENERATION, ErrAbortRequired) and the transaction must abort,
// leaving the committed offsets as they were; the current generation's are
// committed again.
func TestTxnSendOffsets(t *testing.T) {
	testhelp.NoLeaks(t)
	cl := testhelp.NewCluster(t, nil)
	in := testhelp.CreateTopic(t, nil, 2)
	out := testhelp.CreateTopic(t, nil, 1)
	group := testhelp.UniqueName(t, "group")
	ctx := testhelp.Ctx(t, 4*time.Minute)
	mcfg := managed.Config{Group: group, Subscription: balance.Subscription{Topics: []string{in}}, SessionTimeout: 30 * time.Second}
	a, err := managed.Join(ctx, cl, mcfg, noHandler{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(context.Background()) })
	gen1 := a.Generation()
	commit := func(gen offsets.Generation, offs map[int32]int64) engine.GroupCommit {
		c := engine.GroupCommit{Group: group, Generation: gen.ID, MemberID: gen.MemberID, Offsets: map[engine.TopicPartition]int64{}}
		for p, o := range offs {
			c.Offsets[engine.TopicPartition{Topic: in, Partition: p}] = o
		}
		return c
	}
	p := startTxn(t, cl, testhelp.UniqueName(t, "tid"))

	// Generation 1: committed with the transaction.
	if err := p.BeginTxn(ctx); err != nil {
		t.Fatal(err)
	}
	rep := testhelp.NewReports(3)
	produceValues(t, p, out, 1, []string{"o1"}, rep)
	if err := p.SendOffsets(ctx, commit(gen1, map[int32]int64{0: 5, 1: 7})); err != nil {
		t.Fatalf("SendOffsets with the member's generation %d: %v", gen1.ID, err)
	}
	if err := p.EndTxn(ctx, true); err != nil {
		t.Fatal(err)
	}
	waitCommitted(t, cl, group, in, map[int32]int64{0: 5, 1: 7})

	// A second member joins: the generation moves on.
	b, err := managed.Join(ctx, cl, mcfg, noHandler{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close(context.Background()) })
	testhelp.WaitUntil(t, time.Minute, "member a in the new generation", func() bool {
		return a.Generation().ID == b.Generation().ID && a.Generation().ID != gen1.ID
	})
	gen2 := a.Generation()
	t.Logf("generation %d -> %d (member %s)", gen1.ID, gen2.ID, gen2.MemberID)

	// The stale generation is refused, and the transaction must abort.
	if err := p.BeginTxn(ctx); err != nil {
		t.Fatal(err)
	}
	produceValues(t, p, out, 1, []string{"stale"}, rep)
	err = p.SendOffsets(ctx, commit(gen1, map[int32]int64{0: 9}))
	if !errors.Is(err, kerr.IllegalGeneration) || !errors.Is(err, kerr.ErrAbortRequired) {
		t.Fatalf("SendOffsets with the stale generation %d: %v, want ILLEGAL_GENERATION and ErrAbortRequired", gen1.ID, err)
	}
	t.Logf("stale generation: %v", err)
	if err := p.EndTxn(ctx, true); !errors.Is(err, kerr.ErrAbortRequired) {
		t.Fatalf("commit after the refused offsets: %v, want ErrAbortRequired", err)
	}
	if err := p.EndTxn(ctx, false); err != nil {
		t.Fatal(err)
	}
	if got := committedOffsets(t, cl, group, in, 2); got[0] != 5 || got[1] != 7 {
		t.Fatalf("offsets after the aborted transaction: %v, want 0:5 1:7", got)
	}

	// The current generation commits again.
	if err := p.BeginTxn(ctx); err != nil {
		t.Fatal(err)
	}
	produceValues(t, p, out, 1, []string{"o3"}, rep)
	if err := p.SendOffsets(ctx, commit(gen2, map[int32]int64{0: 11})); err != nil {
		t.Fatalf("SendOffsets with the current generation %d: %v", gen2.ID, err)
	}
	if err := p.EndTxn(ctx, true); err != nil {
		t.Fatal(err)
	}
	waitCommitted(t, cl, group, in, map[int32]int64{0: 11, 1: 7})
	rep.Wait(t, time.Minute)
	waitKcat(t, out, true, []string{"o1", "o3"})
}

// TestTxnCallsHonourContext: with no broker to reach, BeginTxn (the
// initialization) ends with its ctx, by deadline or by cancellation, and
// Close ends at once.
func TestTxnCallsHonourContext(t *testing.T) {
	testhelp.NoLeaks(t)
	cl := testhelp.NewCluster(t, nil)
	cfg := unreachable()
	cfg.TransactionalID = testhelp.UniqueName(t, "tid")
	cfg.TransactionTimeout = txnTimeout
	p, err := rdkafkaEngine(t).NewProducer(t.Context(), cl, cfg)
	if err != nil {
		t.Fatal(err)
	}
	tp := p.(engine.TxnProducer)

	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	start := time.Now()
	err = tp.BeginTxn(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Fatalf("BeginTxn without brokers: %v after %v, want DeadlineExceeded after 500ms", err, time.Since(start))
	}
	t.Logf("deadline: %v", err)

	ctx, cancel = context.WithCancel(t.Context())
	time.AfterFunc(500*time.Millisecond, cancel) // the cancellation under test, not a wait
	start = time.Now()
	err = tp.BeginTxn(ctx)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 3*time.Second {
		t.Fatalf("BeginTxn without brokers: %v after %v, want Canceled after 500ms", err, time.Since(start))
	}
	start = time.Now()
	if err := tp.Close(t.Context()); err != nil || time.Since(start) > 5*time.Second {
		t.Fatalf("Close: %v after %v", err, time.Since(start))
	}
	if err := tp.BeginTxn(t.Context()); !errors.Is(err, kerr.ErrClosed) {
		t.Fatalf("BeginTxn after Close: %v, want ErrClosed", err)
	}
}

// TestTxnProps: a TransactionalID sets transactional.id and
// transaction.timeout.ms, bounds message.timeout.ms by the transaction
// timeout (librdkafka refuses more), and makes NewProducer return an
// engine.TxnProducer; without one the producer is not one. Raw may not set
// transactional.id.
func TestTxnProps(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	cfg := txnConfig("my-id")
	cfg.TransactionTimeout = 30 * time.Second
	pp, err := producerProps(cl, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"transactional.id": "my-id", "transaction.timeout.ms": "30000", "message.timeout.ms": "30000"} {
		if pp.m[k] != v {
			t.Errorf("%s = %v, want %s", k, pp.m[k], v)
		}
	}
	cfg.DeliveryTimeout = 10 * time.Second
	if pp, _ = producerProps(cl, cfg); pp.m["message.timeout.ms"] != "10000" {
		t.Errorf("DeliveryTimeout below the transaction timeout: message.timeout.ms = %v", pp.m["message.timeout.ms"])
	}
	e := rdkafkaEngine(t)
	for _, tc := range []struct {
		edit  func(*engine.ProducerConfig)
		field string
	}{
		{func(c *engine.ProducerConfig) { c.TransactionTimeout = 0 }, "ProducerConfig.TransactionTimeout"},
		{func(c *engine.ProducerConfig) { c.Raw = map[string]any{"transactional.id": "x"} }, `ProducerConfig.RdkafkaConfig["transactional.id"]`},
		{func(c *engine.ProducerConfig) { c.TransactionalID, c.Raw = "", map[string]any{"transactional.id": "x"} }, `ProducerConfig.RdkafkaConfig["transactional.id"]`},
	} {
		c := txnConfig("my-id")
		tc.edit(&c)
		p, err := e.NewProducer(t.Context(), cl, c)
		var ce *kerr.ConfigError
		if err == nil || !errors.As(err, &ce) || ce.Field != tc.field {
			if p != nil {
				p.Close(context.Background())
			}
			t.Errorf("NewProducer: %v, want a ConfigError for %s", err, tc.field)
		}
	}
	if _, ok := startProducer(t, cl, testhelp.ProducerConfig()).(engine.TxnProducer); ok {
		t.Error("a producer without a TransactionalID is an engine.TxnProducer")
	}
	startTxn(t, cl, "my-id") // fails the test if not a TxnProducer
}

// TestGroupMetadata: the engine builds librdkafka's group metadata from a
// GroupCommit (the generation's effect is proven on the cluster by
// TestTxnSendOffsets); confluent-kafka-go's ConsumerGroupMetadata still has
// the shape the engine writes into (this fails on an upgrade that changes
// it, before any offsets are sent); what librdkafka cannot carry is refused
// with ErrUnsupported.
func TestGroupMetadata(t *testing.T) {
	if _, err := serializedField(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []engine.GroupCommit{
		{Group: "g", Generation: 7, MemberID: "gokafka-0b9c-4d1e"},
		{Group: "g", Generation: -1},
		{Group: "g", Generation: 3, MemberID: "m", InstanceID: "static-1"},
	} {
		md, err := groupMetadata(c)
		if err != nil || md == nil {
			t.Fatalf("groupMetadata(%+v): %v, %v", c, md, err)
		}
	}
	for _, c := range []engine.GroupCommit{
		{Group: "g\x00h", Generation: 1, MemberID: "m"},
		{Group: "g", Generation: 1, MemberID: "m\n"},
		{Group: "g", Generation: 1, MemberID: "m", InstanceID: "é"},
	} {
		if _, err := groupMetadata(c); !errors.Is(err, kerr.ErrUnsupported) {
			t.Errorf("groupMetadata(%q, %q, %q): %v, want ErrUnsupported", c.Group, c.MemberID, c.InstanceID, err)
		}
	}
}

// fatalOf is a GetFatalError for txnError's tests.
type fatalOf struct{ err error }

func (f fatalOf) GetFatalError() error { return f.err }

// TestTxnErrorMapping: fenced errors, however librdkafka reports them,
// match ErrProducerFenced (and the broker code when there is one); other
// fatal errors keep their cause.
func TestTxnErrorMapping(t *testing.T) {
	none := fatalOf{}
	fenced := kafka.NewError(kafka.ErrFenced, "fenced by a newer instance", true)
	for _, tc := range []struct {
		err  error
		rd   fatalOf
		want []error
	}{
		{fenced, none, []error{kerr.ErrProducerFenced}},
		{kafka.NewError(kafka.ErrProducerFenced, "", false), none, []error{kerr.ErrProducerFenced, kerr.ProducerFenced}},
		{kafka.NewError(kafka.ErrInvalidProducerEpoch, "", true), none, []error{kerr.ErrProducerFenced, kerr.InvalidProducerEpoch}},
		{kafka.NewError(kafka.ErrFatal, "fatal", true), fatalOf{fenced}, []error{kerr.ErrProducerFenced}},
		{kafka.NewError(kafka.ErrTransactionalIDAuthorizationFailed, "", true), none, []error{kerr.TransactionalIDAuthorizationFailed}},
	} {
		err := txnError(tc.err, tc.rd)
		for _, w := range tc.want {
			if !errors.Is(err, w) {
				t.Errorf("txnError(%v): %v, want errors.Is %v", tc.err, err, w)
			}
		}
		var ke kafka.Error
		if !errors.As(err, &ke) {
			t.Errorf("txnError(%v): librdkafka error not in the chain of %v", tc.err, err)
		}
	}
	if err := txnError(kafka.NewError(kafka.ErrTransactionalIDAuthorizationFailed, "", true), none); errors.Is(err, kerr.ErrProducerFenced) || !strings.Contains(err.Error(), "unusable") {
		t.Errorf("fatal, not fenced: %v", err)
	}
}

// TestTxnTimedOut: a transaction that outlives the transaction timeout is
// aborted by the coordinator (a later transaction on its partition becomes
// visible to read_committed readers, which it could not while the first was
// open); its commit then fails typed, and none of its messages is visible.
func TestTxnTimedOut(t *testing.T) {
	testhelp.NoLeaks(t)
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 1)
	ctx := testhelp.Ctx(t, 3*time.Minute)
	cfg := txnConfig(testhelp.UniqueName(t, "tid"))
	cfg.TransactionTimeout = 2 * time.Second
	p := startProducer(t, cl, cfg).(engine.TxnProducer)
	flushedInTxn(t, ctx, p, topic, "expired", 5, "the expiring transaction")

	commitLaterTxn(t, ctx, cl, topic, 5)
	// Visible once the coordinator aborted the first transaction.
	waitKcat(t, topic, true, values("later", 5))

	err := p.EndTxn(ctx, true)
	t.Logf("commit of the expired transaction: %v", err)
	if !errors.Is(err, kerr.ErrProducerFenced) && !errors.Is(err, kerr.ErrAbortRequired) {
		t.Fatalf("commit of a transaction the coordinator aborted: %v, want ErrProducerFenced or ErrAbortRequired", err)
	}
	waitKcat(t, topic, true, values("later", 5))
}
