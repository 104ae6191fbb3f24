package managed

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
)

// heartbeater is the member's second goroutine: it sends a Heartbeat every
// HeartbeatInterval for the generation the membership loop gives it, on a
// connection of its own, so that neither a JoinGroup waiting on that
// loop's connection nor a slow Handler holds heartbeats up — the session
// stays alive while the Handler commits or seeks.
//
// It never acts on what it learns. It reports to the loop instead, one
// pending event at a time (the most severe wins): a rebalance has started,
// the member is no longer in the group (or its session ran out: nothing
// accepted for SessionTimeout), or it was fenced. The loop reads the event
// when it is ready, which may be after a Handler call returns.
type heartbeater struct {
	m        *Member
	interval time.Duration
	session  time.Duration

	mu     sync.Mutex
	target *beatTarget // nil while paused (no generation, or joining)
	event  beatEvent   // pending report for target

	notify chan struct{} // capacity 1: an event is pending
	wake   chan struct{} // capacity 1: the target changed

	accepted atomic.Int64 // heartbeats answered without error, for tests
	mute     atomic.Bool  // tests: send nothing, as if the network dropped it

	ctx    context.Context // ends with stop
	cancel context.CancelFunc
	done   chan struct{}
}

// beatTarget is the generation being kept alive.
type beatTarget struct {
	gen      int32
	memberID string

	// Guarded by heartbeater.mu.
	alive       time.Time // when the last answered heartbeat was sent: the coordinator counted the member in after that
	rebalancing bool      // a rebalance was reported already
	quiet       bool      // lost or fenced was reported: stop sending
}

type eventKind int

const (
	evNone      eventKind = iota
	evRebalance           // REBALANCE_IN_PROGRESS: rejoin, the partitions are still ours
	evLost                // UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, session timeout: the partitions are lost
	evFatal               // FENCED_INSTANCE_ID: another process has our instance id
)

type beatEvent struct {
	kind     eventKind
	gen      int32
	memberID string
	err      error
}

// errSessionExpired: no heartbeat got through for (almost) the session
// timeout, so the coordinator may be handing the partitions to other
// members.
var errSessionExpired = errors.New("managed: no heartbeat accepted within the session timeout")

func newHeartbeater(m *Member) *heartbeater {
	b := &heartbeater{
		m:        m,
		interval: m.cfg.HeartbeatInterval,
		session:  m.cfg.SessionTimeout,
		notify:   make(chan struct{}, 1),
		wake:     make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	return b
}

func (b *heartbeater) start() { go b.run() }

// stop ends the goroutine and waits for it. Idempotent.
func (b *heartbeater) stop() {
	b.cancel()
	<-b.done
}

// set starts keeping generation gen of memberID alive, first heartbeat one
// interval from now: the JoinGroup answer that gave the generation was the
// last sign of life.
func (b *heartbeater) set(gen int32, memberID string) {
	b.retarget(&beatTarget{gen: gen, memberID: memberID, alive: time.Now()})
}

// pause stops heartbeats until the next set; the loop pauses them while it
// sends JoinGroup, which keeps the member alive by itself.
func (b *heartbeater) pause() { b.retarget(nil) }

func (b *heartbeater) retarget(t *beatTarget) {
	b.mu.Lock()
	b.target = t
	b.event = beatEvent{}
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// take returns the pending event if it is about generation gen of
// memberID, and clears it either way.
func (b *heartbeater) take(gen int32, memberID string) (beatEvent, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ev := b.event
	b.event = beatEvent{}
	return ev, ev.kind != evNone && ev.gen == gen && ev.memberID == memberID
}

func (b *heartbeater) run() {
	defer close(b.done)
	t := time.NewTimer(b.interval)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-b.ctx.Done():
			return
		case <-b.wake:
			t.Reset(b.interval)
		case <-t.C:
			start := time.Now()
			next := b.interval
			if b.beat() {
				failures = 0
			} else {
				// Retry sooner than the interval: a session has
				// only SessionTimeout/HeartbeatInterval chances.
				failures++
				next = min(next, b.m.cl.Backoff(failures))
			}
			next -= time.Since(start)
			if left, ok := b.left(); ok {
				// Wake when the session runs out, not at the next
				// retry: the loss must be reported before the
				// coordinator can give the partitions away.
				next = min(next, left)
			}
			t.Reset(max(0, next))
		}
	}
}

// beat sends one heartbeat for the current target and reports what the
// loop must know. It returns false when the heartbeat got no answer
// (coordinator moved, connection lost), to be retried soon.
func (b *heartbeater) beat() (answered bool) {
	b.mu.Lock()
	tgt := b.target
	if tgt == nil || tgt.quiet {
		b.mu.Unlock()
		return true
	}
	alive := tgt.alive
	b.mu.Unlock()

	sent := time.Now()
	left := b.lifetime() - sent.Sub(alive)
	if left <= 0 {
		b.report(tgt, evLost, fmt.Errorf("%w (%v)", errSessionExpired, b.session))
		return true
	}
	if b.mute.Load() {
		return false
	}
	// Wait for the answer as long as the session lasts, but at least an
	// interval: an answer after that is useless anyway.
	ctx, cancel := context.WithTimeout(b.ctx, max(left, b.interval))
	defer cancel()
	err := b.m.heartbeat(ctx, tgt.gen, tgt.memberID)
	switch {
	case err == nil:
		b.accepted.Add(1)
		b.alive(tgt, sent)
	case errors.Is(err, kerr.RebalanceInProgress):
		// The coordinator counts us in (the answer renews the session)
		// and wants us to rejoin; keep heartbeating until the loop does,
		// since it may first be busy revoking.
		b.alive(tgt, sent)
		b.report(tgt, evRebalance, err)
	case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration):
		b.report(tgt, evLost, err)
	case errors.Is(err, kerr.FencedInstanceID):
		b.report(tgt, evFatal, err)
	case b.ctx.Err() != nil:
	default:
		b.m.log.Debug("managed: heartbeat failed", "group", b.m.cfg.Group, "generation", tgt.gen, "err", err)
		return false
	}
	return true
}

// alive renews the session from sent, the time the answered heartbeat
// left: the coordinator renewed it when the request arrived, later than
// that, so the member's count never outlasts the coordinator's.
func (b *heartbeater) alive(tgt *beatTarget, sent time.Time) {
	b.mu.Lock()
	if sent.After(tgt.alive) {
		tgt.alive = sent
	}
	b.mu.Unlock()
}

// lifetime is how long the member counts its session from the last
// answered heartbeat: the session timeout less a margin (a tenth of it, at
// most one heartbeat interval), so that the member reports its partitions
// lost before the coordinator's own timer runs out and a rebalance hands
// them to others, even when this goroutine is scheduled late.
func (b *heartbeater) lifetime() time.Duration {
	return b.session - min(b.interval, b.session/10)
}

// left is the time until the current target's session runs out, if there
// is a target still heartbeating.
func (b *heartbeater) left() (time.Duration, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.target == nil || b.target.quiet {
		return 0, false
	}
	return b.lifetime() - time.Since(b.target.alive), true
}

// report leaves an event for the loop, unless the target changed meanwhile.
func (b *heartbeater) report(tgt *beatTarget, kind eventKind, err error) {
	b.mu.Lock()
	if b.target != tgt || tgt.quiet || (kind == evRebalance && tgt.rebalancing) {
		b.mu.Unlock()
		return
	}
	if kind == evRebalance {
		tgt.rebalancing = true
	} else {
		tgt.quiet = true
	}
	if kind > b.event.kind {
		b.event = beatEvent{kind: kind, gen: tgt.gen, memberID: tgt.memberID, err: err}
	}
	b.mu.Unlock()
	select {
	case b.notify <- struct{}{}:
	default:
	}
}
