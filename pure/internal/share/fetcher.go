package share

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
)

// fetcher implements engine.ShareFetcher. Its mutex guards the partition
// table, the sources' shared fields and the ready queue; nobody holds it
// while decoding or waiting on the network.
type fetcher struct {
	cl   *cluster.Cluster
	cfg  engine.ShareFetcherConfig
	lane string // "share-fetch-<random>": this fetcher's own connection per broker
	log  *slog.Logger

	// ctx ends every request and wait: Close cancels it once the sources
	// have sent their last acknowledgements, or its own ctx ran out.
	ctx     context.Context
	cancel  context.CancelFunc
	closing chan struct{} // closed when Close starts: sources finish up
	wg      sync.WaitGroup

	readyCh   chan struct{} // capacity 1: a fetch was queued
	rerouteCh chan struct{} // capacity 1: a partition needs routing

	mu       sync.Mutex
	closed   bool
	parts    map[engine.TopicPartition]*part
	sources  map[int32]*source
	sessions map[uint64]*source           // by the token of each source's current session
	tokens   uint64                       // the last session token given
	brokers  map[*cluster.Broker]struct{} // whose lane to close
	ready    []readyFetch                 // FIFO; at most one answer's worth per source
}

// part is one assigned partition.
type part struct {
	tp      engine.TopicPartition
	topicID [16]byte
	src     *source // nil while its leader is unknown
}

// readyFetch is a queued fetch and the source it came from, which fetches
// again once its fetches are polled.
type readyFetch struct {
	fe  engine.ShareFetch
	src *source
}

// New returns a share fetcher of no partition yet and starts its router
// goroutine; sources start as partitions are assigned. Close stops them.
func New(ctx context.Context, cl *cluster.Cluster, cfg engine.ShareFetcherConfig) (engine.ShareFetcher, error) {
	if cl == nil {
		return nil, kerr.Config("cluster", "nil cluster")
	}
	switch {
	case cfg.Group == "":
		return nil, kerr.Config("ShareFetcherConfig.Group", "required")
	case cfg.MemberID == "":
		return nil, kerr.Config("ShareFetcherConfig.MemberID", "required")
	case cfg.MaxBytes <= 0:
		return nil, kerr.Config("ShareFetcherConfig.MaxBytes", "must be positive, got %d", cfg.MaxBytes)
	case cfg.MaxRecords <= 0:
		return nil, kerr.Config("ShareFetcherConfig.MaxRecords", "must be positive, got %d", cfg.MaxRecords)
	case cfg.MinBytes < 0:
		return nil, kerr.Config("ShareFetcherConfig.MinBytes", "must not be negative, got %d", cfg.MinBytes)
	case cfg.MaxWait < 0:
		return nil, kerr.Config("ShareFetcherConfig.MaxWait", "must not be negative, got %v", cfg.MaxWait)
	case cfg.Acked == nil:
		return nil, kerr.Config("ShareFetcherConfig.Acked", "required")
	}
	log := cfg.Logger
	if log == nil {
		log = cl.Logger()
	}
	f := &fetcher{
		cl:        cl,
		cfg:       cfg,
		lane:      "share-fetch-" + strconv.FormatUint(rand.Uint64(), 36),
		log:       log.With("group", cfg.Group, "member", cfg.MemberID),
		closing:   make(chan struct{}),
		readyCh:   make(chan struct{}, 1),
		rerouteCh: make(chan struct{}, 1),
		parts:     map[engine.TopicPartition]*part{},
		sources:   map[int32]*source{},
		sessions:  map[uint64]*source{},
		brokers:   map[*cluster.Broker]struct{}{},
	}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.wg.Add(1)
	go f.route()
	return f, nil
}

// Assign adds partitions to read; see engine.ShareFetcher. Topics the
// metadata does not know (or whose partition it does not know) are
// refreshed once before the call is refused.
func (f *fetcher) Assign(ctx context.Context, partitions []engine.TopicPartition) error {
	snap := f.cl.Snapshot()
	if check(snap, partitions) != nil {
		var topics []string
		for _, tp := range partitions {
			topics = append(topics, tp.Topic)
		}
		if err := f.cl.RefreshTopics(ctx, topics...); err != nil {
			return err
		}
		snap = f.cl.Snapshot()
	}
	if err := check(snap, partitions); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return kerr.ErrClosed
	}
	for _, tp := range partitions {
		f.cl.Track(tp.Topic)
		if f.parts[tp] != nil {
			continue
		}
		p := &part{tp: tp, topicID: snap.Topics[tp.Topic].ID}
		f.parts[tp] = p
		if !f.routeLocked(p, f.cl.Snapshot()) {
			f.signal(f.rerouteCh)
		}
	}
	return nil
}

// check returns the first partition snap does not know, as an error.
func check(snap *cluster.Snapshot, partitions []engine.TopicPartition) error {
	for _, tp := range partitions {
		t, err := snap.Topic(tp.Topic)
		if err == nil {
			_, err = t.Partition(tp.Partition)
		}
		if err != nil {
			return fmt.Errorf("share fetch %s: %w", tp, err)
		}
	}
	return nil
}

// Unassign stops reading partitions: their sources forget them from the
// share session with the next request.
func (f *fetcher) Unassign(ctx context.Context, partitions []engine.TopicPartition) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return kerr.ErrClosed
	}
	for _, tp := range partitions {
		if p := f.parts[tp]; p != nil {
			delete(f.parts, tp)
			f.unrouteLocked(p)
		}
	}
	return nil
}

// Poll returns the oldest queued fetch. It blocks until one is queued, ctx
// ends, or the fetcher (or the client's cluster) is closed: kerr.ErrClosed.
func (f *fetcher) Poll(ctx context.Context) (engine.ShareFetch, error) {
	for {
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			return engine.ShareFetch{}, kerr.ErrClosed
		}
		if len(f.ready) > 0 {
			rf := f.ready[0]
			f.ready[0] = readyFetch{}
			f.ready = f.ready[1:]
			more := len(f.ready) > 0
			rf.src.queued--
			if rf.src.queued == 0 {
				rf.src.wakeup() // room: it fetches again
			}
			f.mu.Unlock()
			if more {
				f.signal(f.readyCh) // another Poll caller may be waiting
			}
			return rf.fe, nil
		}
		f.mu.Unlock()
		select {
		case <-f.readyCh:
		case <-ctx.Done():
			return engine.ShareFetch{}, ctx.Err()
		case <-f.closing:
			return engine.ShareFetch{}, kerr.ErrClosed
		case <-f.cl.Closing():
			return engine.ShareFetch{}, kerr.ErrClosed
		}
	}
}

// enqueueLocked queues a fetch of s for Poll. Caller holds f.mu.
func (f *fetcher) enqueueLocked(s *source, fe engine.ShareFetch) {
	f.ready = append(f.ready, readyFetch{fe: fe, src: s})
	s.queued++
	f.signal(f.readyCh)
}

// Acknowledge queues acks with the source whose share session acquired
// their records (ShareAck.Session). An ack whose session has ended fails
// at once, unsent: its records were released when the session ended, and
// the broker may have delivered them again already.
func (f *fetcher) Acknowledge(acks []engine.ShareAck) {
	if len(acks) == 0 {
		return
	}
	var failed []engine.ShareAckResult
	f.mu.Lock()
	snap := f.cl.Snapshot()
	for _, a := range acks {
		s := f.sessions[a.Session]
		var id [16]byte
		err := errNoSession
		if f.closed {
			err = kerr.ErrClosed
		} else if s != nil {
			err = nil
			if p := f.parts[a.TopicPartition]; p != nil {
				id = p.topicID
			} else if t, terr := snap.Topic(a.Topic); terr == nil {
				id = t.ID
			} else {
				err = terr
			}
		}
		if err != nil {
			failed = append(failed, engine.ShareAckResult{ShareAck: a, Err: fmt.Errorf("share acknowledge %s: %w", a.TopicPartition, err)})
			continue
		}
		s.queueLocked(pendingAck{ShareAck: a, topicID: id, user: true})
	}
	f.mu.Unlock()
	if len(failed) > 0 {
		f.cfg.Acked(failed)
	}
}

// newSessionLocked gives s the token of a new session. Caller holds f.mu.
func (f *fetcher) newSessionLocked(s *source) {
	delete(f.sessions, s.token)
	f.tokens++
	s.token = f.tokens
	f.sessions[s.token] = s
}

// Flush waits until every user ack queued before the call has been
// reported to Acked.
func (f *fetcher) Flush(ctx context.Context) error {
	f.mu.Lock()
	type mark struct {
		s   *source
		enq uint64
	}
	var marks []mark
	for _, s := range f.sources {
		if s.rep < s.enq {
			marks = append(marks, mark{s, s.enq})
			s.flushTo = max(s.flushTo, s.enq)
			s.wakeup()
		}
	}
	f.mu.Unlock()
	for _, m := range marks {
		for {
			f.mu.Lock()
			done, wait := m.s.rep >= m.enq, m.s.reported
			f.mu.Unlock()
			if done {
				break
			}
			select {
			case <-wait:
			case <-ctx.Done():
				return ctx.Err()
			case <-m.s.done:
				// Its last acks were reported before it ended.
			}
		}
	}
	return nil
}

// Close releases the records queued for Poll, lets every source send its
// pending acknowledgements with a final request that closes its share
// session, and stops every goroutine. If ctx ends first, what is left
// fails. Idempotent.
func (f *fetcher) Close(ctx context.Context) error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	close(f.closing)
	for _, rf := range f.ready {
		// Acquired, never handed out: back to the group, at once rather
		// than when their locks expire.
		rf.src.releaseLocked(rf.fe)
	}
	f.ready = nil
	for _, s := range f.sources {
		s.wakeup()
	}
	f.mu.Unlock()
	finished := make(chan struct{})
	go func() {
		f.wg.Wait()
		close(finished)
	}()
	var err error
	select {
	case <-finished:
	case <-ctx.Done():
		err = fmt.Errorf("share fetcher: close: %w", ctx.Err())
		f.cancel()
		<-finished
	}
	f.cancel()
	// No goroutine of ours runs now, so f.brokers is final.
	for b := range f.brokers {
		b.CloseLane(f.lane)
	}
	return err
}

func (f *fetcher) signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// route is the router goroutine: at every metadata update it moves each
// partition to the source of its current leader. While some partition has
// no leader it keeps asking for refreshes, with backoff (cluster.Route).
func (f *fetcher) route() {
	defer f.wg.Done()
	f.cl.Route(f.routeAll, f.rerouteCh, f.closing)
}

// routeAll is one round of the router: whether it left some partition
// without a leader, or found the fetcher closed.
func (f *fetcher) routeAll() (leaderless, closed bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false, true
	}
	snap := f.cl.Snapshot()
	for _, p := range f.parts {
		if !f.routeLocked(p, snap) {
			leaderless = true
		}
	}
	return leaderless, false
}

// routeLocked moves p to the source of its leader in snap, starting that
// source if needed. A partition whose leader is unknown is left without a
// source (false). Caller holds f.mu.
func (f *fetcher) routeLocked(p *part, snap *cluster.Snapshot) bool {
	leader, _ := snap.Leader(p.tp.Topic, p.tp.Partition)
	if p.src != nil && p.src.id == leader {
		return true
	}
	f.unrouteLocked(p)
	if leader < 0 {
		return false
	}
	s := f.sources[leader]
	if s == nil {
		s = newSource(f, leader)
		f.sources[leader] = s
		f.newSessionLocked(s)
		f.wg.Add(1)
		go s.run()
	}
	s.parts[p.tp] = p
	p.src = s
	s.wakeup()
	return true
}

// unrouteLocked takes p off its source. Caller holds f.mu.
func (f *fetcher) unrouteLocked(p *part) {
	if p.src != nil {
		delete(p.src.parts, p.tp)
		p.src.wakeup() // to forget it
		p.src = nil
	}
}

// broker returns the broker with id, remembering it so that Close closes
// this fetcher's lane on it.
func (f *fetcher) broker(id int32) (*cluster.Broker, error) {
	b, err := f.cl.Broker(id)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.brokers[b] = struct{}{}
	f.mu.Unlock()
	return b, nil
}

// isClosing reports whether Close has started.
func (f *fetcher) isClosing() bool {
	select {
	case <-f.closing:
		return true
	default:
		return false
	}
}

// errNoSession fails acknowledgements that have no session to go in.
var errNoSession = fmt.Errorf("%w: no share session with the broker (it was reset or never opened), so the acknowledgement cannot be sent; the records go back to the group when their acquisition locks expire", kerr.ShareSessionNotFound)
