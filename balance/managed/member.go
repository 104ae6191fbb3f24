package managed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"regexp"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/balance/internal/membership"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/offsets"
)

// Member is a running membership of a Kafka-managed consumer group. It
// implements balance.Member.
//
// Its methods are safe for concurrent use. The accessors (ID, Assigned,
// Generation, Rebalances, Err) never block; Close blocks until the member
// has revoked its partitions, left and stopped.
type Member struct {
	cl          *cluster.Cluster
	cfg         Config
	h           balance.Handler
	log         *slog.Logger
	cooperative bool
	instanceID  *string // nil for dynamic members

	// pattern is Subscription.Pattern anchored at both ends (a topic's
	// whole name must match, as in the Java client); nil without one.
	// untrack ends the cluster-wide metadata refresh (cluster.TrackAll)
	// that a pattern needs to see new topics; nil without a pattern.
	pattern *regexp.Regexp
	untrack func()

	// The member's own lanes (connections) to the coordinator: one for
	// JoinGroup and SyncGroup, which the broker holds during a rebalance,
	// one for Heartbeat and LeaveGroup. They are per member, not the
	// cluster's shared "group" lane: two members of one group in one
	// process would otherwise deadlock, the second's JoinGroup queued
	// behind the first's, which waits for the second.
	joinLane, beatLane string

	coord       *coordinator
	laneBrokers membership.LaneBrokers

	beat *heartbeater

	// Published for any goroutine.
	memberID   atomic.Pointer[string]
	generation atomic.Pointer[offsets.Generation]
	assigned   atomic.Pointer[[]TopicPartition]
	rebalances atomic.Int64
	leads      atomic.Bool // led the last rebalance, for tests and logs

	// s is the membership loop's own state: only its goroutine touches it.
	s session

	// ctx bounds the loop's network waits; Close cancels it at once. hctx
	// is what Handler calls get; it ends only when Close's own ctx does,
	// so that a Revoked in progress can finish its commit.
	ctx     context.Context
	cancel  context.CancelFunc
	hctx    context.Context
	hcancel context.CancelFunc

	// life is Close, Done and Err; Joined once the first assignment is
	// applied, Exit when the loop and the heartbeater have stopped.
	life      *membership.State
	abandoned atomic.Bool // tests: stop without revoking or leaving, like a crash
}

// session is the membership loop's state.
type session struct {
	memberID string
	genID    int32            // generation of owned, -1 before the first
	owned    []TopicPartition // sorted
	leader   bool
	// topics is the subscription sent in the last JoinGroup: the listed
	// topics and those matching the pattern then, sorted. A change
	// means a rejoin (see metadataChanged).
	topics []string
	// watch is the partition count of each topic at the last
	// assignment (0: the topic did not exist); a change means a rejoin.
	watch map[string]int
	// matches remembers whether the pattern matches a topic name (see
	// subscribedTopics); nil without a pattern.
	matches map[string]bool
	// rejoin asks for another rebalance right after this one, and why.
	rejoin string
}

var _ balance.Member = (*Member)(nil)

// Join makes a new member of cfg.Group reading cfg.Subscription. It finds the
// group's coordinator, joins, syncs, and returns once the first assignment
// is applied (the Handler's Assigned has returned, possibly with no
// partitions: the group may have more members than the topics have
// partitions, and with the cooperative protocol a newcomer gets its share
// one rebalance later).
//
// It starts two goroutines, stopped by Close: the membership loop, which
// rebalances and calls the Handler, and the heartbeater. With a pattern,
// the member also makes the cluster's periodic metadata refresh cover
// every topic (cluster.TrackAll) until it stops. ctx bounds the first join
// only.
//
// Errors: invalid configuration (kerr.ErrInvalidConfig, naming the field;
// a subscription with no topic and no pattern, or an illegal topic name),
// a nil cluster or handler (kerr.ErrInvalidConfig), broker refusals that
// retrying cannot fix (kerr.InvalidSessionTimeout when SessionTimeout is
// outside what the broker allows, kerr.InconsistentGroupProtocol when the
// group's members use another strategy, kerr.FencedInstanceID,
// kerr.GroupAuthorizationFailed, kerr.GroupMaxSizeReached), and ctx's
// error (with the last retried error) when the coordinator cannot be
// reached in time.
func Join(ctx context.Context, c offsets.Cluster, cfg Config, h balance.Handler) (*Member, error) {
	cl, cfg, err := membership.Start(c, h, cfg, Config.withDefaults)
	if err != nil {
		return nil, err
	}
	m, err := newMember(cl, cfg, h)
	if err != nil {
		return nil, err
	}
	// Load (and track) the topics' metadata: the leader needs the
	// partition counts, a pattern the topic names, and the periodic
	// refresh is how changes are noticed. A failure here is not final:
	// the leader asks again, and a pattern is matched at every refresh.
	if m.pattern != nil {
		cl.Track(cfg.Subscription.Topics...)
		err = cl.RefreshAll(ctx)
	} else {
		err = cl.RefreshTopics(ctx, cfg.Subscription.Topics...)
	}
	if err != nil {
		m.log.Debug("managed: topic metadata", "err", err)
	}
	m.beat.start()
	go m.run()
	if err := m.life.AwaitJoin(ctx, fmt.Sprintf("managed: join group %q", cfg.Group), cfg.SessionTimeout); err != nil {
		return nil, err
	}
	return m, nil
}

func newMember(cl *cluster.Cluster, cfg Config, h balance.Handler) (*Member, error) {
	coord, err := newCoordinator(cl, cfg.Group)
	if err != nil {
		return nil, err
	}
	log := membership.Logger(cfg.Logger, cl, cfg.Group, cfg.Subscription, cfg.ClientID)
	nonce := fmt.Sprintf("%s/%016x", cfg.Group, rand.Uint64())
	m := &Member{
		cl:          cl,
		cfg:         cfg,
		h:           h,
		log:         log,
		cooperative: cfg.Strategy == balance.CooperativeSticky,
		joinLane:    "managed-join/" + nonce,
		beatLane:    "managed-beat/" + nonce,
		coord:       coord,
		s:           session{genID: -1},
	}
	if cfg.InstanceID != "" {
		id := cfg.InstanceID
		m.instanceID = &id
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.hctx, m.hcancel = context.WithCancel(context.Background())
	m.life = membership.New(m.cancel, m.hcancel)
	m.beat = newHeartbeater(m)
	m.memberID.Store(new(string))
	m.generation.Store(&offsets.Generation{ID: -1})
	m.assigned.Store(new([]TopicPartition))
	if p := cfg.Subscription.Pattern; p != nil {
		if m.pattern, err = balance.FullMatch(p); err != nil { // (withDefaults checked it)
			return nil, kerr.Config("Config.Subscription.Pattern", "%v", err)
		}
		m.s.matches = map[string]bool{}
		m.untrack = cl.TrackAll()
	}
	return m, nil
}

// ID is the member id the coordinator gave, "" before the first JoinGroup
// answer.
func (m *Member) ID() string { return *m.memberID.Load() }

// Assigned lists the partitions the member owns now, sorted by topic, then
// partition. Partitions join the list just before the Handler's Assigned
// is called and leave it after its Revoked (or Lost) returns.
func (m *Member) Assigned() []TopicPartition { return slices.Clone(*m.assigned.Load()) }

// Generation is what the member's commits must carry: the generation id,
// member id and instance id of the last completed rebalance. It changes
// when a new assignment is applied, before the Handler hears of it; during
// an eager rebalance's Revoked it is still the previous generation, which
// the coordinator accepts until the rebalance completes.
func (m *Member) Generation() offsets.Generation { return *m.generation.Load() }

// Rebalances counts the rebalances this member completed (SyncGroup
// answered and the assignment applied).
func (m *Member) Rebalances() int { return int(m.rebalances.Load()) }

// Done is closed when the member has stopped: after Close, or by itself
// after an error retrying cannot fix (see Err).
func (m *Member) Done() <-chan struct{} { return m.life.Done() }

// Err is why the member stopped by itself — kerr.FencedInstanceID (another
// process took its instance id), kerr.ErrClosed (the cluster closed), or
// another refusal that retrying cannot fix — or nil while it runs or after
// a Close. Its partitions were reported lost to the Handler.
func (m *Member) Err() error { return m.life.Err() }

// Close ends the membership: the Handler's Revoked gets every partition
// the member owns (so it can commit), LeaveGroup tells the coordinator to
// rebalance at once — except for a static member (InstanceID), which the
// group keeps until SessionTimeout so that a restart gets its partitions
// back — and both goroutines stop. It waits for all that or for ctx; a
// Handler call in progress gets a context that ends with ctx.
//
// Close is idempotent; every call waits for the same shutdown. It returns
// ctx's error if ctx ends first, or what the LeaveGroup ran into. Do not
// call it from a Handler method: the shutdown waits for that method to
// return, so such a Close can only end with ctx.
func (m *Member) Close(ctx context.Context) error { return m.life.Close(ctx) }

// exit runs last in the loop's goroutine: it stops the heartbeater, closes
// the member's connections and marks the member done.
func (m *Member) exit() {
	m.beat.stop()
	m.closeLanes()
	m.hcancel()
	if m.untrack != nil {
		m.untrack()
	}
	m.life.Exit()
}

// finish is the loop's part of Close: revoke everything (the Handler
// commits), then leave the group.
func (m *Member) finish() {
	if m.abandoned.Load() {
		return // a simulated crash: say nothing to anyone
	}
	ctx := m.life.CloseCtx()
	if len(m.s.owned) > 0 {
		// Heartbeats go on meanwhile, so the commits in Revoked still
		// belong to a live generation.
		m.revoke(m.s.owned, "closing")
	}
	m.beat.pause()
	if m.s.memberID == "" || m.instanceID != nil {
		return
	}
	// Leaving after SessionTimeout is pointless (the group has dropped us
	// by then), so bound an unbounded ctx by it.
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, m.cfg.SessionTimeout)
		defer cancel()
	}
	if err := m.leaveGroup(ctx, m.s.memberID); err != nil {
		m.life.SetCloseErr(fmt.Errorf("managed: leave group %q: %w", m.cfg.Group, err))
		m.log.Warn("managed: leaving the group failed", "err", err)
		return
	}
	m.log.Info("managed: left the group", "member", m.s.memberID)
}

// fail stops the member after an error retrying cannot fix: its partitions
// are lost to the Handler (another member may have them already).
func (m *Member) fail(err error) {
	m.life.Fail(fmt.Errorf("managed: group %q: %w", m.cfg.Group, err))
	m.log.Error("managed: the member stops", "err", err)
	m.lose(err)
}

// revoke calls the Handler's Revoked, then drops the partitions.
func (m *Member) revoke(ps []TopicPartition, why string) {
	ps = slices.Clone(ps)
	m.log.Info("managed: revoking", "partitions", ps, "reason", why, "generation", m.s.genID)
	if err := m.h.Revoked(m.hctx, ps); err != nil {
		m.log.Warn("managed: Handler.Revoked failed", "partitions", ps, "err", err)
	}
	_, kept := balance.Diff(ps, m.s.owned)
	m.setOwned(kept)
}

// lose tells the Handler that the partitions are gone without a chance to
// commit, and forgets them.
func (m *Member) lose(why error) {
	if len(m.s.owned) == 0 {
		return
	}
	ps := slices.Clone(m.s.owned)
	m.log.Warn("managed: partitions lost", "partitions", ps, "reason", why)
	m.setOwned(nil)
	if err := m.h.Lost(m.hctx, ps); err != nil {
		m.log.Warn("managed: Handler.Lost failed", "partitions", ps, "err", err)
	}
}

// assign records the new partitions, then calls the Handler's Assigned
// with them (with none, too: the Handler learns that the rebalance ended).
func (m *Member) assign(added, all []TopicPartition) {
	m.setOwned(all)
	if err := m.h.Assigned(m.hctx, slices.Clone(added)); err != nil {
		m.log.Warn("managed: Handler.Assigned failed", "partitions", added, "err", err)
	}
}

func (m *Member) setOwned(ps []TopicPartition) {
	m.s.owned = ps
	c := slices.Clone(ps)
	m.assigned.Store(&c)
}

func (m *Member) setMemberID(id string) {
	m.s.memberID = id
	m.memberID.Store(&id)
}

func (m *Member) setGeneration(gen int32) {
	m.s.genID = gen
	m.generation.Store(&offsets.Generation{ID: gen, MemberID: m.s.memberID, InstanceID: m.instanceID})
}

// fatal reports whether err is one that rejoining cannot fix.
func fatal(cl *cluster.Cluster, err error) bool {
	switch {
	case errors.Is(err, kerr.FencedInstanceID),
		errors.Is(err, kerr.GroupAuthorizationFailed),
		errors.Is(err, kerr.InvalidSessionTimeout),
		errors.Is(err, kerr.InconsistentGroupProtocol),
		errors.Is(err, kerr.GroupMaxSizeReached),
		errors.Is(err, kerr.InvalidGroupID),
		errors.Is(err, kerr.UnsupportedVersion),
		errors.Is(err, kerr.ErrUnsupportedVersion),
		errors.Is(err, kerr.ErrInvalidConfig),
		errors.Is(err, kerr.ErrClosed) && cl.IsClosing():
		return true
	}
	return false
}

// sleep waits before retry number attempt, or until Close.
func (m *Member) sleep(attempt int) error {
	return m.cl.Sleep(m.ctx, m.cl.Backoff(attempt))
}

// since formats a duration for logs.
func since(t time.Time) string { return time.Since(t).Round(time.Millisecond).String() }
