//go:build cgo && !nordkafka

package rdkafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
)

// The producer's own path (cproduce.go's instance), for every producer but
// a transactional one (txn.go drives confluent-kafka-go's transaction
// calls) or one authenticating with OAUTHBEARER (confluent-kafka-go serves
// its token refresh events).
//
// One instance serves all the producers of a client whose librdkafka
// properties and logger are the same (issue 17: a client with ten
// producers opened ten instances, each with its own connections to every
// broker it wrote to). Produce calls librdkafka directly with the
// message's index in the instance's records table as its opaque; the
// instance's events goroutine takes delivery reports an event (a produce
// request's worth) at a time off its main queue and hands each to the
// producer that sent the message. What librdkafka does per instance is
// shared by its producers: its queue bound (MaxQueuedMessages counts
// every producer's messages in librdkafka, beside each producer's own
// MaxQueued), its connections and their statistics (each producer's
// Stats().Brokers shows the instance's), and a fatal error, which fails
// them all.

// ownInstance reports whether the engine creates the producer's librdkafka
// instance itself, from its properties.
func ownInstance(cfg engine.ProducerConfig, m kafka.ConfigMap) bool {
	if cfg.TransactionalID != "" {
		return false
	}
	mech, _ := m["sasl.mechanism"].(string)
	if mech == "" {
		mech, _ = m["sasl.mechanisms"].(string)
	}
	return mech != "OAUTHBEARER"
}

// instanceKey says which producers share an instance: those of one client
// (its cluster) with the same properties and the same logger (librdkafka's
// logs and client errors go to the instance's logger once).
type instanceKey struct {
	cl     *cluster.Cluster
	props  string
	logger *slog.Logger
}

// instances are the shared instances in use, and how many producers use
// each; an instance is destroyed when its last producer closes.
var instances = struct {
	sync.Mutex
	m map[instanceKey]*sharedInstance
}{m: map[instanceKey]*sharedInstance{}}

// sharedInstance is one librdkafka instance of the own path with its
// producers, its records table and its events goroutine.
type sharedInstance struct {
	key  instanceKey
	c    *cInstance
	recs recordTable
	log  *slog.Logger

	feeder *feeder // the hand-over to the thread that calls librdkafka (feed.go)

	refs int // producers attached; under instances' lock

	mu      sync.Mutex
	members []*producer // for client errors and statistics

	stop chan struct{} // closed to end the events goroutine
	done chan struct{} // closed when it ended
}

// propsKey is m as text, in a stable order.
func propsKey(m kafka.ConfigMap) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%v\n", k, m[k])
	}
	return b.String()
}

// attach finds p's instance (creating it for the first producer of its
// kind) and adds p to its members; created says the instance is new.
func attach(cl *cluster.Cluster, m kafka.ConfigMap, p *producer) (s *sharedInstance, created bool, err error) {
	key := instanceKey{cl: cl, props: propsKey(m), logger: p.cfg.Logger}
	instances.Lock()
	defer instances.Unlock()
	s = instances.m[key]
	if s == nil {
		c, err := newCInstance(m)
		if err != nil {
			return nil, false, err
		}
		s = &sharedInstance{key: key, c: c, log: p.log, feeder: newFeeder(), stop: make(chan struct{}), done: make(chan struct{})}
		instances.m[key] = s
		created = true
		go s.events()
		go s.feed()
	}
	s.refs++
	s.mu.Lock()
	s.members = append(s.members, p)
	s.mu.Unlock()
	return s, created, nil
}

// detach removes p, which takes no more messages and whose Produce calls
// have all returned. The last producer purges what is left (its messages
// fail as ErrClosed through their reports) and destroys the instance; any
// other fails its own messages still in librdkafka with kerr.ErrClosed at
// once (abandon): librdkafka has no purge of one producer's messages.
func (s *sharedInstance) detach(p *producer) {
	s.mu.Lock()
	for i, q := range s.members {
		if q == p {
			s.members = append(s.members[:i], s.members[i+1:]...)
			break
		}
	}
	s.mu.Unlock()
	instances.Lock()
	s.refs--
	last := s.refs == 0
	if last {
		delete(instances.m, s.key)
	}
	instances.Unlock()
	if !last {
		p.abandon()
		return
	}
	p.purge()
	close(s.stop)
	s.c.wake()
	<-s.feeder.done
	<-s.done
	s.c.destroy()
}

// record is a message in flight: what the delivery report needs to find
// its way back. It is the engine's only allocation per message on
// confluent-kafka-go's path (travelling as the kafka.Message's Opaque);
// on the own path it is a value in the records table.
type record struct {
	m     *engine.Message
	done  engine.DoneFunc
	gen   *generation
	owner *producer // the own path: whose message
	// gone marks a slot whose message was failed by its producer's Close
	// (abandon) while librdkafka still held it: the slot stays taken until
	// librdkafka reports the message, so that its opaque cannot name a
	// newer record.
	gone bool
}

// recordTable is the table of messages in flight on the own path: a message's
// opaque is its index here, so that its report finds it without a map or a
// cgo.Handle. Freed slots are reused.
type recordTable struct {
	mu   sync.Mutex
	recs []record
	free []int64
}

func (t *recordTable) add(r record) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if n := len(t.free); n > 0 {
		i := t.free[n-1]
		t.free = t.free[:n-1]
		t.recs[i] = r
		return i
	}
	t.recs = append(t.recs, r)
	return int64(len(t.recs) - 1)
}

// take removes the records of reps (in order) into out, under one lock; a
// report of an abandoned message or none of ours gives a zero record.
func (t *recordTable) take(reps []cReport, out []record) []record {
	out = out[:0]
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range reps {
		i := int64(r.opaque)
		if i < 0 || i >= int64(len(t.recs)) || (t.recs[i].done == nil && !t.recs[i].gone) {
			out = append(out, record{}) // not ours: skipped by the caller
			continue
		}
		if t.recs[i].gone {
			out = append(out, record{})
		} else {
			out = append(out, t.recs[i])
		}
		t.recs[i] = record{}
		t.free = append(t.free, i)
	}
	return out
}

// remove takes record i out (its message was refused).
func (t *recordTable) remove(i int64) record {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := t.recs[i]
	t.recs[i] = record{}
	t.free = append(t.free, i)
	return r
}

// abandon takes owner's records out (their slots stay taken, marked gone,
// until librdkafka reports them) and returns them.
func (t *recordTable) abandon(owner *producer) []record {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []record
	for i := range t.recs {
		if t.recs[i].owner == owner && t.recs[i].done != nil {
			out = append(out, t.recs[i])
			t.recs[i] = record{gone: true}
		}
	}
	return out
}

// cProduce is Produce's hand-over on the own path (feed.go); the caller
// holds the message's slot. Produce calls hold inside's read lock here, so
// that Close knows when none is left in the table's way.
func (p *producer) cProduce(m *engine.Message, done engine.DoneFunc) error {
	p.inside.RLock()
	defer p.inside.RUnlock()
	if p.closed.Load() { // under the lock: Close waits for this call, or this call sees closed
		p.queue.Release(1)
		return kerr.ErrClosed
	}
	s := p.shared
	i := s.recs.add(record{m: m, done: done, gen: p.gens.enter(), owner: p})
	s.handOver(feedItem{p: p, rkt: s.c.rkt(m.Topic), m: m, i: i})
	return nil // the record now belongs to the delivery report
}

// abandon fails this producer's messages that librdkafka still holds, or
// that wait in the hand-over, with kerr.ErrClosed (Close of a producer
// whose instance other producers still use), then waits until the events
// goroutine has settled the reports it took before (it does not block: it
// only calls DoneFuncs).
func (p *producer) abandon() {
	f := p.shared.feeder
	f.feeding.Lock()
	withdrawn := f.withdraw(p)
	abandoned := p.shared.recs.abandon(p)
	for _, i := range withdrawn {
		p.shared.recs.remove(i) // never given to librdkafka: no report frees its slot
	}
	f.feeding.Unlock()
	var s settled
	for _, r := range abandoned {
		m := r.m
		m.Offset = -1
		r.done(m, fmt.Errorf("rdkafka: producing to %s/%d: %w: the producer closed before its delivery was confirmed", m.Topic, m.Partition, kerr.ErrClosed))
		s.add(p, r.gen)
	}
	s.settle()
	_ = p.queue.WaitBelow(context.Background(), 1, nil)
}

// cEventSlice bounds one wait on the main queue when nothing comes; the
// last detach wakes a wait at once anyway (rd_kafka_queue_yield).
const cEventSlice = 100

// events is the instance's events goroutine: delivery reports, a whole
// event at a time, to each message's producer; client errors and
// statistics to every producer; logs to the instance's logger. It ends
// when stop is closed and the queue has nothing more.
func (s *sharedInstance) events() {
	defer close(s.done)
	var st settled
	defer st.settle()
	var buf []cReport
	var recs []record
	for {
		ev, nb, ok := s.c.poll(cEventSlice, buf)
		buf = nb
		s.reportRefused(&st)
		if !ok {
			st.settle()
			select {
			case <-s.stop:
				<-s.feeder.done // it may refuse what it still had
				s.reportRefused(&st)
				return
			default:
			}
			continue
		}
		switch {
		case ev.reports != nil:
			recs = s.recs.take(ev.reports, recs)
			for j, rep := range ev.reports {
				if r := recs[j]; r.done != nil {
					r.owner.cDeliver(rep, r, &st)
				}
				if st.n >= maxSettle {
					st.settle()
				}
			}
			clear(recs) // no message stays reachable from here
			st.settle()
			signal(s.feeder.room)
		case ev.err != nil:
			var ke kafka.Error
			if errors.As(ev.err, &ke) {
				s.clientError(ke)
			}
		case ev.log != nil:
			forwardLog(s.log, *ev.log)
		case ev.stats != "":
			for _, p := range s.snapshot() {
				p.windows(ev.stats)
			}
		}
	}
}

// reportRefused reports the messages that librdkafka refused (feed.go).
func (s *sharedInstance) reportRefused(st *settled) {
	refused := s.feeder.takeRefused()
	for _, rf := range refused {
		m := rf.r.m
		m.Offset = -1
		rf.r.done(m, rf.err)
		st.add(rf.r.owner, rf.r.gen)
	}
	if len(refused) > 0 {
		st.settle()
	}
}

// snapshot is the instance's producers at this moment.
func (s *sharedInstance) snapshot() []*producer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*producer(nil), s.members...)
}

// clientError logs a client-level error once and lets every producer see
// it (it explains the authentication failures that follow).
func (s *sharedInstance) clientError(e kafka.Error) {
	for _, p := range s.snapshot() {
		p.auth.observe(e)
	}
	logClientError(s.log, e)
}

// cDeliver reports one message's outcome to its DoneFunc.
func (p *producer) cDeliver(rep cReport, r record, s *settled) {
	m := r.m
	var err error
	if rep.err != 0 {
		ke := kafka.NewError(kafka.ErrorCode(rep.err), kafka.ErrorCode(rep.err).String(), false)
		err = fmt.Errorf("rdkafka: producing to %s/%d: %w", m.Topic, m.Partition, p.auth.explain(p.reportError(ke)))
		m.Offset = -1
	} else {
		p.auth.ok()
		m.Partition = int32(rep.partition)
		m.Offset = int64(rep.offset)
		if m.Offset < 0 { // acks=0: librdkafka reports OffsetInvalid
			m.Offset = -1
		}
	}
	r.done(m, err)
	s.add(p, r.gen)
}
