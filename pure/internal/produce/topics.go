package produce

import (
	"fmt"
	"maps"
	"sync/atomic"
	"unsafe"

	"github.com/gokafka/kafka/internal/kerr"
)

// topic is the producer's table of one topic's partition buffers.
//
// Produce finds a partition's buffer with two atomic loads and a map
// lookup, without a lock: the map from topic name to table (Producer.topics)
// and each table are copied on write. Writers, which create buffers, are
// serialized by Producer.mu and run once per partition of the producer's
// life, so the copies cost nothing in steady state. (Copying the map for
// each new topic is quadratic in the number of topics; at 10,000 topics it
// is a few hundred milliseconds in all, spread over their first messages.)
type topic struct {
	name  string
	parts atomic.Pointer[[]*partition] // indexed by partition id; grows
}

// maxPartitions bounds partition ids, so that a wild id fails instead of
// allocating a huge table. Kafka itself allows far fewer per topic.
const maxPartitions = 1 << 20

// recentTopics caches topic tables in front of the map, in slots chosen by
// the address of the topic name's bytes rather than by hashing them: the
// root passes the same string for every message of a topic (the name a
// Topic view holds, or the one a program keeps), so its address is a hash
// that costs a multiplication. With a few topics or more, hashing the name
// was a quarter of Produce's time (BenchmarkProduceTopics). A slot is
// verified by comparing names, which for the same string compares lengths
// and pointers only; a name built afresh for each message always misses
// and costs the map lookup.
type recentTopics [1 << recentBits]atomic.Pointer[topic]

const recentBits = 6

// lookup returns the table of topic, nil if it has none yet.
func (p *Producer) lookup(name string) *topic {
	addr := uint64(uintptr(unsafe.Pointer(unsafe.StringData(name))))
	slot := &p.recent[addr*0x9e3779b97f4a7c15>>(64-recentBits)]
	if t := slot.Load(); t != nil && t.name == name {
		return t
	}
	t := (*p.topics.Load())[name]
	if t != nil {
		slot.Store(t)
	}
	return t
}

// partition returns the buffer of topic/id, creating it on first use.
func (p *Producer) partition(topic string, id int32) (*partition, error) {
	if t := p.lookup(topic); t != nil {
		if ps := *t.parts.Load(); id >= 0 && int(id) < len(ps) {
			if pt := ps[id]; pt != nil {
				return pt, nil
			}
		}
	}
	return p.addPartition(topic, id)
}

// addPartition creates the buffer of name/id. A topic seen for the first
// time is tracked in the cluster, so that its metadata (leaders, and
// whether it still exists) is refreshed periodically.
func (p *Producer) addPartition(name string, id int32) (*partition, error) {
	// The root validates both; a mistake there must be an error here,
	// not a table of a billion entries or a topic the protocol refuses.
	if name == "" {
		return nil, fmt.Errorf("%w: empty topic name (partition %d)", kerr.ErrInvalidTopic, id)
	}
	if id < 0 || id >= maxPartitions {
		return nil, fmt.Errorf("%w: %s/%d", kerr.ErrUnknownPartition, name, id)
	}
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		return nil, fmt.Errorf("kafka: producing to %s/%d: %w", name, id, kerr.ErrClosed)
	}
	topics := *p.topics.Load()
	t := topics[name]
	isNew := t == nil
	if isNew {
		t = &topic{name: name}
		t.parts.Store(&[]*partition{})
		next := maps.Clone(topics)
		if next == nil {
			next = map[string]*topic{}
		}
		next[name] = t
		p.topics.Store(&next)
	}
	old := *t.parts.Load()
	if int(id) < len(old) && old[id] != nil {
		p.mu.Unlock()
		return old[id], nil
	}
	ps := make([]*partition, max(len(old), int(id)+1))
	copy(ps, old)
	pt := &partition{topic: name, id: id}
	ps[id] = pt
	t.parts.Store(&ps)
	p.all = append(p.all, pt)
	// Born homeless; the router homes it (at once, if the metadata
	// knows its leader).
	p.homeless = append(p.homeless, pt)
	p.mu.Unlock()
	if isNew {
		p.cl.Track(name)
	}

	pt.mu.Lock()
	s := p.homeLocked(pt, p.cl.Snapshot())
	pending := len(pt.batches) > 0 // another Produce may have appended already
	pt.mu.Unlock()
	switch {
	case s == nil:
		p.cl.TriggerRefresh()
		p.wakeRouter()
	case pending:
		s.wake()
	}
	return pt, nil
}

// partitions returns every partition buffer, of every topic. The slice is
// shared: callers only read it (p.all is append-only, so the elements
// within its length never change).
func (p *Producer) partitions() []*partition {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.all[:len(p.all):len(p.all)]
}
