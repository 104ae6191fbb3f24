package managed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gokafka/kafka/balance"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file is the membership loop, the member's first goroutine: it
// rebalances (JoinGroup, the leader's assignment, SyncGroup), applies the
// assignment through the Handler, then waits, with the group stable, for a
// reason to rebalance again.

// run is the membership loop.
func (m *Member) run() {
	defer m.exit()
	reason := "joining"
	for {
		if m.life.Stopping() {
			m.finish()
			return
		}
		if err := m.rebalance(reason); err != nil {
			if m.life.Stopping() {
				m.finish()
				return
			}
			m.fail(err)
			return
		}
		m.life.Joined()
		if m.s.rejoin != "" {
			reason, m.s.rejoin = m.s.rejoin, ""
			continue
		}
		var stop bool
		var err error
		if reason, stop, err = m.stable(); err != nil {
			m.fail(err)
			return
		} else if stop {
			m.finish()
			return
		}
	}
}

// rebalance rejoins the group and applies the new assignment, retrying
// until it succeeds, Close, or an error retrying cannot fix.
func (m *Member) rebalance(reason string) error {
	if !m.cooperative && len(m.s.owned) > 0 {
		// Eager protocols give everything up before rejoining, as the
		// Java client does. The commits Revoked makes still carry the
		// current generation, which the coordinator accepts while it
		// waits for the members to rejoin.
		m.revoke(m.s.owned, reason)
	}
	immediate := 0 // consecutive retries without a pause
	for attempt := 1; ; {
		err := m.joinAndSync(reason)
		if err == nil {
			return nil
		}
		if m.ctx.Err() != nil || fatal(m.cl, err) {
			return err
		}
		m.life.Retried(err)
		level := slog.LevelInfo
		now := true // the coordinator told us what to do: rejoin at once
		switch {
		case errors.Is(err, kerr.MemberIDRequired):
			level = slog.LevelDebug // every first join (KIP-394)
			reason = "joining with the member id given"
		case errors.Is(err, kerr.RebalanceInProgress):
			reason = "the group rebalanced again"
		case errors.Is(err, kerr.UnknownMemberID):
			// The coordinator dropped us (session expired): whatever we
			// owned may be someone else's by now.
			m.lose(err)
			m.setMemberID("")
			reason = "rejoining as a new member"
		case errors.Is(err, kerr.IllegalGeneration):
			m.lose(err)
			reason = "rejoining after a missed generation"
		default: // the coordinator moved or is loading, a connection dropped
			now = false
		}
		m.log.Log(context.Background(), level, "managed: rebalance interrupted, rejoining", "err", err, "attempt", attempt)
		if now && immediate < 3 {
			immediate++
			continue
		}
		immediate = 0
		if err := m.sleep(attempt); err != nil {
			return err
		}
		attempt++
	}
}

// joinAndSync is one rebalance attempt: JoinGroup, the assignment if this
// member leads, SyncGroup, then the Handler.
func (m *Member) joinAndSync(reason string) error {
	start := time.Now()
	m.beat.pause()
	m.s.topics = m.subscribedTopics(m.cl.Snapshot())
	if m.cooperative {
		// Partitions of topics the member no longer reads (deleted,
		// or no longer matching the pattern) go before it rejoins, as
		// the Java client does: the leader gives them to nobody while
		// a member still claims them.
		if gone := m.unsubscribed(m.s.owned); len(gone) > 0 {
			m.revoke(gone, "no longer subscribed")
		}
	}
	jr, _, _, err := m.joinGroup(m.ctx, reason)
	if err != nil {
		return err
	}
	m.setMemberID(jr.MemberID)
	// The generation exists now and the coordinator's session timer runs
	// again until SyncGroup completes: keep it alive (the Java client
	// also heartbeats from here on).
	m.beat.set(jr.Generation, jr.MemberID)
	m.s.leader = jr.LeaderID == jr.MemberID
	m.leads.Store(m.s.leader)
	var assignments []kmsg.SyncGroupRequestGroupAssignment
	watch := map[string]int{}
	if m.s.leader && !jr.SkipAssignment {
		// (SkipAssignment: a static leader that restarted, KIP-814; the
		// coordinator keeps the current assignment.)
		if assignments, watch, err = m.plan(jr); err != nil {
			return err
		}
	}
	sr, err := m.syncGroup(m.ctx, jr, assignments)
	if err != nil {
		return err
	}
	ps, err := decodeAssignment(sr.MemberAssignment)
	if err != nil {
		m.log.Error("managed: the leader's assignment does not decode; taking no partitions", "leader", jr.LeaderID, "err", err)
		ps = nil
	}
	if foreign := m.unsubscribed(ps); len(foreign) > 0 {
		// The leader assigned topics this member did not subscribe
		// to: leave them (nobody reads them until the next
		// rebalance) and rejoin, as the Java client does.
		m.log.Warn("managed: the assignment names topics this member does not read; rejoining", "leader", jr.LeaderID, "partitions", foreign)
		_, ps = balance.Diff(foreign, ps)
		m.s.rejoin = "the assignment did not match the subscription"
	}
	snap := m.cl.Snapshot()
	for _, t := range m.s.topics {
		if _, ok := watch[t]; !ok {
			watch[t], _ = partitionsOf(snap, t) // 0 for a topic not created yet: its creation is a change
		}
	}
	m.s.watch = watch
	m.apply(jr, ps, start)
	return nil
}

// apply installs a SyncGroup's assignment: the new generation first (what
// commits carry from now on), then the Handler.
func (m *Member) apply(jr *kmsg.JoinGroupResponse, ps []TopicPartition, start time.Time) {
	revoked, added := balance.Diff(m.s.owned, ps)
	m.setGeneration(jr.Generation)
	m.rebalances.Add(1)
	m.log.Info("managed: assignment", "generation", jr.Generation, "member", jr.MemberID,
		"leader", m.s.leader, "partitions", ps, "added", added, "revoked", revoked, "took", since(start))
	if len(revoked) > 0 {
		// Cooperative: the leader held these back to give them to
		// another member. Hand them over, then rejoin, so that the
		// next rebalance gives them to their new owner. (Eager members
		// own nothing here: they revoked everything before joining.)
		m.revoke(revoked, "reassigned")
		m.s.rejoin = "revoked partitions for another member"
	}
	m.assign(added, ps)
}

// stable waits, with the group stable, for a reason to rebalance: a
// heartbeat's news, a change of the topics the subscription matches, or a
// partition count change. stop means Close; err an error that ends the
// member.
func (m *Member) stable() (reason string, stop bool, err error) {
	for {
		updated := m.cl.Updated()
		if why := m.metadataChanged(m.cl.Snapshot()); why != "" {
			m.log.Info("managed: rejoining", "reason", why)
			return why, false, nil
		}
		select {
		case <-m.life.Closing():
			return "", true, nil
		case <-m.cl.Closing():
			return "", false, kerr.ErrClosed
		case <-updated:
		case <-m.beat.notify:
			ev, ok := m.beat.take(m.s.genID, m.s.memberID)
			if !ok {
				continue // about an older generation
			}
			switch ev.kind {
			case evRebalance:
				return "the group is rebalancing", false, nil
			case evLost:
				m.lose(ev.err)
				if errors.Is(ev.err, kerr.UnknownMemberID) {
					m.setMemberID("")
				}
				return fmt.Sprintf("rejoining after losing the membership (%v)", ev.err), false, nil
			case evFatal:
				return "", false, ev.err
			}
		}
	}
}

// plan is the leader's job: the assignment of every member, from their
// subscriptions, and the partition counts it used (to watch).
func (m *Member) plan(jr *kmsg.JoinGroupResponse) ([]kmsg.SyncGroupRequestGroupAssignment, map[string]int, error) {
	subs := make([]subscription, 0, len(jr.Members))
	for i := range jr.Members {
		s, err := decodeSubscription(&jr.Members[i], m.cooperative)
		if err != nil {
			m.log.Warn("managed: a member's subscription does not decode; it gets nothing", "member", s.memberID, "err", err)
		}
		subs = append(subs, s)
	}
	// Fresh partition counts of every topic the group reads, in one
	// request: a leader assigning from stale metadata (a topic deleted a
	// moment ago, which another member already dropped) would move
	// partitions back and forth over the next rebalances. A failure
	// leaves the last known metadata.
	topics := topicsOf(subs)
	if len(topics) > 0 { // (none would ask for every topic)
		ctx, cancel := context.WithTimeout(m.ctx, m.cfg.SessionTimeout)
		err := m.cl.RefreshTopics(ctx, topics...)
		cancel()
		if err != nil {
			if m.ctx.Err() != nil {
				return nil, nil, m.ctx.Err()
			}
			m.log.Warn("managed: refreshing the group's topics failed; assigning from the last metadata", "err", err)
		}
	}
	snap := m.cl.Snapshot()
	counts := map[string]int32{}
	watch := map[string]int{}
	for _, topic := range topics {
		n, _ := partitionsOf(snap, topic)
		watch[topic] = n // 0: not created yet, or in error: assign it once it exists
		if n > 0 {
			counts[topic] = int32(n)
		} else {
			m.log.Warn("managed: no partitions known for a subscribed topic; not assigning it", "subscribed", topic)
		}
	}
	p := assign(m.cfg.Strategy, subs, counts)
	out := make([]kmsg.SyncGroupRequestGroupAssignment, 0, len(subs))
	for i := range subs {
		a := kmsg.NewSyncGroupRequestGroupAssignment()
		a.MemberID = subs[i].memberID
		a.MemberAssignment = encodeAssignment(p[subs[i].memberID])
		out = append(out, a)
	}
	m.log.Debug("managed: leader's assignment", "generation", jr.Generation, "members", len(subs), "plan", p)
	return out, watch, nil
}
