package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/balance/internal/membership"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/offsets"
)

// Member is a running membership of a ZooKeeper-coordinated group. It
// implements balance.Member. Its methods are safe for concurrent use; the
// Handler is called from the member's one goroutine.
type Member struct {
	cfg Config
	cl  *cluster.Cluster
	h   balance.Handler
	log *slog.Logger
	id  string

	idsDir, idPath, ownersRoot string

	ctx    context.Context // the goroutine's waits and Handler calls; ends when Close gives up
	cancel context.CancelFunc
	kick   chan struct{} // session state changed (see session.onEvent)

	// life is Close, Done and Err; Exit when the goroutine has ended.
	life   *membership.State
	joined chan struct{} // closed after the first complete rebalance

	mu         sync.Mutex
	assigned   []balance.TopicPartition // a copy of owned for Assigned
	lastErr    error                    // why the last rebalance or session attempt failed
	rebalances atomic.Int64

	// Owned by the member's goroutine.
	sess       *session
	past       map[int64]bool                  // this member's earlier session ids
	registered bool                            // the ids node exists in sess
	owned      []balance.TopicPartition        // what the Handler has: Assigned, not yet Revoked or Lost
	nodes      map[balance.TopicPartition]bool // owner nodes sess holds, as far as the member knows
	reconcile  bool                            // read the owner nodes back before trusting nodes
	idsWatch   <-chan zk.Event
	// ownerWatches: a watch on the owner node of a partition another
	// member holds and this one wants, so that a claim retries the moment
	// the node goes instead of after the backoff. At most one per
	// partition (go-zookeeper keeps each until its node changes).
	ownerWatches map[balance.TopicPartition]<-chan zk.Event
	own          interest            // what this member reads
	subs         map[string]interest // member id -> what it reads (ids nodes never change)
	members      []string            // the member ids of the last rebalance, sorted
	counts       map[string]int32    // the group's topics' partition counts at the last rebalance
	tracked      map[string]bool     // listed topics the client's metadata covers
	untrackAll   func()              // held while some member of the group has a pattern
	joinedOnce   bool
}

var _ balance.Member = (*Member)(nil)

// errSuperseded: newer information (membership, partition counts, topics
// matching a pattern, our own registration) arrived during a rebalance; the
// next one starts at once.
var errSuperseded = errors.New("rebalance superseded")

// errInterrupted: the member is closing or its session is not connected.
var errInterrupted = errors.New("rebalance interrupted")

// Join connects to ZooKeeper, registers the member, runs the first
// rebalance and returns once the member owns its share of the partitions of
// the topics it subscribes to (possibly none), the Handler having been told
// through Assigned. It starts one goroutine, which runs every later
// rebalance and calls the Handler; Close stops it.
//
// Join retries what may pass (ZooKeeper unreachable, partitions still
// owned by members slow to release them) until ctx ends; a ctx without
// deadline is given 2 x SessionTimeout + RebalanceMaxRetries x
// RebalanceBackoff + the connection wait, which covers a crashed member's
// session running out. It then fails with ctx's error joined to the last
// cause (ErrZooKeeper, ErrRebalanceFailed, ErrConsumerIDInUse). Invalid
// configuration fails at once with a *kerr.ConfigError naming the field
// (an empty Subscription, an illegal topic name), a listed topic that does
// not exist with kerr.ErrUnknownTopic.
//
// While a member of the group subscribes to a pattern, this member holds
// the client's cluster.TrackAll, so that the client's metadata covers every
// topic; the topics listed by members are tracked (cluster.Track) and stay
// so after Close, since other users of the client may track them too.
func Join(ctx context.Context, c offsets.Cluster, cfg Config, h balance.Handler) (*Member, error) {
	cl, cfg, err := membership.Start(c, h, cfg, Config.withDefaults)
	if err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 2*cfg.SessionTimeout+time.Duration(cfg.RebalanceMaxRetries)*cfg.RebalanceBackoff+connectWait(&cfg))
		defer cancel()
	}
	m := &Member{
		cfg:        cfg,
		cl:         cl,
		h:          h,
		id:         cfg.ConsumerID,
		idsDir:     "/consumers/" + cfg.Group + "/ids",
		ownersRoot: "/consumers/" + cfg.Group + "/owners",
		kick:       make(chan struct{}, 1),
		joined:     make(chan struct{}),
		past:       map[int64]bool{},
		own:        ownInterest(cfg.Subscription),
		subs:       map[string]interest{},
		tracked:    map[string]bool{},
	}
	// Close cancels the goroutine's waits and Handler calls only if its
	// ctx ends first.
	m.life = membership.New(nil, func() { m.cancel() })
	// Partition counts come from Kafka (KRaft keeps no topic state in
	// ZooKeeper); RefreshTopics also makes the client's metadata loop
	// track the topics.
	if ts := cfg.Subscription.Topics; len(ts) > 0 {
		if err := cl.RefreshTopics(ctx, ts...); err != nil {
			return nil, err
		}
		for _, t := range ts {
			if _, err := cl.Snapshot().Topic(t); err != nil {
				return nil, err
			}
			m.tracked[t] = true
		}
	}
	if cfg.Subscription.Pattern != nil {
		m.untrackAll = cl.TrackAll()
		if err := cl.RefreshAll(ctx); err != nil {
			m.untrackAll()
			return nil, err
		}
	}
	m.idPath = m.idsDir + "/" + m.id
	m.log = cfg.Logger.With("group", cfg.Group, "member", m.id, "subscription", describe(cfg.Subscription))
	m.ctx, m.cancel = context.WithCancel(context.Background())
	go m.run()
	select {
	case <-m.joined:
		return m, nil
	case <-m.life.Done(): // stopped by itself
		return nil, fmt.Errorf("balance/zookeeper: joining group %q: %w", cfg.Group, m.life.Err())
	case <-ctx.Done():
		// Close first: it interrupts a session attempt in progress, whose
		// failure is then the last error.
		cctx, cancel := context.WithTimeout(context.Background(), 2*cfg.SessionTimeout)
		defer cancel()
		_ = m.Close(cctx)
		last := m.lastError()
		if last == nil {
			last = fmt.Errorf("%w: the first rebalance did not complete", ErrRebalanceFailed)
		}
		return nil, fmt.Errorf("balance/zookeeper: joining group %q: %w (last error: %w)", cfg.Group, ctx.Err(), last)
	}
}

// ErrConsumerIDInUse: the member's ids node exists in a session that is not
// this member's. Either the id's previous owner (this process before a
// restart, with a fixed ConsumerID) has not timed out yet, in which case
// the member retries until it has, or two live members share an id.
var ErrConsumerIDInUse = errors.New("kafka: consumer id registered by another zookeeper session")

// connectWait bounds the wait for a ZooKeeper session.
func connectWait(cfg *Config) time.Duration { return max(cfg.SessionTimeout, 2*time.Second) }

// opTimeout bounds each ZooKeeper call. A third of the session timeout:
// ZooKeeper answers in milliseconds when healthy, and a call must not hold
// the goroutine long past the moment it has to declare partitions lost
// (calls also fail at once when the connection drops).
func (m *Member) opTimeout() time.Duration {
	return max(m.cfg.SessionTimeout/3, time.Second)
}

// ID is the consumer id.
func (m *Member) ID() string { return m.id }

// Assigned returns the partitions the member owns now (that the Handler
// was given and not yet asked to give up), sorted by topic, then number.
func (m *Member) Assigned() []balance.TopicPartition {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.assigned)
}

// Generation is the zero Generation: ZooKeeper groups commit offsets with
// simple commits; exclusive ownership comes from the owner nodes, not from
// the broker.
func (m *Member) Generation() offsets.Generation { return offsets.Generation{} }

// Rebalances counts completed rebalances (those after which the member
// owned its whole share).
func (m *Member) Rebalances() int { return int(m.rebalances.Load()) }

// Done is closed when the member has stopped: after Close, or by itself
// (see Err).
func (m *Member) Done() <-chan struct{} { return m.life.Done() }

// Err is why the member stopped by itself; nil while it runs, and when
// Close stopped it. The only such cause is the client's cluster closing under it
// (kerr.ErrClosed): everything else (ZooKeeper unreachable, sessions
// expiring, partitions held by slow members, Kafka's metadata failing) is
// retried for as long as the member lives. Its partitions were reported
// lost to the Handler first.
func (m *Member) Err() error { return m.life.Err() }

// Close gives everything up and leaves the group: Revoked(owned) so the
// Handler commits, then the owner nodes and the ids node are deleted, the
// ZooKeeper session is closed, and the goroutine ends. The error is the
// Handler's: ZooKeeper trouble is only logged, since the nodes vanish with
// the session anyway (at the latest when it expires). If ctx ends first,
// Close returns ctx's error at once and the Handler's context is
// cancelled: the goroutine ends soon after (Done), unless the Handler
// ignores its context. Idempotent: every call waits for the same shutdown,
// each bounded by its own ctx.
func (m *Member) Close(ctx context.Context) error { return m.life.Close(ctx) }

func (m *Member) setOwned(owned []balance.TopicPartition) {
	slices.SortFunc(owned, balance.TopicPartition.Compare)
	m.owned = owned
	m.mu.Lock()
	m.assigned = slices.Clone(owned)
	m.mu.Unlock()
}

func (m *Member) setErr(err error) {
	m.mu.Lock()
	m.lastErr = err
	m.mu.Unlock()
}

func (m *Member) lastError() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastErr
}

// run is the member's goroutine: it keeps the session, watches membership
// and the metadata of the group's topics, rebalances, and on Close leaves.
func (m *Member) run() {
	defer m.life.Exit()
	defer m.cancel()
	tick := time.NewTicker(m.cfg.PartitionCheckInterval)
	defer tick.Stop()
	updated := m.cl.Updated()
	due := true           // a rebalance is needed
	var retryAt time.Time // not before this (after a failure)
	failures := 0
	fail := func(err error) {
		failures++
		d := m.retryDelay(failures)
		retryAt = time.Now().Add(d)
		m.setErr(err)
		m.log.Warn("zookeeper group: will try again", "in", d.Round(time.Millisecond), "err", err)
	}
	for {
		select {
		case <-m.life.Closing():
			m.finish()
			return
		case <-m.cl.Closing():
			m.stop(kerr.ErrClosed)
			return
		default:
		}
		if !time.Now().Before(retryAt) {
			changed, err := m.keepSession()
			if err != nil {
				due = true
				fail(err)
			}
			due = due || changed
		}
		lostAt := m.checkConnection()
		if due && m.sess != nil && m.registered && m.sess.connected() && !time.Now().Before(retryAt) {
			complete, err := m.rebalance()
			switch {
			case err == nil && complete:
				due, failures, retryAt = false, 0, time.Time{}
				m.setErr(nil)
				if !m.joinedOnce {
					m.joinedOnce = true
					close(m.joined)
				}
			case errors.Is(err, errSuperseded):
				m.log.Info("zookeeper group: rebalance superseded, starting over", "reason", err)
				continue
			case errors.Is(err, errInterrupted):
				// closing, or the session is down: the loop's checks say which
			default:
				fail(err)
			}
		}

		next := lostAt
		if (due || m.sess == nil) && retryAt.After(time.Now()) && (next.IsZero() || retryAt.Before(next)) {
			next = retryAt
		}
		wake := time.NewTimer(time.Hour)
		if !next.IsZero() {
			wake.Reset(time.Until(next))
		} else {
			wake.Stop()
		}
		// A static select plus, while a rebalance waits to be retried, the
		// owner nodes it could not claim: retry the moment one goes.
		const (
			closing = iota
			clusterClosing
			kick
			timer
			members
			metadata
			ticker
			owners // one case per watched owner node from here
		)
		cases := []reflect.SelectCase{
			recv(m.life.Closing()), recv(m.cl.Closing()), recv(m.kick), recv(wake.C), recv(m.idsWatch), recv(updated), recv(tick.C),
		}
		var watched []balance.TopicPartition
		if due {
			for p, w := range m.ownerWatches {
				cases = append(cases, recv(w))
				watched = append(watched, p)
			}
		}
		switch i, _, _ := reflect.Select(cases); i {
		case closing, clusterClosing, kick, timer:
		case members:
			m.idsWatch = nil // one-shot: the rebalance arms the next one
			due, retryAt = true, time.Time{}
		case metadata:
			updated = m.cl.Updated()
			if why := m.metadataChanged(); why != "" {
				m.log.Info("zookeeper group: the group's topics changed", "change", why)
				due, retryAt = true, time.Time{}
			}
		case ticker:
			m.cl.TriggerRefresh() // an answer closes updated
		default:
			delete(m.ownerWatches, watched[i-owners])
			retryAt = time.Time{}
		}
		wake.Stop()
	}
}

func recv[T any](c <-chan T) reflect.SelectCase {
	return reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(c)}
}

// retryDelay is the jittered wait before try n (1-based) after failures:
// RebalanceBackoff doubling up to the session timeout.
func (m *Member) retryDelay(n int) time.Duration {
	d := m.cfg.RebalanceBackoff
	for i := 1; i < n && d < m.cfg.SessionTimeout; i++ {
		d *= 2
	}
	return jitter(min(d, max(m.cfg.SessionTimeout, m.cfg.RebalanceBackoff)))
}

// jitter spreads d by up to a quarter either way, so members that failed
// together do not retry in lockstep.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return d - d/4 + rand.N(d/2+1)
}

// keepSession makes sure the member has a session with its ids node. It
// reports whether something changed that calls for a rebalance.
func (m *Member) keepSession() (changed bool, err error) {
	if s := m.sess; s != nil && s.gone() {
		m.log.Warn("zookeeper group: session expired; partitions are lost and the member registers again",
			"session", fmt.Sprintf("0x%x", s.id), "owned", m.owned)
		m.lose()
		m.dropSession()
	}
	if m.sess == nil {
		s, err := openSession(m.ctx, &m.cfg, connectWait(&m.cfg), m.kick, m.life.Closing())
		if err != nil {
			return false, err
		}
		m.sess, m.registered, m.nodes, m.idsWatch = s, false, map[balance.TopicPartition]bool{}, nil
		m.ownerWatches = map[balance.TopicPartition]<-chan zk.Event{}
		m.reconcile = true // nodes of our past sessions may linger
		m.log.Info("zookeeper group: session established", "session", fmt.Sprintf("0x%x", s.id), "timeout", s.Timeout())
	}
	if !m.registered {
		if !m.sess.connected() {
			return false, nil // the kick on reconnection brings us back
		}
		if err := m.register(); err != nil {
			return false, err
		}
		m.registered = true
		changed = true
	}
	if m.sess.resumed.Swap(false) {
		// Same session after a loss of connection: nodes and (probably)
		// watches survived, but the member may have declared its
		// partitions lost meanwhile, and a watch go-zookeeper failed to
		// re-set would never fire. Re-arm and rebalance.
		m.log.Info("zookeeper group: session resumed after a loss of connection", "session", fmt.Sprintf("0x%x", m.sess.id))
		m.idsWatch, m.reconcile, changed = nil, true, true
	}
	return changed, nil
}

// checkConnection declares the member's partitions lost while its
// connection is down, at the last moment that is surely before ZooKeeper can
// expire the session and hand them to others, and otherwise returns when
// that moment comes.
//
// The server expires a session a session timeout after it last heard from
// the client (rounded up to its tick). It had heard from the client when it
// sent the last answer the client read (lastReply: pings are answered every
// third of the timeout), so the session lives at least until lastReply +
// timeout; the member gives up a sixth of the timeout before that, for
// transit and scheduling. A connection that comes back in time (a ZooKeeper
// restart, a short partition) costs nothing; one that does not costs
// reading again from the last commit, never two consumers of a partition.
func (m *Member) checkConnection() (lostAt time.Time) {
	s := m.sess
	if s == nil || len(m.owned) == 0 {
		return time.Time{}
	}
	since := s.downSince.Load()
	if since == 0 {
		return time.Time{}
	}
	heard := s.lastReply.Load()
	if heard == 0 {
		heard = since
	}
	lostAt = time.Unix(0, heard).Add(s.Timeout() - s.Timeout()/6)
	if time.Now().Before(lostAt) {
		return lostAt
	}
	m.log.Warn("zookeeper group: disconnected from ZooKeeper for too long; partitions count as lost",
		"down", time.Since(time.Unix(0, since)).Round(time.Millisecond),
		"last_heard", time.Since(time.Unix(0, heard)).Round(time.Millisecond), "owned", m.owned)
	m.lose()
	m.reconcile = true
	return time.Time{}
}

// lose tells the Handler that everything it had is lost.
func (m *Member) lose() {
	if len(m.owned) == 0 {
		return
	}
	lost := m.owned
	m.setOwned(nil)
	if err := m.h.Lost(m.ctx, lost); err != nil {
		m.log.Warn("zookeeper group: Handler.Lost failed", "partitions", lost, "err", err)
	}
}

// dropSession closes the session; its ephemeral nodes go with it.
func (m *Member) dropSession() {
	s := m.sess
	m.sess, m.registered, m.nodes, m.idsWatch, m.ownerWatches = nil, false, nil, nil, nil
	m.past[s.id] = true
	s.close()
}

// finish is Close's work, on the member's goroutine.
func (m *Member) finish() {
	ctx := m.life.CloseCtx()
	if len(m.owned) > 0 {
		revoked := m.owned
		m.log.Info("zookeeper group: closing, revoking", "partitions", revoked)
		err := m.h.Revoked(ctx, revoked)
		m.setOwned(nil)
		if err != nil {
			m.life.SetCloseErr(fmt.Errorf("balance/zookeeper: Handler.Revoked(%v): %w", revoked, err))
		}
	}
	m.leave(ctx)
	m.log.Info("zookeeper group: left", "err", m.life.CloseErr())
}

// stop ends the member by itself, for a reason no retry can fix: its
// partitions are lost (the Handler cannot commit through a closed client),
// it leaves the group, and Err reports err.
func (m *Member) stop(err error) {
	m.log.Warn("zookeeper group: stopping", "err", err)
	m.lose()
	m.leave(m.ctx)
	m.life.Fail(err)
}

// leave deletes the member's nodes and closes its session.
func (m *Member) leave(ctx context.Context) {
	if m.untrackAll != nil {
		m.untrackAll()
		m.untrackAll = nil
	}
	s := m.sess
	if s == nil {
		return
	}
	// Deleting the nodes one by one lets the others claim as soon as each
	// is free. Closing the session deletes them too, and if ZooKeeper
	// cannot be told, they vanish when the session expires: a failure here
	// only delays the others, and is nothing the caller could act on, so
	// it is logged, not returned.
	err := errors.New("not connected")
	if s.connected() {
		err = nil
		for _, tp := range sortedKeys(m.nodes) {
			if err = m.release(ctx, tp); err != nil {
				break
			}
		}
		if err == nil && m.registered {
			err = m.deleteOwn(ctx, m.idPath)
		}
	}
	if err != nil {
		m.log.Warn("zookeeper group: leaving without deleting the member's nodes; they vanish when its session ends",
			"session_timeout", s.Timeout(), "err", err)
	}
	m.dropSession()
}

func sortedKeys(s map[balance.TopicPartition]bool) []balance.TopicPartition {
	out := make([]balance.TopicPartition, 0, len(s))
	for tp := range s {
		out = append(out, tp)
	}
	slices.SortFunc(out, balance.TopicPartition.Compare)
	return out
}
