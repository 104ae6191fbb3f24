package kafka_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// The harness of TestGroupProtocolsJoinLeave: a group's members (gokafka's
// BalancedConsumers of either engine, and Java consumers), what they read
// and when, who owns what (their Handlers' ledger), and the pauses in each
// partition's consumption.
//
// A pause is measured as a stall: for each delivery, how long it came
// after both the partition's previous delivery and its own append to the
// log (its timestamp: the topic has message.timestamp.type=LogAppendTime).
// It is the gap between deliveries while the next message was there to be
// read: a partition whose consumption stops shows the whole stop, while a
// pause of the producer (this machine has two cores, shared with three
// brokers and JVMs) does not count, as it would in a plain gap between
// deliveries.

// groupRun is one group over one topic: its members and what they report.
type groupRun struct {
	t      *testing.T
	label  string // protocol, for logs and the table
	group  string
	topic  *kafka.Topic
	ledger *testhelp.Ledger[kafka.TopicPartition]

	mu      sync.Mutex
	times   map[int32][]delivery // per partition, all members
	seen    map[string]int       // value -> times read
	reads   int
	members []runMember // live members, in join order
	changes []time.Time // when a member's Handler took or gave partitions
	revokes []revoke    // every revocation
}

// revoke is one Handler's Revoked.
type revoke struct {
	at     time.Time
	member string
	ps     []kafka.TopicPartition
}

// delivery is one message handed to a member: when, and when it was
// produced.
type delivery struct {
	at, produced time.Time
}

// runMember is a member of a groupRun.
type runMember interface {
	name() string
	id() string // the member id, "" if unknown (Java)
	owned() []kafka.TopicPartition
	stop(ctx context.Context) error
}

func newGroupRun(t *testing.T, label string, topic *kafka.Topic) *groupRun {
	return &groupRun{
		t: t, label: label, group: testhelp.UniqueName(t, "g"), topic: topic,
		ledger: testhelp.NewLedger[kafka.TopicPartition](),
		times:  map[int32][]delivery{}, seen: map[string]int{},
	}
}

// record notes one message handed to a member.
func (r *groupRun) record(p int32, value string, at, produced time.Time) {
	r.mu.Lock()
	r.times[p] = append(r.times[p], delivery{at: at, produced: produced})
	r.seen[value]++
	r.reads++
	r.mu.Unlock()
}

// counts returns the distinct values read and the re-deliveries.
func (r *groupRun) counts() (distinct, redelivered int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen), r.reads - len(r.seen)
}

// missing lists values 0..n-1 not read, at most 10.
func (r *groupRun) missing(n int) []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for i := range n {
		if r.seen[strconv.Itoa(i)] == 0 && len(out) < 10 {
			out = append(out, i)
		}
	}
	return out
}

// changed notes that a member took or gave partitions up.
func (r *groupRun) changed() {
	r.mu.Lock()
	r.changes = append(r.changes, time.Now())
	r.mu.Unlock()
}

// revoked notes a revocation.
func (r *groupRun) revoked(member string, ps []kafka.TopicPartition) {
	r.mu.Lock()
	r.revokes = append(r.revokes, revoke{at: time.Now(), member: member, ps: slices.Clone(ps)})
	r.changes = append(r.changes, time.Now())
	r.mu.Unlock()
}

// revokedSince reports whether tp was revoked at or after t.
func (r *groupRun) revokedSince(tp kafka.TopicPartition, t time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rv := range r.revokes {
		if !rv.at.Before(t) && slices.Contains(rv.ps, tp) {
			return true
		}
	}
	return false
}

// firstChange is the first ownership change at or after t, or t if none.
func (r *groupRun) firstChange(t time.Time) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.changes {
		if !c.Before(t) {
			return c
		}
	}
	return t
}

// maxStall is the longest stall of partition p's deliveries in [from, to]
// (see the top of this file).
func (r *groupRun) maxStall(p int32, from, to time.Time) time.Duration {
	r.mu.Lock()
	ds := slices.Clone(r.times[p])
	r.mu.Unlock()
	slices.SortFunc(ds, func(a, b delivery) int { return a.at.Compare(b.at) })
	var worst time.Duration
	for i := 1; i < len(ds); i++ {
		if ds[i].at.Before(from) || ds[i].at.After(to) {
			continue
		}
		since := ds[i-1].at
		if ds[i].produced.After(since) {
			since = ds[i].produced
		}
		worst = max(worst, ds[i].at.Sub(since))
	}
	return worst
}

// ownersNow maps each owned partition to its member's name; ok is false
// if some partition has two owners, or the members' shares are not the
// even split of parts.
func (r *groupRun) ownersNow(parts int) (map[kafka.TopicPartition]string, bool) {
	r.mu.Lock()
	ms := slices.Clone(r.members)
	r.mu.Unlock()
	owners := map[kafka.TopicPartition]string{}
	for _, m := range ms {
		ps := m.owned()
		if len(ms) == 0 || len(ps) != parts/len(ms) {
			return owners, false
		}
		for _, p := range ps {
			if _, dup := owners[p]; dup {
				return owners, false
			}
			owners[p] = m.name()
		}
	}
	return owners, len(owners) == parts
}

// waitBalanced polls (every 2ms, to time the end of a rebalance) until
// every partition has one owner and the members own equal shares, and
// returns when that was first seen and the owners.
func (r *groupRun) waitBalanced(ctx context.Context, parts int) (time.Time, map[kafka.TopicPartition]string) {
	r.t.Helper()
	for {
		owners, ok := r.ownersNow(parts)
		if ok {
			return time.Now(), owners
		}
		if ctx.Err() != nil {
			r.mu.Lock()
			var views []string
			for _, m := range r.members {
				views = append(views, fmt.Sprintf("%s: %v", m.name(), m.owned()))
			}
			r.mu.Unlock()
			r.t.Fatalf("%s: no balanced assignment of %d partitions: %s", r.label, parts, strings.Join(views, "; "))
		}
		time.Sleep(2 * time.Millisecond) // polling the members' state
	}
}

// toolAgrees asks Kafka's consumer-groups tool who owns what and checks it
// against the members: one entry per member, the same partitions (the
// member without an id, Java, gets the entry left over).
func (r *groupRun) toolAgrees(ctx context.Context) error {
	tool, err := testhelp.GroupMembers[kafka.TopicPartition](ctx, r.group)
	if err != nil {
		return err
	}
	r.mu.Lock()
	ms := slices.Clone(r.members)
	r.mu.Unlock()
	if len(tool) != len(ms) {
		return fmt.Errorf("the tool shows %d members, the group has %d: %v", len(tool), len(ms), tool)
	}
	var anonymous []runMember
	for _, m := range ms {
		if m.id() == "" {
			anonymous = append(anonymous, m)
			continue
		}
		got, ok := tool[m.id()]
		if !ok || !slices.Equal(got, m.owned()) {
			return fmt.Errorf("the tool gives %s (%s) %v, it owns %v", m.name(), m.id(), got, m.owned())
		}
		delete(tool, m.id())
	}
	for _, m := range anonymous {
		found := false
		for id, ps := range tool {
			if slices.Equal(ps, m.owned()) {
				delete(tool, id)
				found = true
				break
			}
		}
		if !found {
			return fmt.Errorf("no entry of the tool (%v) matches %s's %v", tool, m.name(), m.owned())
		}
	}
	return nil
}

func (r *groupRun) add(m runMember) {
	r.mu.Lock()
	r.members = append(r.members, m)
	r.mu.Unlock()
}

func (r *groupRun) remove(m runMember) {
	r.mu.Lock()
	r.members = slices.DeleteFunc(r.members, func(x runMember) bool { return x == m })
	r.mu.Unlock()
}

// goMember is a BalancedConsumer reading into its groupRun.
type goMember struct {
	label string
	bc    *kafka.BalancedConsumer
	stopC context.CancelFunc
	done  chan struct{}
}

// startGo joins a BalancedConsumer with cfg (Group, callbacks and the
// options the run needs filled in) and reads with it until stopped.
func (r *groupRun) startGo(ctx context.Context, label string, cfg kafka.BalancedConsumerConfig) *goMember {
	r.t.Helper()
	cfg.Group = r.group
	cfg.OnAssign = func(_ context.Context, tps []kafka.TopicPartition, _ map[kafka.TopicPartition]int64) (map[kafka.TopicPartition]int64, error) {
		r.ledger.Take(label, tps)
		r.changed()
		return nil, nil
	}
	cfg.OnRevoke = func(_ context.Context, tps []kafka.TopicPartition) error {
		r.ledger.Release(label, tps)
		r.revoked(label, tps)
		return nil
	}
	cfg.OnLost = func(_ context.Context, tps []kafka.TopicPartition) error {
		r.ledger.Violation("%s lost %v: nobody was fenced in this run", label, tps)
		r.ledger.Release(label, tps)
		return nil
	}
	bc, err := r.topic.NewBalancedConsumer(ctx, cfg)
	if err != nil {
		r.t.Fatalf("%s: %s joins: %v", r.label, label, err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	m := &goMember{label: label, bc: bc, stopC: cancel, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		for {
			msg, err := bc.Consume(cctx)
			if err != nil {
				return
			}
			r.record(msg.Partition, string(msg.Value), time.Now(), msg.Timestamp)
		}
	}()
	r.add(m)
	r.t.Cleanup(func() { m.stop(context.Background()) })
	return m
}

func (m *goMember) name() string                  { return m.label }
func (m *goMember) id() string                    { return m.bc.MemberID() }
func (m *goMember) owned() []kafka.TopicPartition { return m.bc.Partitions() }

// stop closes the consumer (it revokes, commits and leaves) after its
// reader has stopped.
func (m *goMember) stop(ctx context.Context) error {
	m.stopC()
	<-m.done
	return m.bc.Close(ctx)
}

// javaMember is a testdata/JavaGroupConsumer.java process.
type javaMember struct {
	r      *groupRun
	label  string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *testhelp.Buffer
	ready  chan struct{} // closed when the program says it is ready to join
	read   chan struct{} // closed when stdout ends

	mu     sync.Mutex
	own    []kafka.TopicPartition
	closed bool
	once   sync.Once
	err    error
}

// startJava starts a Java member with group.protocol=protocol. It joins the
// group when join is called.
func (r *groupRun) startJava(ctx context.Context, label, protocol string) *javaMember {
	r.t.Helper()
	lib, err := testinstance.KafkaLib(ctx, testinstance.Config{})
	if err != nil {
		r.t.Fatal(err)
	}
	cmd := exec.Command("java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-cp", filepath.Join(lib, "*"),
		filepath.Join("testdata", "JavaGroupConsumer.java"), testinstance.Shared().BootstrapServers(), r.group, protocol, r.topic.Name())
	j := &javaMember{r: r, label: label, cmd: cmd, stderr: &testhelp.Buffer{}, ready: make(chan struct{}), read: make(chan struct{})}
	if j.stdin, err = cmd.StdinPipe(); err != nil {
		r.t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		r.t.Fatal(err)
	}
	cmd.Stderr = j.stderr
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start java: %v", err)
	}
	go j.parse(stdout)
	r.t.Cleanup(func() {
		if err := j.stop(context.Background()); err != nil {
			r.t.Errorf("%s: %v", label, err)
		}
	})
	return j
}

func (j *javaMember) parse(out io.Reader) {
	defer close(j.read)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		now := time.Now()
		kind, rest, _ := strings.Cut(sc.Text(), " ")
		if kind == "m" { // m PARTITION OFFSET TIMESTAMP-MS VALUE
			f := strings.Fields(rest)
			if len(f) != 4 {
				continue
			}
			p, err1 := strconv.Atoi(f[0])
			ts, err2 := strconv.ParseInt(f[2], 10, 64)
			if err1 == nil && err2 == nil {
				j.r.record(int32(p), f[3], now, time.UnixMilli(ts))
			}
			continue
		}
		var ps []kafka.TopicPartition
		for _, s := range strings.Split(rest, ",") {
			i := strings.LastIndexByte(s, '/')
			if n, err := strconv.Atoi(s[i+1:]); err == nil && i > 0 {
				ps = append(ps, kafka.TopicPartition{Topic: s[:i], Partition: int32(n)})
			}
		}
		switch kind {
		case "ready":
			close(j.ready)
			continue
		case "revoked":
			j.r.revoked(j.label, ps)
		case "assigned", "lost":
			j.r.changed()
		}
		j.mu.Lock()
		switch kind {
		case "assigned":
			j.r.ledger.Take(j.label, ps)
			j.own = append(j.own, ps...)
			slices.SortFunc(j.own, kafka.TopicPartition.Compare)
		case "revoked", "lost":
			if kind == "lost" {
				j.r.ledger.Violation("%s lost %v: nobody was fenced in this run", j.label, ps)
			}
			j.r.ledger.Release(j.label, ps)
			j.own = slices.DeleteFunc(j.own, func(p kafka.TopicPartition) bool { return slices.Contains(ps, p) })
		case "closed":
			j.closed = true
		}
		j.mu.Unlock()
	}
}

// join waits for the program to be ready, then makes it join the group.
func (j *javaMember) join(ctx context.Context) {
	j.r.t.Helper()
	select {
	case <-j.ready:
	case <-j.read:
		j.r.t.Fatalf("%s ended before it was ready; stderr:\n%s", j.label, j.stderr.String())
	case <-ctx.Done():
		j.r.t.Fatalf("%s not ready: %v; stderr:\n%s", j.label, ctx.Err(), j.stderr.String())
	}
	if _, err := io.WriteString(j.stdin, "join\n"); err != nil {
		j.r.t.Fatalf("%s: %v", j.label, err)
	}
	j.r.add(j)
}

func (j *javaMember) name() string { return j.label }
func (j *javaMember) id() string   { return "" }
func (j *javaMember) owned() []kafka.TopicPartition {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.own)
}

// stop closes the program's stdin: it commits, closes its consumer (leaving
// the group) and exits.
func (j *javaMember) stop(ctx context.Context) error {
	j.once.Do(func() {
		j.stdin.Close()
		select {
		case <-j.read:
		case <-time.After(60 * time.Second):
			j.cmd.Process.Kill()
			<-j.read
			j.err = fmt.Errorf("the Java member did not stop; killed. stderr:\n%s", j.stderr.String())
		}
		if err := j.cmd.Wait(); err != nil && j.err == nil {
			j.err = fmt.Errorf("the Java member: %v; stderr:\n%s", err, j.stderr.String())
		}
		j.mu.Lock()
		defer j.mu.Unlock()
		if !j.closed && j.err == nil {
			j.err = fmt.Errorf("the Java member did not close its consumer; stderr:\n%s", j.stderr.String())
		}
	})
	return j.err
}
