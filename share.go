package kafka

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"time"

	"github.com/gokafka/kafka/balance/share"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
)

// Share group errors.
var (
	// ErrNotAcquired: Acknowledge of a record this consumer does not hold
	// (never handed out by it, acknowledged already, or past its
	// acquisition lock).
	ErrNotAcquired = kerr.ErrNotAcquired
	// ErrInvalidRecordState is the broker's refusal of an acknowledgement
	// (INVALID_RECORD_STATE), mostly because the record's acquisition
	// lock had expired; see ShareAckResult.
	ErrInvalidRecordState = kerr.InvalidRecordState
)

// ShareConsumer is a member of a share group (KIP-932, "queues for
// Kafka"): the members of a share group read the same partitions together,
// and the brokers hand each record to one member at a time. There can be
// more members than partitions, and all of them are busy. A record handed
// to a member is locked for it (share.record.lock.duration.ms, 30s by
// default) until the member acknowledges it:
//
//   - AcceptType: processed, done;
//   - ReleaseType: not processed, delivered again (to any member) with a
//     higher delivery count (Message.DeliveryCount);
//   - RejectType: unprocessable, archived, never delivered again.
//
// A record whose lock expires — its member died, or was too slow — is
// delivered again, like a released one; after the group's delivery count
// limit (share.delivery.count.limit, 5 by default) it is archived.
// Delivery is at-least-once: a record is accepted once, but may be handed
// out more than once.
//
// It reads like the other consumers (Consume, Messages, Err). With
// implicit acknowledgement (the default), every record handed out is
// accepted at the consumer's next fetch — when Consume needs records it
// does not have — unless Acknowledge said otherwise first; with
// ShareConsumerConfig.ExplicitAcknowledgement, every record waits for
// Acknowledge. The outcome of every acknowledgement is reported
// (OnAcknowledged, AckResults).
//
// Only the pure engine has share groups; the brokers need Kafka 4.1 or
// newer with share groups enabled (share.version=1, the default from Kafka
// 4.2): elsewhere NewShareConsumer fails with an error matching
// ErrUnsupported.
//
// A ShareConsumer is safe for concurrent use; Consume calls are served one
// at a time. Close it to leave the group promptly and to give back the
// records it fetched and did not hand out.
type ShareConsumer struct {
	client  *Client
	cfg     resolvedShare
	fetcher engine.ShareFetcher
	member  *share.Member

	results   chan ShareAckResult // AckResults; nil unless asked for
	resMu     sync.RWMutex        // senders hold it shared; Close exclusively, to close results
	resClosed bool
	abandoned chan struct{} // closed when Close gives up waiting for results to be read
	acked     chan struct{} // capacity 1: an Acknowledge freed room (explicit acknowledgement)

	consumeMu sync.Mutex // one Consume at a time

	mu      sync.Mutex
	held    held
	closed  bool
	failure error // why the consumer stopped by itself
	ended   error // why the last Messages iteration or Consume call ended

	watchDone chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// NewShareConsumer joins the share group cfg.Group as a reader of
// cfg.Topics and returns once the group's coordinator has answered the
// member's first heartbeat; the partitions it reads come with that answer
// or later ones (see Partitions). Before joining it sets the group's
// configs that cfg asks for (AutoOffsetReset, RecordLockDuration). ctx
// bounds the start-up.
//
// It starts the membership goroutine (heartbeats) and the engine's fetch
// goroutines (one per broker that leads a partition it reads); Close stops
// them.
//
// Errors: an invalid configuration (ErrInvalidConfig), the librdkafka
// engine or brokers without share groups (ErrUnsupported), an
// authorization failure, and ctx's error.
func (c *Client) NewShareConsumer(ctx context.Context, cfg ShareConsumerConfig) (*ShareConsumer, error) {
	r, err := cfg.resolve(c)
	if err != nil {
		return nil, err
	}
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	sc := &ShareConsumer{
		client:    c,
		cfg:       r,
		abandoned: make(chan struct{}),
		acked:     make(chan struct{}, 1),
		watchDone: make(chan struct{}),
	}
	if cfg.AckResults {
		sc.results = make(chan ShareAckResult, shareResultsCapacity)
	}
	memberID := share.NewMemberID()
	r.fetch.MemberID = memberID
	r.fetch.Acked = sc.report
	f, err := r.eng.NewShareFetcher(ctx, c.cluster, r.fetch)
	if err != nil {
		return nil, err
	}
	sc.fetcher = f
	m, err := share.Join(ctx, c.cluster, share.Config{
		Group:       cfg.Group,
		Topics:      cfg.Topics,
		MemberID:    memberID,
		Rack:        cfg.Rack,
		GroupConfig: r.groupConfig,
		Logger:      c.cfg.logger,
	}, shareHandler{sc})
	if err != nil {
		f.Close(ctx)
		return nil, err
	}
	sc.member = m
	go func() {
		defer close(sc.watchDone)
		<-m.Done()
		if err := m.Err(); err != nil {
			sc.fail(fmt.Errorf("kafka: share group membership ended: %w", err))
		}
	}()
	if err := c.adopt(sc); err != nil {
		sc.Close(ctx)
		return nil, err
	}
	return sc, nil
}

// shareHandler is the consumer's side of the membership: partitions
// assigned start being fetched, partitions revoked or lost stop. Records
// acquired from them before stay held: they are the member's until
// acknowledged or their locks expire.
type shareHandler struct{ c *ShareConsumer }

func (h shareHandler) Assigned(ctx context.Context, tps []TopicPartition) error {
	return h.ignoreClosed(h.c.fetcher.Assign(ctx, toEngine(tps)))
}

func (h shareHandler) Revoked(ctx context.Context, tps []TopicPartition) error {
	return h.ignoreClosed(h.c.fetcher.Unassign(ctx, toEngine(tps)))
}

func (h shareHandler) Lost(ctx context.Context, tps []TopicPartition) error {
	return h.Revoked(ctx, tps)
}

func (h shareHandler) ignoreClosed(err error) error {
	if errors.Is(err, ErrClosed) {
		return nil // Close stops the fetcher before the membership
	}
	return err
}

// MemberID is this member's id in the group (a share group member chooses
// its own).
func (c *ShareConsumer) MemberID() string { return c.member.ID() }

// Partitions lists the partitions the group assigned to this member now,
// sorted by topic, then partition. Other members may read them too.
func (c *ShareConsumer) Partitions() []TopicPartition { return c.member.Assigned() }

// AckResults returns the channel of acknowledgement outcomes, or nil
// unless ShareConsumerConfig.AckResults is set. It is closed once Close
// has reported the last outcome.
func (c *ShareConsumer) AckResults() <-chan ShareAckResult { return c.results }

// Consume returns the next record. It blocks until one is available, ctx
// ends, or ConsumerTimeout passes without one (ErrConsumerTimeout). With
// implicit acknowledgement, needing a new fetch accepts every record
// handed out before that was not acknowledged otherwise.
func (c *ShareConsumer) Consume(ctx context.Context) (*Message, error) {
	m, err := c.consumeOne(ctx)
	if err != nil {
		c.endedWith(err)
	}
	if h := c.client.cfg.hookSet; h != nil && m != nil {
		h.recordConsumed(m)
	}
	return m, err
}

// Messages iterates over records as SimpleConsumer.Messages does: until
// ConsumerTimeout passes without one, ctx ends, or the consumer closes,
// which end the loop quietly (Err tells which); any other error is yielded
// once and ends the loop.
func (c *ShareConsumer) Messages(ctx context.Context) iter.Seq2[*Message, error] {
	return messages(ctx, c)
}

// Err says why the last Messages loop (or Consume call) ended, as
// SimpleConsumer.Err does; after the membership ended for good, the reason.
func (c *ShareConsumer) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ended
}

func (c *ShareConsumer) consume(ctx context.Context) (*Message, error) { return c.Consume(ctx) }

func (c *ShareConsumer) endedWith(err error) {
	c.mu.Lock()
	c.ended = err
	c.mu.Unlock()
}

// Acknowledge records how msg, a record this consumer handed out, was
// processed: AcceptType, ReleaseType or RejectType. It does not wait: the
// acknowledgement goes to the partition's leader with the next fetch (or a
// request of its own), and its outcome is reported (OnAcknowledged,
// AckResults). A record acknowledged already, or not handed out by this
// consumer, or whose acquisition lock expired, is refused with an error
// matching ErrNotAcquired. With implicit acknowledgement, it overrides the
// acceptance of the next fetch for msg.
func (c *ShareConsumer) Acknowledge(msg *Message, t AckType) error {
	if msg == nil {
		return ErrNilMessage
	}
	switch t {
	case AcceptType, ReleaseType, RejectType:
	default:
		return kerr.Config("Acknowledge", "unknown acknowledgement type %v (want AcceptType, ReleaseType or RejectType)", t)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	ack, err := c.held.acknowledge(msg, t, time.Now())
	c.mu.Unlock()
	if err != nil {
		return err
	}
	// Outside c.mu: the fetcher may report a failure at once, and
	// reporting may wait for AckResults to be read. A Close meanwhile
	// still sees the ack through: sent with its last requests, or
	// reported as failed.
	c.fetcher.Acknowledge([]engine.ShareAck{ack})
	select {
	case c.acked <- struct{}{}:
	default:
	}
	return nil
}

// Commit sends the acknowledgements made so far (with implicit
// acknowledgement, accepting every record handed out and not acknowledged
// otherwise) and waits until their outcomes have been reported, or ctx
// ends.
func (c *ShareConsumer) Commit(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	var acks []engine.ShareAck
	if !c.cfg.ExplicitAcknowledgement {
		acks = c.held.settle(AcceptType, 0)
	}
	c.mu.Unlock()
	c.fetcher.Acknowledge(acks)
	return c.fetcher.Flush(ctx)
}

func (c *ShareConsumer) consumeOne(ctx context.Context) (*Message, error) {
	c.consumeMu.Lock()
	defer c.consumeMu.Unlock()
	timeout := startConsumeTimeout(c.cfg.ConsumerTimeout)
	for {
		m, acks, wait, err := c.next()
		c.fetcher.Acknowledge(acks)
		if m != nil || err != nil {
			return m, err
		}
		pollCtx, cancel := timeout.bound(ctx)
		var f engine.ShareFetch
		if !wait.IsZero() {
			err = c.waitForAcks(pollCtx, wait)
		} else {
			f, err = c.fetcher.Poll(pollCtx)
		}
		cancel()
		if err != nil {
			if timeout.endedPoll(ctx, err) {
				return nil, ErrConsumerTimeout
			}
			if errors.Is(err, kerr.ErrClosed) {
				c.mu.Lock()
				ferr := c.failure
				c.mu.Unlock()
				if ferr != nil {
					return nil, ferr
				}
				return nil, ErrClosed
			}
			return nil, err
		}
		if !wait.IsZero() {
			continue
		}
		if f.Err != nil {
			return nil, f.Err
		}
		c.mu.Lock()
		closed := c.closed
		if !closed {
			c.held.add(f)
		}
		c.mu.Unlock()
		if closed {
			c.fetcher.Acknowledge(releaseAll(f)) // fetched as Close began: give it back
		}
	}
}

// next hands out the next record held, if any. Otherwise it returns what
// implicit acknowledgement accepts, to send. With explicit
// acknowledgement, it says when the consumer holds MaxUnacknowledged
// records and must wait for acknowledgements before it hands out or
// fetches more: wait is then the earliest lock deadline (zero otherwise).
func (c *ShareConsumer) next() (m *Message, acks []engine.ShareAck, wait time.Time, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failure != nil {
		return nil, nil, wait, c.failure
	}
	if c.closed {
		return nil, nil, wait, ErrClosed
	}
	now := time.Now()
	if c.cfg.ExplicitAcknowledgement {
		if first := c.held.expire(now); c.held.open >= c.cfg.MaxUnacknowledged {
			return nil, nil, first, nil
		}
	}
	m, skipped := c.held.next(now)
	if skipped > 0 {
		c.client.cfg.logger.Warn("kafka: share records not handed out: their acquisition locks expired",
			"group", c.cfg.Group, "records", skipped)
	}
	if m != nil || c.cfg.ExplicitAcknowledgement {
		return m, nil, wait, nil
	}
	return nil, c.held.settle(AcceptType, 0), wait, nil
}

// waitForAcks waits until an Acknowledge, the lock deadline until (after
// which the records are no longer ours), or ctx.
func (c *ShareConsumer) waitForAcks(ctx context.Context, until time.Time) error {
	t := time.NewTimer(time.Until(until))
	defer t.Stop()
	select {
	case <-c.acked:
		return nil
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// releaseAll is the release of every record of f.
func releaseAll(f engine.ShareFetch) []engine.ShareAck {
	var h held
	h.add(f)
	return h.settle(ReleaseType, ReleaseType)
}

// report is the engine's Acked: it hands outcomes to OnAcknowledged and to
// the results channel.
func (c *ShareConsumer) report(results []engine.ShareAckResult) {
	c.resMu.RLock()
	defer c.resMu.RUnlock()
	for _, r := range results {
		res := ShareAckResult{
			TopicPartition: TopicPartition(r.TopicPartition),
			FirstOffset:    r.FirstOffset, LastOffset: r.LastOffset, Type: r.Type, Err: r.Err,
		}
		if c.cfg.OnAcknowledged != nil {
			c.cfg.OnAcknowledged(res)
		}
		if c.results != nil && !c.resClosed {
			select {
			case c.results <- res:
			case <-c.abandoned:
			}
		}
	}
}

// fail stops a consumer whose membership ended for good: Consume returns
// err from now on.
func (c *ShareConsumer) fail(err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.failure = err
	c.mu.Unlock()
	// Wake a Consume blocked in Poll: the fetcher closes (giving back
	// what it fetched, closing its sessions).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.fetcher.Close(ctx)
}

// Close leaves the group: with implicit acknowledgement it accepts the
// records handed out (explicit acknowledgement leaves them to their
// locks), gives back the records fetched and not handed out, sends the
// last acknowledgements and closes the share sessions, leaves the group
// (a heartbeat with epoch -1), and stops every goroutine. It waits for all
// that, and for AckResults to be read, until ctx ends. Idempotent.
func (c *ShareConsumer) Close(ctx context.Context) error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		accept := AckType(AcceptType)
		if c.cfg.ExplicitAcknowledgement {
			accept = 0
		}
		var acks []engine.ShareAck
		if accept != 0 {
			acks = c.held.settle(accept, ReleaseType)
		} else {
			acks = releaseRest(&c.held)
		}
		c.mu.Unlock()
		c.fetcher.Acknowledge(acks)
		stop := context.AfterFunc(ctx, func() { close(c.abandoned) })
		errs := []error{c.fetcher.Close(ctx), c.member.Close(ctx)}
		<-c.watchDone
		c.resMu.Lock()
		c.resClosed = true
		if c.results != nil {
			close(c.results)
		}
		c.resMu.Unlock()
		stop()
		c.client.release(c)
		c.closeErr = errors.Join(errs...)
	})
	return c.closeErr
}

// releaseRest releases the records of the current batch not handed out,
// leaving those handed out to their acknowledgements (or locks).
func releaseRest(h *held) []engine.ShareAck {
	b := h.cur
	if b == nil || b.next == len(b.msgs) {
		return nil
	}
	rest := held{}
	rest.add(engine.ShareFetch{TopicPartition: engine.TopicPartition(b.tp), Messages: b.msgs[b.next:], LockDeadline: b.deadline, Session: b.session})
	b.next = len(b.msgs)
	h.cur = nil
	h.drop(b)
	return rest.settle(ReleaseType, ReleaseType)
}
