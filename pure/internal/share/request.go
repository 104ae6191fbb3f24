package share

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The source's requests: ShareFetch (fetch), ShareAcknowledge
// (acknowledge), and what their answers mean.

// fetch sends one ShareFetch: it adds the wanted partitions the session
// lacks, forgets those it no longer wants, and carries the acks of
// partitions in the session (others go in a ShareAcknowledge after).
func (s *source) fetch(pl plan) {
	if !pl.fetch && s.epoch == 0 {
		return // nothing to forget: the session ended
	}
	cfg := s.f.cfg
	req := kmsg.NewPtrShareFetchRequest()
	req.GroupID = &cfg.Group
	req.MemberID = &cfg.MemberID
	req.ShareSessionEpoch = s.epoch
	req.MaxWaitMillis = int32(cfg.MaxWait.Milliseconds())
	req.MinBytes = cfg.MinBytes
	req.MaxBytes = cfg.MaxBytes
	req.MaxRecords = cfg.MaxRecords
	req.BatchSize = cfg.MaxRecords
	if !pl.fetch {
		req.MaxWaitMillis = 0 // only forgetting: nothing to wait for
	}
	names := make(map[tidp]engine.TopicPartition, len(pl.want)+len(s.session))
	topicIdx := map[[16]byte]int{}
	partIdx := map[tidp]int{}
	add := func(k tidp, tp engine.TopicPartition) *kmsg.ShareFetchRequestTopicPartition {
		names[k] = tp
		ti := indexOf(&req.Topics, topicIdx, k.id, kmsg.ShareFetchRequestTopic{TopicID: k.id})
		t := &req.Topics[ti]
		pi := indexOf(&t.Partitions, partIdx, k, kmsg.ShareFetchRequestTopicPartition{Partition: k.p})
		return &t.Partitions[pi]
	}
	if pl.fetch {
		for k, tp := range pl.want {
			if _, in := s.session[k]; !in {
				add(k, tp)
			}
		}
	}
	for k, tp := range s.session {
		names[k] = tp
		if _, ok := pl.want[k]; !ok || !pl.fetch {
			appendForget(req, k)
		}
	}
	// Acks ride along for partitions in the session or joining it; a
	// session being opened (epoch 0) takes none.
	var carried, rest []pendingAck
	for _, a := range pl.acks {
		k := tidp{a.topicID, a.Partition}
		_, inSession := s.session[k]
		_, wanted := pl.want[k]
		if s.epoch == 0 || !(inSession || wanted && pl.fetch) {
			rest = append(rest, a)
			continue
		}
		carried = append(carried, a)
	}
	sortAcks(carried)
	for _, a := range carried {
		rp := add(tidp{a.topicID, a.Partition}, a.TopicPartition)
		if n := len(rp.AcknowledgementBatches); n > 0 && continues(rp.AcknowledgementBatches[n-1].LastOffset, rp.AcknowledgementBatches[n-1].AcknowledgeTypes, a) {
			rp.AcknowledgementBatches[n-1].LastOffset = a.LastOffset
			continue
		}
		rp.AcknowledgementBatches = append(rp.AcknowledgementBatches, kmsg.ShareFetchRequestTopicPartitionAcknowledgementBatch{
			FirstOffset: a.FirstOffset, LastOffset: a.LastOffset, AcknowledgeTypes: []int8{int8(a.Type)},
		})
	}
	resp, err := s.request(req)
	if err != nil {
		// Whether the broker saw it is unknown: its session epoch may
		// have moved on. Start a new session.
		s.log("share fetch failed", err)
		s.resetSession()
		s.fail(carried, err)
		s.requeue(rest)
		s.backoff()
		return
	}
	r := resp.(*kmsg.ShareFetchResponse)
	if err := kerr.WithMessage(r.ErrorCode, r.ErrorMessage); err != nil {
		s.log("share fetch refused", err)
		if sessionError(err) {
			s.resetSession()
		}
		s.fail(carried, err)
		s.requeue(rest)
		if !sessionError(err) && !kerr.IsRetriable(err) {
			s.failWanted(pl.want, err)
		}
		s.backoff()
		return
	}
	s.bumpEpoch()
	for i := range req.Topics {
		for _, p := range req.Topics[i].Partitions {
			k := tidp{req.Topics[i].TopicID, p.Partition}
			s.session[k] = names[k]
		}
	}
	for _, t := range req.ForgottenTopicsData {
		for _, p := range t.Partitions {
			delete(s.session, tidp{t.TopicID, p})
		}
	}
	lock := time.Duration(max(r.AcquisitionLockTimeoutMillis, 1000)) * time.Millisecond
	deadline := time.Now().Add(lock)
	results := s.ackResults(carried, func(put func(tidp, int16, *string)) {
		for _, t := range r.Topics {
			for _, p := range t.Partitions {
				put(tidp{t.TopicID, p.Partition}, p.AcknowledgeErrorCode, p.AcknowledgeErrorMessage)
			}
		}
	})
	var fetches []engine.ShareFetch
	var gaps []pendingAck
	errs := 0
	for ti := range r.Topics {
		t := &r.Topics[ti]
		for pi := range t.Partitions {
			rp := &t.Partitions[pi]
			k := tidp{t.TopicID, rp.Partition}
			tp, ok := names[k]
			if !ok {
				continue // not asked for
			}
			if err := kerr.WithMessage(rp.ErrorCode, rp.ErrorMessage); err != nil {
				if kerr.IsRetriable(err) || errors.Is(err, kerr.NotLeaderOrFollower) || errors.Is(err, kerr.FencedLeaderEpoch) {
					errs++ // a leader move: the router follows the metadata
					continue
				}
				if errors.Is(err, kerr.UnknownServerError) {
					// A broker's unexpected failure on one partition,
					// not a refusal: fetch again, as Java's consumer does
					// for a Fetch. (Kafka 4.3 answered it in CI for a
					// partition of a topic created 0.7 s earlier.)
					s.log("share fetch partition error, fetching again", err)
					errs++
					continue
				}
				fetches = append(fetches, engine.ShareFetch{TopicPartition: tp, Err: fmt.Errorf("share fetch %s: %w", tp, err)})
				continue
			}
			msgs, g, err := s.decode(tp, k.id, pl.token, rp)
			gaps = append(gaps, g...)
			if len(msgs) > 0 {
				fetches = append(fetches, engine.ShareFetch{TopicPartition: tp, Messages: msgs, LockDeadline: deadline, Session: pl.token})
			}
			if err != nil {
				fetches = append(fetches, engine.ShareFetch{TopicPartition: tp, Err: fmt.Errorf("share fetch %s: %w", tp, err)})
			}
		}
	}
	f := s.f
	f.mu.Lock()
	for _, fe := range fetches {
		if f.closed {
			s.releaseLocked(fe) // Close came meanwhile: nobody will Poll it
			continue
		}
		f.enqueueLocked(s, fe)
	}
	// Gaps go first: they free the broker's acquisition count at once.
	s.acks = append(gaps, s.acks...)
	s.acks = append(s.acks, rest...)
	f.mu.Unlock()
	s.report(results)
	if errs > 0 && len(fetches) == 0 {
		s.backoff()
	} else {
		s.failures = 0
	}
}

func appendForget(req *kmsg.ShareFetchRequest, k tidp) {
	for i := range req.ForgottenTopicsData {
		if req.ForgottenTopicsData[i].TopicID == k.id {
			req.ForgottenTopicsData[i].Partitions = append(req.ForgottenTopicsData[i].Partitions, k.p)
			return
		}
	}
	req.ForgottenTopicsData = append(req.ForgottenTopicsData, kmsg.ShareFetchRequestForgottenTopicsData{TopicID: k.id, Partitions: []int32{k.p}})
}

// failWanted queues an error fetch for each wanted partition, so that Poll
// reports an error retrying does not fix (an authorization failure).
func (s *source) failWanted(want map[tidp]engine.TopicPartition, err error) {
	f := s.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || s.queued > 0 {
		return // reported already, and not polled yet
	}
	for _, tp := range want {
		f.enqueueLocked(s, engine.ShareFetch{TopicPartition: tp, Err: fmt.Errorf("share fetch %s: %w", tp, err)})
	}
}

// acknowledge sends acks in one ShareAcknowledge; with final, at epoch -1,
// which closes the session.
func (s *source) acknowledge(acks []pendingAck, final bool) {
	if s.epoch == 0 {
		s.fail(acks, errNoSession)
		return
	}
	cfg := s.f.cfg
	req := kmsg.NewPtrShareAcknowledgeRequest()
	req.GroupID = &cfg.Group
	req.MemberID = &cfg.MemberID
	req.ShareSessionEpoch = s.epoch
	if final {
		req.ShareSessionEpoch = -1
	}
	topicIdx := map[[16]byte]int{}
	partIdx := map[tidp]int{}
	sortAcks(acks)
	for _, a := range acks {
		k := tidp{a.topicID, a.Partition}
		ti := indexOf(&req.Topics, topicIdx, k.id, kmsg.ShareAcknowledgeRequestTopic{TopicID: k.id})
		t := &req.Topics[ti]
		pi := indexOf(&t.Partitions, partIdx, k, kmsg.ShareAcknowledgeRequestTopicPartition{Partition: k.p})
		bs := t.Partitions[pi].AcknowledgementBatches
		if n := len(bs); n > 0 && continues(bs[n-1].LastOffset, bs[n-1].AcknowledgeTypes, a) {
			bs[n-1].LastOffset = a.LastOffset
			continue
		}
		t.Partitions[pi].AcknowledgementBatches = append(bs, kmsg.ShareAcknowledgeRequestTopicPartitionAcknowledgementBatch{
			FirstOffset: a.FirstOffset, LastOffset: a.LastOffset, AcknowledgeTypes: []int8{int8(a.Type)},
		})
	}
	resp, err := s.request(req)
	if err == nil {
		r := resp.(*kmsg.ShareAcknowledgeResponse)
		if err = kerr.WithMessage(r.ErrorCode, r.ErrorMessage); err == nil {
			if final {
				s.resetSession()
			} else {
				s.bumpEpoch()
			}
			s.failures = 0
			s.report(s.ackResults(acks, func(put func(tidp, int16, *string)) {
				for _, t := range r.Topics {
					for _, p := range t.Partitions {
						put(tidp{t.TopicID, p.Partition}, p.ErrorCode, p.ErrorMessage)
					}
				}
			}))
			return
		}
	}
	s.log("share acknowledge failed", err)
	s.resetSession()
	s.fail(acks, err)
	if !final {
		s.backoff()
	}
}

// sortAcks orders acks by partition, then offset: the brokers refuse a
// partition's acknowledgement batches out of order (INVALID_REQUEST), and
// they are queued in the order records were acknowledged, which a record
// delivered again breaks.
func sortAcks(acks []pendingAck) {
	slices.SortStableFunc(acks, func(a, b pendingAck) int {
		if c := bytes.Compare(a.topicID[:], b.topicID[:]); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Partition, b.Partition); c != 0 {
			return c
		}
		return cmp.Compare(a.FirstOffset, b.FirstOffset)
	})
}

// continues reports whether a extends a wire batch that ends at last with
// types: the next offsets, the same single type.
func continues(last int64, types []int8, a pendingAck) bool {
	return last+1 == a.FirstOffset && len(types) == 1 && types[0] == int8(a.Type)
}

// ackResults matches the acks a request carried with the answer's
// per-partition outcomes.
func (s *source) ackResults(acks []pendingAck, answer func(put func(tidp, int16, *string))) []engine.ShareAckResult {
	if len(acks) == 0 {
		return nil
	}
	outcome := map[tidp]error{}
	answer(func(k tidp, code int16, msg *string) { outcome[k] = kerr.WithMessage(code, msg) })
	out := make([]engine.ShareAckResult, 0, len(acks))
	for _, a := range acks {
		err, ok := outcome[tidp{a.topicID, a.Partition}]
		if !ok {
			err = fmt.Errorf("%w: the broker's answer leaves out %s, whose acknowledgements it carried", kerr.ErrCorruptResponse, a.TopicPartition)
		}
		if !a.user {
			if err != nil {
				s.log("internal acknowledgement failed", err)
			}
			continue
		}
		out = append(out, engine.ShareAckResult{ShareAck: a.ShareAck, Err: err})
	}
	return out
}

// indexOf is the index in *s of the entry for k (a topic of a request, or a
// partition of a topic: requests group partitions by topic), appending e
// for it, and noting where in idx, the first time k is asked for.
func indexOf[K comparable, E any](s *[]E, idx map[K]int, k K, e E) int {
	i, ok := idx[k]
	if !ok {
		i = len(*s)
		idx[k] = i
		*s = append(*s, e)
	}
	return i
}
