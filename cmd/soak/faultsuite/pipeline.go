package faultsuite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/kafka"
)

// The pipeline scenario's shape and bounds.
const (
	pipelineMessages   = 200_000
	pipelinePartitions = 12
	pipelineRate       = 4000 // input messages a second
	// A member's session and transaction timeouts: a killed member's
	// partitions move after the first, its open transaction is aborted
	// after the second plus up to 10 s (Kafka's
	// transaction.abort.timed.out.transaction.cleanup.interval.ms).
	pipelineSession    = 6 * time.Second
	pipelineTxnTimeout = 10 * time.Second
	// pipelineRecoveryBound is a fault to progress on every input
	// partition: session, transaction timeout, the coordinator's check,
	// a rebalance and a failover, generous for a loaded machine.
	pipelineRecoveryBound = 60 * time.Second
	// pipelineDrainBound is the last fault to every input committed.
	pipelineDrainBound = 5 * time.Minute
)

// PipelineMemberEnv, set in a program's environment, makes it a pipeline
// member: a program that runs the Pipeline scenario (cmd/soak) calls
// RunPipelineMember with its value first thing, and the scenario starts
// members through RoundConfig.MemberCommand.
const PipelineMemberEnv = "GOKAFKA_SOAK_PIPELINE_MEMBER"

// RunPipelineMember runs one member of the Pipeline scenario, as spec (the
// value of PipelineMemberEnv) says: a kafka.Pipeline that copies every
// message of the input topic to the output topic, until its standard input
// closes (then it closes the pipeline and returns nil) or it is killed. It
// prints "started" once it has joined the group, and "assigned P,P,..." and
// "revoked P,P,..." as partitions of the input arrive and leave.
func RunPipelineMember(spec string) error {
	f := strings.Split(spec, "|") // brokers|in|out|group|transactional id|rdkafka
	if len(f) != 6 {
		return fmt.Errorf("faultsuite: pipeline member spec %q: want 6 fields", spec)
	}
	brokers, in, out, group, id, rdkafka := f[0], f[1], f[2], f[3], f[4], f[5] == "true"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // the scenario closes stdin to stop the member
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	client, err := kafka.NewClient(ctx, brokers, kafka.WithClientID("faultsuite-"+id))
	if err != nil {
		return err
	}
	defer client.Close()
	p, err := client.NewPipeline(ctx, kafka.PipelineConfig{
		Consumer: kafka.BalancedConsumerConfig{
			Group: group, Topics: []string{in},
			SessionTimeout: pipelineSession, HeartbeatInterval: time.Second,
			ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: rdkafka},
			OnAssign: func(_ context.Context, tps []kafka.TopicPartition, _ map[kafka.TopicPartition]int64) (map[kafka.TopicPartition]int64, error) {
				fmt.Println("assigned", partitionList(tps))
				return nil, nil
			},
			OnRevoke: func(_ context.Context, tps []kafka.TopicPartition) error {
				fmt.Println("revoked", partitionList(tps))
				return nil
			},
			OnLost: func(_ context.Context, tps []kafka.TopicPartition) error {
				fmt.Println("revoked", partitionList(tps))
				return nil
			},
		},
		Producer: kafka.ProducerConfig{TransactionalID: id, TransactionTimeout: pipelineTxnTimeout, UseRdkafka: rdkafka},
	})
	if err != nil {
		return err
	}
	fmt.Println("started")
	err = p.Run(ctx, func(ctx context.Context, m *kafka.Message, w *kafka.Producer) error {
		return w.ProduceMessage(ctx, &kafka.Message{Topic: out, Key: m.Key, Value: m.Value})
	})
	if !errors.Is(err, context.Canceled) {
		p.Close(context.Background())
		return fmt.Errorf("faultsuite: pipeline member: %w", err)
	}
	return p.Close(context.Background())
}

// partitionList is "P,P,..." (or "-" for none).
func partitionList(tps []kafka.TopicPartition) string {
	if len(tps) == 0 {
		return "-"
	}
	ps := make([]string, len(tps))
	for i, tp := range tps {
		ps[i] = strconv.Itoa(int(tp.Partition))
	}
	return strings.Join(ps, ",")
}

// member is one pipeline member's process.
type member struct {
	name    string
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	started atomic.Bool
	done    chan struct{} // its stdout ended
	last    atomic.Value  // the last line it printed other than "started"

	mu    sync.Mutex
	owned map[int32]bool // the partitions it said it owns
}

// owns reports whether the member said it owns partition p.
func (m *member) owns(p int32) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.owned[p]
}

// partitions are the partitions it said it owns.
func (m *member) partitions() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int32
	for p := range m.owned {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// track applies an "assigned ..." or "revoked ..." line.
func (m *member) track(line string) {
	what, list, _ := strings.Cut(line, " ")
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, f := range strings.Split(list, ",") {
		p, err := strconv.Atoi(f)
		if err != nil {
			continue
		}
		if what == "assigned" {
			m.owned[int32(p)] = true
		} else {
			delete(m.owned, int32(p))
		}
	}
}

func startMember(env *Env, command func() *exec.Cmd, name, spec string) (*member, error) {
	m := &member{name: name, cmd: command(), done: make(chan struct{}), owned: map[int32]bool{}}
	m.cmd.Env = append(os.Environ(), PipelineMemberEnv+"="+spec)
	m.cmd.Stderr = io.Discard
	if env.Logf != nil {
		m.cmd.Stderr = os.Stderr
	}
	stdout, err := m.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if m.stdin, err = m.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := m.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		defer close(m.done)
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			switch l := lines.Text(); {
			case l == "started":
				m.started.Store(true)
			case strings.HasPrefix(l, "assigned "), strings.HasPrefix(l, "revoked "):
				m.track(l)
			default:
				m.last.Store(l)
			}
		}
	}()
	return m, nil
}

// stop closes the member's stdin and waits for it to exit, killing it
// after a minute.
func (m *member) stop() error {
	m.stdin.Close()
	select {
	case <-m.done:
	case <-time.After(time.Minute):
		m.cmd.Process.Kill()
		<-m.done
		m.cmd.Wait()
		return fmt.Errorf("member %s did not stop within a minute", m.name)
	}
	if err := m.cmd.Wait(); err != nil {
		last, _ := m.last.Load().(string)
		return fmt.Errorf("member %s: %w (last line: %q)", m.name, err, last)
	}
	return nil
}

// PipelineKill is the exactly-once proof of kafka.Pipeline: 200 000
// numbered messages go into a 12-partition topic at 4000 a second, and
// three Pipeline members — processes started with command, engines taken
// in turn from engines (pure, rdkafka, pure when both run) — copy each to
// an output topic. A quarter of the way in, the second member is killed
// with SIGKILL; half way, the broker that is the first member's transaction
// coordinator is killed with SIGKILL, and restarted once the pipeline has
// recovered. Once every input offset is committed, kcat (librdkafka's CLI,
// a client nobody here wrote) reads the input, and the output as a
// read_committed reader: every input must be there exactly once (lost,
// duplicated and foreign records are violations). Timings: each fault to
// progress on every input partition — the group's committed offsets moving
// past where they were at the fault, or, for the killed member's
// partitions, past where they were when a survivor got them (members print
// their assignments) — and the end of the input to all of it committed.
// A killed member that owned no partition is a violation: it proved
// nothing.
func PipelineKill(ctx context.Context, env *Env, engines []Engine, command func() *exec.Cmd) (results []Result, err error) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		return nil, fmt.Errorf("faultsuite: the pipeline scenario reads with kcat: %w", err)
	}
	client, err := env.newClient(ctx)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	in, err := newTopic(ctx, client, "pipe-in", pipelinePartitions)
	if err != nil {
		return nil, err
	}
	out, err := newTopic(ctx, client, "pipe-out", pipelinePartitions)
	if err != nil {
		return nil, err
	}
	defer func() {
		dctx := context.WithoutCancel(ctx)
		client.DeleteTopic(dctx, in.Name())
		client.DeleteTopic(dctx, out.Name())
	}()
	group := in.Name() + "-group"
	names := make([]string, 3)
	members := make([]*member, 3)
	defer func() {
		for _, m := range members {
			if m != nil {
				m.cmd.Process.Kill()
				<-m.done
				m.cmd.Wait()
			}
		}
	}()
	for i := range members {
		e := engines[i%len(engines)]
		names[i] = e.Name
		id := fmt.Sprintf("%s-m%d", group, i)
		spec := strings.Join([]string{env.Cluster.BootstrapServers(), in.Name(), out.Name(), group, id, strconv.FormatBool(e.Rdkafka)}, "|")
		if members[i], err = startMember(env, command, fmt.Sprintf("m%d-%s", i, e.Name), spec); err != nil {
			return nil, err
		}
	}
	res := Result{Scenario: "pipeline-kill", Engine: strings.Join(names, "+")}
	if err := waitUntil(ctx, time.Minute, "every pipeline member joined", func() bool {
		return members[0].started.Load() && members[1].started.Load() && members[2].started.Load()
	}); err != nil {
		return nil, err
	}

	// The input, at a steady pace, on a goroutine this function waits for.
	prod, err := client.NewProducer(kafka.ProducerConfig{})
	if err != nil {
		return nil, err
	}
	var produced atomic.Int64
	perr := make(chan error, 1)
	pctx, stopProducing := context.WithCancel(ctx)
	go func() {
		perr <- produceNumbered(pctx, prod, in.Name(), &produced)
	}()
	defer func() {
		stopProducing()
		if perr != nil {
			<-perr
		}
		prod.Close(context.WithoutCancel(ctx))
	}()
	reached := func(n int64) error {
		return waitUntil(ctx, 5*time.Minute, fmt.Sprintf("%d inputs produced", n), func() bool { return produced.Load() >= n })
	}

	// Fault 1: a member killed, mid-transaction or between two.
	if err := reached(pipelineMessages / 4); err != nil {
		return nil, err
	}
	victim := members[1]
	before := committedOffsets(ctx, client, group)
	if err := victim.cmd.Process.Kill(); err != nil {
		return nil, err
	}
	killedAt := time.Now()
	orphans := victim.partitions()
	env.logf("pipeline: killed member %s (SIGKILL), owner of %v", victim.name, orphans)
	res.note("SIGKILL member %s, owner of partitions %v, at %d inputs", victim.name, orphans, produced.Load())
	if len(orphans) == 0 {
		res.problem("the killed member owned no partition: its kill proved nothing")
	}
	// The victim's partitions have recovered once a survivor owns them
	// and has committed past where they were when it got them (a commit
	// the victim had in flight may land after its death: it is no
	// progress of the survivors').
	baseline := map[int32]int64{}
	awaitProgress(ctx, client, group, in, killedAt, &res, "member SIGKILL to progress on every input partition",
		func(p int32, now map[kafka.TopicPartition]int64) (int64, bool) {
			tp := kafka.TopicPartition{Topic: in.Name(), Partition: p}
			if !slices.Contains(orphans, p) {
				return before[tp], true
			}
			if b, ok := baseline[p]; ok {
				return b, true
			}
			if (members[0].owns(p) || members[2].owns(p)) && now != nil {
				if o, ok := now[tp]; ok {
					baseline[p] = o
				}
			}
			return 0, false
		})

	// Fault 2: the transaction coordinator of the first member killed.
	if err := reached(pipelineMessages / 2); err != nil {
		return nil, err
	}
	coord, err := txnCoordinator(ctx, client, fmt.Sprintf("%s-m0", group))
	if err != nil {
		return nil, err
	}
	idx, err := env.nodeIndex(coord)
	if err != nil {
		return nil, err
	}
	if err := env.Cluster.KillBroker(idx); err != nil {
		return nil, err
	}
	killedAt = time.Now()
	// Read after the kill: a commit that the coordinator finished before
	// it died is not progress after the fault.
	before = committedOffsets(ctx, client, group)
	env.logf("pipeline: killed broker %d, transaction coordinator of member m0", coord)
	res.note("kill -9 broker %d (m0's transaction coordinator) at %d inputs", coord, produced.Load())
	awaitProgress(ctx, client, group, in, killedAt, &res, "coordinator kill -9 to progress on every input partition",
		func(p int32, _ map[kafka.TopicPartition]int64) (int64, bool) {
			return before[kafka.TopicPartition{Topic: in.Name(), Partition: p}], true
		})
	if err := env.Cluster.StartBroker(ctx, idx); err != nil {
		return nil, fmt.Errorf("restarting broker %d: %w", coord, errors.Join(err, env.StartAll(context.WithoutCancel(ctx))))
	}

	// The rest of the input, all of it committed.
	err, perr = <-perr, nil
	if err != nil {
		return nil, fmt.Errorf("producing the input: %w", err)
	}
	if err := prod.Flush(ctx); err != nil {
		return nil, fmt.Errorf("producing the input: %w", err)
	}
	ends, err := in.LatestOffsets(ctx)
	if err != nil {
		return nil, err
	}
	var total int64
	for _, o := range ends {
		total += o
	}
	t0 := time.Now()
	if err := waitUntil(ctx, pipelineDrainBound, "every input committed", func() bool {
		var sum int64
		for _, o := range committedOffsets(ctx, client, group) {
			sum += o
		}
		return sum == total
	}); err != nil {
		res.problem("%v", err)
	}
	res.timing("end of input to every input committed", time.Since(t0), 0)
	for i, m := range members {
		if i == 1 {
			continue
		}
		if err := m.stop(); err != nil {
			res.problem("%v", err)
		}
	}

	// What a read_committed reader nobody here wrote sees.
	inVals, err := kcatValues(ctx, kcat, env.Cluster.BootstrapServers(), in.Name(), "read_uncommitted")
	if err != nil {
		return nil, err
	}
	outVals, err := kcatValues(ctx, kcat, env.Cluster.BootstrapServers(), out.Name(), "read_committed")
	if err != nil {
		return nil, err
	}
	res.Tally = pipelineTally(inVals, outVals)
	res.Tally.Sent = pipelineMessages
	if len(inVals) != pipelineMessages {
		res.note("the input holds %d records of the %d produced", len(inVals), pipelineMessages)
	}
	return []Result{res}, nil
}

// produceNumbered produces pipelineMessages values "in-NNNNNN" to topic at
// pipelineRate a second, counting them in produced.
func produceNumbered(ctx context.Context, p *kafka.Producer, topic string, produced *atomic.Int64) error {
	const tick = 20 * time.Millisecond
	per := pipelineRate * int(tick) / int(time.Second)
	t := time.NewTicker(tick)
	defer t.Stop()
	for i := 0; i < pipelineMessages; {
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
		for j := 0; j < per && i < pipelineMessages; j, i = j+1, i+1 {
			v := []byte(fmt.Sprintf("in-%06d", i))
			if err := p.ProduceMessage(ctx, &kafka.Message{Topic: topic, Key: v, Value: v}); err != nil {
				return err
			}
		}
		produced.Store(int64(i))
	}
	return nil
}

// committedOffsets is the group's committed offsets as of now; partitions
// that cannot be read now (a transaction's offsets pending) are absent.
func committedOffsets(ctx context.Context, client *kafka.Client, group string) map[kafka.TopicPartition]int64 {
	got, _ := client.CommittedOffsets(ctx, group)
	return got
}

// awaitProgress waits until the group's committed offset of every input
// partition has moved past its baseline (or reached the input's end), and
// records the time since the fault as name; past 3x the bound it records a
// problem instead. baseline says, given the committed offsets of this
// poll, where a partition must move from, or that it cannot count yet.
func awaitProgress(ctx context.Context, client *kafka.Client, group string, in *kafka.Topic, fault time.Time, res *Result, name string, baseline func(p int32, now map[kafka.TopicPartition]int64) (int64, bool)) {
	err := waitUntil(ctx, 3*pipelineRecoveryBound, name, func() bool {
		now := committedOffsets(ctx, client, group)
		ends, err := in.LatestOffsets(ctx)
		if err != nil {
			return false
		}
		done := true
		for p, end := range ends {
			tp := kafka.TopicPartition{Topic: in.Name(), Partition: p}
			b, ok := baseline(p, now) // called for every partition: it may note a baseline
			o, read := now[tp]
			if !ok || !read || (o <= b && o < end) {
				done = false
			}
		}
		return done
	})
	if err != nil {
		res.problem("%v", err)
		return
	}
	res.timing(name, time.Since(fault), pipelineRecoveryBound)
}

// txnCoordinator is the broker that coordinates a transactional id: the
// leader of its partition of __transaction_state, Kafka's
// abs(id.hashCode()) modulo the partition count.
func txnCoordinator(ctx context.Context, client *kafka.Client, id string) (int32, error) {
	ds, err := client.DescribeTopics(ctx, "__transaction_state")
	if err != nil {
		return 0, err
	}
	if len(ds) != 1 || ds[0].Err != nil || len(ds[0].Partitions) == 0 {
		return 0, fmt.Errorf("faultsuite: describing __transaction_state: %v", ds)
	}
	var h int32
	for _, c := range id { // Java's String.hashCode, for ids in the BMP
		h = 31*h + int32(c)
	}
	if h == -1<<31 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	p := int(h) % len(ds[0].Partitions)
	return ds[0].Partitions[p].Leader, nil
}

// kcatValues reads a topic to its end (the last stable offset for
// read_committed) with kcat and returns the values.
func kcatValues(ctx context.Context, kcat, brokers, topic, isolation string) ([]string, error) {
	cmd := exec.CommandContext(ctx, kcat, "-b", brokers, "-C", "-t", topic, "-e", "-q", "-f", `%s\n`, "-X", "isolation.level="+isolation)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	outb, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("kcat %s: %w: %s", topic, err, stderr.String())
	}
	return strings.Fields(string(outb)), nil
}

// pipelineTally compares the output with the input: Acked is the distinct
// inputs, Read the output records; an input missing from the output is
// lost, one there more often than in the input duplicated, an output value
// that no input had foreign.
func pipelineTally(inVals, outVals []string) Tally {
	want := map[string]int{}
	for _, v := range inVals {
		want[v]++
	}
	got := map[string]int{}
	for _, v := range outVals {
		got[v]++
	}
	t := Tally{Acked: len(want), Read: len(outVals)}
	for v, n := range want {
		switch c := got[v]; {
		case c == 0:
			t.Lost++
		case c > n:
			t.Duplicated += c - n
		}
	}
	for v, c := range got {
		if want[v] == 0 {
			t.Foreign += c
		}
	}
	return t
}
