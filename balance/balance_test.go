package balance

import (
	"fmt"
	"slices"
	"testing"
)

func TestAssignRangeOrdersByNumberNotString(t *testing.T) {
	ps := []int32{10, 2, 1, 0, 11, 3, 4, 5, 6, 7, 8, 9}
	got := AssignRange([]string{"b", "a", "c"}, ps)
	want := map[string][]int32{"a": {0, 1, 2, 3}, "b": {4, 5, 6, 7}, "c": {8, 9, 10, 11}}
	for m, w := range want {
		if !slices.Equal(got[m], w) {
			t.Fatalf("member %s got %v, want %v (all: %v)", m, got[m], w, got)
		}
	}
}

func TestAssignStrategiesCoverEachPartitionOnce(t *testing.T) {
	for _, s := range []Strategy{Range, RoundRobin} {
		for members := 1; members <= 7; members++ {
			for parts := 0; parts <= 13; parts++ {
				var ms []string
				for i := 0; i < members; i++ {
					ms = append(ms, fmt.Sprintf("m%02d", i))
				}
				var ps []int32
				for p := 0; p < parts; p++ {
					ps = append(ps, int32(p))
				}
				got := Assign(s, ms, ps)
				owner := map[int32]string{}
				minN, maxN := parts, 0
				for _, m := range ms {
					for _, p := range got[m] {
						if o, dup := owner[p]; dup {
							t.Fatalf("%s %d/%d: partition %d to %s and %s", s, members, parts, p, o, m)
						}
						owner[p] = m
					}
					minN, maxN = min(minN, len(got[m])), max(maxN, len(got[m]))
				}
				if len(owner) != parts {
					t.Fatalf("%s %d/%d: %d partitions assigned", s, members, parts, len(owner))
				}
				if maxN-minN > 1 {
					t.Fatalf("%s %d/%d: unbalanced %v", s, members, parts, got)
				}
			}
		}
	}
}

func TestDiff(t *testing.T) {
	r, a := Diff([]int32{0, 1, 2}, []int32{2, 3})
	if !slices.Equal(r, []int32{0, 1}) || !slices.Equal(a, []int32{3}) {
		t.Fatalf("Diff: revoked %v added %v", r, a)
	}
}
