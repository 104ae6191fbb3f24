package fetch

import (
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// assumedBytesPerMsg stands in for the wire size of a message until a
// partition's first answer shows it: small (a compressed record with a
// short value), so the first request does not overfill a small queue.
const assumedBytesPerMsg = 16

// rounds is the pipeline depth of a source: one response being decoded
// while the next request is in flight.
const rounds = 2

// source is the fetch actor of one broker, in two stages of one goroutine
// each:
//
//   - the network stage (run) builds one Fetch request for the fetchable
//     cursors of all the partitions this broker leads, of every topic,
//     sends it, scans the answer's batch headers to advance each cursor's
//     fetch position, and hands the answer to the decode stage; then it
//     sends the next request at once;
//   - the decode stage (decodeLoop) turns answers into messages and queues
//     them, in the order they were received.
//
// Answers travel between the stages in round objects, of which there are
// exactly two: that bounds a source to one answer being decoded and one
// request in flight (memory: two responses of at most MaxBytes). The
// network stage exits when the source has no cursor left (the router starts
// a new source when the broker gains partitions); the decode stage follows
// once it has applied what was handed to it.
type source struct {
	f    *fetcher
	id   int32         // broker node id
	wake chan struct{} // one pending signal: a cursor became fetchable

	// Guarded by f.mu.
	cursors []*cursor
	rot     int // rotates the partition order between requests

	// Between the stages.
	free    chan *round // rounds the network stage may fill
	decoded chan *round // rounds for the decode stage, in order

	// Owned by the network stage. The request and the maps are reused from
	// one request to the next, so building one allocates nothing once they
	// have grown to the source's partitions.
	broker  *cluster.Broker // last broker object used, to close its lane at Close
	req     *kmsg.FetchRequest
	topicAt map[string]int                // topic -> position in req.Topics, while building
	index   map[engine.TopicPartition]int // partition -> position in round.parts, while scanning
	sess    *session                      // the fetch session with the broker (session.go)
	// partialFirst: the request just built puts first a partition whose
	// last answer held only part of a batch (see build).
	partialFirst bool

	// Owned by the decode stage.
	dec decoder
}

// round is one request and its answer on their way through the stages.
type round struct {
	parts []sentPart
	resp  *kmsg.FetchResponse
	// The byte budget's share of the round (budget.go): the request's
	// MaxBytes while it is in flight, then what its scan reserved until
	// the decode stage queues it, and the answer's record data, which
	// the queued fetches share. Guarded by f.mu.
	inflight, reserved int64
	answer             *answerCharge
}

// sentPart is one partition of a round: the cursor state the request was
// built from, what the scan found, and what decoding made of it.
type sentPart struct {
	c      *cursor
	gen    uint64
	offset int64 // the offset requested
	rp     *kmsg.FetchResponseTopicPartition
	decode bool // the decode stage found it current

	// Set by the scan, under f.mu.
	reserved int   // messages reserved in c.pending
	scanNext int64 // where the scan moved c.fetchAt; -1 if it did not
	held     bool  // the scan set c.held

	res decoded
}

func newSource(f *fetcher, id int32) *source {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = int32(f.cfg.MaxWait / time.Millisecond)
	req.MinBytes = f.cfg.MinBytes
	req.MaxBytes = f.cfg.MaxBytes
	req.IsolationLevel = int8(f.cfg.Isolation)
	// SessionID and SessionEpoch: set per request by the session.
	s := &source{
		f:       f,
		id:      id,
		wake:    make(chan struct{}, 1),
		free:    make(chan *round, rounds),
		decoded: make(chan *round, rounds),
		req:     req,
		topicAt: map[string]int{},
		index:   map[engine.TopicPartition]int{},
		dec:     newDecoder(f.cfg),
		sess:    newSession(),
	}
	for range rounds {
		s.free <- &round{}
	}
	return s
}

// start runs both stages; caller holds f.mu and checked that the fetcher
// is not closed.
func (s *source) start() {
	s.f.wg.Add(2)
	go s.run()
	go s.decodeLoop()
}

// wakeup makes the network stage rebuild its request soon. It never blocks.
func (s *source) wakeup() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// add and remove change the cursor set; caller holds f.mu.
func (s *source) add(c *cursor) { s.cursors = append(s.cursors, c) }

func (s *source) remove(c *cursor) {
	for i, x := range s.cursors {
		if x == c {
			last := len(s.cursors) - 1
			s.cursors[i] = s.cursors[last]
			s.cursors[last] = nil
			s.cursors = s.cursors[:last]
			return
		}
	}
}

// run is the network stage.
func (s *source) run() {
	defer s.f.wg.Done()
	defer close(s.decoded) // the decode stage finishes what it has, then exits
	for {
		var r *round
		select {
		case r = <-s.free:
		case <-s.f.ctx.Done():
			return
		}
		wait, ok := s.build(r)
		if !ok {
			return
		}
		if len(r.parts) == 0 {
			s.free <- r
			s.sleep(wait)
			continue
		}
		if !s.fetch(r, s.sess.request(s.req, s.partialFirst)) {
			s.unreserve(r)
			s.free <- r
			continue
		}
		s.decoded <- r // never blocks: it has room for every round
	}
}

// sleep waits for a wakeup, for wait if it is not negative, or for Close.
func (s *source) sleep(wait time.Duration) {
	var timer <-chan time.Time
	if wait >= 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-s.wake:
	case <-timer:
	case <-s.f.ctx.Done():
	}
}

// build fills s.req and r.parts with the cursors to fetch now, grouped by
// topic as the request wants them. It returns false when the source should
// stop (closed, or no cursor left; it then unregisters itself under the
// lock, so that a later Assign starts a new source), and how long until a
// backed-off cursor may be fetched again (-1: none is waiting).
//
// The request's topic and partition slices keep their backing arrays from
// one request to the next; only a topic or a partition count the source
// never had before makes them grow.
func (s *source) build(r *round) (time.Duration, bool) {
	f := s.f
	r.parts = r.parts[:0]
	topics := s.req.Topics[:0]
	clear(s.topicAt)
	wait := time.Duration(-1)
	first := -1 // the r.parts index of a partial cursor, to put first

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || len(s.cursors) == 0 {
		if f.sources[s.id] == s {
			delete(f.sources, s.id)
		}
		return 0, false
	}
	limit := f.cfg.QueuedMaxMessages
	left, ok := f.budgetLeftLocked()
	if !ok {
		return -1, true // the byte budget is spent: Poll wakes us
	}
	now := time.Now()
	n := len(s.cursors)
	s.rot++
	for i := range n {
		c := s.cursors[(s.rot+i)%n]
		if !c.fetchable(limit) {
			continue
		}
		if d := c.retryAt.Sub(now); d > 0 {
			if wait < 0 || d < wait {
				wait = d
			}
			continue
		}
		ti, ok := s.topicAt[c.tp.Topic]
		if !ok {
			ti = len(topics)
			if ti < cap(topics) {
				topics = topics[:ti+1] // reuse the element and its partitions' array
			} else {
				topics = append(topics, kmsg.NewFetchRequestTopic())
			}
			t := &topics[ti]
			t.Topic = c.tp.Topic
			t.TopicID = c.topicID // what Fetch v13+ sends instead of the name
			t.Partitions = t.Partitions[:0]
			s.topicAt[c.tp.Topic] = ti
		}
		p := kmsg.NewFetchRequestTopicPartition()
		p.Partition = c.tp.Partition
		p.CurrentLeaderEpoch = c.leaderEpoch
		p.FetchOffset = c.fetchAt
		p.PartitionMaxBytes = s.partitionBytes(c, limit)
		if int64(p.PartitionMaxBytes) > left {
			p.PartitionMaxBytes = int32(max(left, int64(c.batchBytes)))
		}
		topics[ti].Partitions = append(topics[ti].Partitions, p)
		if c.partial {
			first = len(r.parts)
		}
		r.parts = append(r.parts, sentPart{c: c, gen: c.gen, offset: c.fetchAt, scanNext: -1})
	}
	if first >= 0 {
		// A partition whose last answer held only part of a batch goes
		// first in the request, where the broker returns at least one
		// whole batch however large.
		c := r.parts[first].c
		ti := s.topicAt[c.tp.Topic]
		topics[0], topics[ti] = topics[ti], topics[0]
		ps := topics[0].Partitions
		for j := range ps {
			if ps[j].Partition == c.tp.Partition {
				ps[0], ps[j] = ps[j], ps[0]
				break
			}
		}
	}
	s.req.Topics = topics
	s.partialFirst = first >= 0
	s.reserveLocked(r, left)
	return wait, true
}

// partitionBytes sizes a partition's byte limit to half the queue limit,
// or the room left if less, from the bytes per message seen so far: two
// requests then fit in the queue, and a nearly full queue is not sent a
// megabyte it has no room for. The limit never goes below the partition's
// largest batch, or the broker would send only part of it.
func (s *source) partitionBytes(c *cursor, limit int) int32 {
	bpm := c.bytesPerMsg
	if bpm <= 0 {
		bpm = assumedBytesPerMsg
	}
	msgs := min(c.room(limit), (limit+1)/2)
	want := max(int64(msgs)*int64(bpm), int64(c.batchBytes))
	if most := s.f.cfg.PartitionMaxBytes; want > int64(most) {
		return most
	}
	return int32(want)
}

// testOnRequest, when set (by tests), sees every Fetch request a source
// sends, with the broker's id and the full request it stands for (the
// same one unless req is a fetch session's incremental request), before
// it is sent.
var testOnRequest func(broker int32, req, full *kmsg.FetchRequest)

// fetch sends req (the request built in r, or its incremental form in the
// fetch session) and scans the answer. It reports whether r now holds an
// answer for the decode stage.
func (s *source) fetch(r *round, req *kmsg.FetchRequest) bool {
	f := s.f
	b, err := f.cl.Broker(s.id)
	if err != nil {
		s.fail(r, err)
		return false
	}
	if b != s.broker {
		s.broker = b
		f.mu.Lock()
		f.brokers[b] = struct{}{}
		f.mu.Unlock()
	}
	if testOnRequest != nil {
		testOnRequest(s.id, req, s.req)
	}
	resp, err := b.RequestOn(f.ctx, f.lane, req)
	if err != nil {
		s.sess.failed(err)
		s.fail(r, err)
		return false
	}
	fr := resp.(*kmsg.FetchResponse)
	if err := kerr.ForCode(fr.ErrorCode); err != nil {
		// A request-level error: the fetch session's, or the broker's.
		if s.sess.failed(err) {
			f.log.Debug("fetch session ended", "broker", s.id, "err", err)
			return false // sent again at once, full
		}
		s.fail(r, err)
		return false
	}
	s.sess.answered(fr)
	r.resp = fr
	s.scan(r)
	return true
}

// topicNamed returns the name of the topic that the request just sent
// identified by id, or "" (no partition matches it then). Only Fetch v13
// and later identify topics by id alone; the wire layer speaks up to v12
// today, whose answers carry names.
func (s *source) topicNamed(id [16]byte) string {
	var noID [16]byte
	if id == noID {
		return ""
	}
	for i := range s.req.Topics {
		if s.req.Topics[i].TopicID == id {
			return s.req.Topics[i].Topic
		}
	}
	return ""
}

// fail ends a request with a request-level error (connection, broker gone):
// every cursor in it backs off, and the metadata is refreshed in case the
// broker no longer leads them.
func (s *source) fail(r *round, err error) {
	f := s.f
	if f.ctx.Err() != nil {
		return // closing
	}
	f.log.Debug("fetch request failed", "broker", s.id, "partitions", len(r.parts), "err", err)
	f.cl.TriggerRefresh()
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range r.parts {
		sp := &r.parts[i]
		c := sp.c
		if c.src != s || c.gen != sp.gen {
			continue
		}
		c.failures++
		c.retryAt = now.Add(f.cl.Backoff(c.failures))
	}
}

// scan matches the answer's partitions to the request and, for each one
// that is still current, reads its batch headers to move c.fetchAt past
// the complete batches and reserve their messages, so the next request can
// leave before this answer is decoded. A partition with an error code is
// held until the decode stage has dealt with it.
func (s *source) scan(r *round) {
	f := s.f
	clear(s.index)
	for i := range r.parts {
		s.index[r.parts[i].c.tp] = i
	}
	for i := range r.resp.Topics {
		t := &r.resp.Topics[i]
		topic := t.Topic
		if topic == "" {
			topic = s.topicNamed(t.TopicID)
		}
		for j := range t.Partitions {
			rp := &t.Partitions[j]
			if k, ok := s.index[engine.TopicPartition{Topic: topic, Partition: rp.Partition}]; ok {
				r.parts[k].rp = rp
			}
		}
	}
	// Header walks outside the lock; they only read the response.
	for i := range r.parts {
		sp := &r.parts[i]
		if sp.rp != nil && sp.rp.ErrorCode == 0 {
			sp.res.scan = scanBatches(sp.rp.RecordBatches, sp.offset)
		}
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	defer f.settleLocked(r)
	for i := range r.parts {
		sp := &r.parts[i]
		c := sp.c
		if sp.rp == nil || c.removed || c.gen != sp.gen || c.fetchAt != sp.offset {
			continue // missing (asked again next time), or superseded
		}
		if sp.rp.ErrorCode != 0 {
			c.held, sp.held = true, true
			continue
		}
		sc := &sp.res.scan
		c.partial = sc.partial
		if sc.records > 0 {
			c.bytesPerMsg = max(1, sc.bytes/sc.records)
		}
		if sc.batch > 0 {
			c.batchBytes = sc.batch
		}
		c.fetchAt = sc.next
		c.pending += sc.count
		sp.reserved = sc.count
		sp.scanNext = sc.next
	}
}
