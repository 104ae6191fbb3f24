package share

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/balance/internal/membership"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/offsets"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TopicPartition names one partition of one topic.
type TopicPartition = balance.TopicPartition

// defaultInterval is the heartbeat interval until the coordinator names
// its own (Kafka's group.share.heartbeat.interval.ms default).
const defaultInterval = 5 * time.Second

// joinPoll is the step by which the wait between heartbeats grows back to
// the interval while a member that joined has no assignment yet.
const joinPoll = 100 * time.Millisecond

// leaveTimeout bounds the leaving heartbeat of a Close whose context has
// no deadline.
const leaveTimeout = 10 * time.Second

// Member is a running membership of a share group. It implements
// balance.Member.
//
// Its methods are safe for concurrent use. The accessors (ID, Assigned,
// Generation, Rebalances, Err) never block; Close blocks until the member
// has revoked its partitions, left and stopped.
type Member struct {
	cl    *cluster.Cluster
	cfg   Config
	h     balance.Handler
	log   *slog.Logger
	coord *cluster.Coordinator

	// lane is the member's own connection to the coordinator, so that
	// heartbeats never queue behind other traffic of the client.
	lane        string
	laneBrokers membership.LaneBrokers

	// Published for any goroutine.
	epoch      atomic.Int32
	assigned   atomic.Pointer[[]TopicPartition]
	rebalances atomic.Int64

	// The loop's own state: only its goroutine touches it.
	owned     []TopicPartition // sorted
	subscribe bool             // send the subscription with the next heartbeat
	interval  time.Duration    // as the coordinator dictates
	target    []kmsg.ShareGroupHeartbeatResponseAssignmentTopicPartition
	pending   bool // target names topic ids the metadata does not know yet

	// ctx bounds the loop's network waits; Close cancels it at once. hctx
	// is what Handler calls get; it ends only when Close's own ctx does.
	ctx     context.Context
	cancel  context.CancelFunc
	hctx    context.Context
	hcancel context.CancelFunc

	// life is Close, Done and Err; Joined after the first heartbeat
	// answered, Exit when the loop has stopped.
	life      *membership.State
	abandoned atomic.Bool // tests: stop without revoking or leaving, like a crash
}

var _ balance.Member = (*Member)(nil)

// Join makes cfg.MemberID a member of share group cfg.Group, reading
// cfg.Topics. It checks that the group's coordinator speaks share groups
// (an error matching kerr.ErrUnsupported if not: Kafka before 4.1, or
// share groups disabled), sets cfg.GroupConfig, sends the first heartbeat
// and returns once it is answered and the assignment it carries, if any,
// is applied (the Handler's Assigned has returned).
//
// It starts one goroutine, stopped by Close, which heartbeats at the
// interval the coordinator dictates and calls the Handler when the
// assignment changes. ctx bounds the join only.
//
// Errors: invalid configuration (kerr.ErrInvalidConfig, naming the
// field), kerr.ErrUnsupported, refusals retrying cannot fix
// (kerr.GroupAuthorizationFailed, kerr.TopicAuthorizationFailed,
// kerr.GroupMaxSizeReached, a refused GroupConfig), and ctx's error (with
// the last retried error) when the coordinator cannot be reached in time.
func Join(ctx context.Context, c offsets.Cluster, cfg Config, h balance.Handler) (*Member, error) {
	cl, cfg, err := membership.Start(c, h, cfg, Config.withDefaults)
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = cl.Logger()
	}
	m := &Member{
		cl:        cl,
		cfg:       cfg,
		h:         h,
		log:       log.With("group", cfg.Group, "member", cfg.MemberID),
		coord:     cluster.NewCoordinator(cl, cluster.GroupCoordinator, cfg.Group),
		lane:      "share-group/" + cfg.MemberID,
		subscribe: true,
		interval:  defaultInterval,
	}
	m.assigned.Store(new([]TopicPartition))
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.hctx, m.hcancel = context.WithCancel(context.Background())
	m.life = membership.New(m.cancel, m.hcancel)
	// The assignment names topics by id: load (and track) the subscribed
	// topics' metadata to map them. A failure is not final; the loop
	// refreshes again when an id is unknown.
	if err := cl.RefreshTopics(ctx, cfg.Topics...); err != nil {
		m.log.Debug("share: topic metadata", "err", err)
	}
	if err := m.prepare(ctx); err != nil {
		m.cancel()
		m.hcancel()
		m.closeLanes()
		return nil, err
	}
	go m.run()
	if err := m.life.AwaitJoin(ctx, fmt.Sprintf("share: join group %q", cfg.Group), leaveTimeout); err != nil {
		return nil, err
	}
	return m, nil
}

// prepare checks that the cluster speaks share groups and sets the
// group's configs, before anything else: a broker without share groups
// answers both requests with less telling errors.
func (m *Member) prepare(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		err := m.checkSupported(ctx)
		if err == nil {
			break
		}
		if errors.Is(err, kerr.ErrUnsupported) {
			return fmt.Errorf("share: group %q: %w", m.cfg.Group, err)
		}
		if ctx.Err() != nil || !retriable(err) {
			return fmt.Errorf("share: group %q: ask a broker for its versions: %w", m.cfg.Group, err)
		}
		m.cl.TriggerRefresh() // a broker that left: the next one, maybe
		if serr := m.cl.Sleep(ctx, m.cl.Backoff(attempt)); serr != nil {
			return fmt.Errorf("share: group %q: ask a broker for its versions: %w (last error: %w)", m.cfg.Group, serr, err)
		}
	}
	if len(m.cfg.GroupConfig) > 0 {
		return alterGroupConfig(ctx, m.cl, m.cfg.Group, m.cfg.GroupConfig)
	}
	return nil
}

// checkSupported checks what a broker of the cluster announced
// (Supported), on the member's lane: the broker the metadata lists first,
// so that a cluster without share groups is told apart before the
// coordinator lookup, which such a cluster may answer in other ways.
// (Every broker of a cluster runs the same release, but in the middle of
// a rolling upgrade; the coordinator's own versions are checked at each
// heartbeat.)
func (m *Member) checkSupported(ctx context.Context) error {
	snap := m.cl.Snapshot()
	ids := slices.Sorted(maps.Keys(snap.Brokers))
	if len(ids) == 0 {
		return fmt.Errorf("%w: the metadata lists no broker", kerr.BrokerNotAvailable)
	}
	b, err := m.cl.Broker(ids[0])
	if err != nil {
		return err
	}
	m.laneBrokers.Add(b)
	c, err := b.Conn(ctx, m.lane)
	if err != nil {
		return err
	}
	return supported(c)
}

// ID is the member id (Config.MemberID): a share group member names itself.
func (m *Member) ID() string { return m.cfg.MemberID }

// Epoch is the member epoch the coordinator gave last, 0 before the first
// heartbeat answer (and after the member was fenced, until it rejoins).
func (m *Member) Epoch() int32 { return m.epoch.Load() }

// Assigned lists the partitions the member reads now, sorted by topic, then
// partition. Partitions join the list just before the Handler's Assigned
// is called and leave it after its Revoked (or Lost) returns.
func (m *Member) Assigned() []TopicPartition { return slices.Clone(*m.assigned.Load()) }

// Generation is the zero Generation: share groups commit no offsets (the
// records' acknowledgements take their place), so nothing carries one.
func (m *Member) Generation() offsets.Generation { return offsets.Generation{} }

// Rebalances counts the assignment changes the member applied.
func (m *Member) Rebalances() int { return int(m.rebalances.Load()) }

// Done is closed when the member has stopped: after Close, or by itself
// after an error retrying cannot fix (see Err).
func (m *Member) Done() <-chan struct{} { return m.life.Done() }

// Err is why the member stopped by itself (kerr.ErrUnsupported,
// kerr.GroupAuthorizationFailed, kerr.ErrClosed when the cluster closed,
// ...), or nil while it runs or after a Close. Its partitions were
// reported lost to the Handler.
func (m *Member) Err() error { return m.life.Err() }

// Close ends the membership: the Handler's Revoked gets every partition
// the member reads, a heartbeat with epoch -1 leaves the group, and the
// goroutine stops. It waits for all that or for ctx; a Handler call in
// progress gets a context that ends with ctx. Idempotent. Do not call it
// from a Handler method.
func (m *Member) Close(ctx context.Context) error { return m.life.Close(ctx) }

// run is the member's goroutine: heartbeat, apply what the answer says,
// wait the interval, again.
func (m *Member) run() {
	defer m.exit()
	failures, waiting := 0, 0
	for {
		if m.life.Stopping() {
			m.finish()
			return
		}
		resp, err := m.heartbeat(m.ctx, m.epoch.Load(), m.subscribe)
		switch {
		case err == nil:
			failures = 0
			m.subscribe = false
			m.apply(resp)
			m.life.Joined()
			wait := m.interval
			if m.target == nil {
				// Joined, no assignment yet: the coordinator computes it
				// apart from the heartbeat, so ask again soon rather than
				// a whole interval later.
				waiting++
				wait = min(wait, time.Duration(waiting)*joinPoll)
			}
			m.wait(wait)
			continue
		case m.life.Stopping():
			continue
		case fatal(m.cl, err):
			m.fail(err)
			return
		case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.FencedMemberEpoch),
			errors.Is(err, kerr.GroupIDNotFound):
			// Dropped by the coordinator (a session timeout, a
			// coordinator that lost the group's state): the partitions
			// are gone; rejoin at epoch 0 with the same id, as the Java
			// client does.
			m.lose(err)
			m.epoch.Store(0)
			m.target, m.pending = nil, false
			waiting = 0
		}
		m.subscribe = true
		m.life.Retried(err)
		failures++
		m.log.Debug("share: heartbeat failed, retrying", "err", err, "attempt", failures)
		m.wait(m.cl.Backoff(failures))
	}
}

// wait sleeps for d, or until Close.
func (m *Member) wait(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-m.life.Closing():
	}
}

// apply takes in a heartbeat answer: the epoch, the interval and, when it
// carries one, the new assignment.
func (m *Member) apply(r *kmsg.ShareGroupHeartbeatResponse) {
	m.epoch.Store(r.MemberEpoch)
	if r.HeartbeatIntervalMillis > 0 {
		m.interval = time.Duration(r.HeartbeatIntervalMillis) * time.Millisecond
	}
	if r.Assignment != nil {
		m.target = slices.Clone(r.Assignment.TopicPartitions)
		m.pending = false
		m.reconcile()
	} else if m.pending {
		m.reconcile() // topic ids the metadata may know by now
	}
}

// reconcile moves the member to its target assignment: Revoked for what
// leaves, Assigned for what arrives. Topic ids the metadata does not know
// (a topic created since the last refresh) are looked up once; what stays
// unknown waits for the next heartbeat.
func (m *Member) reconcile() {
	names, unknown := m.names()
	if unknown {
		if err := m.cl.RefreshTopics(m.ctx, m.cfg.Topics...); err != nil {
			m.log.Debug("share: topic metadata", "err", err)
		}
		names, unknown = m.names()
	}
	m.pending = unknown
	var next []TopicPartition
	for _, t := range m.target {
		name, ok := names[t.TopicID]
		if !ok {
			continue
		}
		for _, p := range t.Partitions {
			next = append(next, TopicPartition{Topic: name, Partition: p})
		}
	}
	slices.SortFunc(next, TopicPartition.Compare)
	next = slices.Compact(next)
	revoked, added := balance.Diff(m.owned, next)
	if len(revoked) == 0 && len(added) == 0 {
		return
	}
	m.rebalances.Add(1)
	if len(revoked) > 0 {
		m.log.Info("share: revoking", "partitions", revoked)
		if err := m.h.Revoked(m.hctx, revoked); err != nil {
			m.log.Warn("share: Handler.Revoked failed", "partitions", revoked, "err", err)
		}
	}
	m.setOwned(next)
	if len(added) > 0 {
		m.log.Info("share: assigned", "partitions", added)
		if err := m.h.Assigned(m.hctx, added); err != nil {
			m.log.Warn("share: Handler.Assigned failed", "partitions", added, "err", err)
		}
	}
}

// names maps the target's topic ids to names, from the metadata, and says
// whether some id is unknown.
func (m *Member) names() (map[[16]byte]string, bool) {
	snap := m.cl.Snapshot()
	byID := make(map[[16]byte]string, len(m.target))
	unknown := false
	for _, t := range m.target {
		found := false
		for name, tm := range snap.Topics {
			if tm.Err == nil && tm.ID == t.TopicID {
				byID[t.TopicID], found = name, true
				break
			}
		}
		unknown = unknown || !found
	}
	return byID, unknown
}

func (m *Member) setOwned(ps []TopicPartition) {
	m.owned = ps
	c := slices.Clone(ps)
	m.assigned.Store(&c)
}

// lose tells the Handler that the partitions are gone, and forgets them.
func (m *Member) lose(why error) {
	if len(m.owned) == 0 {
		return
	}
	ps := slices.Clone(m.owned)
	m.log.Warn("share: partitions lost", "partitions", ps, "reason", why)
	m.setOwned(nil)
	if err := m.h.Lost(m.hctx, ps); err != nil {
		m.log.Warn("share: Handler.Lost failed", "partitions", ps, "err", err)
	}
}

// fail stops the member after an error retrying cannot fix.
func (m *Member) fail(err error) {
	m.life.Fail(fmt.Errorf("share: group %q: %w", m.cfg.Group, err))
	m.log.Error("share: the member stops", "err", err)
	m.lose(err)
}

// finish is the loop's part of Close: revoke everything, then leave.
func (m *Member) finish() {
	if m.abandoned.Load() {
		return // a simulated crash: say nothing to anyone
	}
	if len(m.owned) > 0 {
		ps := slices.Clone(m.owned)
		if err := m.h.Revoked(m.hctx, ps); err != nil {
			m.log.Warn("share: Handler.Revoked failed", "partitions", ps, "err", err)
		}
		m.setOwned(nil)
	}
	if m.epoch.Load() <= 0 {
		return // never joined, or fenced: nothing to leave
	}
	ctx := m.life.CloseCtx()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, leaveTimeout)
		defer cancel()
	}
	for attempt := 1; ; attempt++ {
		_, err := m.heartbeat(ctx, -1, false) // epoch -1: leave
		if err == nil || errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.GroupIDNotFound) {
			m.epoch.Store(0)
			m.log.Info("share: left the group")
			return
		}
		if !retriable(err) {
			m.life.SetCloseErr(fmt.Errorf("share: leave group %q: %w", m.cfg.Group, err))
			return
		}
		if serr := m.cl.Sleep(ctx, m.cl.Backoff(attempt)); serr != nil {
			m.life.SetCloseErr(fmt.Errorf("share: leave group %q: %w (last error: %w)", m.cfg.Group, serr, err))
			return
		}
	}
}

// exit runs last in the loop's goroutine.
func (m *Member) exit() {
	m.closeLanes()
	m.hcancel()
	m.life.Exit()
}

// retriable reports whether a request that failed with err may succeed
// when sent again: the coordinator moved or is loading, a connection or a
// timeout failed, or the broker says retriable.
func retriable(err error) bool {
	return cluster.CoordinatorMoved(err, false) || errors.Is(err, kerr.CoordinatorLoadInProgress) ||
		kerr.IsRetriable(err)
}

// fatal reports whether err is one that rejoining cannot fix.
func fatal(cl *cluster.Cluster, err error) bool {
	switch {
	case errors.Is(err, kerr.ErrClosed):
		return cl.IsClosing()
	case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.FencedMemberEpoch),
		errors.Is(err, kerr.GroupIDNotFound):
		return false
	}
	return !retriable(err)
}
