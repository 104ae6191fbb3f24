package consumer

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/offsets"
	"github.com/gokafka/kafka/testhelp"
)

// TestCommitsCarryTheEpoch: commits carry the member epoch (OffsetCommit
// v9's GenerationIDOrMemberEpoch). The coordinator takes a member's commit
// with its current epoch, and with an older one for partitions the member
// owned since then (Kafka 4.3, KIP-1251); it refuses an older epoch's commit
// of a partition the member gave up since, one from an unknown member, and,
// once the member was fenced, every commit of the old membership.
func TestCommitsCarryTheEpoch(t *testing.T) {
	if !supported(t) {
		return
	}
	const parts = 4
	topic, group, ctx, l := setup(t, parts, 2*time.Minute)
	cl := testhelp.NewCluster(t, nil)
	g, err := offsets.NewGroup(cl, group, offsets.GroupOptions{})
	if err != nil {
		t.Fatal(err)
	}
	commit := func(gen offsets.Generation, ps ...TopicPartition) error {
		offs := map[TopicPartition]offsets.Commit{}
		for _, p := range ps {
			offs[p] = offsets.At(1)
		}
		return g.Commit(ctx, offs, gen)
	}
	ra, rb := newRecorder("a", l), newRecorder("b", l)
	a := join(t, ctx, cl, group, topic, memberOpts{}, ra)
	stablePoint(t, ctx, cl, group, allOf(parts, topic), a)
	first := a.Generation()
	if first.MemberID != a.ID() || first.ID < 1 {
		t.Fatalf("generation %+v", first)
	}
	if err := commit(first, allOf(parts, topic)...); err != nil {
		t.Fatalf("commit with the current epoch: %v", err)
	}

	b := join(t, ctx, testhelp.NewCluster(t, nil), group, topic, memberOpts{}, rb)
	owned := stablePoint(t, ctx, cl, group, allOf(parts, topic), a, b)
	now := a.Generation()
	if now.ID <= first.ID {
		t.Fatalf("a's epoch %d did not move on from %d as it gave partitions up", now.ID, first.ID)
	}
	if err := commit(first, owned[0]...); err != nil {
		t.Errorf("commit of partitions a still owns, with its older epoch %d: %v", first.ID, err)
	}
	if err := commit(first, owned[1]...); !errors.Is(err, kerr.StaleMemberEpoch) {
		t.Errorf("commit by a, with its older epoch, of the partitions it gave b: want StaleMemberEpoch, got %v", err)
	}
	if err := commit(offsets.Generation{ID: now.ID, MemberID: "nobody"}, owned[0]...); !errors.Is(err, kerr.UnknownMemberID) {
		t.Errorf("commit by an unknown member: want UnknownMemberID, got %v", err)
	}

	// Fence a: its heartbeats stop reaching the coordinator until the
	// session times out; b takes everything; a learns it when it gets
	// through again, reports its partitions lost, and rejoins.
	mark := ra.mark()
	a.beat.mute.Store(true)
	// a is a zombie from now on: it cannot know yet, and the coordinator
	// may give b its partitions the moment it drops a, before the loop
	// below sees that. (Forgotten only after that loop, b's Take raced
	// with it: one CI failure.)
	l.Forget("a")
	testhelp.Eventually(t, time.Minute, "the coordinator drops a", func() error {
		v, err := describe(ctx, cl, group)
		if err != nil {
			return err
		}
		if _, ok := v.members[a.ID()]; ok {
			return errors.New("a is still a member")
		}
		return nil
	})
	stablePoint(t, ctx, cl, group, allOf(parts, topic), b)
	if err := commit(now, owned[0]...); !errors.Is(err, kerr.UnknownMemberID) {
		t.Errorf("commit of the fenced membership: want UnknownMemberID, got %v", err)
	}
	a.beat.mute.Store(false)
	stablePoint(t, ctx, cl, group, allOf(parts, topic), a, b)
	evs := ra.since(mark)
	if len(evs) == 0 || evs[0].kind != "lost" || !slices.Equal(evs[0].partitions, owned[0]) {
		t.Fatalf("a's events after the fence: %v, want first lost %v", evs, owned[0])
	}
	if revoked := union(evs, "revoked"); len(revoked) > 0 {
		t.Errorf("a revoked %v: a fenced member has nothing to revoke", revoked)
	}
	if a.Err() != nil || a.ID() != first.MemberID {
		t.Errorf("after rejoining: err %v, id %q (was %q)", a.Err(), a.ID(), first.MemberID)
	}
	if err := commit(a.Generation(), a.Assigned()...); err != nil {
		t.Errorf("commit of the new membership: %v", err)
	}
	l.Check(t)
}

// TestStaticMember: a static member leaves with epoch -2; the coordinator
// keeps its partitions for it, and the same instance id gets them back
// without moving anything of the other member's. While it holds the id,
// another member cannot join with it.
func TestStaticMember(t *testing.T) {
	if !supported(t) {
		return
	}
	const parts = 6
	topic, group, ctx, l := setup(t, parts, 2*time.Minute)
	cl := testhelp.NewCluster(t, nil)
	ra, rb := newRecorder("a", l), newRecorder("b", l)
	a := join(t, ctx, cl, group, topic, memberOpts{instance: "static-a"}, ra)
	b := join(t, ctx, testhelp.NewCluster(t, nil), group, topic, memberOpts{}, rb)
	owned := stablePoint(t, ctx, cl, group, allOf(parts, topic), a, b)

	// A second member with a's instance id waits for the id.
	shortCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	_, err := joinErr(t, shortCtx, testhelp.NewCluster(t, nil), group, subOf(topic), memberOpts{instance: "static-a"}, newRecorder("a-twin", l))
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, kerr.UnreleasedInstanceID) {
		t.Fatalf("a twin of a static member: want the deadline and UnreleasedInstanceID, got %v", err)
	}

	markB := rb.mark()
	if err := a.Close(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := describe(ctx, cl, group)
	if err != nil {
		t.Fatal(err)
	}
	if mv, ok := v.members[a.ID()]; !ok || mv.epoch != -2 {
		t.Errorf("after a static leave the coordinator shows %+v (present %v), want epoch -2", mv, ok)
	}
	ra2 := newRecorder("a", l)
	a2 := join(t, ctx, testhelp.NewCluster(t, nil), group, topic, memberOpts{instance: "static-a"}, ra2)
	again := stablePoint(t, ctx, cl, group, allOf(parts, topic), a2, b)
	if !slices.Equal(again[0], owned[0]) {
		t.Errorf("the static member came back to %v, had %v", again[0], owned[0])
	}
	if evs := rb.since(markB); len(evs) > 0 {
		t.Errorf("b was disturbed by a's restart: %v", evs)
	}
	l.Check(t)
}
