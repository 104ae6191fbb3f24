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
// Produce finds a partition's buffer without a lock: a small cache
// (recentTopics) or a map from topic name to table gives the table, which
// gives the buffer. The map and each table are copied on write; writers,
// which create buffers, are serialized by Producer.mu and run once per
// partition of the producer's life, so the copies cost nothing in steady
// state. A new topic's table is not copied into the map at once, which would
// cost time quadratic in the number of topics (seconds at 10,000 topics): it
// waits in Producer.unpublished, found there under the mutex (and from then
// on mostly through the cache), and the map is rebuilt with all the waiting
// topics when their number, or the lookups that needed the mutex, reach an
// eighth of the map's size. Each topic is so copied a bounded number of
// times on average.
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
// and pointers only; a name built afresh for each message mostly misses
// and costs the map lookup.
//
// A name may sit in either slot of its pair, so that two names falling on
// the same slot (with 10 topics, one producer in two would have such a
// pair with single slots) do not evict each other at every message.
type recentTopics [1 << recentBits]atomic.Pointer[topic]

const recentBits = 8

// pair returns the two slots where name may be cached.
func (r *recentTopics) pair(name string) (a, b *atomic.Pointer[topic]) {
	addr := uint64(uintptr(unsafe.Pointer(unsafe.StringData(name))))
	i := addr * 0x9e3779b97f4a7c15 >> (64 - recentBits)
	return &r[i], &r[i^1]
}

// get returns the cached table of name, or nil.
func (r *recentTopics) get(name string) *topic {
	a, b := r.pair(name)
	if t := a.Load(); t != nil && t.name == name {
		return t
	}
	if t := b.Load(); t != nil && t.name == name {
		return t
	}
	return nil
}

// put caches t under name (its name, or a copy of it): in a free slot of
// the pair if there is one, else in the first.
func (r *recentTopics) put(name string, t *topic) {
	a, b := r.pair(name)
	if a.Load() != nil && b.Load() == nil {
		a = b
	}
	a.Store(t)
}

// lookup returns the table of topic, nil if the map has none (yet).
func (p *Producer) lookup(name string) *topic {
	if t := p.recent.get(name); t != nil {
		return t
	}
	t := (*p.topics.Load())[name]
	if t != nil {
		p.recent.put(name, t)
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

// addPartition returns the buffer of name/id, creating it if needed. It is
// Produce's way when the lock-free lookup fails: for a new partition, and
// for a topic not yet in the map. A topic seen for the first time is
// tracked in the cluster, so that its metadata (leaders, and whether it
// still exists) is refreshed periodically.
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
	published := *p.topics.Load()
	t := published[name]
	isNew := false
	if t == nil {
		if t = p.unpublished[name]; t != nil {
			p.misses++
		} else {
			isNew = true
			t = &topic{name: name}
			t.parts.Store(&[]*partition{})
			if p.unpublished == nil {
				p.unpublished = map[string]*topic{}
			}
			p.unpublished[name] = t
		}
		if len(p.unpublished)+p.misses >= len(published)/8+8 {
			p.publishLocked(published)
		}
		p.recent.put(name, t)
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

// publishLocked replaces the map of topics by one that also holds the
// unpublished topics. The caller holds p.mu.
func (p *Producer) publishLocked(published map[string]*topic) {
	next := make(map[string]*topic, len(published)+len(p.unpublished))
	maps.Copy(next, published)
	maps.Copy(next, p.unpublished)
	p.topics.Store(&next)
	clear(p.unpublished)
	p.misses = 0
}

// partitions returns every partition buffer, of every topic. The slice is
// shared: callers only read it (p.all is append-only, so the elements
// within its length never change).
func (p *Producer) partitions() []*partition {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.all[:len(p.all):len(p.all)]
}
