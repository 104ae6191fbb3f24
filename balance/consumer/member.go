package consumer

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/balance/internal/membership"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/offsets"
)

// TopicPartition names one partition of one topic.
type TopicPartition = balance.TopicPartition

// Member is a running membership of a consumer group on the consumer
// protocol (KIP-848). It implements balance.Member.
//
// Its methods are safe for concurrent use. The accessors (ID, Assigned,
// Generation, Rebalances, HeartbeatInterval, Err) never block; Close blocks
// until the member has revoked its partitions, left and stopped.
type Member struct {
	cl  *cluster.Cluster
	cfg Config
	h   balance.Handler
	log *slog.Logger
	id  string // the member id, chosen by the member

	coord *coordinator
	beat  *heartbeater
	// lane is the member's own connection to the coordinator, for its
	// heartbeats and its leave: they never wait behind another member's
	// requests, and a heartbeat that timed out closes only this one.
	lane string
	// untrack ends the cluster-wide metadata refresh that a pattern
	// needs to name the topics the coordinator assigns; nil without one.
	untrack func()

	// mu guards s, the state machine both goroutines drive.
	mu sync.Mutex
	s  *state
	// names caches the topic names of one metadata snapshot by id.
	namesOf  *cluster.Snapshot
	namesIdx map[[16]byte]string

	// kick wakes the membership loop (capacity 1): the heartbeater has
	// news (an assignment, a loss, a fatal error).
	kick chan struct{}

	// Published for any goroutine.
	generation atomic.Pointer[offsets.Generation]
	assigned   atomic.Pointer[[]TopicPartition]
	interval   atomic.Int64 // the coordinator's heartbeat interval, ns
	rebalances atomic.Int64

	// hctx is what Handler calls get; it ends only when Close's own ctx
	// does, so that a Revoked in progress can finish its commit.
	hctx    context.Context
	hcancel context.CancelFunc

	// life is Close, Done and Err; Joined once the first assignment is
	// reconciled, Exit when both goroutines have stopped.
	life      *membership.State
	abandoned atomic.Bool // tests: stop without revoking or leaving, like a crash
}

var _ balance.Member = (*Member)(nil)

// apiConsumerGroupHeartbeat is ConsumerGroupHeartbeat's API key; version 1
// (Kafka 4.0, KIP-848 generally available) is the one this package speaks:
// it carries the pattern and lets the member choose its id (KIP-1082).
const (
	apiConsumerGroupHeartbeat = 68
	minHeartbeatVersion       = 1
)

// Join makes a new member of cfg.Group reading cfg.Subscription. It finds
// the group's coordinator, joins (a heartbeat with epoch 0 and the
// subscription), and returns once the first assignment is reconciled: the
// Handler's Assigned has returned, possibly with no partitions (the group
// may have more members than partitions, and partitions that other members
// still have to revoke come later).
//
// It starts two goroutines, stopped by Close: the membership loop, which
// reconciles and calls the Handler, and the heartbeater. With a pattern,
// the member also makes the cluster's periodic metadata refresh cover
// every topic (cluster.TrackAll) until it stops, to name the topics the
// coordinator assigns. ctx bounds the first join only.
//
// Errors: invalid configuration (kerr.ErrInvalidConfig, naming the field),
// a nil cluster or handler (kerr.ErrInvalidConfig), a coordinator without
// the consumer protocol (kerr.ErrUnsupported: Kafka before 4.0, or a broker
// whose group.coordinator.rebalance.protocols leaves it out), broker
// refusals that retrying cannot fix (kerr.InvalidRegularExpression,
// kerr.UnsupportedAssignor, kerr.GroupAuthorizationFailed,
// kerr.GroupMaxSizeReached, kerr.GroupIDNotFound for a group of another
// kind that the broker cannot convert), and ctx's error (with the last
// retried error, kerr.UnreleasedInstanceID for a static member whose id is
// still held) when the join does not complete in time.
func Join(ctx context.Context, c offsets.Cluster, cfg Config, h balance.Handler) (*Member, error) {
	cl, cfg, err := membership.Start(c, h, cfg, Config.withDefaults)
	if err != nil {
		return nil, err
	}
	m, err := newMember(cl, cfg, h)
	if err != nil {
		return nil, err
	}
	// Load (and track) the topics' metadata: the coordinator names
	// topics by id, the Handler needs their names. A failure here is not
	// final: ids not known yet are resolved at a later refresh.
	if m.untrack != nil {
		err = cl.RefreshAll(ctx)
	} else {
		cl.Track(cfg.Subscription.Topics...)
		err = cl.RefreshTopics(ctx, cfg.Subscription.Topics...)
	}
	if err != nil {
		m.log.Debug("consumer: topic metadata", "err", err)
	}
	m.beat.start()
	go m.run()
	if err := m.life.AwaitJoin(ctx, fmt.Sprintf("consumer: join group %q", cfg.Group), leaveTimeout); err != nil {
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
	id := newMemberID()
	m := &Member{
		cl:    cl,
		cfg:   cfg,
		h:     h,
		log:   log.With("member", id),
		id:    id,
		coord: coord,
		lane:  "consumer-group/" + id,
		s:     newState(cfg, id),
		kick:  make(chan struct{}, 1),
	}
	m.hctx, m.hcancel = context.WithCancel(context.Background())
	m.life = membership.New(nil, m.hcancel)
	m.beat = newHeartbeater(m)
	m.publish()
	if cfg.Subscription.Pattern != nil {
		m.untrack = cl.TrackAll()
	}
	return m, nil
}

// newMemberID is a member id as KIP-1082 asks the member to choose it: a
// random UUID in URL-safe base64, 22 characters, as the Java client's
// Uuid.randomUuid().toString().
func newMemberID() string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ID is the member id. The member chooses it (KIP-1082) and keeps it for
// its lifetime, across rejoins.
func (m *Member) ID() string { return m.id }

// Assigned lists the partitions the member owns now, sorted by topic, then
// partition. Partitions join the list just before the Handler's Assigned
// is called and leave it after its Revoked (or Lost) returns.
func (m *Member) Assigned() []TopicPartition { return slices.Clone(*m.assigned.Load()) }

// Generation is what the member's commits must carry: its member epoch (as
// the generation), member id and instance id. The coordinator raises the
// epoch as the member reconciles; Generation follows each heartbeat's
// answer. A commit from a member that was fenced, or of a partition the
// member no longer owns, fails with kerr.StaleMemberEpoch or
// kerr.UnknownMemberID (see offsets.Generation).
func (m *Member) Generation() offsets.Generation { return *m.generation.Load() }

// Rebalances counts the reconciliation steps the member completed: each
// Handler Revoked and Assigned of an assignment change (the first
// assignment included).
func (m *Member) Rebalances() int { return int(m.rebalances.Load()) }

// HeartbeatInterval is the interval between heartbeats that the
// coordinator dictates (the group's consumer.heartbeat.interval.ms, else
// the broker's group.consumer.heartbeat.interval.ms): 5s until the first
// answer.
func (m *Member) HeartbeatInterval() time.Duration { return time.Duration(m.interval.Load()) }

// Done is closed when the member has stopped: after Close, or by itself
// after an error retrying cannot fix (see Err).
func (m *Member) Done() <-chan struct{} { return m.life.Done() }

// Err is why the member stopped by itself — kerr.ErrClosed (the cluster
// closed), kerr.ErrUnsupported (the coordinator lost the consumer
// protocol), or a refusal that retrying cannot fix — or nil while it runs
// or after a Close. Its partitions were reported lost to the Handler.
func (m *Member) Err() error { return m.life.Err() }

// Close ends the membership: the Handler's Revoked gets every partition
// the member owns (so it can commit), a heartbeat with epoch -1 leaves the
// group (-2 for a static member: the coordinator keeps its partitions for
// its return until the session times out), and both goroutines stop. It
// waits for all that or for ctx; a Handler call in progress gets a context
// that ends with ctx.
//
// Close is idempotent; every call waits for the same shutdown. It returns
// ctx's error if ctx ends first, or what the leave ran into. Do not call it
// from a Handler method: the shutdown waits for that method to return.
func (m *Member) Close(ctx context.Context) error { return m.life.Close(ctx) }

// publish makes the state's generation, owned partitions and interval
// visible to other goroutines. Called with mu held (or before the
// goroutines start).
func (m *Member) publish() {
	g := m.s.generation()
	m.generation.Store(&g)
	ps := partitionsOf(m.s.owned)
	slices.SortFunc(ps, TopicPartition.Compare)
	m.assigned.Store(&ps)
	m.interval.Store(int64(m.s.interval))
}

// wakeLoop tells the membership loop to look at the state again.
func (m *Member) wakeLoop() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// resolve names a topic id from the cluster's metadata, indexing each
// snapshot once, and only when a lookup needs it. Called with mu held.
func (m *Member) resolve(id [16]byte) (string, bool) {
	snap := m.cl.Snapshot()
	if snap != m.namesOf {
		m.namesOf = snap
		m.namesIdx = make(map[[16]byte]string, len(snap.Topics))
		for name, t := range snap.Topics {
			if t.Err == nil && t.ID != [16]byte{} {
				m.namesIdx[t.ID] = name
			}
		}
	}
	name, ok := m.namesIdx[id]
	return name, ok
}
