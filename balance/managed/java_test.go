package managed

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// A mixed group with the Java client, the reference implementation of the
// group protocol: testdata/JavaMember.java, run with the kafka-clients jar
// of the Kafka distribution testinstance uses.

// kafkaLib is the lib folder of the Kafka distribution in testinstance's
// cache (resolved if needed), which holds kafka-clients.
func kafkaLib(t *testing.T) string {
	t.Helper()
	if err := testinstance.Prefetch(testhelp.Ctx(t, 5*time.Minute), testinstance.Config{NoZooKeeper: true}); err != nil {
		t.Fatalf("resolve the Kafka jars: %v", err)
	}
	version := os.Getenv(testinstance.EnvKafkaVersion)
	if version == "" {
		version = testinstance.DefaultKafkaVersion
	}
	cache := os.Getenv(testinstance.EnvCacheDir)
	if cache == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			t.Fatal(err)
		}
		cache = filepath.Join(d, "gokafka")
	}
	lib := filepath.Join(cache, "kafka_2.13-"+version, "lib")
	if jars, _ := filepath.Glob(filepath.Join(lib, "kafka-clients-*.jar")); len(jars) == 0 {
		t.Fatalf("no kafka-clients jar in %s", lib)
	}
	return lib
}

// javaMember is a JavaMember process. Its rebalance callbacks are parsed as
// they come; owned is what they add up to.
type javaMember struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *testhelp.Buffer
	read   chan struct{} // closed when stdout ends

	mu     sync.Mutex
	events []event
	owned  []TopicPartition
	closed bool
	once   sync.Once
}

// startJava starts a JavaMember of group over topics, or over a pattern
// if topics are "--pattern", REGEX.
func startJava(t *testing.T, lib, group string, strategy balance.Strategy, topics ...string) *javaMember {
	t.Helper()
	args := []string{"-cp", filepath.Join(lib, "*"), filepath.Join("testdata", "JavaMember.java"), testinstance.Shared().BootstrapServers(), group, string(strategy)}
	cmd := exec.Command("java", append(args, topics...)...)
	j := &javaMember{cmd: cmd, stderr: &testhelp.Buffer{}, read: make(chan struct{})}
	var err error
	if j.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = j.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start java: %v", err)
	}
	go j.parse(stdout)
	t.Cleanup(func() { j.stop(t) })
	return j
}

func (j *javaMember) parse(r io.Reader) {
	defer close(j.read)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		kind, list, _ := strings.Cut(sc.Text(), " ")
		var ps []TopicPartition
		for _, f := range strings.Split(list, ",") {
			i := strings.LastIndexByte(f, '/')
			if n, err := strconv.Atoi(f[i+1:]); err == nil && i > 0 {
				ps = append(ps, TopicPartition{Topic: f[:i], Partition: int32(n)})
			}
		}
		j.mu.Lock()
		switch kind {
		case "assigned":
			j.owned = append(j.owned, ps...)
			slices.SortFunc(j.owned, TopicPartition.Compare)
		case "revoked", "lost":
			_, j.owned = balance.Diff(ps, j.owned)
		case "closed":
			j.closed = true
		}
		if kind != "closed" {
			j.events = append(j.events, event{kind: kind, partitions: ps})
		}
		j.mu.Unlock()
	}
}

func (j *javaMember) view() ([]TopicPartition, int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.owned), len(j.events)
}

func (j *javaMember) since(mark int) []event {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.events[mark:])
}

// stop closes the program's stdin: it closes its consumer (LeaveGroup) and
// exits.
func (j *javaMember) stop(t *testing.T) {
	j.once.Do(func() {
		j.stdin.Close()
		select {
		case <-j.read:
		case <-time.After(30 * time.Second):
			j.cmd.Process.Kill()
			<-j.read
			t.Errorf("the Java member did not stop; killed. stderr:\n%s", j.stderr.String())
		}
		if err := j.cmd.Wait(); err != nil {
			t.Errorf("the Java member: %v; stderr:\n%s", err, j.stderr.String())
		}
		j.mu.Lock()
		defer j.mu.Unlock()
		if !j.closed {
			t.Errorf("the Java member did not close its consumer; stderr:\n%s", j.stderr.String())
		}
	})
}

// agrees checks that the Java member's callbacks add up to what the
// coordinator assigned it.
func (j *javaMember) agrees(v groupView) error {
	for id, ps := range v.members {
		if v.clients[id] == "java-member" {
			if owned, _ := j.view(); !slices.Equal(owned, ps) {
				return fmt.Errorf("the Java member's callbacks add up to %v, the coordinator says %v", owned, ps)
			}
		}
	}
	return nil
}

func javaOwned(v groupView) []TopicPartition {
	for id, ps := range v.members {
		if v.clients[id] == "java-member" {
			return ps
		}
	}
	return nil
}

func TestJavaMixedGroup(t *testing.T) {
	lib := kafkaLib(t)
	forEachStrategy(t, eagerAndCooperative, func(t *testing.T, s balance.Strategy) { testJavaMixedGroup(t, lib, s) })
}

func testJavaMixedGroup(t *testing.T, lib string, strategy balance.Strategy) {
	const parts = 6
	topic, group, ctx, l := setup(t, parts, 3*time.Minute)
	cl := testhelp.NewCluster(t, nil)
	opts := memberOpts{strategy: strategy}

	// 1. Java leads: it reads our subscriptions, we read its assignment.
	j1 := startJava(t, lib, group, strategy, topic)
	v := waitGroup(t, ctx, cl, group, allOf(parts, topic), strategy, "java-member", 1, j1.agrees)
	before := javaOwned(v)
	_, mark := j1.view()
	ra, rb := newRecorder("a", l), newRecorder("b", l)
	a := join(t, ctx, testhelp.NewCluster(t, nil), group, topic, opts, ra)
	v = waitGroup(t, ctx, cl, group, allOf(parts, topic), strategy, "java-member", 1, j1.agrees, a)
	checkJavaRevocations(t, strategy, j1.since(mark), before, javaOwned(v))
	before = javaOwned(v)
	_, mark = j1.view()
	b := join(t, ctx, testhelp.NewCluster(t, nil), group, topic, opts, rb)
	v = waitGroup(t, ctx, cl, group, allOf(parts, topic), strategy, "java-member", 1, j1.agrees, a, b)
	checkJavaRevocations(t, strategy, j1.since(mark), before, javaOwned(v))
	if a.leads.Load() || b.leads.Load() {
		t.Errorf("one of ours leads; the Java member should")
	}
	t.Logf("Java leader + 2 gokafka: %v", v.members)

	// 2. Java leaves; ours lead from now on.
	j1.stop(t)
	waitGroup(t, ctx, cl, group, allOf(parts, topic), strategy, "java-member", 0, nil, a, b)

	// 3. A Java member joins a group we lead: we read its subscription
	//    (and, cooperative, the partitions it owns), it reads our
	//    assignment.
	marks := []int{ra.mark(), rb.mark()}
	_, owned := stablePoint(t, ctx, cl, group, allOf(parts, topic), a, b)
	j2 := startJava(t, lib, group, strategy, topic)
	v = waitGroup(t, ctx, cl, group, allOf(parts, topic), strategy, "java-member", 1, j2.agrees, a, b)
	if !a.leads.Load() && !b.leads.Load() {
		t.Errorf("none of ours leads")
	}
	t.Logf("gokafka leader + Java: %v", v.members)
	for i, r := range []*recorder{ra, rb} {
		revoked := union(r.since(marks[i]), "revoked")
		now := []*Member{a, b}[i].Assigned()
		for _, p := range revoked {
			if strategy == balance.CooperativeSticky && slices.Contains(now, p) && slices.Contains(owned[i], p) {
				t.Errorf("%s revoked partition %v, which it kept", r.name, p)
			}
		}
	}
	j2.stop(t)
	stablePoint(t, ctx, cl, group, allOf(parts, topic), a, b)
	l.Check(t)
}

// checkJavaRevocations: an eager Java member revokes everything at a
// rebalance; a cooperative one only what it loses.
func checkJavaRevocations(t *testing.T, strategy balance.Strategy, evs []event, before, after []TopicPartition) {
	t.Helper()
	revoked := union(evs, "revoked")
	if lost := union(evs, "lost"); len(lost) > 0 {
		t.Errorf("the Java member lost %v", lost)
	}
	for _, p := range before {
		kept := slices.Contains(after, p)
		switch {
		case strategy == balance.CooperativeSticky && kept && slices.Contains(revoked, p):
			t.Errorf("the cooperative Java member revoked partition %v, which it kept (revoked %v, before %v, after %v)", p, revoked, before, after)
		case strategy != balance.CooperativeSticky && !slices.Contains(revoked, p):
			t.Errorf("the eager Java member did not revoke partition %v (revoked %v, before %v)", p, revoked, before)
		case !kept && !slices.Contains(revoked, p):
			t.Errorf("the Java member lost partition %v without revoking it (revoked %v)", p, revoked)
		}
	}
}
