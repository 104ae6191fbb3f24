package kafka

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/offsets"
)

// hookSet is the client's registered hooks, sorted by interface once at
// NewClient so that an event costs a slice walk; a client without hooks
// has none (nil), and every call site checks that first. It implements the
// internal observer interfaces of the cluster layer and of the engines.
type hookSet struct {
	log      *slog.Logger
	panicked []atomic.Bool // per registered hook: its first panic was logged

	connect    []entry[BrokerConnectHook]
	disconnect []entry[BrokerDisconnectHook]
	throttle   []entry[BrokerThrottleHook]
	write      []entry[BrokerWriteHook]
	read       []entry[BrokerReadHook]
	prodBatch  []entry[ProduceBatchHook]
	fetchBatch []entry[FetchBatchHook]
	produced   []entry[RecordProducedHook]
	delivered  []entry[RecordDeliveredHook]
	consumed   []entry[RecordConsumedHook]
	rebalance  []entry[RebalanceHook]
	commit     []entry[CommitHook]
	lag        []entry[LagHook]
}

// entry is a hook under one of its interfaces, with its registration index.
type entry[H any] struct {
	h H
	i int
}

func isHook(h Hook) bool {
	switch h.(type) {
	case BrokerConnectHook, BrokerDisconnectHook, BrokerThrottleHook, BrokerWriteHook, BrokerReadHook,
		ProduceBatchHook, FetchBatchHook, RecordProducedHook, RecordDeliveredHook, RecordConsumedHook,
		RebalanceHook, CommitHook, LagHook:
		return true
	}
	return false
}

func add[H any](list *[]entry[H], h Hook, i int) {
	if x, ok := h.(H); ok {
		*list = append(*list, entry[H]{x, i})
	}
}

// newHookSet sorts hooks by interface; nil for none.
func newHookSet(hooks []Hook, log *slog.Logger) *hookSet {
	if len(hooks) == 0 {
		return nil
	}
	s := &hookSet{log: log, panicked: make([]atomic.Bool, len(hooks))}
	for i, h := range hooks {
		add(&s.connect, h, i)
		add(&s.disconnect, h, i)
		add(&s.throttle, h, i)
		add(&s.write, h, i)
		add(&s.read, h, i)
		add(&s.prodBatch, h, i)
		add(&s.fetchBatch, h, i)
		add(&s.produced, h, i)
		add(&s.delivered, h, i)
		add(&s.consumed, h, i)
		add(&s.rebalance, h, i)
		add(&s.commit, h, i)
		add(&s.lag, h, i)
	}
	return s
}

// each calls f for every hook of list, each under its own recover.
func each[H, E any](s *hookSet, list []entry[H], e E, f func(H, E)) {
	for _, x := range list {
		call(s, x, e, f)
	}
}

func call[H, E any](s *hookSet, x entry[H], e E, f func(H, E)) {
	defer func() {
		if r := recover(); r != nil && !s.panicked[x.i].Swap(true) {
			s.log.Error("kafka: a hook panicked; the event was dropped for it, and its later panics are recovered without a log",
				"hook", fmt.Sprintf("%T", x.h), "panic", fmt.Sprint(r))
		}
	}()
	f(x.h, e)
}

// The cluster layer's Hooks (internal/cluster).

func (s *hookSet) brokerHooks() bool {
	return s != nil && len(s.connect)+len(s.disconnect)+len(s.throttle)+len(s.write)+len(s.read) > 0
}

func (s *hookSet) BrokerConnected(node int32, addr string, took time.Duration, err error) {
	each(s, s.connect, BrokerConnectEvent{Broker: node, Addr: addr, Took: took, Err: err}, BrokerConnectHook.OnBrokerConnect)
}

func (s *hookSet) BrokerDisconnected(node int32, addr string, err error) {
	each(s, s.disconnect, BrokerDisconnectEvent{Broker: node, Addr: addr, Err: err}, BrokerDisconnectHook.OnBrokerDisconnect)
}

func (s *hookSet) BrokerThrottled(node int32, addr string, key int16, d time.Duration) {
	each(s, s.throttle, BrokerThrottleEvent{Broker: node, Addr: addr, APIKey: key, Throttle: d}, BrokerThrottleHook.OnBrokerThrottle)
}

func (s *hookSet) RequestWritten(node int32, addr string, key int16, bytes int, err error) {
	each(s, s.write, BrokerWriteEvent{Broker: node, Addr: addr, APIKey: key, Bytes: bytes, Err: err}, BrokerWriteHook.OnBrokerWrite)
}

func (s *hookSet) ResponseRead(node int32, addr string, key int16, bytes int, latency time.Duration, err error) {
	each(s, s.read, BrokerReadEvent{Broker: node, Addr: addr, APIKey: key, Bytes: bytes, Latency: latency, Err: err}, BrokerReadHook.OnBrokerRead)
}

// The engines' BatchObserver (internal/engine).

// produceObserver is the BatchObserver of a producer's engine config: nil
// (an untyped nil interface, so the engine skips it) without batch hooks.
func (s *hookSet) produceObserver() engine.BatchObserver {
	if s == nil || len(s.prodBatch) == 0 {
		return nil
	}
	return s
}

func (s *hookSet) fetchObserver() engine.BatchObserver {
	if s == nil || len(s.fetchBatch) == 0 {
		return nil
	}
	return s
}

func (s *hookSet) ProduceBatchWritten(b engine.BatchInfo, err error) {
	each(s, s.prodBatch, ProduceBatchEvent{
		Broker: b.Broker, Topic: b.Topic, Partition: b.Partition, Records: b.Records,
		Bytes: b.Bytes, CompressedBytes: b.CompressedBytes, Took: b.Took, Err: err,
	}, ProduceBatchHook.OnProduceBatch)
}

func (s *hookSet) FetchBatchRead(b engine.BatchInfo) {
	each(s, s.fetchBatch, FetchBatchEvent{
		Broker: b.Broker, Topic: b.Topic, Partition: b.Partition, Records: b.Records,
		Bytes: b.Bytes, CompressedBytes: b.CompressedBytes,
	}, FetchBatchHook.OnFetchBatch)
}

// The root's own events. Callers check s != nil first (the zero-cost rule).

func (s *hookSet) recordProduced(m *Message) {
	each(s, s.produced, m, RecordProducedHook.OnRecordProduced)
}

type delivery struct {
	m   *Message
	err error
}

func (s *hookSet) recordDelivered(m *Message, err error) {
	each(s, s.delivered, delivery{m, err}, func(h RecordDeliveredHook, d delivery) { h.OnRecordDelivered(d.m, d.err) })
}

func (s *hookSet) recordConsumed(m *Message) {
	each(s, s.consumed, m, RecordConsumedHook.OnRecordConsumed)
}

func (s *hookSet) rebalanced(e RebalanceEvent) {
	each(s, s.rebalance, e, RebalanceHook.OnRebalance)
}

func (s *hookSet) lagged(e LagEvent) {
	each(s, s.lag, e, LagHook.OnLag)
}

// onCommit is the offsets.GroupOptions.OnCommit of a consumer's group, nil
// without commit hooks.
func (s *hookSet) onCommit(group string) func(map[TopicPartition]offsets.Commit, map[TopicPartition]error, time.Duration) {
	if s == nil || len(s.commit) == 0 {
		return nil
	}
	return func(sent map[TopicPartition]offsets.Commit, failed map[TopicPartition]error, took time.Duration) {
		e := CommitEvent{Group: group, Offsets: make(map[TopicPartition]int64, len(sent)), Failed: failed, Took: took}
		for tp, c := range sent {
			e.Offsets[tp] = c.Offset
		}
		each(s, s.commit, e, CommitHook.OnCommit)
	}
}
