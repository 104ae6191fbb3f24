package zookeeper

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/gokafka/kafka/balance"
)

// rebalance brings the member's ownership in line with the assignment of
// the current membership and partition count. complete is false when some
// assigned partitions could not be claimed (their owners did not let go in
// time); the caller rebalances again later.
//
// Order matters for "commit before release, never two owners":
//  1. read the members (arming the membership watch) and the partition
//     count, and compute the assignment with the configured strategy;
//  2. Handler.Revoked for the owned partitions the assignment moves away
//     (only those: an owner node makes ownership exclusive, so partitions
//     that stay need not stop, unlike PyKafka's revoke-everything);
//  3. delete their owner nodes, which frees them for their new owners;
//  4. claim the newly assigned partitions by creating their ephemeral owner
//     nodes, retrying those still held by others, and call Handler.Assigned
//     for each batch as soon as its nodes are ours.
func (m *Member) rebalance() (complete bool, err error) {
	ctx := m.ctx
	t0 := time.Now()
	members, err := m.readMembers(ctx)
	if err != nil {
		return false, err
	}
	if !slices.Contains(members, m.id) {
		// Our ids node is gone though the session lives (someone deleted
		// it): register again, then start over.
		m.registered = false
		return false, fmt.Errorf("%w: %s vanished", errSuperseded, m.idPath)
	}
	n, err := m.partitionCount()
	if err != nil {
		return false, err
	}
	m.partitions = n
	all := make([]int32, n)
	for i := range all {
		all[i] = int32(i)
	}
	target := balance.Assign(m.cfg.Strategy, members, all)[m.id]

	if m.reconcile {
		if err := m.reconcileNodes(ctx); err != nil {
			return false, err
		}
	}

	revoked, _ := balance.Diff(m.owned, target)
	if len(revoked) > 0 {
		if err := m.h.Revoked(ctx, revoked); err != nil {
			// Keep going: holding on would stall the partitions' new
			// owners, and the Handler keeps what it could not commit to
			// be read again (at least once).
			m.log.Warn("zookeeper group: Handler.Revoked failed; releasing anyway", "partitions", revoked, "err", err)
		}
		m.setOwned(without(m.owned, revoked))
	}
	for _, p := range sortedKeys(m.nodes) {
		if !slices.Contains(target, p) {
			if err := m.release(ctx, p); err != nil {
				return false, err
			}
		}
	}
	added, err := m.claim(ctx, members, target)
	if err != nil {
		return false, err
	}
	m.rebalances.Add(1)
	m.log.Info("zookeeper group: rebalanced", "members", len(members), "partitions", n,
		"assigned", m.owned, "revoked", revoked, "added", added, "took", time.Since(t0).Round(time.Millisecond))
	return true, nil
}

// readMembers returns the sorted ids of the members that consume the topic.
// It arms the membership watch when none is armed (a ChildrenW per event:
// go-zookeeper keeps every armed watch channel until the event fires, so
// arming on every read would pile them up).
func (m *Member) readMembers(ctx context.Context) ([]string, error) {
	var ids []string
	var err error
	if m.idsWatch == nil {
		var w <-chan zk.Event
		ids, w, err = m.childrenW(ctx, m.idsDir)
		if err == nil {
			m.idsWatch = w
		}
	} else {
		ids, err = m.children(ctx, m.idsDir)
	}
	if err != nil {
		return nil, err
	}
	members := make([]string, 0, len(ids))
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		seen[id] = true
		sub, ok := m.subs[id]
		if !ok && id == m.id {
			sub, ok = true, true
		}
		if !ok {
			data, _, err := m.get(ctx, m.idsDir+"/"+id)
			if errors.Is(err, zk.ErrNoNode) {
				continue // left meanwhile; the watch fires
			}
			if err != nil {
				return nil, err
			}
			var known bool
			sub, known = subscribes(data, m.cfg.Topic)
			if !known {
				m.log.Warn("zookeeper group: member's subscription is not a static one; counting it as a consumer of the topic",
					"other", id, "data", string(data))
			}
			m.subs[id] = sub // an ids node's data never changes
		}
		if sub {
			members = append(members, id)
		}
	}
	for id := range m.subs {
		if !seen[id] {
			delete(m.subs, id)
		}
	}
	slices.Sort(members)
	return members, nil
}

// partitionCount is the topic's partition count in the client's metadata.
// While the topic errors (deleted, or a broker's transient error), the last
// known count stands: partitions only disappear with their topic, and then
// fetching them fails loudly anyway.
func (m *Member) partitionCount() (int, error) {
	t, err := m.cl.Snapshot().Topic(m.cfg.Topic)
	if err != nil {
		if m.partitions > 0 {
			return m.partitions, nil
		}
		return 0, err
	}
	return len(t.Partitions), nil
}

// claim takes the partitions of target the member does not hold yet. It
// tries each at most RebalanceMaxRetries times, RebalanceBackoff apart,
// and between tries checks whether newer information (members, partition
// count, the session) supersedes this rebalance. It returns what the
// Handler was given.
func (m *Member) claim(ctx context.Context, members []string, target []int32) (added []int32, err error) {
	// Held already but not the Handler's: claimed before a loss of
	// connection made the member declare them lost.
	var held, pending []int32
	for _, p := range target {
		switch {
		case m.nodes[p] && !slices.Contains(m.owned, p):
			held = append(held, p)
		case !m.nodes[p]:
			pending = append(pending, p)
		}
	}
	added = append(added, m.assign(held)...)
	holders := map[int32]string{}
	for try := 1; ; try++ {
		var got, rest []int32
		for _, p := range pending {
			holder, err := m.claimOne(ctx, p)
			if err != nil {
				return append(added, m.assign(got)...), err
			}
			if holder == "" {
				m.nodes[p] = true
				got = append(got, p)
			} else {
				holders[p] = holder
				rest = append(rest, p)
			}
		}
		// Hand over what is ours now rather than after the slowest
		// previous owner.
		added = append(added, m.assign(got)...)
		pending = rest
		if len(pending) == 0 {
			return added, nil
		}
		if try >= m.cfg.RebalanceMaxRetries {
			break
		}
		if err := m.pause(jitter(m.cfg.RebalanceBackoff), pending); err != nil {
			return added, err
		}
		now, err := m.readMembers(ctx)
		if err != nil {
			return added, err
		}
		if !slices.Equal(now, members) {
			return added, fmt.Errorf("%w: members changed from %v to %v", errSuperseded, members, now)
		}
		if n, err := m.partitionCount(); err == nil && n != m.partitions {
			return added, fmt.Errorf("%w: partition count changed from %d to %d", errSuperseded, m.partitions, n)
		}
	}
	// Perhaps the owners see another partition count: a fresh look at
	// the metadata helps whoever is behind.
	m.cl.TriggerRefresh()
	who := map[int32]string{}
	for _, p := range pending {
		who[p] = holders[p]
	}
	return added, fmt.Errorf("%w: after %d tries, partitions still owned by others: %v", ErrRebalanceFailed, m.cfg.RebalanceMaxRetries, who)
}

// assign tells the Handler about partitions whose nodes the member now
// holds, and returns them.
func (m *Member) assign(ps []int32) []int32 {
	if len(ps) == 0 {
		return nil
	}
	m.setOwned(append(slices.Clone(m.owned), ps...))
	if err := m.h.Assigned(m.ctx, ps); err != nil {
		// They are ours all the same; the Handler decides what a failed
		// start means (the next rebalance or Close revokes them).
		m.log.Warn("zookeeper group: Handler.Assigned failed", "partitions", ps, "err", err)
	}
	return ps
}

// claimOne tries once to create p's owner node. holder is "" when the
// member owns p now, else the id of the member that does.
func (m *Member) claimOne(ctx context.Context, p int32) (holder string, err error) {
	path := m.ownerPath(p)
	for attempt := 0; attempt < 3; attempt++ {
		err := m.create(ctx, path, []byte(m.id), zk.FlagEphemeral)
		switch {
		case err == nil:
			return "", nil
		case errors.Is(err, zk.ErrNoNode):
			if err := m.ensurePath(ctx, m.ownersDir); err != nil {
				return "", err
			}
			continue
		case !errors.Is(err, zk.ErrNodeExists):
			return "", err
		}
		data, st, err := m.readOwner(ctx, p)
		switch {
		case errors.Is(err, zk.ErrNoNode):
			continue // released meanwhile
		case err != nil:
			return "", err
		case st.EphemeralOwner == m.sess.id:
			return "", nil // ours: a create whose answer we gave up on did pass
		case string(data) == m.id && m.past[st.EphemeralOwner]:
			// Left by one of our earlier sessions, whose partitions
			// were declared lost when it ended.
			if err := m.delete(ctx, path, st.Version); err != nil && !isNodeErr(err) {
				return "", err
			}
			continue
		default:
			return string(data), nil
		}
	}
	return "(contended)", nil
}

// readOwner reads p's owner node, arming a watch on it unless one is
// armed already.
func (m *Member) readOwner(ctx context.Context, p int32) ([]byte, *zk.Stat, error) {
	if w, ok := m.ownerWatches[p]; ok {
		select {
		case <-w: // fired: the node changed since
			delete(m.ownerWatches, p)
		default:
			return m.get(ctx, m.ownerPath(p))
		}
	}
	data, st, w, err := m.getW(ctx, m.ownerPath(p))
	if err == nil {
		m.ownerWatches[p] = w
	}
	return data, st, err
}

// release deletes p's owner node if this session holds it. The Handler
// must have revoked p before.
func (m *Member) release(ctx context.Context, p int32) error {
	if err := m.deleteOwn(ctx, m.ownerPath(p)); err != nil {
		return err
	}
	delete(m.nodes, p)
	return nil
}

// reconcileNodes rebuilds nodes from ZooKeeper: after a call was given up
// on (it may have passed after all), after a loss of connection, and in a
// new session (nodes of the member's earlier sessions may linger; they are
// deleted, their partitions were declared lost). Owned partitions whose
// node is no longer this session's are lost.
func (m *Member) reconcileNodes(ctx context.Context) error {
	m.reconcile = false // a call abandoned below sets it again
	names, err := m.children(ctx, m.ownersDir)
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		m.reconcile = true
		return err
	}
	found := map[int32]bool{}
	for _, name := range names {
		p, ok := parsePartition(name)
		if !ok {
			continue
		}
		data, st, err := m.get(ctx, m.ownerPath(p))
		switch {
		case errors.Is(err, zk.ErrNoNode):
		case err != nil:
			m.reconcile = true
			return err
		case st.EphemeralOwner == m.sess.id:
			found[p] = true
		case string(data) == m.id && m.past[st.EphemeralOwner]:
			if err := m.delete(ctx, m.ownerPath(p), st.Version); err != nil && !isNodeErr(err) {
				m.reconcile = true
				return err
			}
		}
	}
	var lost []int32
	for _, p := range m.owned {
		if !found[p] {
			lost = append(lost, p)
		}
	}
	if len(lost) > 0 {
		m.log.Warn("zookeeper group: owner nodes of owned partitions are gone; partitions lost", "partitions", lost)
		m.setOwned(without(m.owned, lost))
		if err := m.h.Lost(m.ctx, lost); err != nil {
			m.log.Warn("zookeeper group: Handler.Lost failed", "partitions", lost, "err", err)
		}
	}
	m.nodes = found
	return nil
}

// pause waits d between claim attempts, or less if the owner node of one
// of the pending partitions changes (its owner let go). It returns
// errInterrupted if the member closes or its session drops meanwhile,
// errSuperseded if the membership changes.
func (m *Member) pause(d time.Duration, pending []int32) error {
	t := time.NewTimer(d)
	defer t.Stop()
	const (
		timer = iota
		closing
		cancelled
		members
		kick
		owners // one case per watched pending partition from here
	)
	cases := []reflect.SelectCase{
		recv(t.C), recv(m.closing), recv(m.ctx.Done()), recv(m.idsWatch) /* nil: never ready */, recv(m.kick),
	}
	var watched []int32
	for _, p := range pending {
		if w, ok := m.ownerWatches[p]; ok {
			cases = append(cases, recv(w))
			watched = append(watched, p)
		}
	}
	for {
		i, _, _ := reflect.Select(cases)
		switch {
		case i == timer:
			return nil
		case i == closing, i == cancelled:
			return errInterrupted
		case i == members:
			m.idsWatch = nil
			return fmt.Errorf("%w: members changed", errSuperseded)
		case i == kick:
			if !m.sess.connected() {
				// Tell the loop too: it consumes kicks to re-check.
				select {
				case m.kick <- struct{}{}:
				default:
				}
				return errInterrupted
			}
		default:
			delete(m.ownerWatches, watched[i-owners])
			return nil
		}
	}
}

func without(ps, drop []int32) []int32 {
	out := make([]int32, 0, len(ps))
	for _, p := range ps {
		if !slices.Contains(drop, p) {
			out = append(out, p)
		}
	}
	return out
}
