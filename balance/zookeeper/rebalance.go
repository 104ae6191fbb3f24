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
	"github.com/gokafka/kafka/internal/cluster"
)

// rebalance brings the member's ownership in line with the assignment of
// the current membership and topics. complete is false when some assigned
// partitions could not be claimed (their owners did not let go in time);
// the caller rebalances again later.
//
// Order matters for "commit before release, never two owners":
//  1. read the members (arming the membership watch) and what each reads,
//     the topics matching patterns and the partition counts in the
//     client's metadata, and compute the assignment with the configured
//     strategy (balance.AssignTopics);
//  2. Handler.Revoked for the owned partitions the assignment moves away
//     (only those: an owner node makes ownership exclusive, so partitions
//     that stay need not stop, unlike PyKafka's revoke-everything), those
//     of deleted topics included;
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
	m.followMetadata(ctx, members)
	subs, topics, counts := m.inputs(m.cl.Snapshot(), members)
	m.members, m.counts = members, counts
	target := balance.AssignTopics(m.cfg.Strategy, subs, counts)[m.id]

	if m.reconcile {
		if err := m.reconcileNodes(ctx, topics); err != nil {
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
	for _, tp := range sortedKeys(m.nodes) {
		if !slices.Contains(target, tp) {
			if err := m.release(ctx, tp); err != nil {
				return false, err
			}
		}
	}
	added, err := m.claim(ctx, members, target)
	if err != nil {
		return false, err
	}
	m.rebalances.Add(1)
	m.log.Info("zookeeper group: rebalanced", "members", len(members), "topics", counts,
		"assigned", m.owned, "revoked", revoked, "added", added, "took", time.Since(t0).Round(time.Millisecond))
	return true, nil
}

// readMembers returns the sorted ids of the group's members, having read
// the registration of each it did not know (into subs). It arms the
// membership watch when none is armed (a ChildrenW per event: go-zookeeper
// keeps every armed watch channel until the event fires, so arming on every
// read would pile them up).
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
		if _, ok := m.subs[id]; !ok && id != m.id {
			data, _, err := m.get(ctx, m.idsDir+"/"+id)
			if errors.Is(err, zk.ErrNoNode) {
				continue // left meanwhile; the watch fires
			}
			if err != nil {
				return nil, err
			}
			in, err := decodeRegistration(data)
			if err != nil {
				in.unknown = true
				m.log.Warn("zookeeper group: cannot read a member's subscription; counting it as a reader of this member's topics",
					"other", id, "data", string(data), "err", err)
			}
			m.subs[id] = in // an ids node's data never changes
		}
		members = append(members, id)
	}
	for id := range m.subs {
		if !seen[id] {
			delete(m.subs, id)
		}
	}
	slices.Sort(members)
	return members, nil
}

// interestOf is what member id reads.
func (m *Member) interestOf(id string) *interest {
	if in, ok := m.subs[id]; ok && id != m.id && !in.unknown {
		return &in
	}
	return &m.own
}

// followMetadata makes the client's metadata cover what the members read:
// every topic while one of them has a pattern (which this member evaluates
// against its own metadata), and the listed topics. Failures are logged:
// the topics concerned are left out of this rebalance, and the periodic
// refresh brings them in at a later one.
func (m *Member) followMetadata(ctx context.Context, members []string) {
	all := false
	var listed []string
	for _, id := range members {
		in := m.interestOf(id)
		all = all || in.pattern != nil
		for _, t := range in.topics {
			if !m.tracked[t] {
				listed = append(listed, t)
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, m.opTimeout())
	defer cancel()
	switch {
	case all && m.untrackAll == nil:
		m.untrackAll = m.cl.TrackAll()
		if err := m.cl.RefreshAll(ctx); err != nil {
			m.log.Warn("zookeeper group: reading the metadata of every topic, for a member's pattern", "err", err)
		}
	case !all && m.untrackAll != nil:
		m.untrackAll()
		m.untrackAll = nil
	}
	if len(listed) == 0 {
		return
	}
	slices.Sort(listed)
	listed = slices.Compact(listed)
	if err := m.cl.RefreshTopics(ctx, listed...); err != nil {
		m.log.Warn("zookeeper group: reading the metadata of other members' topics", "topics", listed, "err", err)
		return // tried again at the next rebalance
	}
	for _, t := range listed {
		m.tracked[t] = true
	}
}

// inputs computes, from the metadata in snap, what each member reads, the
// union of those topics and their partition counts.
func (m *Member) inputs(snap *cluster.Snapshot, members []string) (subs []balance.Subscriber, topics []string, counts map[string]int32) {
	subs = make([]balance.Subscriber, 0, len(members))
	for _, id := range members {
		read := m.interestOf(id).read(snap)
		subs = append(subs, balance.Subscriber{Key: id, Topics: read})
		topics = append(topics, read...)
	}
	slices.Sort(topics)
	topics = slices.Compact(topics)
	return subs, topics, topicCounts(snap, topics, m.counts)
}

// metadataChanged says how the group's topics changed in the client's
// metadata since the last rebalance ("" if they did not): a partition
// count, a topic deleted, a topic created that a pattern matches.
func (m *Member) metadataChanged() string {
	if m.members == nil {
		return "" // no rebalance yet
	}
	_, _, counts := m.inputs(m.cl.Snapshot(), m.members)
	return countsChange(m.counts, counts)
}

// claim takes the partitions of target the member does not hold yet. It
// tries each at most RebalanceMaxRetries times, RebalanceBackoff apart,
// and between tries checks whether newer information (members, partition
// count, the session) supersedes this rebalance. It returns what the
// Handler was given.
func (m *Member) claim(ctx context.Context, members []string, target []balance.TopicPartition) (added []balance.TopicPartition, err error) {
	// Held already but not the Handler's: claimed before a loss of
	// connection made the member declare them lost.
	var held, pending []balance.TopicPartition
	for _, tp := range target {
		switch {
		case m.nodes[tp] && !slices.Contains(m.owned, tp):
			held = append(held, tp)
		case !m.nodes[tp]:
			pending = append(pending, tp)
		}
	}
	added = append(added, m.assign(held)...)
	holders := map[balance.TopicPartition]string{}
	for try := 1; ; try++ {
		var got, rest []balance.TopicPartition
		for _, tp := range pending {
			holder, err := m.claimOne(ctx, tp)
			if err != nil {
				return append(added, m.assign(got)...), err
			}
			if holder == "" {
				m.nodes[tp] = true
				got = append(got, tp)
			} else {
				holders[tp] = holder
				rest = append(rest, tp)
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
		if why := m.metadataChanged(); why != "" {
			return added, fmt.Errorf("%w: %s", errSuperseded, why)
		}
	}
	// Perhaps the owners see other topics or partition counts: a fresh
	// look at the metadata helps whoever is behind.
	m.cl.TriggerRefresh()
	who := map[string]string{}
	for _, tp := range pending {
		who[tp.String()] = holders[tp]
	}
	return added, fmt.Errorf("%w: after %d tries, partitions still owned by others: %v", ErrRebalanceFailed, m.cfg.RebalanceMaxRetries, who)
}

// assign tells the Handler about partitions whose nodes the member now
// holds, and returns them.
func (m *Member) assign(ps []balance.TopicPartition) []balance.TopicPartition {
	if len(ps) == 0 {
		return nil
	}
	slices.SortFunc(ps, balance.TopicPartition.Compare)
	m.setOwned(append(slices.Clone(m.owned), ps...))
	if err := m.h.Assigned(m.ctx, ps); err != nil {
		// They are ours all the same; the Handler decides what a failed
		// start means (the next rebalance or Close revokes them).
		m.log.Warn("zookeeper group: Handler.Assigned failed", "partitions", ps, "err", err)
	}
	return ps
}

// claimOne tries once to create tp's owner node. holder is "" when the
// member owns tp now, else the id of the member that does.
func (m *Member) claimOne(ctx context.Context, tp balance.TopicPartition) (holder string, err error) {
	path := m.ownerPath(tp)
	for attempt := 0; attempt < 3; attempt++ {
		err := m.create(ctx, path, []byte(m.id), zk.FlagEphemeral)
		switch {
		case err == nil:
			return "", nil
		case errors.Is(err, zk.ErrNoNode):
			if err := m.ensurePath(ctx, m.ownersDir(tp.Topic)); err != nil {
				return "", err
			}
			continue
		case !errors.Is(err, zk.ErrNodeExists):
			return "", err
		}
		data, st, err := m.readOwner(ctx, tp)
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

// readOwner reads tp's owner node, arming a watch on it unless one is
// armed already.
func (m *Member) readOwner(ctx context.Context, tp balance.TopicPartition) ([]byte, *zk.Stat, error) {
	if w, ok := m.ownerWatches[tp]; ok {
		select {
		case <-w: // fired: the node changed since
			delete(m.ownerWatches, tp)
		default:
			return m.get(ctx, m.ownerPath(tp))
		}
	}
	data, st, w, err := m.getW(ctx, m.ownerPath(tp))
	if err == nil {
		m.ownerWatches[tp] = w
	}
	return data, st, err
}

// release deletes tp's owner node if this session holds it. The Handler
// must have revoked tp before.
func (m *Member) release(ctx context.Context, tp balance.TopicPartition) error {
	if err := m.deleteOwn(ctx, m.ownerPath(tp)); err != nil {
		return err
	}
	delete(m.nodes, tp)
	return nil
}

// reconcileNodes rebuilds nodes from ZooKeeper: after a call was given up
// on (it may have passed after all), after a loss of connection, and in a
// new session (nodes of the member's earlier sessions may linger; they are
// deleted, their partitions were declared lost). It looks at the owner
// nodes of topics, the topics some member reads now, and of the topics of
// nodes and partitions the member has: a node elsewhere stands in nobody's
// way. Owned partitions whose node is no longer this session's are lost.
func (m *Member) reconcileNodes(ctx context.Context, topics []string) error {
	m.reconcile = false // a call abandoned below sets it again
	scan := slices.Clone(topics)
	for tp := range m.nodes {
		scan = append(scan, tp.Topic)
	}
	for _, tp := range m.owned {
		scan = append(scan, tp.Topic)
	}
	slices.Sort(scan)
	found := map[balance.TopicPartition]bool{}
	for _, topic := range slices.Compact(scan) {
		if err := m.scanOwners(ctx, topic, found); err != nil {
			m.reconcile = true
			return err
		}
	}
	var lost []balance.TopicPartition
	for _, tp := range m.owned {
		if !found[tp] {
			lost = append(lost, tp)
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

// scanOwners adds to found the owner nodes of topic that this session
// holds, and deletes those of the member's earlier sessions.
func (m *Member) scanOwners(ctx context.Context, topic string, found map[balance.TopicPartition]bool) error {
	names, err := m.children(ctx, m.ownersDir(topic))
	if err != nil && !errors.Is(err, zk.ErrNoNode) {
		return err
	}
	for _, name := range names {
		p, ok := parsePartition(name)
		if !ok {
			continue
		}
		tp := balance.TopicPartition{Topic: topic, Partition: p}
		data, st, err := m.get(ctx, m.ownerPath(tp))
		switch {
		case errors.Is(err, zk.ErrNoNode):
		case err != nil:
			return err
		case st.EphemeralOwner == m.sess.id:
			found[tp] = true
		case string(data) == m.id && m.past[st.EphemeralOwner]:
			if err := m.delete(ctx, m.ownerPath(tp), st.Version); err != nil && !isNodeErr(err) {
				return err
			}
		}
	}
	return nil
}

// pause waits d between claim attempts, or less if the owner node of one
// of the pending partitions changes (its owner let go). It returns
// errInterrupted if the member closes or its session drops meanwhile,
// errSuperseded if the membership changes.
func (m *Member) pause(d time.Duration, pending []balance.TopicPartition) error {
	t := time.NewTimer(d)
	defer t.Stop()
	const (
		timer = iota
		closing
		cancelled
		members
		kick
		clusterClosing
		owners // one case per watched pending partition from here
	)
	cases := []reflect.SelectCase{
		recv(t.C), recv(m.life.Closing()), recv(m.ctx.Done()), recv(m.idsWatch) /* nil: never ready */, recv(m.kick),
		recv(m.cl.Closing()),
	}
	var watched []balance.TopicPartition
	for _, tp := range pending {
		if w, ok := m.ownerWatches[tp]; ok {
			cases = append(cases, recv(w))
			watched = append(watched, tp)
		}
	}
	for {
		i, _, _ := reflect.Select(cases)
		switch {
		case i == timer:
			return nil
		case i == closing, i == cancelled, i == clusterClosing:
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

func without(ps, drop []balance.TopicPartition) []balance.TopicPartition {
	out := make([]balance.TopicPartition, 0, len(ps))
	for _, p := range ps {
		if !slices.Contains(drop, p) {
			out = append(out, p)
		}
	}
	return out
}
