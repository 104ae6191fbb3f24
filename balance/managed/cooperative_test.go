package managed

import (
	"slices"
	"testing"
	"time"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/testhelp"
)

// TestCooperativeStickyMovesOnlyWhatMoves: when a member joins a
// cooperative-sticky group, the existing members revoke exactly the
// partitions the newcomer gets — in a first rebalance — and the newcomer
// gets them in the follow-up one; partitions that stay are never revoked,
// and nobody's Handler sees a partition twice.
func TestCooperativeStickyMovesOnlyWhatMoves(t *testing.T) {
	const parts = 6
	topic, group, ctx, l := setup(t, parts, 2*time.Minute)
	opts := memberOpts{strategy: balance.CooperativeSticky}
	var ms []*Member
	var rs []*recorder
	var owned [][]TopicPartition
	var cl0 *cluster.Cluster
	for i, name := range []string{"a", "b", "c"} {
		cl := testhelp.NewCluster(t, nil)
		if i == 0 {
			cl0 = cl
		}
		marks := make([]int, len(rs))
		for j, r := range rs {
			marks[j] = r.mark()
		}
		r := newRecorder(name, l)
		m := join(t, ctx, cl, group, topic, opts, r)
		ms, rs = append(ms, m), append(rs, r)
		if i > 0 && len(m.Assigned()) != 0 {
			t.Errorf("%s owns %v when Join returns: the others have not revoked yet", name, m.Assigned())
		}
		before := owned
		_, owned = stablePoint(t, ctx, cl0, group, allOf(parts, topic), ms...)
		t.Logf("%s joined: %v", name, owned)
		l.Check(t)
		var moved []TopicPartition
		for j := range before {
			evs := rs[j].since(marks[j])
			revoked := union(evs, "revoked")
			want, _ := balance.Diff(before[j], owned[j])
			if !slices.Equal(revoked, want) {
				t.Errorf("%s joined: %s revoked %v; it had %v and has %v, so it should revoke %v", name, rs[j].name, revoked, before[j], owned[j], want)
			}
			if added := union(evs, "assigned"); len(added) > 0 {
				t.Errorf("%s joined: %s was assigned %v", name, rs[j].name, added)
			}
			if lost := union(evs, "lost"); len(lost) > 0 {
				t.Errorf("%s joined: %s lost %v", name, rs[j].name, lost)
			}
			moved = append(moved, revoked...)
		}
		slices.SortFunc(moved, TopicPartition.Compare)
		if i > 0 && !slices.Equal(moved, owned[i]) {
			t.Errorf("%s joined: the others revoked %v, %s got %v", name, moved, name, owned[i])
		}
		if len(owned[i]) != parts/(i+1) {
			t.Errorf("%s joined: unbalanced: %v", name, owned)
		}
	}
	// The newest member leaves: its partitions go to the others, who
	// revoke nothing.
	marks := []int{rs[0].mark(), rs[1].mark()}
	if err := ms[2].Close(ctx); err != nil {
		t.Fatal(err)
	}
	before := owned
	_, owned = stablePoint(t, ctx, cl0, group, allOf(parts, topic), ms[:2]...)
	for j := range 2 {
		evs := rs[j].since(marks[j])
		if revoked := union(evs, "revoked"); len(revoked) > 0 {
			t.Errorf("c left: %s revoked %v", rs[j].name, revoked)
		}
		_, want := balance.Diff(before[j], owned[j])
		if added := union(evs, "assigned"); !slices.Equal(added, want) {
			t.Errorf("c left: %s was assigned %v, want %v", rs[j].name, added, want)
		}
	}
	l.Check(t)
}
