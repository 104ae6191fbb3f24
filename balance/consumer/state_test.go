package consumer

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Unit tests of the state machine (state.go): no cluster, answers written
// by hand.

var (
	idA = [16]byte{1}
	idB = [16]byte{2}
	idC = [16]byte{3}
)

// names resolves idA and idB (topics "a" and "b"); idC is unknown.
func names(id [16]byte) (string, bool) {
	switch id {
	case idA:
		return "a", true
	case idB:
		return "b", true
	}
	return "", false
}

func testState(t *testing.T, cfg Config) *state {
	t.Helper()
	if cfg.Group == "" {
		cfg.Group = "g"
	}
	if cfg.Subscription.Topics == nil && cfg.Subscription.Pattern == nil {
		cfg.Subscription.Topics = []string{"b", "a"}
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return newState(cfg, "member-1")
}

// answer is a heartbeat answer: epoch, and the assignment (nil: unchanged)
// as topic id -> partitions.
func answer(epoch int32, assignment map[[16]byte][]int32) *kmsg.ConsumerGroupHeartbeatResponse {
	r := kmsg.NewPtrConsumerGroupHeartbeatResponse()
	r.MemberID = kmsg.StringPtr("member-1")
	r.MemberEpoch = epoch
	r.HeartbeatIntervalMillis = 500
	if assignment != nil {
		a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
		for id, ps := range assignment {
			at := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
			at.TopicID = id
			at.Partitions = ps
			a.Topics = append(a.Topics, at)
		}
		r.Assignment = &a
	}
	return r
}

func mustAnswer(t *testing.T, s *state, r *kmsg.ConsumerGroupHeartbeatResponse) {
	t.Helper()
	if _, err := s.answered(r); err != nil {
		t.Fatalf("answered: %v", err)
	}
}

// owned is what a request reports as owned, as "topic-id-byte/partition".
func reported(req *kmsg.ConsumerGroupHeartbeatRequest) []string {
	var out []string
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			out = append(out, fmt.Sprintf("%d/%d", t.TopicID[0], p))
		}
	}
	slices.Sort(out)
	return out
}

// run makes the Handler calls the state asks for, in order, until it has
// none, and returns them as "kind:a/0,a/1".
func drain(t *testing.T, s *state, resolve func([16]byte) (string, bool)) []string {
	t.Helper()
	var calls []string
	for range 20 {
		st := s.next(resolve)
		if st.kind == stepNone {
			return calls
		}
		s.begin(st)
		var ps []string
		for _, p := range st.parts {
			ps = append(ps, p.tp.String())
		}
		calls = append(calls, fmt.Sprintf("%v:%v", st.kind, ps))
		s.end(st)
		if st.kind == stepFail {
			return calls
		}
	}
	t.Fatalf("no end to the steps: %v", calls)
	return nil
}

func TestStateJoinRequest(t *testing.T) {
	s := testState(t, Config{ServerAssignor: Range, RebalanceTimeout: 7 * time.Second, InstanceID: "i-1"})
	req := s.request()
	switch {
	case req.Group != "g" || req.MemberID != "member-1" || req.MemberEpoch != 0:
		t.Errorf("join: group %q member %q epoch %d", req.Group, req.MemberID, req.MemberEpoch)
	case !slices.Equal(req.SubscribedTopicNames, []string{"a", "b"}) || req.SubscribedTopicRegex != nil:
		t.Errorf("join: topics %q regex %v", req.SubscribedTopicNames, req.SubscribedTopicRegex)
	case req.ServerAssignor == nil || *req.ServerAssignor != "range" || req.RebalanceTimeoutMillis != 7000:
		t.Errorf("join: assignor %v rebalance timeout %d", req.ServerAssignor, req.RebalanceTimeoutMillis)
	case req.InstanceID == nil || *req.InstanceID != "i-1":
		t.Errorf("join: instance %v", req.InstanceID)
	case req.Topics == nil || len(req.Topics) != 0:
		t.Errorf("join: owned %v, want an empty list (not null)", req.Topics)
	}

	mustAnswer(t, s, answer(3, map[[16]byte][]int32{idA: {1, 0}}))
	if s.interval != 500*time.Millisecond {
		t.Errorf("interval %v, the answer said 500ms", s.interval)
	}
	if calls := drain(t, s, names); !slices.Equal(calls, []string{"assign:[a/0 a/1]"}) {
		t.Errorf("steps %v", calls)
	}
	req = s.request()
	switch {
	case req.MemberEpoch != 3:
		t.Errorf("epoch %d, want 3", req.MemberEpoch)
	case req.SubscribedTopicNames != nil || req.ServerAssignor != nil || req.RebalanceTimeoutMillis != -1:
		t.Errorf("a heartbeat after the join repeats the subscription: %+v", req)
	case !slices.Equal(reported(req), []string{"1/0", "1/1"}):
		t.Errorf("owned %v", reported(req))
	}
	if g := s.generation(); g.ID != 3 || g.MemberID != "member-1" || g.InstanceID == nil {
		t.Errorf("generation %+v", g)
	}

	// A heartbeat without an answer: the next one carries the
	// subscription again (the coordinator may not have it).
	if what := s.failed(fmt.Errorf("x: %w", kerr.ErrConnection), true); what != retrySoon {
		t.Errorf("connection lost: %v", what)
	}
	if req := s.request(); req.SubscribedTopicNames == nil || req.MemberEpoch != 3 {
		t.Errorf("after a lost heartbeat: %+v", req)
	}
}

func TestStatePattern(t *testing.T) {
	s := testState(t, Config{Subscription: balance.Subscription{Pattern: regexp.MustCompile(`orders-.*`)}})
	req := s.request()
	if req.SubscribedTopicRegex == nil || *req.SubscribedTopicRegex != "orders-.*" || req.SubscribedTopicNames != nil {
		t.Errorf("pattern join: regex %v names %v", req.SubscribedTopicRegex, req.SubscribedTopicNames)
	}
}

// TestStateRevokeFirst: a member that gives partitions up and gets others
// revokes first, and reports the partitions it revokes as owned until
// Revoked returns: the acknowledgement follows the commit.
func TestStateRevokeFirst(t *testing.T) {
	s := testState(t, Config{})
	mustAnswer(t, s, answer(1, map[[16]byte][]int32{idA: {0, 1, 2}}))
	drain(t, s, names)

	mustAnswer(t, s, answer(1, map[[16]byte][]int32{idA: {0, 1}, idB: {0}}))
	st := s.next(names)
	if st.kind != stepRevoke || !slices.Equal(partitionsOf(st.parts), tps("a", 2)) {
		t.Fatalf("first step %v %v, want revoke a/2", st.kind, partitionsOf(st.parts))
	}
	s.begin(st)
	if got := reported(s.request()); !slices.Equal(got, []string{"1/0", "1/1", "1/2"}) {
		t.Errorf("during Revoked the heartbeat reports %v, want a/2 still owned", got)
	}
	s.end(st)
	if got := reported(s.request()); !slices.Equal(got, []string{"1/0", "1/1"}) {
		t.Errorf("the acknowledgement reports %v", got)
	}
	if calls := drain(t, s, names); !slices.Equal(calls, []string{"assign:[b/0]"}) {
		t.Errorf("then %v", calls)
	}
	if got := reported(s.request()); !slices.Equal(got, []string{"1/0", "1/1", "2/0"}) {
		t.Errorf("after Assigned the heartbeat reports %v", got)
	}
	if s.reconciled != 3 {
		t.Errorf("%d steps counted, want 3", s.reconciled)
	}
}

// TestStateWithheld: partitions another member has not revoked yet are
// not in the answer; they come with a later one, at a higher epoch.
func TestStateWithheld(t *testing.T) {
	s := testState(t, Config{})
	mustAnswer(t, s, answer(4, map[[16]byte][]int32{}))
	if calls := drain(t, s, names); !slices.Equal(calls, []string{"assign:[]"}) {
		t.Errorf("first assignment, empty: %v", calls)
	}
	mustAnswer(t, s, answer(4, nil)) // unchanged
	if calls := drain(t, s, names); len(calls) > 0 {
		t.Errorf("an unchanged assignment made steps %v", calls)
	}
	mustAnswer(t, s, answer(5, map[[16]byte][]int32{idA: {3}}))
	if calls := drain(t, s, names); !slices.Equal(calls, []string{"assign:[a/3]"}) {
		t.Errorf("released partition: %v", calls)
	}
	if s.epoch != 5 {
		t.Errorf("epoch %d", s.epoch)
	}
}

// TestStateUnresolved: a topic id the metadata does not name yet is neither
// taken nor acknowledged; it is taken once resolved.
func TestStateUnresolved(t *testing.T) {
	s := testState(t, Config{})
	mustAnswer(t, s, answer(2, map[[16]byte][]int32{idA: {0}, idC: {0, 1}}))
	if calls := drain(t, s, names); !slices.Equal(calls, []string{"assign:[a/0]"}) {
		t.Errorf("steps %v", calls)
	}
	if !s.unresolved {
		t.Error("unresolved not set")
	}
	if got := reported(s.request()); !slices.Equal(got, []string{"1/0"}) {
		t.Errorf("reports %v", got)
	}
	withC := func(id [16]byte) (string, bool) {
		if id == idC {
			return "c", true
		}
		return names(id)
	}
	if calls := drain(t, s, withC); !slices.Equal(calls, []string{"assign:[c/0 c/1]"}) {
		t.Errorf("once resolved: %v", calls)
	}
	if s.unresolved {
		t.Error("unresolved still set")
	}
}

// TestStateRecreatedTopic: a topic deleted and created again has a new id:
// its partitions are revoked under the old one and assigned under the new.
func TestStateRecreatedTopic(t *testing.T) {
	s := testState(t, Config{})
	mustAnswer(t, s, answer(1, map[[16]byte][]int32{idA: {0}}))
	drain(t, s, names)
	again := func(id [16]byte) (string, bool) {
		if id == idB {
			return "a", true
		}
		return names(id)
	}
	mustAnswer(t, s, answer(2, map[[16]byte][]int32{idB: {0}}))
	if calls := drain(t, s, again); !slices.Equal(calls, []string{"revoke:[a/0]", "assign:[a/0]"}) {
		t.Errorf("steps %v", calls)
	}
	if got := reported(s.request()); !slices.Equal(got, []string{"2/0"}) {
		t.Errorf("reports %v", got)
	}
}

// TestStateFenced: fenced or unknown, the member reports its partitions
// lost, sends nothing until then, and rejoins with epoch 0 owning nothing.
func TestStateFenced(t *testing.T) {
	for _, cause := range []error{kerr.FencedMemberEpoch, kerr.UnknownMemberID} {
		t.Run(cause.(*kerr.Error).Name, func(t *testing.T) {
			s := testState(t, Config{})
			mustAnswer(t, s, answer(6, map[[16]byte][]int32{idA: {0, 1}}))
			drain(t, s, names)
			if what := s.failed(fmt.Errorf("ConsumerGroupHeartbeat: %w", cause), false); what != rejoin {
				t.Fatalf("%v: %v, want rejoin", cause, what)
			}
			if req := s.request(); req != nil {
				t.Errorf("a heartbeat before the loss was reported: %+v", req)
			}
			if calls := drain(t, s, names); !slices.Equal(calls, []string{"lose:[a/0 a/1]"}) {
				t.Errorf("steps %v", calls)
			}
			req := s.request()
			if req == nil || req.MemberEpoch != 0 || len(req.Topics) != 0 || req.SubscribedTopicNames == nil || req.MemberID != "member-1" {
				t.Errorf("rejoin: %+v", req)
			}
			if !s.first {
				t.Error("the rejoin is not the first assignment")
			}
			mustAnswer(t, s, answer(9, map[[16]byte][]int32{idA: {1}}))
			if calls := drain(t, s, names); !slices.Equal(calls, []string{"assign:[a/1]"}) {
				t.Errorf("after the rejoin: %v", calls)
			}
		})
	}
}

func TestStateFailures(t *testing.T) {
	for _, c := range []struct {
		err   error
		moved bool
		epoch int32
		want  failure
	}{
		{kerr.NotCoordinator, true, 3, retrySoon},
		{kerr.CoordinatorLoadInProgress, false, 3, retrySoon},
		{fmt.Errorf("x: %w", kerr.ErrRequestTimeout), true, 3, retrySoon},
		{kerr.UnreleasedInstanceID, false, 0, retryJoining},
		{kerr.UnreleasedInstanceID, false, 3, stop},
		{kerr.GroupAuthorizationFailed, false, 3, stop},
		{kerr.UnsupportedAssignor, false, 0, stop},
		{kerr.InvalidRegularExpression, false, 0, stop},
		{kerr.GroupMaxSizeReached, false, 0, stop},
		{kerr.InvalidRequest, false, 3, stop},
		{errUnsupported("no"), false, 0, stop},
		{kerr.ErrClosed, false, 3, stop},
	} {
		s := testState(t, Config{})
		if c.epoch > 0 {
			mustAnswer(t, s, answer(c.epoch, map[[16]byte][]int32{idA: {0}}))
			drain(t, s, names)
		}
		if got := s.failed(c.err, c.moved); got != c.want {
			t.Errorf("%v at epoch %d: %v, want %v", c.err, c.epoch, got, c.want)
		}
		if c.want == stop {
			st := s.next(names)
			if st.kind != stepFail || !errors.Is(st.err, c.err) || (c.epoch > 0 && len(st.parts) != 1) {
				t.Errorf("%v: step %v %v %v", c.err, st.kind, st.err, st.parts)
			}
			if s.request() != nil {
				t.Errorf("%v: a heartbeat after a fatal error", c.err)
			}
		}
	}
}

func TestStateBadAnswers(t *testing.T) {
	s := testState(t, Config{})
	mustAnswer(t, s, answer(2, map[[16]byte][]int32{idA: {0}}))
	drain(t, s, names)
	for _, r := range []*kmsg.ConsumerGroupHeartbeatResponse{answer(-1, nil), answer(0, map[[16]byte][]int32{})} {
		if _, err := s.answered(r); !errors.Is(err, kerr.ErrCorruptResponse) {
			t.Errorf("epoch %d: %v", r.MemberEpoch, err)
		}
	}
	other := answer(3, nil)
	other.MemberID = kmsg.StringPtr("someone-else")
	if _, err := s.answered(other); !errors.Is(err, kerr.ErrCorruptResponse) {
		t.Errorf("another member id: %v", err)
	}
	if s.epoch != 2 {
		t.Errorf("a refused answer changed the epoch to %d", s.epoch)
	}
	// Duplicates and negative partitions are dropped.
	mustAnswer(t, s, answer(3, map[[16]byte][]int32{idA: {2, 0, 2, -1, 0}}))
	if calls := drain(t, s, names); !slices.Equal(calls, []string{"assign:[a/2]"}) {
		t.Errorf("steps %v", calls)
	}
}

func TestStateLeave(t *testing.T) {
	if req := testState(t, Config{}).leave(); req.MemberEpoch != -1 || req.InstanceID != nil || req.MemberID != "member-1" {
		t.Errorf("dynamic leave: %+v", req)
	}
	if req := testState(t, Config{InstanceID: "i"}).leave(); req.MemberEpoch != -2 || req.InstanceID == nil {
		t.Errorf("static leave: %+v", req)
	}
}

// TestStateConverges drives the state machine through random assignments:
// whatever the sequence, each drain of its steps revokes before it assigns,
// never reports a partition given up before its revocation ended, and ends
// owning exactly the (resolvable) assignment.
func TestStateConverges(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := testState(t, Config{})
	for round := range 500 {
		target := map[[16]byte][]int32{}
		for _, id := range [][16]byte{idA, idB, idC} {
			for p := range int32(6) {
				if rng.IntN(3) == 0 {
					target[id] = append(target[id], p)
				}
			}
		}
		if rng.IntN(5) == 0 {
			// Fenced: no heartbeat goes out (so no answer comes)
			// before the loss is reported.
			if what := s.failed(kerr.FencedMemberEpoch, false); what == rejoin {
				if calls := drain(t, s, names); len(calls) != 1 || s.request() == nil || len(s.request().Topics) != 0 {
					t.Fatalf("round %d: fenced: %v", round, calls)
				}
			}
			continue
		}
		mustAnswer(t, s, answer(int32(round+1), target))
		assigned := false
		for range 10 {
			st := s.next(names)
			if st.kind == stepNone {
				break
			}
			if st.kind == stepRevoke && assigned {
				t.Fatalf("round %d: a revocation after an assignment", round)
			}
			assigned = assigned || st.kind == stepAssign
			before := reported(s.request())
			s.begin(st)
			if st.kind == stepRevoke && !slices.Equal(reported(s.request()), before) {
				t.Fatalf("round %d: revoked partitions left the heartbeat before Revoked returned", round)
			}
			s.end(st)
		}
		var want []string
		for id, ps := range target {
			if id == idC {
				continue // never resolved
			}
			for _, p := range ps {
				want = append(want, fmt.Sprintf("%d/%d", id[0], p))
			}
		}
		slices.Sort(want)
		if got := reported(s.request()); !slices.Equal(got, want) {
			t.Fatalf("round %d: owns %v, assigned %v", round, got, want)
		}
	}
}
