package consumer

import (
	"context"
	"testing"
	"time"

	"github.com/gokafka/kafka/testhelp"
)

// TestJoinAndLeave: two members share a topic; the second gets its half
// once the first has revoked it; the first gets everything back when the
// second leaves; nobody owns a partition twice.
func TestJoinAndLeave(t *testing.T) {
	if !supported(t) {
		return
	}
	const parts = 6
	topic, group, ctx, l := setup(t, parts, 2*time.Minute)
	cl := testhelp.NewCluster(t, nil)
	ra, rb := newRecorder("a", l), newRecorder("b", l)
	a := join(t, ctx, cl, group, topic, memberOpts{}, ra)
	stablePoint(t, ctx, cl, group, allOf(parts, topic), a)
	if got := a.HeartbeatInterval(); got != testHeartbeat {
		t.Errorf("heartbeat interval %v, the group says %v", got, testHeartbeat)
	}
	b := join(t, ctx, testhelp.NewCluster(t, nil), group, topic, memberOpts{}, rb)
	owned := stablePoint(t, ctx, cl, group, allOf(parts, topic), a, b)
	t.Logf("a %v, b %v", owned[0], owned[1])
	if len(owned[0]) != parts/2 || len(owned[1]) != parts/2 {
		t.Errorf("uneven: a %v, b %v", owned[0], owned[1])
	}
	mark := ra.mark()
	closeCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := b.Close(closeCtx); err != nil {
		t.Fatal(err)
	}
	stablePoint(t, ctx, cl, group, allOf(parts, topic), a)
	if revoked := union(ra.since(mark), "revoked"); len(revoked) > 0 {
		t.Errorf("a revoked %v when b left", revoked)
	}
	l.Check(t)
}

// TestKilledMember: a member that vanishes (no revoke, no leave) keeps its
// partitions until the group's session timeout; then the coordinator gives
// them to the others.
func TestKilledMember(t *testing.T) {
	if !supported(t) {
		return
	}
	const parts = 4
	topic, group, ctx, l := setup(t, parts, 2*time.Minute)
	cl := testhelp.NewCluster(t, nil)
	ra, rb := newRecorder("a", l), newRecorder("b", l)
	a := join(t, ctx, testhelp.NewCluster(t, nil), group, topic, memberOpts{}, ra)
	b := join(t, ctx, cl, group, topic, memberOpts{}, rb)
	stablePoint(t, ctx, cl, group, allOf(parts, topic), a, b)
	kill(t, a)
	l.Forget("a")
	start := time.Now()
	stablePoint(t, ctx, cl, group, allOf(parts, topic), b)
	took := time.Since(start)
	t.Logf("the killed member's partitions moved after %v (session timeout %v)", took.Round(time.Millisecond), testSession)
	if took < testSession-time.Second {
		t.Errorf("the partitions moved after %v, before the session timeout %v", took, testSession)
	}
	l.Check(t)
}
