package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/offsets"
)

// Special offsets for ResetOffsets.
const (
	// OffsetEarliest is the oldest message still stored in a partition.
	OffsetEarliest int64 = offsets.Earliest
	// OffsetLatest is the offset the next message will get.
	OffsetLatest int64 = offsets.Latest
)

// consumerCore is what the simple and the balanced consumers share: the set
// of partitions assigned, the position in each, the fetcher that reads them,
// and the offset storage of the group. Both engines sit below it; the offset
// logic exists once, here (consumer_offsets.go) and in package offsets.
type consumerCore struct {
	client  *Client
	cfg     resolvedConsumer
	fetcher engine.Fetcher
	group   *offsets.Group // nil without a consumer group
	// generation is the group generation that commits carry (balanced
	// consumers on the Kafka protocol); nil for the zero Generation.
	generation func() offsets.Generation
	// owned decides the error of an operation on a partition the consumer
	// does not read: ErrUnknownPartition for a simple consumer,
	// ErrRebalanced for a group member.
	notOwned error

	// consumeMu lets one Consume at a time poll and install fetched
	// messages; handing out ready ones needs only mu (consumeOne).
	consumeMu sync.Mutex

	hooks   *hookSet       // the client's; nil without hooks (consumer_hooks.go)
	windows *brokerWindows // the engine's own brokers, if it reports them (windows.go)
	lags    []LagEvent     // lag events found under mu, raised after it (lag hooks only)

	mu         sync.Mutex
	parts      map[TopicPartition]*partState
	ready      []*Message // rest of the fetch being handed out
	readyPart  *partState
	readyEpoch uint64
	readyNext  int64  // the fetch's NextOffset: the position once ready is handed out
	epoch      uint64 // last assign epoch used
	// revoking holds the final positions of partitions being revoked, so
	// that a commit during the revocation (OnRevoke) still includes them.
	revoking map[TopicPartition]offsets.Commit
	auto     *offsets.AutoCommitter
	closed   bool
	failure  error // why the consumer stopped by itself, returned by Consume
	ended    error // why the last Messages iteration or Consume call ended
}

// partState is the consumer's view of one assigned partition.
type partState struct {
	tp     TopicPartition
	pos    int64  // the next offset to hand out: last handed out + 1, or where a seek put it
	epoch  uint64 // assign epoch: fetches of older epochs are dropped
	paused bool   // Pause: not fetched, nothing handed out, position kept
	hw     int64  // high watermark of the last fetch; -1 until one came
	marks  *marks // CommitMarked only
}

func newConsumerCore(ctx context.Context, client *Client, cfg resolvedConsumer, notOwned error) (*consumerCore, error) {
	c := &consumerCore{client: client, cfg: cfg, parts: map[TopicPartition]*partState{}, notOwned: notOwned, hooks: client.cfg.hookSet}
	if cfg.group != "" {
		var err error
		if c.group, err = offsets.NewGroup(client.cluster, cfg.group, offsets.GroupOptions{OnCommit: c.hooks.onCommit(cfg.group)}); err != nil {
			return nil, err
		}
	}
	fcfg := cfg.fetch
	fcfg.Observer = c.hooks.fetchObserver()
	if c.windows = c.hooks.windowsObserver(); c.windows != nil {
		fcfg.Windows = c.windows
	}
	f, err := cfg.eng.NewFetcher(ctx, client.cluster, fcfg)
	if err != nil {
		return nil, err
	}
	c.fetcher = f
	return c, nil
}

func (c *consumerCore) gen() offsets.Generation {
	if c.generation == nil {
		return offsets.Generation{}
	}
	return c.generation()
}

// seek moves partitions to the given next offsets; with assign it starts
// reading those not assigned yet, else it refuses them (a group member may
// have lost them since the caller looked). A paused partition only moves
// its position; Resume fetches from there.
func (c *consumerCore) seek(ctx context.Context, positions map[TopicPartition]int64, assign bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if !assign {
		for tp := range positions {
			if c.parts[tp] == nil {
				return fmt.Errorf("%w: %s", c.notOwned, tp)
			}
		}
	}
	list := make([]engine.Position, 0, len(positions))
	for tp, off := range positions {
		ps := c.parts[tp]
		if ps == nil {
			ps = &partState{tp: tp, hw: -1}
			if c.cfg.CommitMarked {
				ps.marks = &marks{}
			}
			c.parts[tp] = ps
		}
		c.epoch++
		ps.epoch = c.epoch
		ps.pos = off
		if ps.marks != nil {
			ps.marks.reset()
		}
		if c.readyPart == ps {
			c.ready, c.readyPart = nil, nil
		}
		if !ps.paused {
			list = append(list, engine.Position{TopicPartition: engine.TopicPartition(tp), Offset: off, Epoch: ps.epoch})
		}
	}
	if len(list) == 0 {
		return nil
	}
	slices.SortFunc(list, func(a, b engine.Position) int { return a.TopicPartition.Compare(b.TopicPartition) })
	// Assign under c.mu: with the epochs bumped above, a Fetch that Poll
	// returned before this point is recognised as stale when installed.
	return c.fetcher.Assign(ctx, list)
}

// pause stops fetching and handing out partitions, keeping their
// positions; resume starts them again from there.
func (c *consumerCore) pause(ctx context.Context, tps []TopicPartition, paused bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	for _, tp := range tps {
		if c.parts[tp] == nil {
			return fmt.Errorf("%w: %s", c.notOwned, tp)
		}
	}
	var stop []TopicPartition
	var start []engine.Position
	for _, tp := range tps {
		ps := c.parts[tp]
		if ps.paused == paused {
			continue
		}
		ps.paused = paused
		c.epoch++
		ps.epoch = c.epoch // what was fetched before the switch is stale
		if c.readyPart == ps {
			c.ready, c.readyPart = nil, nil
		}
		if paused {
			stop = append(stop, tp)
		} else {
			start = append(start, engine.Position{TopicPartition: engine.TopicPartition(tp), Offset: ps.pos, Epoch: ps.epoch})
		}
	}
	if len(stop) > 0 {
		return c.fetcher.Unassign(ctx, toEngine(stop))
	}
	if len(start) > 0 {
		return c.fetcher.Assign(ctx, start)
	}
	return nil
}

// pausedPartitions lists the paused partitions, sorted.
func (c *consumerCore) pausedPartitions() []TopicPartition {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []TopicPartition
	for tp, ps := range c.parts {
		if ps.paused {
			out = append(out, tp)
		}
	}
	slices.SortFunc(out, TopicPartition.Compare)
	return out
}

// release stops reading partitions (a rebalance takes them) and returns
// their commit positions, taken in the same critical section so that no
// message is handed out after the position returned. With keep, the
// positions stay visible to commits until forget.
func (c *consumerCore) release(ctx context.Context, tps []TopicPartition, keep bool) (map[TopicPartition]offsets.Commit, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pos := make(map[TopicPartition]offsets.Commit, len(tps))
	var unassign []TopicPartition
	for _, tp := range tps {
		ps := c.parts[tp]
		if ps == nil {
			continue
		}
		if cm, ok := ps.commitPosition(); ok {
			pos[tp] = cm
			if keep {
				if c.revoking == nil {
					c.revoking = map[TopicPartition]offsets.Commit{}
				}
				c.revoking[tp] = cm
			}
		}
		if c.readyPart == ps {
			c.ready, c.readyPart = nil, nil
		}
		if !ps.paused {
			unassign = append(unassign, tp)
		}
		delete(c.parts, tp)
	}
	if c.closed || len(unassign) == 0 {
		return pos, nil
	}
	return pos, c.fetcher.Unassign(ctx, toEngine(unassign))
}

// forget drops the positions release kept.
func (c *consumerCore) forget(tps []TopicPartition) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, tp := range tps {
		delete(c.revoking, tp)
	}
}

// assigned lists the partitions assigned, sorted.
func (c *consumerCore) assigned() []TopicPartition {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]TopicPartition, 0, len(c.parts))
	for tp := range c.parts {
		out = append(out, tp)
	}
	slices.SortFunc(out, TopicPartition.Compare)
	return out
}

// consume returns the next message. A ConsumerTimeout without messages is
// ErrConsumerTimeout.
func (c *consumerCore) consume(ctx context.Context) (*Message, error) {
	m, err := c.consumeOne(ctx)
	if err != nil {
		c.mu.Lock()
		c.ended = err
		c.mu.Unlock()
	}
	if c.hooks != nil {
		c.consumedHooks(m)
	}
	return m, err
}

func (c *consumerCore) consumeOne(ctx context.Context) (*Message, error) {
	// Most calls find a message ready: they take it under c.mu alone, as
	// installing and handing out are both done under c.mu.
	if m, err := c.next(); m != nil || err != nil {
		return m, err
	}
	c.consumeMu.Lock()
	defer c.consumeMu.Unlock()
	timeout := startConsumeTimeout(c.cfg.ConsumerTimeout)
	for {
		if m, err := c.next(); m != nil || err != nil {
			return m, err
		}
		pollCtx, cancel := timeout.bound(ctx)
		f, err := c.fetcher.Poll(pollCtx)
		cancel()
		if err != nil {
			if timeout.endedPoll(ctx, err) {
				return nil, ErrConsumerTimeout
			}
			if errors.Is(err, kerr.ErrClosed) {
				if _, ferr := c.next(); ferr != nil {
					return nil, ferr // failure, or closed
				}
				return nil, ErrClosed
			}
			return nil, err
		}
		if err := c.install(ctx, f); err != nil {
			return nil, err
		}
	}
}

// consumeTimeout is ConsumerTimeout for one Consume call (of a
// SimpleConsumer, a BalancedConsumer or a ShareConsumer): a deadline set
// when the call starts, across all the polls the call makes, so that
// polls which return nothing to hand out do not extend it. The zero value
// is no timeout.
type consumeTimeout struct{ deadline time.Time }

func startConsumeTimeout(d time.Duration) consumeTimeout {
	if d <= 0 {
		return consumeTimeout{}
	}
	return consumeTimeout{deadline: time.Now().Add(d)}
}

// bound is ctx for one poll: ending at the deadline, if there is one.
func (t consumeTimeout) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if t.deadline.IsZero() {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, t.deadline)
}

// endedPoll reports whether err, a poll's error under bound(ctx), is the
// timeout rather than ctx's own end (ErrConsumerTimeout, not ctx.Err()).
func (t consumeTimeout) endedPoll(ctx context.Context, err error) bool {
	return ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) && !t.deadline.IsZero()
}

// next hands out the next ready message, if any.
func (c *consumerCore) next() (*Message, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failure != nil {
		return nil, c.failure
	}
	if c.closed {
		return nil, ErrClosed
	}
	ps := c.readyPart
	for len(c.ready) > 0 {
		m := c.ready[0]
		c.ready[0] = nil
		c.ready = c.ready[1:]
		if ps.epoch != c.readyEpoch || m.Offset < ps.pos {
			continue
		}
		ps.pos = m.Offset + 1
		if ps.marks != nil {
			ps.marks.handed(m.Offset)
		}
		if len(c.ready) == 0 {
			c.finishReady()
		}
		return m, nil
	}
	if ps != nil {
		c.finishReady()
	}
	return nil, nil
}

// finishReady ends the fetch being handed out: the position moves to its
// NextOffset, past transaction markers and compacted-away offsets after the
// last message. Caller holds c.mu.
func (c *consumerCore) finishReady() {
	if ps := c.readyPart; ps != nil && ps.epoch == c.readyEpoch {
		if c.readyNext > ps.pos {
			ps.pos = c.readyNext
		}
		if c.hooks != nil {
			c.noteLag(ps)
		}
	}
	c.ready, c.readyPart = nil, nil
}

// install makes a Fetch's messages ready, or handles its error.
func (c *consumerCore) install(ctx context.Context, f engine.Fetch) error {
	tp := TopicPartition(f.TopicPartition)
	c.mu.Lock()
	ps := c.parts[tp]
	if ps == nil || ps.epoch != f.Epoch || ps.paused {
		c.mu.Unlock()
		return nil // revoked, moved or paused since: stale
	}
	if f.HighWatermark >= 0 {
		ps.hw = f.HighWatermark
		if c.hooks != nil {
			c.noteLag(ps)
		}
	}
	if f.Err == nil {
		c.ready, c.readyPart, c.readyEpoch, c.readyNext = f.Messages, ps, f.Epoch, f.NextOffset
		if len(f.Messages) == 0 {
			c.finishReady()
		}
		c.mu.Unlock()
		return nil
	}
	pos := ps.pos
	c.mu.Unlock()
	if !errors.Is(f.Err, kerr.OffsetOutOfRange) {
		return fmt.Errorf("%s: %w", f.TopicPartition, f.Err)
	}
	if c.cfg.AutoOffsetReset == ResetNone {
		return fmt.Errorf("%s at offset %d, and AutoOffsetReset is ResetNone: %w", f.TopicPartition, pos, f.Err)
	}
	start, err := c.startOffsets(ctx, []TopicPartition{tp}, true)
	if err != nil {
		return err
	}
	c.client.cfg.logger.Warn("kafka: offset out of range, reset", "topic", f.Topic,
		"partition", f.Partition, "from", pos, "to", start[tp])
	c.mu.Lock()
	stale := c.parts[tp] != ps || ps.epoch != f.Epoch
	c.mu.Unlock()
	if stale {
		return nil
	}
	return c.seek(ctx, start, false)
}

// positions returns the position of each assigned partition: the next
// offset to read.
func (c *consumerCore) positions() map[TopicPartition]int64 {
	return c.perPartition(func(ps *partState) (int64, bool) { return ps.pos, true })
}

// highWatermarks returns the high watermark of each assigned partition, as
// its last fetch reported it (partitions not fetched yet are absent).
func (c *consumerCore) highWatermarks() map[TopicPartition]int64 {
	return c.perPartition(func(ps *partState) (int64, bool) { return ps.hw, ps.hw >= 0 })
}

// lag is, per assigned partition with a known high watermark, how many
// messages are still to read: high watermark minus position.
func (c *consumerCore) lag() map[TopicPartition]int64 {
	return c.perPartition(func(ps *partState) (int64, bool) { return max(0, ps.hw-ps.pos), ps.hw >= 0 })
}

// perPartition maps each assigned partition to value's number, leaving out
// those for which value says there is none. One snapshot under mu, so that
// the numbers of all partitions are of the same moment.
func (c *consumerCore) perPartition(value func(*partState) (int64, bool)) map[TopicPartition]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[TopicPartition]int64, len(c.parts))
	for tp, ps := range c.parts {
		if v, ok := value(ps); ok {
			out[tp] = v
		}
	}
	return out
}

// endedWith records why an iteration ended; err returns it.
func (c *consumerCore) endedWith(err error) {
	c.mu.Lock()
	c.ended = err
	c.mu.Unlock()
}

func (c *consumerCore) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ended
}

// fail stops a consumer that cannot go on (its group membership ended for
// good): Consume returns err from now on, and the fetcher stops.
func (c *consumerCore) fail(err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.failure = err
	c.ready, c.readyPart = nil, nil
	c.mu.Unlock()
	c.fetcher.Close() // wakes a Consume blocked in Poll
}

// close stops auto-commit (which commits one last time) and the fetcher.
func (c *consumerCore) close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.ready, c.readyPart = nil, nil
	c.mu.Unlock()
	var errs []error
	if c.auto != nil {
		errs = append(errs, c.auto.Stop(ctx))
	}
	errs = append(errs, c.fetcher.Close())
	return errors.Join(errs...)
}

// toEngine converts partitions for the engine contract, which has its own
// TopicPartition type with the same fields.
func toEngine(tps []TopicPartition) []engine.TopicPartition {
	out := make([]engine.TopicPartition, len(tps))
	for i, tp := range tps {
		out[i] = engine.TopicPartition(tp)
	}
	return out
}
