package fetch

import (
	"errors"
	"math"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// session is a source's fetch session with its broker (KIP-227, Fetch v7
// and later). Without one, every request lists every partition the source
// fetches; with one, the broker remembers them, and each request lists
// only the partitions whose fetch position, byte limit or leader epoch
// changed since the last one, plus the ones to forget. A consumer of
// hundreds of mostly idle partitions then sends a few bytes per request
// instead of a few kilobytes, and the broker does not re-read them all.
//
// The first request is full, with session ID 0 and epoch 0: the broker
// answers with a new session ID (or 0: it made none, for instance because
// its session cache is full, or it speaks a Fetch version without
// sessions, which does not even carry the fields). Then the epoch counts
// the requests of the session; the broker refuses an unexpected one. What
// the broker holds for a partition is what the last request that listed it
// said: it never moves a fetch position itself, so a partition left out
// is fetched again from the same offset (the source leaves out only
// partitions whose position did not move).
//
// Any doubt ends the session and the next request is full again (epoch 0,
// a new session): a request that failed (the connection, the broker), a
// request-level error, FETCH_SESSION_ID_NOT_FOUND (the broker evicted it,
// or restarted), INVALID_FETCH_SESSION_EPOCH. A broker that refuses even a
// full request's session gets no more: the source falls back to full
// fetches without a session (epoch -1) for its life.
//
// A session belongs to the network stage of its source, which sends one
// request at a time.
type session struct {
	id       int32
	epoch    int32 // of the next request: 0 = full, creating a session
	disabled bool  // full fetches without a session (epoch -1)

	// parts is what the broker holds, as the last request sent left it.
	parts map[engine.TopicPartition]sessPart
	// present is scratch space for the rare request that forgets
	// partitions: the ones it still fetches.
	present map[engine.TopicPartition]struct{}

	// sentFull: the request in flight is full (epoch 0, or no session).
	sentFull bool

	// incr is the incremental request, rebuilt from the full one each
	// time; its slices are reused, as the full request's are.
	incr      *kmsg.FetchRequest
	forgotten map[string]int // topic -> position in incr.ForgottenTopics, while building
}

// sessPart is what the broker holds for one partition of the session.
type sessPart struct {
	offset      int64
	maxBytes    int32
	leaderEpoch int32
}

func newSession() *session {
	return &session{
		parts:     map[engine.TopicPartition]sessPart{},
		present:   map[engine.TopicPartition]struct{}{},
		incr:      kmsg.NewPtrFetchRequest(),
		forgotten: map[string]int{},
	}
}

// reset ends the session: the next request is full and opens a new one.
func (ss *session) reset() {
	ss.id, ss.epoch = 0, 0
	clear(ss.parts)
}

// request returns the request to send for the full request full (every
// partition to fetch now, built by source.build): full itself, stamped
// with the session's ID and epoch 0 (or epoch -1 without sessions), or the
// session's incremental request. forceFull asks for a full request: a
// partition's last answer held only part of a batch, and only a full
// request has the partition order that makes the broker return the whole
// batch (the session keeps its own order).
func (ss *session) request(full *kmsg.FetchRequest, forceFull bool) *kmsg.FetchRequest {
	if ss.disabled {
		full.SessionID, full.SessionEpoch = 0, -1
		full.ForgottenTopics = full.ForgottenTopics[:0]
		ss.sentFull = true
		return full
	}
	if ss.epoch == 0 || forceFull {
		// A full request opens a new session; with ss.id set, it also
		// closes the old one.
		clear(ss.parts)
		for i := range full.Topics {
			t := &full.Topics[i]
			for j := range t.Partitions {
				p := &t.Partitions[j]
				ss.parts[engine.TopicPartition{Topic: t.Topic, Partition: p.Partition}] = sessPart{
					offset: p.FetchOffset, maxBytes: p.PartitionMaxBytes, leaderEpoch: p.CurrentLeaderEpoch,
				}
			}
		}
		full.SessionID, full.SessionEpoch = ss.id, 0
		full.ForgottenTopics = full.ForgottenTopics[:0]
		ss.sentFull = true
		return full
	}

	in := ss.incr
	in.ReplicaID, in.MaxWaitMillis, in.MinBytes, in.MaxBytes = full.ReplicaID, full.MaxWaitMillis, full.MinBytes, full.MaxBytes
	in.IsolationLevel, in.Rack = full.IsolationLevel, full.Rack
	in.SessionID, in.SessionEpoch = ss.id, ss.epoch
	topics := in.Topics[:0]
	listed := 0 // partitions of full
	for i := range full.Topics {
		t := &full.Topics[i]
		var it *kmsg.FetchRequestTopic
		for j := range t.Partitions {
			p := &t.Partitions[j]
			tp := engine.TopicPartition{Topic: t.Topic, Partition: p.Partition}
			listed++
			old, ok := ss.parts[tp]
			now := sessPart{offset: p.FetchOffset, maxBytes: p.PartitionMaxBytes, leaderEpoch: p.CurrentLeaderEpoch}
			if ok && old == now {
				continue // the broker has it as it is
			}
			ss.parts[tp] = now
			if it == nil {
				n := len(topics)
				if n < cap(topics) {
					topics = topics[:n+1] // reuse the element and its partitions' array
				} else {
					topics = append(topics, kmsg.NewFetchRequestTopic())
				}
				it = &topics[n]
				it.Topic, it.TopicID = t.Topic, t.TopicID
				it.Partitions = it.Partitions[:0]
			}
			it.Partitions = append(it.Partitions, *p)
		}
	}
	in.Topics = topics

	forgotten := in.ForgottenTopics[:0]
	if len(ss.parts) > listed {
		ss.forget(full, &forgotten)
	}
	in.ForgottenTopics = forgotten
	ss.sentFull = false
	return in
}

// forget removes from the session the partitions full no longer lists,
// and appends them to forgotten.
func (ss *session) forget(full *kmsg.FetchRequest, forgotten *[]kmsg.FetchRequestForgottenTopic) {
	clear(ss.present)
	for i := range full.Topics {
		t := &full.Topics[i]
		for j := range t.Partitions {
			ss.present[engine.TopicPartition{Topic: t.Topic, Partition: t.Partitions[j].Partition}] = struct{}{}
		}
	}
	fs := *forgotten
	clear(ss.forgotten)
	for tp := range ss.parts {
		if _, ok := ss.present[tp]; ok {
			continue
		}
		delete(ss.parts, tp)
		fi, ok := ss.forgotten[tp.Topic]
		if !ok {
			fi = len(fs)
			if fi < cap(fs) {
				fs = fs[:fi+1]
			} else {
				fs = append(fs, kmsg.NewFetchRequestForgottenTopic())
			}
			fs[fi].Topic = tp.Topic
			fs[fi].TopicID = ss.topicID(full, tp.Topic)
			fs[fi].Partitions = fs[fi].Partitions[:0]
			ss.forgotten[tp.Topic] = fi
		}
		fs[fi].Partitions = append(fs[fi].Partitions, tp.Partition)
	}
	*forgotten = fs
}

// topicID is the id of topic in the full request, or zero (a topic none of
// whose partitions is fetched now: Fetch v12 and older name topics, which
// is all the wire layer speaks).
func (ss *session) topicID(full *kmsg.FetchRequest, topic string) [16]byte {
	for i := range full.Topics {
		if full.Topics[i].Topic == topic {
			return full.Topics[i].TopicID
		}
	}
	return [16]byte{}
}

// answered moves the session on after a response without a request-level
// error.
func (ss *session) answered(resp *kmsg.FetchResponse) {
	switch {
	case ss.disabled:
	case ss.sentFull && resp.SessionID == 0:
		// No session made (or no sessions at all): full requests go on,
		// each asking for one.
		ss.reset()
	case ss.sentFull:
		ss.id, ss.epoch = resp.SessionID, 1
	default:
		if ss.epoch == math.MaxInt32 {
			ss.epoch = 1 // as Kafka wraps it
		} else {
			ss.epoch++
		}
	}
}

// failed handles a request that got no usable answer: err is the request's
// error, or the response's request-level error. It reports whether the
// request should be sent again at once (the session was at fault; the next
// request is full) rather than backed off.
func (ss *session) failed(err error) (retryNow bool) {
	sessionErr := errors.Is(err, kerr.FetchSessionIDNotFound) || errors.Is(err, kerr.InvalidFetchSessionEpoch) ||
		errors.Is(err, kerr.FetchSessionTopicIDError)
	wasFull := ss.sentFull
	ss.reset()
	if !sessionErr || ss.disabled {
		return false
	}
	if wasFull {
		// Refused even as a new session: no more sessions here.
		ss.disabled = true
		return false
	}
	return true
}
