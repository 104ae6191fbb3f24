package share

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/records"
	"github.com/gokafka/kafka/internal/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// tidp names a partition as the share protocol does: by topic id.
type tidp struct {
	id [16]byte
	p  int32
}

// pendingAck is an acknowledgement waiting to be sent. user says whether
// it came from Acknowledge (its outcome goes to Acked) or from the engine
// itself (gaps, releases at Close), whose outcome is only logged.
type pendingAck struct {
	engine.ShareAck
	topicID [16]byte
	user    bool
}

// source is the goroutine that owns this member's share session with one
// broker: it fetches the partitions the broker leads, one ShareFetch at a
// time (the session's epoch orders them), and sends acknowledgements, on
// the next ShareFetch or in a ShareAcknowledge of their own.
type source struct {
	f    *fetcher
	id   int32
	wake chan struct{} // capacity 1
	done chan struct{} // closed when run returns

	// Guarded by f.mu.
	token    uint64                          // the current session's, for ShareFetch.Session
	parts    map[engine.TopicPartition]*part // assigned and led by this broker
	acks     []pendingAck
	queued   int           // fetches of this source in f.ready
	enq, rep uint64        // user acks queued and reported, for Flush
	flushTo  uint64        // Flush waits until rep reaches it
	reported chan struct{} // closed and replaced when rep grows

	// The goroutine's own.
	conn     *wire.Conn                     // the connection the session lives on
	epoch    int32                          // the session's next epoch; 0: no session
	session  map[tidp]engine.TopicPartition // partitions in the broker's session
	failures int
	dec      *records.Decoder
}

func newSource(f *fetcher, id int32) *source {
	return &source{
		f:        f,
		id:       id,
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
		parts:    map[engine.TopicPartition]*part{},
		reported: make(chan struct{}),
		session:  map[tidp]engine.TopicPartition{},
		dec:      records.NewDecoder(records.DecodeOptions{}),
	}
}

func (s *source) wakeup() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// queueLocked adds an ack, extending the last one queued when a continues
// it (same partition and type, the next offsets): one record at a time
// becomes one range. Caller holds f.mu.
func (s *source) queueLocked(a pendingAck) {
	s.wakeup()
	if n := len(s.acks); n > 0 {
		last := &s.acks[n-1]
		if last.user == a.user && last.TopicPartition == a.TopicPartition && last.Type == a.Type &&
			last.Session == a.Session && last.LastOffset+1 == a.FirstOffset {
			last.LastOffset = a.LastOffset
			return
		}
	}
	if a.user {
		s.enq++ // outcomes to report: one per queued range
	}
	s.acks = append(s.acks, a)
}

// releaseLocked queues the release of a fetch's records, if their session
// is still the current one. Caller holds f.mu.
func (s *source) releaseLocked(fe engine.ShareFetch) {
	if fe.Session != s.token {
		return // ended: the broker released them
	}
	p := s.parts[fe.TopicPartition]
	var id [16]byte
	if p != nil {
		id = p.topicID
	} else if t, err := s.f.cl.Snapshot().Topic(fe.Topic); err == nil {
		id = t.ID
	}
	for _, r := range ranges(fe.Messages) {
		s.queueLocked(pendingAck{ShareAck: engine.ShareAck{TopicPartition: fe.TopicPartition, FirstOffset: r[0], LastOffset: r[1], Type: engine.AckRelease, Session: fe.Session}, topicID: id})
	}
}

// ranges returns the runs of consecutive offsets of msgs (sorted).
func ranges(msgs []*engine.Message) [][2]int64 {
	var out [][2]int64
	for _, m := range msgs {
		if n := len(out); n > 0 && out[n-1][1]+1 == m.Offset {
			out[n-1][1] = m.Offset
			continue
		}
		out = append(out, [2]int64{m.Offset, m.Offset})
	}
	return out
}

// plan is what one turn of the loop does, decided under f.mu.
type plan struct {
	closing bool
	fetch   bool
	flush   bool // Flush waits for these acks: do not hold them in a long poll
	token   uint64
	want    map[tidp]engine.TopicPartition
	acks    []pendingAck // of the current session
	stale   []pendingAck // of sessions that ended: they fail unsent
}

func (s *source) plan() plan {
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	pl := plan{closing: f.isClosing(), flush: s.rep < s.flushTo, token: s.token}
	for _, a := range s.acks {
		if a.Session == s.token {
			pl.acks = append(pl.acks, a)
		} else if a.user {
			pl.stale = append(pl.stale, a)
		}
	}
	s.acks = nil
	if !pl.closing {
		pl.want = make(map[tidp]engine.TopicPartition, len(s.parts))
		for _, p := range s.parts {
			pl.want[tidp{p.topicID, p.tp.Partition}] = p.tp
		}
		pl.fetch = len(pl.want) > 0 && s.queued == 0
	}
	return pl
}

// run is the source's goroutine.
func (s *source) run() {
	defer s.f.wg.Done()
	defer close(s.done)
	for {
		pl := s.plan()
		s.fail(pl.stale, errNoSession)
		work := pl.closing || pl.fetch || len(pl.acks) > 0 || s.epoch > 0 && len(pl.want) == 0 && len(s.session) > 0
		if work && s.epoch > 0 {
			if err := s.connect(); err != nil {
				// Unreachable: whatever the session held is lost.
				s.log("share: connect", err)
				s.resetSession()
				s.fail(pl.acks, err)
				if pl.closing {
					return
				}
				s.backoff()
				continue
			}
			if s.epoch == 0 {
				s.fail(pl.acks, errNoSession) // a new connection: the session ended with the old one
				continue
			}
		}
		switch {
		case pl.closing:
			s.finish(pl.acks)
			return
		case pl.flush && len(pl.acks) > 0 && s.epoch > 0:
			s.acknowledge(pl.acks, false)
		case pl.fetch || s.epoch > 0 && len(pl.want) == 0 && len(s.session) > 0:
			// Fetch; or, with nothing left to read here, forget the
			// session's partitions (a ShareFetch fetches every
			// partition of its session).
			s.fetch(pl)
		case len(pl.acks) > 0:
			s.acknowledge(pl.acks, false)
		default:
			select {
			case <-s.wake:
			case <-s.f.closing:
			case <-s.f.ctx.Done():
				return
			}
		}
		if s.f.ctx.Err() != nil {
			s.fail(s.takeAcks(), kerr.ErrClosed)
			return
		}
	}
}

func (s *source) takeAcks() []pendingAck {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	a := s.acks
	s.acks = nil
	return a
}

// finish is the source's last turn: it sends what acks are left with the
// final epoch, which closes the session (the broker releases whatever the
// member still holds there).
func (s *source) finish(acks []pendingAck) {
	if s.epoch == 0 {
		s.fail(acks, errNoSession)
		return
	}
	s.acknowledge(acks, true)
}

// resetSession forgets the session: the next request opens a new one,
// under a new token. What the old one acquired is no longer the member's
// (the broker released it, or will when the session expires): the
// fetches of it not polled yet are dropped, and acknowledgements of it
// fail, unsent.
func (s *source) resetSession() {
	s.epoch = 0
	clear(s.session)
	f := s.f
	f.mu.Lock()
	f.newSessionLocked(s)
	kept := f.ready[:0]
	for _, rf := range f.ready {
		if rf.src == s {
			s.queued--
			continue
		}
		kept = append(kept, rf)
	}
	clear(f.ready[len(kept):])
	f.ready = kept
	if s.queued == 0 {
		s.wakeup()
	}
	f.mu.Unlock()
}

// connect makes sure the session's connection is the lane's live one. The
// broker ends a share session when its connection closes, so a new
// connection means a new session.
func (s *source) connect() error {
	b, err := s.f.broker(s.id)
	if err != nil {
		return err
	}
	c, err := b.Conn(s.f.ctx, s.f.lane)
	if err != nil {
		return err
	}
	if c != s.conn {
		if s.conn != nil && s.epoch != 0 {
			s.resetSession()
		}
		s.conn = c
	}
	return nil
}

// bumpEpoch advances the session epoch after an answered request.
func (s *source) bumpEpoch() {
	if s.epoch == math.MaxInt32 {
		s.epoch = 1 // as the broker wraps it
	} else {
		s.epoch++
	}
}

// request sends req on the session's connection (connecting first if
// there is none: a session being opened).
func (s *source) request(req kmsg.Request) (kmsg.Response, error) {
	if err := s.connect(); err != nil {
		return nil, err
	}
	return s.conn.Request(s.f.ctx, req)
}

// backoff waits before the next attempt after a failure, or until Close.
func (s *source) backoff() {
	s.failures++
	s.f.cl.TriggerRefresh()
	t := time.NewTimer(s.f.cl.Backoff(s.failures))
	defer t.Stop()
	select {
	case <-t.C:
	case <-s.f.closing:
	case <-s.f.ctx.Done():
	}
}

// sessionError reports whether err says the broker lost our session.
func sessionError(err error) bool {
	return errors.Is(err, kerr.ShareSessionNotFound) || errors.Is(err, kerr.InvalidShareSessionEpoch)
}

// fail reports acks as failed with err.
func (s *source) fail(acks []pendingAck, err error) {
	var out []engine.ShareAckResult
	for _, a := range acks {
		if a.user {
			out = append(out, engine.ShareAckResult{ShareAck: a.ShareAck, Err: fmt.Errorf("share acknowledge %s: %w", a.TopicPartition, err)})
		}
	}
	s.report(out)
}

// report hands results to Acked, then counts them for Flush.
func (s *source) report(results []engine.ShareAckResult) {
	if len(results) == 0 {
		return
	}
	s.f.cfg.Acked(results)
	f := s.f
	f.mu.Lock()
	s.rep += uint64(len(results))
	close(s.reported)
	s.reported = make(chan struct{})
	f.mu.Unlock()
}

// requeue puts acks back at the front of the queue.
func (s *source) requeue(acks []pendingAck) {
	if len(acks) == 0 {
		return
	}
	s.f.mu.Lock()
	s.acks = append(acks, s.acks...)
	s.f.mu.Unlock()
}

func (s *source) log(what string, err error) {
	if errors.Is(err, context.Canceled) && s.f.ctx.Err() != nil {
		return
	}
	s.f.log.Debug("share: "+what, "broker", s.id, "epoch", s.epoch, "err", err)
}
