package consumer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
)

// This file is the membership loop, the member's first goroutine: it
// reconciles the member with the coordinator's assignment one Handler call
// at a time (revoke, acknowledge; assign, acknowledge), reports lost
// partitions before the member rejoins, and on Close revokes everything
// and leaves.

// leaveTimeout bounds Close's leave when its ctx has no deadline (and
// Join's leave after a failed join).
const leaveTimeout = 30 * time.Second

// run is the membership loop.
func (m *Member) run() {
	defer m.exit()
	for {
		if m.life.Stopping() {
			// Close comes before further reconciliation: it revokes
			// what is owned, whatever the coordinator wants.
			m.finish()
			return
		}
		m.mu.Lock()
		st := m.s.next(m.resolve)
		m.s.begin(st)
		m.publish()
		unresolved := m.s.unresolved
		m.mu.Unlock()
		if st.kind == stepNone {
			var updated <-chan struct{}
			if unresolved {
				// Topic ids the metadata does not name yet: refresh
				// it, and look again when it changes.
				updated = m.cl.Updated()
				m.cl.TriggerRefresh()
			}
			select {
			case <-m.life.Closing():
			case <-m.cl.Closing():
				m.fail(kerr.ErrClosed)
				return
			case <-m.kick:
			case <-updated:
			}
			continue
		}
		m.apply(st)
		switch st.kind {
		case stepFail:
			m.life.Fail(fmt.Errorf("consumer: group %q: %w", m.cfg.Group, st.err))
			m.log.Error("consumer: the member stops", "err", st.err)
			return
		case stepAssign:
			m.life.Joined()
		}
	}
}

// apply makes the Handler call of st and records its outcome, then has
// the heartbeater acknowledge it at once (or rejoin, after a loss).
func (m *Member) apply(st step) {
	ps := partitionsOf(st.parts)
	m.mu.Lock()
	epoch := m.s.epoch
	m.mu.Unlock()
	var err error
	switch st.kind {
	case stepRevoke:
		m.log.Info("consumer: revoking", "partitions", ps, "epoch", epoch)
		err = m.h.Revoked(m.hctx, ps)
	case stepAssign:
		m.log.Info("consumer: assigned", "partitions", ps, "epoch", epoch)
		err = m.h.Assigned(m.hctx, ps)
	case stepLose, stepFail:
		if len(ps) > 0 {
			m.log.Warn("consumer: partitions lost", "partitions", ps, "reason", st.err, "epoch", epoch)
			err = m.h.Lost(m.hctx, ps)
		}
	}
	if err != nil {
		m.log.Warn("consumer: Handler."+map[stepKind]string{stepRevoke: "Revoked", stepAssign: "Assigned", stepLose: "Lost", stepFail: "Lost"}[st.kind]+" failed", "partitions", ps, "err", err)
	}
	m.mu.Lock()
	m.s.end(st)
	if st.kind == stepRevoke || st.kind == stepAssign {
		m.rebalances.Store(int64(m.s.reconciled))
	}
	m.publish()
	m.mu.Unlock()
	if st.kind != stepFail && !m.life.Stopping() {
		m.beat.now()
	}
}

// fail stops the member after an error that is not the coordinator's
// (the cluster closed): its partitions are lost to the Handler.
func (m *Member) fail(err error) {
	m.mu.Lock()
	if m.s.fatal == nil {
		m.s.fatal = err
	}
	st := m.s.next(m.resolve)
	m.mu.Unlock()
	m.apply(st)
	m.life.Fail(fmt.Errorf("consumer: group %q: %w", m.cfg.Group, err))
	m.log.Error("consumer: the member stops", "err", err)
}

// finish is the loop's part of Close: revoke everything (the Handler
// commits, while heartbeats keep the membership alive), stop heartbeating,
// then leave the group.
func (m *Member) finish() {
	if m.abandoned.Load() {
		return // a simulated crash: say nothing to anyone
	}
	m.mu.Lock()
	st := step{kind: stepRevoke, parts: m.s.owned}
	lost := m.s.fenced != nil || m.s.fatal != nil
	if lost {
		// Already someone else's: lost, not revoked (no commit).
		st = m.s.next(m.resolve)
	}
	joined := m.s.epoch > 0
	m.mu.Unlock()
	if lost {
		// Nothing to keep alive, and no rejoin wanted.
		m.beat.stop()
	}
	if len(st.parts) > 0 {
		// (Heartbeats go on during a revocation, so that the commits
		// in Revoked belong to a live membership.)
		m.apply(st)
	}
	m.beat.stop()
	if !joined {
		return
	}
	ctx := m.life.CloseCtx()
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, leaveTimeout)
		defer cancel()
	}
	if err := m.leave(ctx); err != nil {
		m.life.SetCloseErr(fmt.Errorf("consumer: leave group %q: %w", m.cfg.Group, err))
		m.log.Warn("consumer: leaving the group failed", "err", err)
		return
	}
	m.log.Info("consumer: left the group")
}

// exit runs last in the loop's goroutine: it stops the heartbeater, closes
// the member's connections and marks the member done.
func (m *Member) exit() {
	m.beat.stop()
	m.coord.closeLane(m.lane)
	m.hcancel()
	if m.untrack != nil {
		m.untrack()
	}
	m.life.Exit()
}

// errUnsupported says that the coordinator cannot run this member's group.
func errUnsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %s", kerr.ErrUnsupported, fmt.Sprintf(format, args...))
}

// isUnsupported reports whether a heartbeat failed because the broker does
// not speak the consumer protocol: it lacks ConsumerGroupHeartbeat v1, or
// answers UNSUPPORTED_VERSION (the protocol switched off by
// group.coordinator.rebalance.protocols).
func isUnsupported(err error) bool {
	return errors.Is(err, kerr.ErrUnsupported) || errors.Is(err, kerr.ErrUnsupportedVersion) || errors.Is(err, kerr.UnsupportedVersion)
}
