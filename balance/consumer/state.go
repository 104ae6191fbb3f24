package consumer

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/offsets"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file is the member's state machine, without I/O: what the next
// heartbeat says, what an answer or a failure changes, and which Handler
// call reconciles the member with the coordinator's assignment. Member
// drives it from its two goroutines under Member.mu; the unit tests drive
// it directly.

// part is one partition of an assignment: the coordinator names topics by
// id, the Handler by name. A topic deleted and created again keeps its name
// and gets a new id, so parts compare by id.
type part struct {
	id [16]byte
	tp TopicPartition
}

func compareParts(a, b part) int {
	if c := a.tp.Compare(b.tp); c != 0 {
		return c
	}
	return slices.Compare(a.id[:], b.id[:])
}

func partitionsOf(ps []part) []TopicPartition {
	out := make([]TopicPartition, len(ps))
	for i, p := range ps {
		out[i] = p.tp
	}
	return out
}

// stepKind is what the membership loop must do next.
type stepKind int

const (
	stepNone   stepKind = iota // reconciled: wait for news
	stepRevoke                 // Handler.Revoked, then acknowledge the smaller assignment
	stepAssign                 // Handler.Assigned, then acknowledge the larger one
	stepLose                   // Handler.Lost, then rejoin with epoch 0
	stepFail                   // Handler.Lost, then stop: an error rejoining cannot fix
)

func (k stepKind) String() string {
	return [...]string{"none", "revoke", "assign", "lose", "fail"}[k]
}

// step is one Handler call to make, and the partitions it concerns.
type step struct {
	kind  stepKind
	parts []part
	err   error // why, for stepLose and stepFail
}

// state is what a member knows of its membership. Every method is called
// with Member.mu held (or from a test's one goroutine).
type state struct {
	group            string
	memberID         string
	instanceID       *string
	topics           []string // the listed topics, sorted; nil with a pattern alone
	regex            *string  // the pattern's source, or nil
	assignor         *string  // nil: the broker's default
	rebalanceTimeout int32    // milliseconds

	// epoch is the member epoch the coordinator gave last; 0 while
	// (re)joining.
	epoch int32
	// owned is what the member owns, sorted: partitions join it just
	// before Handler.Assigned and leave it after Handler.Revoked returns,
	// so a heartbeat never reports a partition given up before its
	// offsets were committed. Heartbeats report it in full, which is how
	// the coordinator learns that a revocation is done.
	owned []part
	// target is the coordinator's last assignment, by topic id, sorted
	// and without duplicates; nil until one arrives after a (re)join.
	target map[[16]byte][]int32
	// names holds the names of the topic ids of owned and target that
	// were resolved; resolved more as metadata arrives.
	names map[[16]byte]string
	// fenced is set when the coordinator no longer counts the owned
	// partitions as this member's (UNKNOWN_MEMBER_ID,
	// FENCED_MEMBER_EPOCH): the Handler must hear of the loss before the
	// member rejoins, so no heartbeat goes out meanwhile.
	fenced error
	// fatal is an error no retry can fix: the member reports its
	// partitions lost and stops.
	fatal error
	// first is set once the Handler got its first Assigned.
	first bool
	// synced says the coordinator has the subscription fields, which a
	// heartbeat carries only when they may have been lost: at a (re)join
	// and after a heartbeat that got no answer.
	synced bool
	// interval is the heartbeat interval the coordinator dictates.
	interval time.Duration
	// unresolved says the last call of next left topic ids of the
	// target out, for want of their names.
	unresolved bool
	// reconciled counts completed Handler steps (Revoked, Assigned).
	reconciled int
}

// defaultInterval is the heartbeat interval before the coordinator has
// said its own (Kafka's group.consumer.heartbeat.interval.ms default).
const defaultInterval = 5 * time.Second

func newState(cfg Config, memberID string) *state {
	s := &state{
		group:            cfg.Group,
		memberID:         memberID,
		rebalanceTimeout: int32(cfg.RebalanceTimeout.Milliseconds()),
		names:            map[[16]byte]string{},
		interval:         defaultInterval,
	}
	if cfg.InstanceID != "" {
		id := cfg.InstanceID
		s.instanceID = &id
	}
	if len(cfg.Subscription.Topics) > 0 {
		s.topics = slices.Clone(cfg.Subscription.Topics)
	}
	if p := cfg.Subscription.Pattern; p != nil {
		src := p.String()
		s.regex = &src
	}
	if cfg.ServerAssignor != "" {
		a := string(cfg.ServerAssignor)
		s.assignor = &a
	}
	return s
}

// generation is what commits carry: the member epoch as the generation
// (OffsetCommit v9+ reads the field as GenerationIDOrMemberEpoch).
func (s *state) generation() offsets.Generation {
	return offsets.Generation{ID: s.epoch, MemberID: s.memberID, InstanceID: s.instanceID}
}

// request builds the next heartbeat, or returns nil when none may go out:
// lost partitions not reported yet, or a fatal error.
func (s *state) request() *kmsg.ConsumerGroupHeartbeatRequest {
	if s.fenced != nil || s.fatal != nil {
		return nil
	}
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Group = s.group
	req.MemberID = s.memberID
	req.MemberEpoch = s.epoch
	req.InstanceID = s.instanceID
	if s.epoch == 0 || !s.synced {
		req.RebalanceTimeoutMillis = s.rebalanceTimeout
		req.SubscribedTopicNames = s.topics
		if req.SubscribedTopicNames == nil && s.regex == nil {
			req.SubscribedTopicNames = []string{} // (Config.Subscription.Check refuses this)
		}
		req.SubscribedTopicRegex = s.regex
		req.ServerAssignor = s.assignor
	}
	// The owned partitions, always and in full (an empty list, not null:
	// null would mean "unchanged"). It is how a revocation is
	// acknowledged, and it lets the coordinator accept a heartbeat whose
	// answer was lost (its epoch one behind, its partitions a subset).
	req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	byID := map[[16]byte]int{}
	for _, p := range s.owned {
		i, ok := byID[p.id]
		if !ok {
			i = len(req.Topics)
			byID[p.id] = i
			t := kmsg.NewConsumerGroupHeartbeatRequestTopic()
			t.TopicID = p.id
			req.Topics = append(req.Topics, t)
		}
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, p.tp.Partition)
	}
	for i := range req.Topics {
		slices.Sort(req.Topics[i].Partitions)
	}
	return req
}

// answered takes in a heartbeat's successful answer. It reports whether
// the membership loop has something new to look at (a new assignment).
func (s *state) answered(resp *kmsg.ConsumerGroupHeartbeatResponse) (news bool, err error) {
	if resp.MemberEpoch <= 0 {
		// Only a leave is answered with a negative epoch, and a join
		// never with 0; storing it would turn the next heartbeat into
		// a leave or a rejoin. Ignore the answer (as the Java client
		// does) and say it.
		return false, fmt.Errorf("%w: ConsumerGroupHeartbeat answered member epoch %d", kerr.ErrCorruptResponse, resp.MemberEpoch)
	}
	if resp.MemberID != nil && *resp.MemberID != s.memberID {
		// v1 echoes the id the member chose; a coordinator that
		// assigned another would not know this member by its own.
		return false, fmt.Errorf("%w: ConsumerGroupHeartbeat answered member id %q, this member is %q", kerr.ErrCorruptResponse, *resp.MemberID, s.memberID)
	}
	s.epoch = resp.MemberEpoch
	s.synced = true
	if resp.HeartbeatIntervalMillis > 0 {
		s.interval = time.Duration(resp.HeartbeatIntervalMillis) * time.Millisecond
	}
	if resp.Assignment == nil {
		return false, nil // unchanged
	}
	target := make(map[[16]byte][]int32, len(resp.Assignment.Topics))
	for _, t := range resp.Assignment.Topics {
		ps := slices.Clone(t.Partitions)
		ps = slices.DeleteFunc(ps, func(p int32) bool { return p < 0 })
		slices.Sort(ps)
		ps = slices.Compact(ps)
		if len(ps) > 0 {
			target[t.TopicID] = append(target[t.TopicID], ps...)
		}
	}
	for id, ps := range target {
		slices.Sort(ps)
		target[id] = slices.Compact(ps)
	}
	s.target = target
	// Forget the names of topics neither owned nor assigned any more.
	for id := range s.names {
		if _, ok := target[id]; !ok && !slices.ContainsFunc(s.owned, func(p part) bool { return p.id == id }) {
			delete(s.names, id)
		}
	}
	return true, nil
}

// failure is what a failed heartbeat calls for.
type failure int

const (
	retrySoon    failure = iota // the coordinator moved or is loading, the connection dropped: retry with backoff
	rejoin                      // the partitions are lost: the loop tells the Handler, then the member rejoins
	stop                        // fatal: the member reports its partitions lost and stops
	retryJoining                // a static member's instance id is still held: retry the join with backoff
)

// failed takes in a heartbeat that failed with err and says what to do.
// moved says whether err means the coordinator moved or may have
// (offsets.CoordinatorMoved).
func (s *state) failed(err error, moved bool) failure {
	switch {
	case errors.Is(err, kerr.UnknownMemberID),
		errors.Is(err, kerr.FencedMemberEpoch),
		errors.Is(err, kerr.StaleMemberEpoch):
		if s.epoch == 0 && len(s.owned) == 0 {
			// (A join refused so: nothing to lose, join again.)
			return retrySoon
		}
		s.fenced = err
		return rejoin
	case errors.Is(err, kerr.UnreleasedInstanceID) && s.epoch == 0:
		return retryJoining
	case moved,
		errors.Is(err, kerr.CoordinatorLoadInProgress),
		errors.Is(err, kerr.ErrCorruptResponse),
		!errors.Is(err, kerr.ErrUnsupported) && !errors.Is(err, kerr.ErrInvalidConfig) && kerr.IsRetriable(err):
		// The request may have been lost: send the subscription again
		// with the next one.
		s.synced = false
		return retrySoon
	}
	s.fatal = err
	return stop
}

// next says which Handler call reconciles the member with its target, if
// any. resolve gives a topic id's name from the metadata, if it has it;
// ids it cannot resolve are left out for now (s.unresolved says so) and
// neither owned nor acknowledged, so the coordinator keeps them assigned
// and the member takes them once the metadata names them.
//
// Revocations come first: the coordinator withholds a partition from its
// new owner until the old one acknowledged giving it up, so a member
// giving up some partitions and getting others is told to revoke first,
// acknowledges, and then gets the others.
func (s *state) next(resolve func([16]byte) (string, bool)) step {
	switch {
	case s.fatal != nil:
		return step{kind: stepFail, parts: slices.Clone(s.owned), err: s.fatal}
	case s.fenced != nil:
		return step{kind: stepLose, parts: slices.Clone(s.owned), err: s.fenced}
	case s.target == nil:
		return step{}
	}
	var revoke []part
	for _, p := range s.owned {
		if _, ok := slices.BinarySearch(s.target[p.id], p.tp.Partition); !ok {
			revoke = append(revoke, p)
		}
	}
	if len(revoke) > 0 {
		return step{kind: stepRevoke, parts: revoke}
	}
	s.unresolved = false
	var add []part
	for id, ps := range s.target {
		name, ok := s.names[id]
		if !ok {
			if name, ok = resolve(id); !ok {
				s.unresolved = true
				continue
			}
			s.names[id] = name
		}
		for _, n := range ps {
			p := part{id: id, tp: TopicPartition{Topic: name, Partition: n}}
			if !slices.Contains(s.owned, p) {
				add = append(add, p)
			}
		}
	}
	if len(add) > 0 || !s.first {
		slices.SortFunc(add, compareParts)
		return step{kind: stepAssign, parts: add}
	}
	return step{}
}

// begin applies the part of st that comes before the Handler call: new
// partitions are owned before Assigned is called.
func (s *state) begin(st step) {
	if st.kind == stepAssign {
		s.owned = append(s.owned, st.parts...)
		slices.SortFunc(s.owned, compareParts)
	}
}

// end applies the part of st that comes after the Handler call.
func (s *state) end(st step) {
	switch st.kind {
	case stepRevoke:
		s.owned = slices.DeleteFunc(s.owned, func(p part) bool { return slices.Contains(st.parts, p) })
		s.reconciled++
	case stepAssign:
		s.first = true
		s.reconciled++
	case stepLose:
		// Rejoin as the same member (the id is the member's for its
		// lifetime, KIP-1082) with epoch 0 and nothing owned.
		s.owned = nil
		s.target = nil
		s.fenced = nil
		s.epoch = 0
		s.synced = false
	case stepFail:
		s.owned = nil
	}
}

// leave is the heartbeat that leaves the group: epoch -1, or -2 for a
// static member, which the coordinator keeps (partitions and all) for its
// return until the session times out.
func (s *state) leave() *kmsg.ConsumerGroupHeartbeatRequest {
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Group = s.group
	req.MemberID = s.memberID
	req.InstanceID = s.instanceID
	req.MemberEpoch = -1
	if s.instanceID != nil {
		req.MemberEpoch = -2
	}
	return req
}
