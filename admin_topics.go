package kafka

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TopicListing is one topic of ListTopics.
type TopicListing struct {
	Name              string
	ID                string // Kafka's topic id, as its tools print it (base64url)
	Internal          bool   // Kafka's own topics: __consumer_offsets, __transaction_state, ...
	Partitions        int
	ReplicationFactor int // replicas of partition 0
}

// ListTopicsOptions adjust ListTopics. The zero value lists the users'
// topics.
type ListTopicsOptions struct {
	// Internal includes Kafka's internal topics.
	Internal bool
}

// ListTopics lists the cluster's topics, sorted by name, from one Metadata
// request.
func (c *Client) ListTopics(ctx context.Context, opts ListTopicsOptions) ([]TopicListing, error) {
	resp, err := c.topicMetadata(ctx, nil)
	if err != nil {
		return nil, err
	}
	var out []TopicListing
	for _, t := range resp.Topics {
		if t.Topic == nil || t.ErrorCode != 0 || t.IsInternal && !opts.Internal {
			continue
		}
		l := TopicListing{Name: *t.Topic, ID: topicID(t.TopicID), Internal: t.IsInternal, Partitions: len(t.Partitions)}
		for _, p := range t.Partitions {
			if p.Partition == 0 {
				l.ReplicationFactor = len(p.Replicas)
			}
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b TopicListing) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// TopicDescription is one topic of DescribeTopics: its partitions, with
// their leaders, replicas, in-sync and offline replicas, as
// kafka-topics --describe prints them.
type TopicDescription struct {
	Name              string
	ID                string // base64url, as Kafka's tools print it
	Internal          bool
	ReplicationFactor int         // replicas of partition 0
	Partitions        []Partition // ordered by id
	// Err is why the topic could not be described: ErrUnknownTopic,
	// ErrTopicAuthorization, ErrInvalidTopic, ...
	Err error
}

// DescribeTopics describes the named topics (every topic when none is
// named, internal ones included), in the order given (sorted by name when
// none is named), from one Metadata request. A topic that does not exist
// fails alone with ErrUnknownTopic.
func (c *Client) DescribeTopics(ctx context.Context, names ...string) ([]TopicDescription, error) {
	ie := itemErrors{op: "describe topic"}
	out := make([]TopicDescription, 0, len(names))
	var ask []string
	for _, n := range names {
		if err := validTopicName(n); err != nil {
			continue
		}
		ask = append(ask, n)
	}
	var resp *kmsg.MetadataResponse
	if len(names) == 0 || len(ask) > 0 {
		var err error
		if resp, err = c.topicMetadata(ctx, ask); err != nil {
			return nil, err
		}
	}
	byName := map[string]*kmsg.MetadataResponseTopic{}
	if resp != nil {
		for i := range resp.Topics {
			if t := &resp.Topics[i]; t.Topic != nil {
				byName[*t.Topic] = t
			}
		}
	}
	if len(names) == 0 {
		names = slices.Sorted(maps.Keys(byName))
	}
	for _, n := range names {
		d := TopicDescription{Name: n}
		if d.Err = validTopicName(n); d.Err == nil {
			d.Err = describeTopic(&d, byName[n])
		}
		ie.add(n, d.Err)
		out = append(out, d)
	}
	return out, ie.err()
}

// describeTopic fills d from t, a topic of a Metadata response.
func describeTopic(d *TopicDescription, t *kmsg.MetadataResponseTopic) error {
	if t == nil {
		return fmt.Errorf("%w: missing from the Metadata response", ErrUnknownTopic)
	}
	if t.ErrorCode == kerr.UnknownTopicOrPartition.Code {
		return fmt.Errorf("%w: %q", ErrUnknownTopic, d.Name)
	}
	if err := kerr.ForCode(t.ErrorCode); err != nil {
		return err
	}
	d.ID, d.Internal = topicID(t.TopicID), t.IsInternal
	for _, p := range t.Partitions {
		d.Partitions = append(d.Partitions, Partition{
			Topic: d.Name, ID: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
			Replicas: p.Replicas, ISR: p.ISR, Offline: p.OfflineReplicas,
		})
	}
	slices.SortFunc(d.Partitions, func(a, b Partition) int { return cmp.Compare(a.ID, b.ID) })
	if len(d.Partitions) > 0 {
		d.ReplicationFactor = len(d.Partitions[0].Replicas)
	}
	return nil
}

// topicMetadata sends one Metadata request for topics (nil: all) to any
// broker, without auto-creation. The client's own metadata is left as it
// is: describing a topic does not make the client track it.
func (c *Client) topicMetadata(ctx context.Context, topics []string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	if topics != nil {
		req.Topics = make([]kmsg.MetadataRequestTopic, 0, len(topics)) // empty: brokers only
	}
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := c.anyRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.(*kmsg.MetadataResponse), nil
}

// topicID prints a topic id as Kafka does (Uuid.toString: base64url
// without padding); the zero id is empty.
func topicID(id [16]byte) string {
	if id == [16]byte{} {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(id[:])
}

// NewTopic is a topic to create with CreateTopics.
type NewTopic struct {
	Name string
	TopicConfig
}

// TopicResult is the outcome of one topic of CreateTopics, DeleteTopics
// or CreatePartitions.
type TopicResult struct {
	Name string
	Err  error // nil: done
}

// CreateTopics creates topics, each with its partitions, replication
// factor and configs (TopicConfig.Configs, e.g. "retention.ms"), in one
// request, and waits until every broker knows each created topic's
// leaders, so that producers and consumers created next find them. A
// topic that exists fails alone with ErrTopicAlreadyExists; an invalid
// config with ErrInvalidConfigValue.
func (c *Client) CreateTopics(ctx context.Context, topics ...NewTopic) ([]TopicResult, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	ie := itemErrors{op: "create topic"}
	results := make([]TopicResult, len(topics))
	req := kmsg.NewPtrCreateTopicsRequest()
	asked := map[string]int{} // index in results
	for i, t := range topics {
		results[i].Name = t.Name
		err := validTopicName(t.Name)
		switch {
		case err != nil:
		case t.Partitions < 0:
			err = kerr.Config("TopicConfig.Partitions", "must not be negative, got %d", t.Partitions)
		case t.ReplicationFactor < 0:
			err = kerr.Config("TopicConfig.ReplicationFactor", "must not be negative, got %d", t.ReplicationFactor)
		default:
			if _, dup := asked[t.Name]; dup {
				err = kerr.Config("NewTopic.Name", "%q is given twice", t.Name)
			}
		}
		if err != nil {
			results[i].Err = ie.add(t.Name, err)
			continue
		}
		asked[t.Name] = i
		rt := kmsg.NewCreateTopicsRequestTopic()
		rt.Topic = t.Name
		rt.NumPartitions, rt.ReplicationFactor = -1, -1
		if t.Partitions > 0 {
			rt.NumPartitions = t.Partitions
		}
		if t.ReplicationFactor > 0 {
			rt.ReplicationFactor = t.ReplicationFactor
		}
		for _, k := range slices.Sorted(maps.Keys(t.Configs)) {
			rc := kmsg.NewCreateTopicsRequestTopicConfig()
			rc.Name, rc.Value = k, kmsg.StringPtr(t.Configs[k])
			rt.Configs = append(rt.Configs, rc)
		}
		req.Topics = append(req.Topics, rt)
	}
	if len(req.Topics) == 0 {
		return results, ie.err()
	}
	outcome, err := c.controllerTopics(ctx, req, func(resp kmsg.Response, retry bool, set func(string, error, bool)) {
		for _, t := range resp.(*kmsg.CreateTopicsResponse).Topics {
			err := kerr.WithMessage(t.ErrorCode, t.ErrorMessage)
			if retry && errors.Is(err, kerr.TopicAlreadyExists) {
				// An earlier attempt that failed (NOT_CONTROLLER from a
				// controller losing leadership, a lost connection) may
				// have created it: the wait below confirms the topic.
				err = nil
			}
			set(t.Topic, err, kerr.IsRetriable(err))
		}
	}, func(again func(string) bool) {
		req.Topics = slices.DeleteFunc(req.Topics, func(t kmsg.CreateTopicsRequestTopic) bool { return !again(t.Topic) })
	})
	if err != nil {
		return nil, err
	}
	created := topicOutcomes(results, asked, outcome, "CreateTopics")
	if len(created) > 0 {
		waitErr := c.untilAllBrokers(ctx, created, func(t *kmsg.MetadataResponseTopic) bool {
			if t.ErrorCode != 0 || len(t.Partitions) == 0 {
				return false
			}
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 || p.Leader < 0 {
					return false
				}
			}
			return true
		})
		for _, name := range created {
			if waitErr != nil {
				results[asked[name]].Err = fmt.Errorf("created, but not every broker knows its leaders yet: %w", waitErr)
				continue
			}
			c.missing.forget(name)
		}
	}
	return results, ie.addAsked(results, asked)
}

// DeleteTopics deletes topics in one request and waits until no broker
// lists them. A topic that does not exist fails alone with ErrUnknownTopic.
func (c *Client) DeleteTopics(ctx context.Context, names ...string) ([]TopicResult, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	ie := itemErrors{op: "delete topic"}
	results := make([]TopicResult, len(names))
	req := kmsg.NewPtrDeleteTopicsRequest()
	asked := map[string]int{}
	for i, n := range names {
		results[i].Name = n
		if err := validTopicName(n); err != nil {
			results[i].Err = ie.add(n, err)
			continue
		}
		if _, dup := asked[n]; dup {
			results[i].Err = ie.add(n, kerr.Config("names", "%q is given twice", n))
			continue
		}
		asked[n] = i
		req.TopicNames = append(req.TopicNames, n)
		rt := kmsg.NewDeleteTopicsRequestTopic()
		rt.Topic = kmsg.StringPtr(n)
		req.Topics = append(req.Topics, rt)
	}
	if len(req.Topics) == 0 {
		return results, ie.err()
	}
	outcome, err := c.controllerTopics(ctx, req, func(resp kmsg.Response, retry bool, set func(string, error, bool)) {
		for _, t := range resp.(*kmsg.DeleteTopicsResponse).Topics {
			if t.Topic == nil {
				continue
			}
			err := kerr.WithMessage(t.ErrorCode, t.ErrorMessage)
			switch {
			case retry && errors.Is(err, kerr.UnknownTopicOrPartition):
				set(*t.Topic, nil, false) // an earlier, failed attempt deleted it
			case errors.Is(err, kerr.UnknownTopicOrPartition):
				// Final: the code is retriable, but the topic is gone.
				set(*t.Topic, fmt.Errorf("%w: %q", ErrUnknownTopic, *t.Topic), false)
			default:
				set(*t.Topic, err, kerr.IsRetriable(err))
			}
		}
	}, func(again func(string) bool) {
		req.Topics = slices.DeleteFunc(req.Topics, func(t kmsg.DeleteTopicsRequestTopic) bool { return !again(*t.Topic) })
		req.TopicNames = req.TopicNames[:0]
		for _, t := range req.Topics {
			req.TopicNames = append(req.TopicNames, *t.Topic)
		}
	})
	if err != nil {
		return nil, err
	}
	deleted := topicOutcomes(results, asked, outcome, "DeleteTopics")
	if len(deleted) > 0 {
		c.cluster.Untrack(deleted...)
		// Brokers learn of the deletion one by one: wait until none
		// lists the topics, so that a Topic call right after cannot find
		// them.
		waitErr := c.untilAllBrokers(ctx, deleted, func(t *kmsg.MetadataResponseTopic) bool {
			return t.ErrorCode == kerr.UnknownTopicOrPartition.Code
		})
		c.cluster.Untrack(deleted...)
		if waitErr != nil {
			for _, name := range deleted {
				results[asked[name]].Err = fmt.Errorf("deleted, but some broker still lists it: %w", waitErr)
			}
		}
	}
	return results, ie.addAsked(results, asked)
}

// CreatePartitions raises the partition count of topics to the counts
// given (the new total, not the number added), and waits until every
// broker knows the new partitions' leaders. Results are sorted by topic. A
// count not above the current one fails alone with ErrInvalidPartitions.
func (c *Client) CreatePartitions(ctx context.Context, counts map[string]int32) ([]TopicResult, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	ie := itemErrors{op: "create partitions"}
	names := slices.Sorted(maps.Keys(counts))
	results := make([]TopicResult, len(names))
	req := kmsg.NewPtrCreatePartitionsRequest()
	index := map[string]int{}
	for i, n := range names {
		results[i].Name = n
		if err := validTopicName(n); err != nil {
			results[i].Err = ie.add(n, err)
			continue
		}
		index[n] = i
		rt := kmsg.NewCreatePartitionsRequestTopic()
		rt.Topic, rt.Count = n, counts[n]
		req.Topics = append(req.Topics, rt)
	}
	if len(req.Topics) == 0 {
		return results, ie.err()
	}
	outcome, err := c.controllerTopics(ctx, req, func(resp kmsg.Response, retry bool, set func(string, error, bool)) {
		for _, t := range resp.(*kmsg.CreatePartitionsResponse).Topics {
			err := kerr.WithMessage(t.ErrorCode, t.ErrorMessage)
			if errors.Is(err, kerr.UnknownTopicOrPartition) {
				set(t.Topic, fmt.Errorf("%w: %q", ErrUnknownTopic, t.Topic), false)
			} else {
				set(t.Topic, err, kerr.IsRetriable(err))
			}
		}
	}, func(again func(string) bool) {
		req.Topics = slices.DeleteFunc(req.Topics, func(t kmsg.CreatePartitionsRequestTopic) bool { return !again(t.Topic) })
	})
	if err != nil {
		return nil, err
	}
	grown := topicOutcomes(results, index, outcome, "CreatePartitions")
	if len(grown) > 0 {
		waitErr := c.untilAllBrokers(ctx, grown, func(t *kmsg.MetadataResponseTopic) bool {
			if t.Topic == nil || len(t.Partitions) < int(counts[*t.Topic]) {
				return false
			}
			for _, p := range t.Partitions {
				if p.Leader < 0 {
					return false
				}
			}
			return true
		})
		if waitErr != nil {
			for _, n := range grown {
				results[index[n]].Err = fmt.Errorf("partitions added, but not every broker knows their leaders yet: %w", waitErr)
			}
		} else if err := c.cluster.RefreshTopics(ctx, grown...); err != nil {
			return results, err
		}
	}
	return results, ie.addAsked(results, index)
}

// controllerTopics sends req, an admin request on topics, to the controller
// (controllerRequest, with the timeout of ctx) and returns each topic's
// outcome. answer reads a response (retry: it answers a retry, which may
// meet an earlier attempt's success) and passes each topic's error to set,
// as the caller reports it, with whether it is worth another attempt; if
// some topic's is, resend trims req to those topics (again) and the
// request goes again, while retrying can help. The error is the request's
// when no topic has an outcome.
func (c *Client) controllerTopics(ctx context.Context, req interface {
	kmsg.Request
	kmsg.SetTimeoutRequest
}, answer func(resp kmsg.Response, retry bool, set func(topic string, err error, again bool)), resend func(again func(topic string) bool)) (map[string]error, error) {
	req.SetTimeout(timeoutMillis(ctx))
	outcome := map[string]error{}
	retriable := map[string]bool{}
	err := c.controllerRequest(ctx, req, func(resp kmsg.Response, retry bool) error {
		var last error // a retriable error, for controllerRequest to retry
		answer(resp, retry, func(topic string, err error, again bool) {
			outcome[topic], retriable[topic] = err, again
			if again {
				last = err
			}
		})
		// A retry resends only the topics without an answer and those
		// that failed retriably.
		resend(func(topic string) bool {
			_, ok := outcome[topic]
			return !ok || retriable[topic]
		})
		return last
	})
	if err != nil && len(outcome) == 0 {
		return nil, err
	}
	return outcome, nil
}

// topicOutcomes writes the outcome of each topic that was asked (asked:
// its index in results) as the answer gave it (outcome; a topic the
// answer of api left out fails with ErrCorruptResponse), and returns the
// topics that succeeded.
func topicOutcomes(results []TopicResult, asked map[string]int, outcome map[string]error, api string) (done []string) {
	for name, i := range asked {
		err, ok := outcome[name]
		if !ok {
			err = fmt.Errorf("%w: topic missing from the %s response", ErrCorruptResponse, api)
		}
		if err == nil {
			done = append(done, name)
		}
		results[i].Err = err
	}
	return done
}

// addAsked adds the errors of the topics that were asked, in the results'
// order (those refused before the request were added then), and returns
// all the errors.
func (ie *itemErrors) addAsked(results []TopicResult, asked map[string]int) error {
	for _, r := range results {
		if _, ok := asked[r.Name]; ok {
			ie.add(r.Name, r.Err)
		}
	}
	return ie.err()
}

// untilAllBrokers asks every broker for the topics' metadata until each
// answer satisfies ok for every topic.
func (c *Client) untilAllBrokers(ctx context.Context, names []string, ok func(*kmsg.MetadataResponseTopic) bool) error {
	for attempt := 1; ; attempt++ {
		agreed := true
		for id := range c.cluster.Snapshot().Brokers {
			b, err := c.cluster.Broker(id)
			if err != nil {
				agreed = false
				break
			}
			req := kmsg.NewPtrMetadataRequest()
			for _, n := range names {
				rt := kmsg.NewMetadataRequestTopic()
				rt.Topic = kmsg.StringPtr(n)
				req.Topics = append(req.Topics, rt)
			}
			resp, err := b.Request(ctx, req)
			if err != nil {
				agreed = false
				break
			}
			topics := resp.(*kmsg.MetadataResponse).Topics
			if len(topics) != len(names) {
				agreed = false
				break
			}
			for i := range topics {
				if !ok(&topics[i]) {
					agreed = false
					break
				}
			}
			if !agreed {
				break
			}
		}
		if agreed {
			return nil
		}
		if err := c.cluster.Sleep(ctx, c.cluster.Backoff(attempt)); err != nil {
			return err
		}
	}
}

// DeleteRecordsResult is the outcome of one partition of DeleteRecords.
type DeleteRecordsResult struct {
	TopicPartition
	// LowWatermark is the partition's new log start offset: the oldest
	// offset still readable.
	LowWatermark int64
	Err          error
}

// DeleteRecords deletes the messages of each partition before the offset
// given (OffsetLatest: every message so far), by moving the partition's
// log start offset, with one DeleteRecords request per partition leader.
// Results are sorted by partition. An offset past the end fails alone with
// ErrOffsetOutOfRange; a partition that leaders move away from is retried
// until ctx ends.
func (c *Client) DeleteRecords(ctx context.Context, before map[TopicPartition]int64) ([]DeleteRecordsResult, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	ie := itemErrors{op: "delete records of"}
	tps := slices.SortedFunc(maps.Keys(before), TopicPartition.Compare)
	found := map[TopicPartition]int64{}
	var topics []string
	for _, tp := range tps {
		if !slices.Contains(topics, tp.Topic) {
			topics = append(topics, tp.Topic)
		}
	}
	final := map[TopicPartition]error{}
	last := map[TopicPartition]error{}
	pending := tps
	for attempt := 1; len(pending) > 0; attempt++ {
		if err := c.cluster.RefreshTopics(ctx, topics...); err != nil {
			if attempt == 1 {
				return nil, err
			}
			for _, tp := range pending {
				final[tp] = fmt.Errorf("%w (last error: %w)", err, last[tp])
			}
			break
		}
		outcome := c.deleteRecordsRound(ctx, pending, before, found)
		var again []TopicPartition
		for _, tp := range pending {
			err := outcome[tp]
			if err != nil && kerr.IsRetriable(err) && !errors.Is(err, ErrUnknownTopic) && !errors.Is(err, ErrUnknownPartition) {
				last[tp] = err
				again = append(again, tp)
				continue
			}
			final[tp] = err
		}
		pending = again
		if len(pending) == 0 {
			break
		}
		if err := c.cluster.Sleep(ctx, c.cluster.Backoff(attempt)); err != nil {
			for _, tp := range pending {
				final[tp] = fmt.Errorf("%w (last error: %w)", err, last[tp])
			}
			break
		}
	}
	results := make([]DeleteRecordsResult, len(tps))
	for i, tp := range tps {
		results[i] = DeleteRecordsResult{TopicPartition: tp, LowWatermark: -1, Err: ie.add(tp.String(), final[tp])}
		if final[tp] == nil {
			results[i].LowWatermark = found[tp]
		}
	}
	return results, ie.err()
}

// deleteRecordsRound sends one DeleteRecords per leader of the pending
// partitions, in parallel; the low watermarks go to found.
func (c *Client) deleteRecordsRound(ctx context.Context, pending []TopicPartition, before map[TopicPartition]int64, found map[TopicPartition]int64) map[TopicPartition]error {
	outcome := map[TopicPartition]error{}
	reqs := map[int32]*kmsg.DeleteRecordsRequest{}
	for _, tp := range pending {
		b, _, err := c.cluster.Leader(tp.Topic, tp.Partition)
		if err != nil {
			outcome[tp] = err
			continue
		}
		req := reqs[b.ID]
		if req == nil {
			req = kmsg.NewPtrDeleteRecordsRequest()
			req.TimeoutMillis = timeoutMillis(ctx)
			reqs[b.ID] = req
		}
		i := slices.IndexFunc(req.Topics, func(t kmsg.DeleteRecordsRequestTopic) bool { return t.Topic == tp.Topic })
		if i < 0 {
			rt := kmsg.NewDeleteRecordsRequestTopic()
			rt.Topic = tp.Topic
			req.Topics = append(req.Topics, rt)
			i = len(req.Topics) - 1
		}
		rp := kmsg.NewDeleteRecordsRequestTopicPartition()
		rp.Partition, rp.Offset = tp.Partition, before[tp]
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
		outcome[tp] = fmt.Errorf("%w: partition missing from the DeleteRecords response", ErrCorruptResponse)
	}
	requestEach(ctx, reqs, c.brokerRequest, func(req *kmsg.DeleteRecordsRequest, resp kmsg.Response, err error) {
		if err != nil {
			for _, t := range req.Topics {
				for _, p := range t.Partitions {
					outcome[TopicPartition{Topic: t.Topic, Partition: p.Partition}] = err
				}
			}
			return
		}
		for _, t := range resp.(*kmsg.DeleteRecordsResponse).Topics {
			for _, p := range t.Partitions {
				tp := TopicPartition{Topic: t.Topic, Partition: p.Partition}
				err := kerr.ForCode(p.ErrorCode)
				outcome[tp] = err
				if err == nil {
					found[tp] = p.LowWatermark
				}
			}
		}
	})
	return outcome
}
