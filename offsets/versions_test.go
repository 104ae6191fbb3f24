package offsets

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/wire"
	"github.com/gokafka/kafka/testhelp"
)

// cappedCluster connects with request versions capped (API key -> version),
// so that the old request and response forms are exercised on the real
// broker too.
func cappedCluster(t *testing.T, caps map[int16]int16) *cluster.Cluster {
	t.Helper()
	return testhelp.NewCluster(t, nil, cluster.Config{Conn: wire.Options{MaxVersions: caps}})
}

// TestVersions commits and fetches with every OffsetCommit (v2-v9),
// OffsetFetch (v1-v9) and FindCoordinator (v0-v6) version, and lists with
// every ListOffsets version from v1, as far as the broker accepts them.
// Versions the broker no longer serves must fail with
// kerr.ErrUnsupportedVersion rather than anything worse.
func TestVersions(t *testing.T) {
	topic := testhelp.CreateTopic(t, nil, 1)
	produceN(t, testhelp.NewCluster(t, nil), topic, 0, 3)
	const (
		offsetCommit    = 8
		offsetFetch     = 9
		findCoordinator = 10
		listOffsets     = 2
	)
	ran := map[string]bool{}
	for v := int16(0); v <= 11; v++ {
		commitV, fetchV, findV := min(max(v, 2), 9), min(max(v, 1), 9), min(v, 6)
		listV := max(v, 1)
		name := fmt.Sprintf("commit-v%d-fetch-v%d-find-v%d-list-v%d", commitV, fetchV, findV, listV)
		t.Run(name, func(t *testing.T) {
			cl := cappedCluster(t, map[int16]int16{offsetCommit: commitV, offsetFetch: fetchV, findCoordinator: findV, listOffsets: listV})
			ctx := testhelp.Ctx(t, 30*time.Second)

			got, err := List(ctx, cl, tps(topic, 0), Latest)
			switch {
			case errors.Is(err, kerr.ErrUnsupportedVersion):
				t.Logf("ListOffsets v%d: %v", listV, err)
			case err != nil || got[part(topic, 0)] != 3:
				t.Fatalf("List(Latest) = %v, %v; want 3", got, err)
			default:
				ran[fmt.Sprintf("ListOffsets v%d", listV)] = true
			}

			// served: the broker served the call; a version it no
			// longer serves ends the subtest, any other error fails it.
			served := func(call string, err error) bool {
				t.Helper()
				if errors.Is(err, kerr.ErrUnsupportedVersion) {
					t.Logf("unsupported: %v", err)
					return false
				}
				if err != nil {
					t.Fatalf("%s: %v", call, err)
				}
				return true
			}
			g := newGroup(t, cl)
			want := Commit{Offset: 100 + int64(v), LeaderEpoch: 2, Metadata: name}
			if !served("Commit", g.Commit(ctx, on(topic, map[int32]Commit{0: want}), Generation{})) {
				return
			}
			ran[fmt.Sprintf("FindCoordinator v%d", findV)] = true
			ran[fmt.Sprintf("OffsetCommit v%d", commitV)] = true
			fetched, err := g.Fetch(ctx, tps(topic, 0))
			if !served("Fetch", err) {
				return
			}
			ran[fmt.Sprintf("OffsetFetch v%d", fetchV)] = true
			// The leader epoch is stored from OffsetCommit v6 and
			// returned from OffsetFetch v5.
			if commitV < 6 || fetchV < 5 {
				want.LeaderEpoch = -1
			}
			if fetched[part(topic, 0)] != want {
				t.Fatalf("Fetch = %+v, want %+v", fetched[part(topic, 0)], want)
			}
			// FetchAll (null topics) from v2; v1 has no such form
			// and must say so rather than answer "nothing".
			all, err := g.FetchAll(ctx)
			switch {
			case fetchV < 2:
				if !errors.Is(err, kerr.ErrUnsupportedVersion) {
					t.Fatalf("FetchAll with OffsetFetch v%d = %v, %v; want kerr.ErrUnsupportedVersion", fetchV, all, err)
				}
			case err != nil || len(all) != 1 || all[part(topic, 0)] != want:
				t.Fatalf("FetchAll = %v, %v; want only %+v", all, err, want)
			default:
				ran[fmt.Sprintf("OffsetFetch v%d all topics", fetchV)] = true
			}
			// Nothing committed for another group: absent, in every form.
			if none, err := newGroup(t, cl).Fetch(ctx, tps(topic, 0)); err != nil || len(none) != 0 {
				t.Fatalf("Fetch of an empty group = %v, %v", none, err)
			}
		})
	}
	t.Logf("exercised: %v", ran)
	// The forms this package encodes differently must all have run.
	for _, must := range []string{"OffsetFetch v7", "OffsetFetch v8", "OffsetFetch v9", "OffsetFetch v7 all topics", "OffsetFetch v8 all topics",
		"FindCoordinator v3", "FindCoordinator v4",
		"OffsetCommit v2", "OffsetCommit v9", "ListOffsets v1", "ListOffsets v9"} {
		if !ran[must] {
			t.Errorf("%s was not exercised", must)
		}
	}
}
