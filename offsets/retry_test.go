package offsets

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testhelp"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// script is a roundFunc that answers from a list of scripted outcomes, one
// per round, and records which partitions each round asked for.
type script struct {
	rounds []func(ps []TopicPartition) (map[TopicPartition]error, error)
	asked  [][]TopicPartition
}

func (s *script) round(ctx context.Context, coord *cluster.Broker, ps []TopicPartition) (map[TopicPartition]error, error) {
	s.asked = append(s.asked, append([]TopicPartition(nil), ps...))
	i := min(len(s.asked), len(s.rounds)) - 1
	return s.rounds[i](ps)
}

func each(err error) func(ps []TopicPartition) (map[TopicPartition]error, error) {
	return func(ps []TopicPartition) (map[TopicPartition]error, error) {
		out := map[TopicPartition]error{}
		for _, p := range ps {
			out[p] = err
		}
		return out, nil
	}
}

func TestSettleRetriesOnlyRetriablePartitions(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	g := newGroup(t, cl)
	ctx := testhelp.Ctx(t, 30*time.Second)
	coord := coordinatorOf(t, ctx, g)
	// Two topics: partitions are retried one by one, whatever their topic.
	a0, a1, b0, b1 := part("a", 0), part("a", 1), part("b", 0), part("b", 1)
	s := &script{rounds: []func([]TopicPartition) (map[TopicPartition]error, error){
		func([]TopicPartition) (map[TopicPartition]error, error) {
			return map[TopicPartition]error{a0: kerr.NotCoordinator, a1: nil, b0: kerr.IllegalGeneration, b1: kerr.CoordinatorLoadInProgress}, nil
		},
		func([]TopicPartition) (map[TopicPartition]error, error) {
			return nil, fmt.Errorf("%w: reset by peer", kerr.ErrConnection) // no response at all
		},
		func([]TopicPartition) (map[TopicPartition]error, error) {
			return map[TopicPartition]error{a0: nil, b1: kerr.UnstableOffsetCommit}, nil
		},
		each(nil),
	}}
	failed := settle(ctx, g, "test", []TopicPartition{a0, a1, b0, b1}, s.round)
	if len(failed) != 1 || !errors.Is(failed[b0], kerr.IllegalGeneration) {
		t.Fatalf("failed = %v, want only b/0 with ILLEGAL_GENERATION", failed)
	}
	want := [][]TopicPartition{{a0, a1, b0, b1}, {a0, b1}, {a0, b1}, {b1}}
	if len(s.asked) != len(want) {
		t.Fatalf("rounds asked %v, want %v", s.asked, want)
	}
	for i := range want {
		if fmt.Sprint(s.asked[i]) != fmt.Sprint(want[i]) {
			t.Fatalf("rounds asked %v, want %v", s.asked, want)
		}
	}
	// The connection failure dropped the cached coordinator; the next
	// round looked it up again and cached it anew.
	if g.cached() != coord {
		t.Fatalf("coordinator after the rounds = %v, want %v again", g.cached(), coord)
	}
}

func TestSettleGivesUpWithTheLastError(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	g := newGroup(t, cl)
	if _, err := g.Coordinator(testhelp.Ctx(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	s := &script{rounds: []func([]TopicPartition) (map[TopicPartition]error, error){each(kerr.CoordinatorLoadInProgress)}}
	start := time.Now()
	failed := settle(ctx, g, "test", tps("t", 0, 1), s.round)
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("settle took %v past a 500ms deadline", took)
	}
	for _, p := range tps("t", 0, 1) {
		if !errors.Is(failed[p], context.DeadlineExceeded) || !errors.Is(failed[p], kerr.CoordinatorLoadInProgress) {
			t.Fatalf("partition %s: %v, want both the deadline and COORDINATOR_LOAD_IN_PROGRESS", p, failed[p])
		}
	}
	if len(s.asked) < 2 {
		t.Fatalf("%d rounds in 500ms, want retries", len(s.asked))
	}
	t.Logf("%d rounds; error: %v", len(s.asked), failed[part("t", 0)])
}

func TestSettleStopsWhenTheClusterCloses(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	g := newGroup(t, cl)
	if _, err := g.Coordinator(testhelp.Ctx(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	s := &script{rounds: []func([]TopicPartition) (map[TopicPartition]error, error){
		func(ps []TopicPartition) (map[TopicPartition]error, error) {
			cl.Close()
			return each(kerr.RequestTimedOut)(ps)
		},
	}}
	failed := settle(testhelp.Ctx(t, 30*time.Second), g, "test", tps("t", 0), s.round)
	if !errors.Is(failed[part("t", 0)], kerr.ErrClosed) {
		t.Fatalf("failed = %v, want kerr.ErrClosed", failed)
	}
}

func TestFetchOutcomeForms(t *testing.T) {
	meta := "m"
	// v7: top-level form; v8: Groups form. Same content, same result.
	v7 := kmsg.NewPtrOffsetFetchResponse()
	v7.Version = 7
	rt := kmsg.NewOffsetFetchResponseTopic()
	rt.Topic = "t"
	rt.Partitions = []kmsg.OffsetFetchResponseTopicPartition{
		{Partition: 0, Offset: 5, LeaderEpoch: 1, Metadata: &meta},
		{Partition: 1, Offset: -1, LeaderEpoch: -1},
		{Partition: 2, Offset: -1, ErrorCode: kerr.UnstableOffsetCommit.Code},
	}
	v7.Topics = []kmsg.OffsetFetchResponseTopic{rt}

	v8 := kmsg.NewPtrOffsetFetchResponse()
	v8.Version = 8
	rg := kmsg.NewOffsetFetchResponseGroup()
	rg.Group = "g"
	gt := kmsg.NewOffsetFetchResponseGroupTopic()
	gt.Topic = "t"
	for _, p := range rt.Partitions {
		gt.Partitions = append(gt.Partitions, kmsg.OffsetFetchResponseGroupTopicPartition{
			Partition: p.Partition, Offset: p.Offset, LeaderEpoch: p.LeaderEpoch, Metadata: p.Metadata, ErrorCode: p.ErrorCode,
		})
	}
	rg.Topics = []kmsg.OffsetFetchResponseGroupTopic{gt}
	rg2 := kmsg.NewOffsetFetchResponseGroup()
	rg2.Group = "someone-else"
	rg2.ErrorCode = kerr.GroupAuthorizationFailed.Code
	v8.Groups = []kmsg.OffsetFetchResponseGroup{rg2, rg}

	// A second topic in the same response, in both forms.
	rt2 := kmsg.NewOffsetFetchResponseTopic()
	rt2.Topic = "u"
	rt2.Partitions = []kmsg.OffsetFetchResponseTopicPartition{{Partition: 0, Offset: 9, LeaderEpoch: 2}}
	v7.Topics = append(v7.Topics, rt2)
	gt2 := kmsg.NewOffsetFetchResponseGroupTopic()
	gt2.Topic = "u"
	gt2.Partitions = []kmsg.OffsetFetchResponseGroupTopicPartition{{Partition: 0, Offset: 9, LeaderEpoch: 2}}
	rg.Topics = append(rg.Topics, gt2)
	v8.Groups = []kmsg.OffsetFetchResponseGroup{rg2, rg}

	for _, resp := range []*kmsg.OffsetFetchResponse{v7, v8} {
		commits, outcome, gerr := fetchOutcome(resp, "g")
		want := map[TopicPartition]Commit{part("t", 0): {Offset: 5, LeaderEpoch: 1, Metadata: "m"}, part("u", 0): {Offset: 9, LeaderEpoch: 2}}
		if gerr != nil || !maps.Equal(commits, want) {
			t.Errorf("v%d: commits %v, %v; want %v", resp.Version, commits, gerr, want)
		}
		if len(outcome) != 4 || outcome[part("t", 0)] != nil || outcome[part("t", 1)] != nil || outcome[part("u", 0)] != nil ||
			!errors.Is(outcome[part("t", 2)], kerr.UnstableOffsetCommit) {
			t.Errorf("v%d: outcome %v", resp.Version, outcome)
		}
	}

	// A group-level error stands for every partition.
	v7.ErrorCode = kerr.NotCoordinator.Code
	rg.ErrorCode = kerr.NotCoordinator.Code
	v8.Groups = []kmsg.OffsetFetchResponseGroup{rg}
	for _, resp := range []*kmsg.OffsetFetchResponse{v7, v8} {
		commits, outcome, gerr := fetchOutcome(resp, "g")
		if len(commits) != 0 || len(outcome) != 0 || !errors.Is(gerr, kerr.NotCoordinator) {
			t.Errorf("v%d group error: %v %v %v", resp.Version, commits, outcome, gerr)
		}
	}
}

func TestPartitionErrors(t *testing.T) {
	err := joinPartitionErrors("commit", "g", map[TopicPartition]error{
		part("t", 3): kerr.IllegalGeneration,
		part("t", 1): fmt.Errorf("wrapped: %w", kerr.RebalanceInProgress),
		part("s", 7): kerr.UnknownMemberID,
	})
	if !errors.Is(err, kerr.IllegalGeneration) || !errors.Is(err, kerr.RebalanceInProgress) || !errors.Is(err, kerr.UnknownMemberID) {
		t.Fatalf("errors.Is through the join failed: %v", err)
	}
	var pe *PartitionError
	if !errors.As(err, &pe) || pe.TopicPartition != part("s", 7) {
		t.Fatalf("errors.As: %v, want s/7 first (topic order, then partition)", pe)
	}
	if want := `kafka: commit offset of s/7 for group "g": ` + kerr.UnknownMemberID.Error(); pe.Error() != want {
		t.Fatalf("Error() = %q, want %q", pe.Error(), want)
	}
	ps := Partitions(fmt.Errorf("outer: %w", err))
	if len(ps) != 3 || ps[part("t", 1)].Topic != "t" || ps[part("t", 1)].Partition != 1 || !errors.Is(ps[part("t", 3)], kerr.IllegalGeneration) ||
		!errors.Is(ps[part("s", 7)], kerr.UnknownMemberID) {
		t.Fatalf("Partitions = %v", ps)
	}
	if Partitions(nil) != nil || Partitions(kerr.ErrClosed) != nil {
		t.Fatal("Partitions of a non-partition error is not nil")
	}
	if joinPartitionErrors("commit", "g", nil) != nil {
		t.Fatal("no failures gave an error")
	}
}

func TestCoordinatorLookupRetries(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	ref := newGroup(t, cl)
	want, err := ref.Coordinator(testhelp.Ctx(t, 30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(answers ...any) (*Group, *int) {
		g := newGroup(t, cl)
		calls := new(int)
		g.coord.Find = func(ctx context.Context) (int32, error) {
			a := answers[min(*calls, len(answers)-1)]
			*calls++
			if err, ok := a.(error); ok {
				return -1, err
			}
			return a.(int32), nil
		}
		return g, calls
	}

	// Not available, loading, a node our metadata does not know: all
	// retried until the real answer.
	g, calls := lookup(kerr.CoordinatorNotAvailable, kerr.CoordinatorLoadInProgress, int32(9999), want)
	if id, err := g.Coordinator(testhelp.Ctx(t, 30*time.Second)); err != nil || id != want {
		t.Fatalf("Coordinator = %v, %v; want %v", id, err, want)
	}
	if *calls != 4 {
		t.Fatalf("%d lookups, want 4", *calls)
	}
	if _, err := g.Coordinator(testhelp.Ctx(t, 30*time.Second)); err != nil || *calls != 4 {
		t.Fatalf("cached Coordinator: %v after %d lookups, want no new lookup", err, *calls)
	}

	// Not retriable: at once.
	g, calls = lookup(kerr.GroupAuthorizationFailed, want)
	if _, err := g.Coordinator(testhelp.Ctx(t, 30*time.Second)); !errors.Is(err, kerr.GroupAuthorizationFailed) || *calls != 1 {
		t.Fatalf("Coordinator: %v after %d lookups, want GROUP_AUTHORIZATION_FAILED after 1", err, *calls)
	}

	// Never available: ends with the context, naming the last cause.
	g, _ = lookup(kerr.CoordinatorNotAvailable)
	g.opts.Timeout = 300 * time.Millisecond
	start := time.Now()
	_, err = g.Coordinator(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, kerr.CoordinatorNotAvailable) || time.Since(start) > 3*time.Second {
		t.Fatalf("Coordinator = %v after %v; want the 300ms GroupOptions.Timeout and COORDINATOR_NOT_AVAILABLE", err, time.Since(start))
	}

	// Concurrent callers share one lookup.
	g, calls = lookup(kerr.CoordinatorLoadInProgress, want)
	errs := make(chan error, 10)
	for range 10 {
		go func() {
			_, err := g.Coordinator(testhelp.Ctx(t, 30*time.Second))
			errs <- err
		}()
	}
	for range 10 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if *calls != 2 {
		t.Fatalf("10 concurrent callers made %d lookups, want 2", *calls)
	}
}
