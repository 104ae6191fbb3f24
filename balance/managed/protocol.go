package managed

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/offsets"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// This file holds the member's requests (JoinGroup, SyncGroup, Heartbeat,
// LeaveGroup) and where they go: the group's coordinator, over the member's
// own lanes.

// protocolType is the group protocol type of consumers; Kafka Connect and
// Streams use other types, and a group holds members of one type only.
const protocolType = "consumer"

// coordinator caches the group's coordinator broker. offsets.Group does the
// lookup (FindCoordinator with retries) and caches the answer; when a
// request says the coordinator moved, the cache is dropped by replacing the
// Group (a new one looks up again on first use). epoch tells a failure
// about the current coordinator from a stale one.
type coordinator struct {
	cl    *cluster.Cluster
	group string

	mu    sync.Mutex
	g     *offsets.Group
	epoch uint64
}

func newCoordinator(cl *cluster.Cluster, group string) (*coordinator, error) {
	g, err := offsets.NewGroup(cl, group, offsets.GroupOptions{})
	if err != nil {
		return nil, err
	}
	return &coordinator{cl: cl, group: group, g: g}, nil
}

// get returns the coordinator and the epoch to pass to failed.
func (c *coordinator) get(ctx context.Context) (*cluster.Broker, uint64, error) {
	c.mu.Lock()
	g, epoch := c.g, c.epoch
	c.mu.Unlock()
	id, err := g.Coordinator(ctx)
	if err != nil {
		return nil, epoch, err
	}
	b, err := c.cl.Broker(id)
	return b, epoch, err
}

// failed looks the coordinator up again next time if err says it moved.
func (c *coordinator) failed(epoch uint64, err error) {
	if !offsets.CoordinatorMoved(err, c.cl.IsClosing()) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != epoch {
		return // someone already dropped it
	}
	if g, gerr := offsets.NewGroup(c.cl, c.group, offsets.GroupOptions{}); gerr == nil {
		c.g = g
		c.epoch++
	}
}

// request sends req to the coordinator on one of the member's lanes,
// remembering the broker so that its lanes are closed when the member
// stops.
func (m *Member) request(ctx context.Context, lane string, req kmsg.Request) (kmsg.Response, *cluster.Broker, uint64, error) {
	b, epoch, err := m.coord.get(ctx)
	if err != nil {
		return nil, nil, epoch, err
	}
	m.laneBrokers.Add(b)
	resp, err := b.RequestOn(ctx, lane, req)
	if err != nil {
		m.coord.failed(epoch, err)
	}
	return resp, b, epoch, err
}

// closeLanes closes the member's connections, once its goroutines are done
// with them. A JoinGroup abandoned by Close is still waiting on the join
// lane; closing it is what frees the broker side too.
func (m *Member) closeLanes() {
	m.laneBrokers.Close(m.joinLane, m.beatLane)
}

// subscription is the member's JoinGroup protocol metadata: the topics it
// reads (m.s.topics), and (for the cooperative protocol) the partitions it
// owns and their generation, so the leader can leave them where they are.
func (m *Member) subscription() []byte {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 3 // v1 owned partitions, v2 generation, v3 rack (none)
	meta.Topics = m.s.topics
	meta.Generation = m.s.genID
	for topic, parts := range byTopic(m.s.owned) { // sorted
		op := kmsg.NewConsumerMemberMetadataOwnedPartition()
		op.Topic, op.Partitions = topic, parts
		meta.OwnedPartitions = append(meta.OwnedPartitions, op)
	}
	return meta.AppendTo(nil)
}

// joinGroup sends one JoinGroup. The broker holds it until every member has
// rejoined (or RebalanceTimeout passes), so it goes on the member's join
// lane, where it blocks nobody else. A MEMBER_ID_REQUIRED answer
// (JoinGroup v4+, KIP-394) carries the id to rejoin with; it is kept.
func (m *Member) joinGroup(ctx context.Context, reason string) (*kmsg.JoinGroupResponse, *cluster.Broker, uint64, error) {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group = m.cfg.Group
	req.SessionTimeoutMillis = ms(m.cfg.SessionTimeout)
	req.RebalanceTimeoutMillis = ms(m.cfg.RebalanceTimeout)
	req.MemberID = m.s.memberID
	req.InstanceID = m.instanceID
	req.ProtocolType = protocolType
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name = string(m.cfg.Strategy)
	p.Metadata = m.subscription()
	req.Protocols = []kmsg.JoinGroupRequestProtocol{p}
	req.Reason = kmsg.StringPtr(reason)
	resp, b, epoch, err := m.request(ctx, m.joinLane, req)
	if err != nil {
		return nil, b, epoch, fmt.Errorf("JoinGroup: %w", err)
	}
	r := resp.(*kmsg.JoinGroupResponse)
	if err := kerr.ForCode(r.ErrorCode); err != nil {
		if errors.Is(err, kerr.MemberIDRequired) {
			m.setMemberID(r.MemberID)
		}
		m.coord.failed(epoch, err)
		return r, b, epoch, fmt.Errorf("JoinGroup: %w", err)
	}
	if r.Protocol != nil && *r.Protocol != string(m.cfg.Strategy) {
		// We offer one protocol; the coordinator cannot pick another.
		return r, b, epoch, fmt.Errorf("%w: JoinGroup chose protocol %q, this member offered %q", kerr.InconsistentGroupProtocol, *r.Protocol, m.cfg.Strategy)
	}
	return r, b, epoch, nil
}

// syncGroup sends SyncGroup for the generation jr opened, with the group's
// assignment when this member is the leader, and returns this member's
// assignment. Followers wait in it for the leader, so it too goes on the
// join lane.
func (m *Member) syncGroup(ctx context.Context, jr *kmsg.JoinGroupResponse, assignments []kmsg.SyncGroupRequestGroupAssignment) (*kmsg.SyncGroupResponse, error) {
	req := kmsg.NewPtrSyncGroupRequest()
	req.Group = m.cfg.Group
	req.Generation = jr.Generation
	req.MemberID = jr.MemberID
	req.InstanceID = m.instanceID
	req.ProtocolType = kmsg.StringPtr(protocolType)
	req.Protocol = kmsg.StringPtr(string(m.cfg.Strategy))
	req.GroupAssignment = assignments
	resp, _, epoch, err := m.request(ctx, m.joinLane, req)
	if err != nil {
		return nil, fmt.Errorf("SyncGroup: %w", err)
	}
	r := resp.(*kmsg.SyncGroupResponse)
	if err := kerr.ForCode(r.ErrorCode); err != nil {
		m.coord.failed(epoch, err)
		return r, fmt.Errorf("SyncGroup: %w", err)
	}
	return r, nil
}

// heartbeat sends one Heartbeat on the member's heartbeat lane. A request
// that ctx gave up on may still sit on that connection, holding up the
// next ones, so the lane is closed and the next heartbeat redials.
func (m *Member) heartbeat(ctx context.Context, gen int32, memberID string) error {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group = m.cfg.Group
	req.Generation = gen
	req.MemberID = memberID
	req.InstanceID = m.instanceID
	resp, b, epoch, err := m.request(ctx, m.beatLane, req)
	if err != nil {
		if b != nil && ctx.Err() != nil {
			b.CloseLane(m.beatLane)
			m.coord.failed(epoch, kerr.ErrRequestTimeout)
		}
		return fmt.Errorf("heartbeat: %w", err)
	}
	if err := kerr.ForCode(resp.(*kmsg.HeartbeatResponse).ErrorCode); err != nil {
		m.coord.failed(epoch, err)
		return fmt.Errorf("heartbeat: %w", err)
	}
	return nil
}

// leaveGroup sends LeaveGroup, so that the others get this member's
// partitions at once rather than after SessionTimeout. It retries while the
// coordinator moves, until ctx ends. A member the coordinator no longer
// knows has left already.
func (m *Member) leaveGroup(ctx context.Context, memberID string) error {
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = m.cfg.Group
	req.MemberID = memberID // v0-v2
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID = memberID
	lm.Reason = kmsg.StringPtr("the consumer is closing")
	req.Members = []kmsg.LeaveGroupRequestMember{lm} // v3+
	for attempt := 1; ; attempt++ {
		resp, _, epoch, err := m.request(ctx, m.beatLane, req)
		if err == nil {
			r := resp.(*kmsg.LeaveGroupResponse)
			err = kerr.ForCode(r.ErrorCode)
			for _, rm := range r.Members {
				if err == nil {
					err = kerr.ForCode(rm.ErrorCode)
				}
			}
			m.coord.failed(epoch, err)
		}
		if err == nil || errors.Is(err, kerr.UnknownMemberID) {
			return nil
		}
		if !offsets.CoordinatorMoved(err, m.cl.IsClosing()) && !errors.Is(err, kerr.CoordinatorLoadInProgress) {
			return fmt.Errorf("LeaveGroup: %w", err)
		}
		if serr := m.cl.Sleep(ctx, m.cl.Backoff(attempt)); serr != nil {
			return fmt.Errorf("LeaveGroup: %w (last error: %w)", serr, err)
		}
	}
}
