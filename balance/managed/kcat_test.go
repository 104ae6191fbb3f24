package managed

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// A mixed group: gokafka members and librdkafka's group consumer (kcat -G),
// which nobody here wrote, share one group. Each side must read the other's
// subscriptions and assignments, whoever leads.

// kcatMember is a `kcat -G` process; stop ends it (SIGTERM: librdkafka
// leaves the group as it closes).
type kcatMember struct {
	cmd    *exec.Cmd
	stderr *testhelp.Buffer
	done   chan error
	once   sync.Once
}

// startKcat starts `kcat -G group topics...`; a topic starting with "^" is
// a regular expression (librdkafka's pattern subscription), matched against
// metadata refreshed every second.
func startKcat(t *testing.T, group string, strategy balance.Strategy, topics ...string) *kcatMember {
	t.Helper()
	args := []string{"-b", testinstance.Shared().BootstrapServers(), "-G", group,
		"-X", "partition.assignment.strategy=" + string(strategy),
		"-X", "session.timeout.ms=6000",
		"-X", "heartbeat.interval.ms=500",
		"-X", "topic.metadata.refresh.interval.ms=1000",
		"-q"}
	cmd := exec.Command("kcat", append(args, topics...)...)
	k := &kcatMember{cmd: cmd, stderr: &testhelp.Buffer{}, done: make(chan error, 1)}
	cmd.Stdout = k.stderr
	cmd.Stderr = k.stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start kcat: %v", err)
	}
	go func() { k.done <- cmd.Wait() }()
	t.Cleanup(func() { k.stop(t) })
	return k
}

func (k *kcatMember) stop(t *testing.T) {
	k.once.Do(func() {
		k.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-k.done:
		case <-time.After(15 * time.Second):
			k.cmd.Process.Kill()
			<-k.done
			t.Errorf("kcat did not stop on SIGTERM; killed. Output:\n%s", k.stderr.String())
		}
	})
}

// waitGroup polls DescribeGroups until the group is Stable with our members
// plus `foreign` members of another client (client id starting with
// prefix), every partition of want assigned exactly once (and nothing
// else), every member given its share by the strategy (see shares), and
// our members' view matching the coordinator's. extra, if set, must pass
// too.
func waitGroup(t *testing.T, ctx context.Context, cl *cluster.Cluster, group string, want []TopicPartition, strategy balance.Strategy, prefix string, foreign int, extra func(groupView) error, ours ...*Member) groupView {
	t.Helper()
	var why error
	for {
		v, err := describe(ctx, cl, group)
		if err == nil {
			err = checkMixed(v, want, strategy, prefix, foreign, ours)
		}
		if err == nil && extra != nil {
			err = extra(v)
		}
		if err == nil {
			return v
		}
		why = err
		if ctx.Err() != nil {
			t.Fatalf("mixed group never settled: %v", why)
		}
		time.Sleep(50 * time.Millisecond) // polling interval of a condition with a deadline
	}
}

func checkMixed(v groupView, want []TopicPartition, strategy balance.Strategy, prefix string, foreign int, ours []*Member) error {
	if v.state != "Stable" || len(v.members) != len(ours)+foreign {
		return fmt.Errorf("state %s with %d members, want Stable with %d", v.state, len(v.members), len(ours)+foreign)
	}
	n := 0
	if err := ownedOnce(v.members, want); err != nil {
		return err
	}
	for id, ps := range v.members {
		if strings.HasPrefix(v.clients[id], prefix) {
			n++
		}
		if err := shares(strategy, want, len(v.members), ps); err != nil {
			return fmt.Errorf("member %s (%s): %w", id, v.clients[id], err)
		}
	}
	if n != foreign {
		return fmt.Errorf("%d %s members, want %d", n, prefix, foreign)
	}
	for _, m := range ours {
		if got := m.Assigned(); !slices.Equal(got, v.members[m.ID()]) {
			return fmt.Errorf("our member %s owns %v, the coordinator says %v", m.ID(), got, v.members[m.ID()])
		}
	}
	return nil
}

func TestKcatMixedGroup(t *testing.T) {
	forEachStrategy(t, eagerAndCooperative, testKcatMixedGroup)
}

func testKcatMixedGroup(t *testing.T, strategy balance.Strategy) {
	const parts = 6
	topic, group, ctx, l := setup(t, parts, 3*time.Minute)
	cl := testhelp.NewCluster(t, nil)
	opts := memberOpts{strategy: strategy} // kcat is told to use the same

	// 1. Ours leads: it must read librdkafka's subscription, and
	//    librdkafka must read its assignment.
	a := join(t, ctx, testhelp.NewCluster(t, nil), group, topic, opts, newRecorder("a", l))
	k1 := startKcat(t, group, strategy, topic)
	v := waitGroup(t, ctx, cl, group, allOf(parts, topic), strategy, "rdkafka", 1, nil, a)
	t.Logf("gokafka leader + kcat: %v", v.members)
	if !a.leads.Load() {
		t.Errorf("our member did not lead")
	}

	// 2. Ours leaves; kcat gets everything.
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	waitGroup(t, ctx, cl, group, allOf(parts, topic), strategy, "rdkafka", 1, nil)

	// 3. Now librdkafka leads: it must read our subscription, and we its
	//    assignment.
	b := join(t, ctx, testhelp.NewCluster(t, nil), group, topic, opts, newRecorder("b", l))
	c := join(t, ctx, testhelp.NewCluster(t, nil), group, topic, opts, newRecorder("c", l))
	v = waitGroup(t, ctx, cl, group, allOf(parts, topic), strategy, "rdkafka", 1, nil, b, c)
	t.Logf("kcat leader + 2 gokafka: %v", v.members)
	if b.leads.Load() || c.leads.Load() {
		t.Errorf("one of ours leads; kcat should")
	}

	// 4. A second kcat joins, then the first leaves (it led); ours adapt.
	k2 := startKcat(t, group, strategy, topic)
	waitGroup(t, ctx, cl, group, allOf(parts, topic), strategy, "rdkafka", 2, nil, b, c)
	k1.stop(t)
	v = waitGroup(t, ctx, cl, group, allOf(parts, topic), strategy, "rdkafka", 1, nil, b, c)
	t.Logf("after kcat 1 left: %v", v.members)
	k2.stop(t)
	_, owned := stablePoint(t, ctx, cl, group, allOf(parts, topic), b, c)
	t.Logf("after both kcats left: %v", owned)
	l.Check(t)
}
