package managed

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testhelp"
)

// TestStaticMemberRestart: a static member (InstanceID) that dies and comes
// back within the session timeout gets its partitions back, and the other
// members see nothing: no revocation, no new generation. Close sends no
// LeaveGroup, so the group keeps the member until its session expires.
func TestStaticMemberRestart(t *testing.T) {
	const parts, session = 4, 6 * time.Second
	topic, group, ctx, l := setup(t, parts, 2*time.Minute)
	cla, clb := testhelp.NewCluster(t, nil), testhelp.NewCluster(t, nil)
	a := join(t, ctx, cla, group, topic, memberOpts{session: session, instance: "instance-a"}, newRecorder("a", l))
	rb := newRecorder("b", l)
	b := join(t, ctx, clb, group, topic, memberOpts{session: session, instance: "instance-b"}, rb)
	gen, owned := stablePoint(t, ctx, cla, group, allOf(parts, topic), a, b)
	// Static members are ordered by instance id (as Java's assignors do).
	if !slices.Equal(owned[0], tps(topic, 0, 1)) || !slices.Equal(owned[1], tps(topic, 2, 3)) {
		t.Fatalf("range by instance id: %v, want [[0 1] [2 3]]", owned)
	}
	if g := a.Generation(); g.InstanceID == nil || *g.InstanceID != "instance-a" {
		t.Fatalf("Generation() = %+v, want instance id instance-a", g)
	}
	markB, rebB := rb.mark(), b.Rebalances()

	kill(t, a) // a's process dies
	l.Forget("a")
	ra2 := newRecorder("a", l) // and restarts, same instance id
	cla2 := testhelp.NewCluster(t, nil)
	start := time.Now()
	a2 := join(t, ctx, cla2, group, topic, memberOpts{session: session, instance: "instance-a"}, ra2)
	t.Logf("restarted static member back in %v", time.Since(start).Round(time.Millisecond))
	if got := a2.Assigned(); !slices.Equal(got, owned[0]) {
		t.Errorf("restarted member got %v, want its old %v", got, owned[0])
	}
	gen2, owned2 := stablePoint(t, ctx, cla, group, allOf(parts, topic), a2, b)
	if gen2 != gen || !slices.Equal(owned2[1], owned[1]) {
		t.Errorf("after the restart: generation %d (was %d), b owns %v (owned %v)", gen2, gen, owned2[1], owned[1])
	}
	if evs := rb.since(markB); len(evs) > 0 || b.Rebalances() != rebB {
		t.Errorf("b was disturbed by a's restart: %+v, rebalances %d -> %d", evs, rebB, b.Rebalances())
	}
	l.Check(t)

	// Close: Revoked, but no LeaveGroup — the group still counts a2.
	if err := a2.Close(ctx); err != nil {
		t.Fatal(err)
	}
	closed := time.Now()
	if got := union(ra2.since(0), "revoked"); !slices.Equal(got, owned[0]) {
		t.Errorf("Close revoked %v, want %v", got, owned[0])
	}
	v, err := describe(ctx, cla, group)
	if err != nil || len(v.members) != 2 || v.state != "Stable" {
		t.Fatalf("DescribeGroups right after a static member's Close: %+v, %v; want it still there", v, err)
	}
	// Until its session expires; then b gets everything.
	stablePoint(t, ctx, cla, group, allOf(parts, topic), b)
	t.Logf("static member dropped %v after its Close (session %v)", time.Since(closed).Round(time.Millisecond), session)
	if took := time.Since(closed); took < session-time.Second {
		t.Errorf("the group dropped the static member after %v, before its session timeout %v: LeaveGroup sent?", took, session)
	}
}

// TestStaticMemberFenced: a second live member with the same instance id
// takes over; the first is fenced, reports its partitions lost and stops
// with kerr.FencedInstanceID.
func TestStaticMemberFenced(t *testing.T) {
	const parts = 2
	topic, group, ctx, l := setup(t, parts, time.Minute)
	opts := memberOpts{instance: "same"}
	r1 := newRecorder("first", l)
	first := join(t, ctx, testhelp.NewCluster(t, nil), group, topic, opts, r1)
	if len(first.Assigned()) != parts {
		t.Fatalf("first owns %v", first.Assigned())
	}
	l.Forget("first") // the takeover is not a clean hand-over, by design
	second := join(t, ctx, testhelp.NewCluster(t, nil), group, topic, opts, newRecorder("second", l))
	select {
	case <-first.Done():
	case <-ctx.Done():
		t.Fatal("the fenced member did not stop")
	}
	if err := first.Err(); !errors.Is(err, kerr.FencedInstanceID) {
		t.Errorf("first.Err() = %v, want FENCED_INSTANCE_ID", err)
	}
	if lost := union(r1.since(0), "lost"); len(lost) != parts {
		t.Errorf("first lost %v, want all %d", lost, parts)
	}
	if got := second.Assigned(); len(got) != parts {
		t.Errorf("second owns %v", got)
	}
	if err := first.Close(ctx); err != nil {
		t.Errorf("Close of a fenced member: %v", err)
	}
}
