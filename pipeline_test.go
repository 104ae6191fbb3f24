package kafka_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// pipelineChildEnv marks a test binary re-executed as a Pipeline member,
// which the parent may kill with SIGKILL.
const pipelineChildEnv = "GOKAFKA_TEST_CHILD_PIPELINE"

// runPipelineChild is the child's main: a Pipeline member that copies
// every input message to the output topic, until its standard input
// closes (then it closes the pipeline and exits 0) or it is killed. It
// prints "started" once it has joined, and "handled N" every 50 inputs. A
// member told to stall at input N writes that input's output, prints
// "stalled" and hangs in its handler, with its transaction open, until it
// is killed.
func runPipelineChild() {
	args := strings.Split(os.Getenv(pipelineChildEnv), "|") // in|out|group|transactional id|rdkafka|stall at
	in, out, group, id, rdkafka := args[0], args[1], args[2], args[3], args[4] == "true"
	stallAt, _ := strconv.Atoi(args[5])
	ctx, cancel := context.WithCancel(context.Background())
	go func() { // the parent closes stdin to stop the member
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	fail := func(err error) {
		fmt.Println("error", err)
		os.Exit(1)
	}
	client, err := kafka.NewClient(ctx, os.Getenv("BROKERS"))
	if err != nil {
		fail(err)
	}
	p, err := client.NewPipeline(ctx, kafka.PipelineConfig{
		Consumer: kafka.BalancedConsumerConfig{
			Group: group, Topics: []string{in},
			SessionTimeout: 6 * time.Second, HeartbeatInterval: time.Second,
			ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: rdkafka},
		},
		Producer: kafka.ProducerConfig{TransactionalID: id, TransactionTimeout: 5 * time.Second, UseRdkafka: rdkafka},
	})
	if err != nil {
		fail(err)
	}
	fmt.Println("started")
	handled := 0
	err = p.Run(ctx, func(ctx context.Context, m *kafka.Message, w *kafka.Producer) error {
		if handled++; handled%50 == 0 {
			fmt.Println("handled", handled)
		}
		copied := &kafka.Message{Topic: out, Key: m.Key, Value: m.Value}
		if handled == stallAt {
			if err := w.ProduceSync(ctx, copied).Err(); err != nil {
				return err
			}
			fmt.Println("stalled")
			<-ctx.Done()
			return ctx.Err()
		}
		return w.ProduceMessage(ctx, copied)
	})
	if !errors.Is(err, context.Canceled) {
		fail(fmt.Errorf("Run: %w", err))
	}
	if err := p.Close(context.Background()); err != nil {
		fail(fmt.Errorf("Close: %w", err))
	}
	client.Close()
	fmt.Println("stopped")
}

// pipelineMember is a child process running one Pipeline member.
type pipelineMember struct {
	name    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	started atomic.Bool
	stalled atomic.Bool
	handled atomic.Int64
	done    chan struct{} // closed once its output ended
	mu      sync.Mutex
	errs    []string // "error" lines it printed
}

func startPipelineMember(t *testing.T, name string, e engineCase, in, out, group string, stallAt int) *pipelineMember {
	t.Helper()
	m := &pipelineMember{name: name, done: make(chan struct{})}
	m.cmd = exec.Command(os.Args[0], "-test.run=^$")
	m.cmd.Env = append(os.Environ(), "BROKERS="+testinstance.Shared().BootstrapServers(),
		pipelineChildEnv+"="+strings.Join([]string{in, out, group, group + "-" + name, strconv.FormatBool(e.rdkafka), strconv.Itoa(stallAt)}, "|"))
	m.cmd.Stderr = testhelp.LogWriter(t)
	stdout, err := m.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if m.stdin, err = m.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := m.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(m.done)
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			l := lines.Text()
			var n int64
			switch {
			case l == "started":
				m.started.Store(true)
			case strings.HasPrefix(l, "handled "):
				if _, err := fmt.Sscanf(l, "handled %d", &n); err == nil {
					m.handled.Store(n)
				}
			case l == "stalled":
				m.stalled.Store(true)
			case l == "stopped":
			default:
				m.mu.Lock()
				m.errs = append(m.errs, l)
				m.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		m.cmd.Process.Kill() // a no-op once it exited
		<-m.done
		m.cmd.Wait()
	})
	return m
}

// stop closes the member's stdin and waits (up to a minute) for it to
// close its pipeline and exit 0.
func (m *pipelineMember) stop(t *testing.T) {
	t.Helper()
	m.stdin.Close()
	select {
	case <-m.done:
	case <-time.After(time.Minute):
		t.Fatalf("member %s did not stop within a minute of its stdin closing", m.name)
	}
	if err := m.cmd.Wait(); err != nil {
		t.Fatalf("member %s: %v, printed %q", m.name, err, m.printed())
	}
}

func (m *pipelineMember) printed() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.errs...)
}

// TestPipelineExactlyOnce: 4000 numbered messages into a 6-partition topic,
// produced at a steady pace, go through three Pipeline members (child
// processes: the victim of each engine, a pure-engine and an rdkafka
// member beside it) that copy each to an output topic. The second member, the victim, stalls at its 100th input,
// whose output it has written in its open transaction, and is killed with
// SIGKILL there; the other two take over its partitions after the session
// timeout (6 s), once the coordinator aborted its transaction (its
// TransactionTimeout is 5 s; Kafka looks every 10 s). kcat, as a read_committed reader, then reads
// every input exactly once from the output topic; the group's committed
// offsets are at the end of every input partition.
func TestPipelineExactlyOnce(t *testing.T) {
	forEachEngine(t, func(t *testing.T, victimEngine engineCase) {
		// One survivor of each engine: the rdkafka one takes over
		// partitions with a commit just behind it, the case of
		// librdkafka's abort bug that rdkafka/txn.go's abort works
		// around.
		pipelineExactlyOnce(t, []engineCase{engines[0], victimEngine, engines[1]})
	})
}

func pipelineExactlyOnce(t *testing.T, memberEngines []engineCase) {
	testhelp.NoLeaks(t)
	client := newClient(t)
	ctx := testhelp.Ctx(t, 3*time.Minute)
	in, out := newTopic(t, client, 6), newTopic(t, client, 6)
	group := testhelp.UniqueName(t, "pipe")
	for i, e := range memberEngines {
		if e.rdkafka && !rdkafkaCompiled(t, in) {
			memberEngines[i] = engines[0]
			t.Logf("the rdkafka engine is not compiled in: member %d is pure", i)
		}
	}
	const n = 4000
	members := make([]*pipelineMember, 3)
	for i, e := range memberEngines {
		stallAt := 0
		if i == 1 {
			stallAt = 100
		}
		members[i] = startPipelineMember(t, fmt.Sprintf("m%d-%s", i, e.name), e, in.Name(), out.Name(), group, stallAt)
	}
	testhelp.WaitUntil(t, time.Minute, "every member joined", func() bool {
		for _, m := range members {
			if !m.started.Load() {
				return false
			}
		}
		return true
	})

	// The input, 500 messages a second, in a goroutine of the test's.
	prod := newProducer(t, client, kafka.ProducerConfig{})
	defer prod.Close(ctx)
	var produced atomic.Int64
	perr := make(chan error, 1)
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; i < n; {
			<-tick.C
			for j := 0; j < 10 && i < n; j, i = j+1, i+1 {
				v := fmt.Sprintf("in-%05d", i)
				if err := prod.ProduceMessage(ctx, &kafka.Message{Topic: in.Name(), Key: []byte(v), Value: []byte(v)}); err != nil {
					perr <- err
					return
				}
			}
			produced.Store(int64(i))
		}
		perr <- prod.Flush(ctx)
	}()

	victim := members[1]
	testhelp.WaitUntil(t, time.Minute, "the victim stalls mid-transaction", victim.stalled.Load)
	if err := victim.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	t.Logf("killed %s (SIGKILL) in a transaction, after it handled 100 inputs, %d produced", victim.name, produced.Load())
	if err := <-perr; err != nil {
		t.Fatalf("producing the input: %v", err)
	}

	// Every input, exactly once, as read_committed kcat sees the output.
	want := map[string]int{}
	for i := range n {
		want[fmt.Sprintf("in-%05d", i)] = 1
	}
	var last map[string]int
	testhelp.Eventually(t, 2*time.Minute, "every input in the output, read_committed", func() error {
		last = map[string]int{}
		for _, v := range readCommitted(t, out.Name()) {
			last[v]++
		}
		if len(last) < n {
			return fmt.Errorf("%d of %d inputs", len(last), n)
		}
		return nil
	})
	t.Logf("all %d inputs visible %v after the kill", n, time.Since(killed).Round(100*time.Millisecond))
	lost, dup := 0, 0
	for v := range want {
		switch c := last[v]; {
		case c == 0:
			lost++
		case c > 1:
			dup += c - 1
		}
	}
	if lost != 0 || dup != 0 || len(last) != n {
		t.Fatalf("read_committed output: %d values, %d distinct; %d inputs lost, %d duplicated", sum(last), len(last), lost, dup)
	}
	// The victim's last output was written, in the transaction that its
	// death left open: aborted, never visible.
	written := len(readUncommitted(t, out.Name()))
	t.Logf("output: %d records written, %d visible (read_committed): %d aborted with their transactions", written, n, written-n)
	if written <= n {
		t.Fatalf("%d records written for %d inputs: the victim's open transaction wrote nothing, the test proved less than it says", written, n)
	}

	// The group's committed offsets are at the end of the input: the
	// offsets were committed with the outputs.
	for _, m := range members {
		if m != victim {
			defer m.stop(t)
		}
	}
	testhelp.Eventually(t, 30*time.Second, "the group committed every input offset", func() error {
		committed, err := client.CommittedOffsets(ctx, group)
		if err != nil {
			return err
		}
		var total int64
		for _, o := range committed {
			total += o
		}
		if total != n {
			return fmt.Errorf("committed offsets add up to %d, want %d (%v)", total, n, committed)
		}
		return nil
	})
	for _, m := range members {
		if errs := m.printed(); len(errs) > 0 {
			t.Errorf("member %s printed %q", m.name, errs)
		}
	}
}

func sum(m map[string]int) int {
	s := 0
	for _, c := range m {
		s += c
	}
	return s
}
