package kafka_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/cmd/soak/faultsuite"
	"github.com/gokafka/kafka/testhelp"
)

// A consumer whose handler is slow holds memory bounded by its
// configuration (QueuedMaxMessages per partition, fetch sizes), not by what
// the topic holds: PyKafka's consumers could buffer without limit. The
// pure engine's live heap is measured while a handler that takes 1 ms per
// message reads a topic of 12 partitions of 1 KiB messages, and must stay
// under faultsuite.PureMemoryBound. `go run ./cmd/soak -memory` prints the
// same figures for both engines, with RSS, up to QueuedMaxMessages 100000.
// No fault is involved: the shared cluster serves.
func TestFaultSlowConsumerMemoryBounded(t *testing.T) {
	const partitions, size, perPartition = 12, 1024, 15000
	client := newClient(t)
	ctx := testhelp.Ctx(t, 8*time.Minute)
	t0 := time.Now()
	topic, err := faultsuite.FillTopic(ctx, client, partitions, perPartition, size)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d x %d messages of %d B written in %v", partitions, perPartition, size, time.Since(t0).Round(time.Millisecond))
	t.Cleanup(func() { client.DeleteTopic(context.Background(), topic.Name()) })
	topicBytes := uint64(partitions * perPartition * size)
	held := map[int]uint64{}
	for _, qmm := range []int{1000, 10000} {
		r, err := faultsuite.MeasureConsumerMemory(ctx, topic, faultsuite.MemoryConfig{
			Engine: faultsuite.Pure, QueuedMaxMessages: qmm, PerMessage: time.Millisecond, Settle: time.Minute})
		if err != nil {
			t.Fatalf("QueuedMaxMessages %d: %v (%s)", qmm, err, r)
		}
		bound := faultsuite.PureMemoryBound(partitions, qmm, size, 1<<20, 1<<20)
		t.Logf("%s; bound %.1f MiB", r, float64(bound)/(1<<20))
		if r.Consumed == 0 || r.MessageBytes != size {
			t.Fatalf("QueuedMaxMessages %d: consumed %d messages of %d bytes", qmm, r.Consumed, r.MessageBytes)
		}
		if r.HeldHeap() > bound {
			t.Errorf("QueuedMaxMessages %d: the consumer held %.1f MiB, over the bound of %.1f MiB", qmm, float64(r.HeldHeap())/(1<<20), float64(bound)/(1<<20))
		}
		held[qmm] = r.HeldHeap()
	}
	// What is held follows the configuration: a tenth of the queue holds
	// much less, and far less than the topic.
	if held[1000] > topicBytes/4 || held[1000] >= held[10000] {
		t.Errorf("held %.1f MiB with QueuedMaxMessages 1000, %.1f MiB with 10000, topic %.1f MiB: memory does not follow the configuration",
			float64(held[1000])/(1<<20), float64(held[10000])/(1<<20), float64(topicBytes)/(1<<20))
	}
}

// With a byte budget (ConsumerOptions.QueuedMaxBytes), what a slow
// consumer holds follows the budget whatever the message size: 100 B,
// 10 KiB and 1 MiB messages (1 MiB less 1 KiB: a record must stay under
// the broker's message.max.bytes), the per-partition message bound out of
// the way (faultsuite.MeasureByteBudget). The pure engine's held RSS (peak
// above the baseline) must stay within the budget plus
// faultsuite.BudgetSlack.
//
// RSS is measured in a process of its own, cmd/soak built without the
// race detector: in this test binary (built with -race by make test) the
// detector's shadow memory, never given back, was most of what RSS grew
// by (dev cluster, 100 B messages: peak RSS 159 MiB of which the Go
// runtime had 41.5 MiB mapped), and the tests before this one leave their
// own memory behind.
func TestFaultSlowConsumerByteBudget(t *testing.T) {
	const budget = 32 << 20
	sizes := []int{100, 10 << 10, 1<<20 - 1<<10}
	ctx := testhelp.Ctx(t, 15*time.Minute)
	results := runSoakMemory(ctx, t, "-memory-budget", strconv.Itoa(budget), "-memory-sizes", joinInts(sizes))
	if len(results) != len(sizes) {
		t.Fatalf("cmd/soak measured %d sizes, want %d", len(results), len(sizes))
	}
	for i, r := range results {
		size := sizes[i]
		t.Logf("%s", r)
		if r.Consumed == 0 || r.MessageBytes != size || int64(r.Consumed) >= r.TopicBytes/int64(size) {
			t.Fatalf("%d B: consumed %d messages of %d bytes (the topic holds %d): the consumer was not slow", size, r.Consumed, r.MessageBytes, r.TopicBytes/int64(size))
		}
		if r.HeldRSS() > budget+faultsuite.BudgetSlack {
			t.Errorf("%d B messages: held RSS %.1f MiB (heap %.1f MiB), over the budget %d MiB + %d MiB", size,
				float64(r.HeldRSS())/(1<<20), float64(r.HeldHeap())/(1<<20), budget>>20, faultsuite.BudgetSlack>>20)
		}
	}
}

// runSoakMemory builds cmd/soak (without -race, whatever this binary was
// built with), runs it with -memory -json against the shared cluster and
// the given flags, and returns its measurements.
func runSoakMemory(ctx context.Context, t *testing.T, flags ...string) []faultsuite.MemoryResult {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building cmd/soak needs the go command: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "soak")
	if out, err := exec.CommandContext(ctx, goTool, "build", "-o", bin, "./cmd/soak").CombinedOutput(); err != nil {
		t.Fatalf("building cmd/soak: %v\n%s", err, out)
	}
	args := append([]string{"-memory", "-json", "-brokers", brokers()}, flags...)
	cmd := exec.CommandContext(ctx, bin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("soak %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
	}
	var results []faultsuite.MemoryResult
	for _, line := range bytes.Split(out, []byte("\n")) {
		if !bytes.HasPrefix(line, []byte("{")) {
			continue
		}
		var r faultsuite.MemoryResult
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("soak's line %q: %v", line, err)
		}
		results = append(results, r)
	}
	return results
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// The byte budgets are checked at construction, each error naming its
// field: negative, or asked of the librdkafka engine (whose bounds are
// per partition or set through RdkafkaConfig).
func TestByteBudgetConfigErrors(t *testing.T) {
	client := newClient(t)
	topic := newTopic(t, client, 1)
	ctx := testhelp.Ctx(t, time.Minute)
	for _, tc := range []struct {
		field string
		opts  kafka.ConsumerOptions
	}{
		{"ConsumerConfig.QueuedMaxBytes", kafka.ConsumerOptions{QueuedMaxBytes: -1}},
		{"ConsumerConfig.QueuedMaxBytes", kafka.ConsumerOptions{QueuedMaxBytes: 1 << 20, UseRdkafka: true}},
	} {
		_, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerOptions: tc.opts})
		var ce *kafka.ConfigError
		if !errors.Is(err, kafka.ErrInvalidConfig) || !errors.As(err, &ce) || ce.Field != tc.field {
			t.Errorf("%+v: got %v, want a ConfigError for %s", tc.opts, err, tc.field)
		}
	}
}
