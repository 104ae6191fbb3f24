package offsets

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestMain(m *testing.M) {
	testinstance.Main(m, testinstance.Config{Brokers: 3, NoZooKeeper: true})
}

// newGroup is a Group with a fresh group id.
func newGroup(t *testing.T, cl *cluster.Cluster) *Group {
	t.Helper()
	g, err := NewGroup(cl, testhelp.UniqueName(t, "group"), GroupOptions{})
	if err != nil {
		t.Fatalf("NewGroup: %v", err)
	}
	return g
}

// recordBatch builds an uncompressed record batch (magic 2) of one record per
// timestamp, with values "v0", "v1", ... . It is written here by hand from
// the protocol documentation, so that these tests do not depend on the
// records package they could otherwise share a bug with.
func recordBatch(timestamps []int64) []byte {
	var recs []byte
	for i, ts := range timestamps {
		var body []byte
		body = append(body, 0)                             // attributes
		body = binary.AppendVarint(body, ts-timestamps[0]) // timestamp delta
		body = binary.AppendVarint(body, int64(i))         // offset delta
		body = binary.AppendVarint(body, -1)               // null key
		value := fmt.Sprintf("v%d", i)
		body = binary.AppendVarint(body, int64(len(value)))
		body = append(body, value...)
		body = binary.AppendVarint(body, 0) // no headers
		recs = binary.AppendVarint(recs, int64(len(body)))
		recs = append(recs, body...)
	}
	maxTS := timestamps[0]
	for _, ts := range timestamps {
		maxTS = max(maxTS, ts)
	}
	b := kmsg.RecordBatch{
		FirstOffset:          0,
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      int32(len(timestamps) - 1),
		FirstTimestamp:       timestamps[0],
		MaxTimestamp:         maxTS,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(timestamps)),
		Records:              recs,
	}
	raw := b.AppendTo(nil)
	binary.BigEndian.PutUint32(raw[8:], uint32(len(raw)-12)) // length: after the length field
	crc := crc32.Checksum(raw[21:], crc32.MakeTable(crc32.Castagnoli))
	binary.BigEndian.PutUint32(raw[17:], crc) // CRC covers attributes to the end
	return raw
}

// produce writes one record per timestamp to topic/partition through a raw
// Produce request to the partition's leader, and returns the base offset.
func produce(t *testing.T, cl *cluster.Cluster, topic string, partition int32, timestamps []int64) int64 {
	t.Helper()
	ctx := testhelp.Ctx(t, 30*time.Second)
	if err := cl.RefreshTopics(ctx, topic); err != nil {
		t.Fatalf("RefreshTopics: %v", err)
	}
	return testhelp.ProduceRaw(t, ctx, cl, topic, partition, recordBatch(timestamps), nil)
}

// produceN writes n records stamped now.
func produceN(t *testing.T, cl *cluster.Cluster, topic string, partition int32, n int) {
	t.Helper()
	ts := make([]int64, n)
	now := time.Now().UnixMilli()
	for i := range ts {
		ts[i] = now
	}
	produce(t, cl, topic, partition, ts)
}

// member is a classic consumer-group member made of raw JoinGroup and
// SyncGroup requests, so that commits can be tested against an active
// membership.
type member struct {
	g   *Group
	gen Generation
}

// join makes a new member join g's group (consuming topic) and returns once
// JoinGroup has answered: the group is then waiting for the leader's
// SyncGroup (CompletingRebalance). The member leaves at the end of the test.
// coordinatorOf is g's coordinator, found within ctx, failing the test if
// it cannot be.
func coordinatorOf(t *testing.T, ctx context.Context, g *Group) *cluster.Broker {
	t.Helper()
	coord, err := g.coordinator(ctx)
	if err != nil {
		t.Fatalf("Coordinator: %v", err)
	}
	return coord
}

func join(t *testing.T, g *Group, topic string) *member {
	t.Helper()
	ctx := testhelp.Ctx(t, 60*time.Second)
	coord := coordinatorOf(t, ctx, g)
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{topic}
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group = g.ID()
	req.SessionTimeoutMillis = 30000
	req.RebalanceTimeoutMillis = 10000
	req.ProtocolType = "consumer"
	proto := kmsg.NewJoinGroupRequestProtocol()
	proto.Name = "range"
	proto.Metadata = meta.AppendTo(nil)
	req.Protocols = []kmsg.JoinGroupRequestProtocol{proto}
	for attempt := 0; ; attempt++ {
		resp, err := coord.Request(ctx, req)
		if err != nil {
			t.Fatalf("JoinGroup: %v", err)
		}
		r := resp.(*kmsg.JoinGroupResponse)
		err = kerr.ForCode(r.ErrorCode)
		if err == kerr.MemberIDRequired && attempt == 0 {
			req.MemberID = r.MemberID // KIP-394: join again with the id given
			continue
		}
		if err != nil {
			t.Fatalf("JoinGroup: %v", err)
		}
		m := &member{g: g, gen: Generation{ID: r.Generation, MemberID: r.MemberID}}
		t.Cleanup(func() { m.leave(t) })
		return m
	}
}

// sync sends the leader's SyncGroup (assigning partition 0 of topic to
// itself), which makes the group Stable.
func (m *member) sync(t *testing.T, topic string) {
	t.Helper()
	ctx := testhelp.Ctx(t, 30*time.Second)
	coord := coordinatorOf(t, ctx, m.g)
	assignment := kmsg.NewConsumerMemberAssignment()
	at := kmsg.NewConsumerMemberAssignmentTopic()
	at.Topic = topic
	at.Partitions = []int32{0}
	assignment.Topics = []kmsg.ConsumerMemberAssignmentTopic{at}
	req := kmsg.NewPtrSyncGroupRequest()
	req.Group = m.g.ID()
	req.Generation = m.gen.ID
	req.MemberID = m.gen.MemberID
	req.ProtocolType = kmsg.StringPtr("consumer")
	req.Protocol = kmsg.StringPtr("range")
	ga := kmsg.NewSyncGroupRequestGroupAssignment()
	ga.MemberID = m.gen.MemberID
	ga.MemberAssignment = assignment.AppendTo(nil)
	req.GroupAssignment = []kmsg.SyncGroupRequestGroupAssignment{ga}
	resp, err := coord.Request(ctx, req)
	if err != nil {
		t.Fatalf("SyncGroup: %v", err)
	}
	if err := kerr.ForCode(resp.(*kmsg.SyncGroupResponse).ErrorCode); err != nil {
		t.Fatalf("SyncGroup: %v", err)
	}
}

// leave removes the member from the group (best effort, at cleanup).
func (m *member) leave(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	coord, err := m.g.coordinator(ctx)
	if err != nil {
		t.Logf("leave: Coordinator: %v", err)
		return
	}
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = m.g.ID()
	req.MemberID = m.gen.MemberID
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID = m.gen.MemberID
	req.Members = []kmsg.LeaveGroupRequestMember{lm}
	if _, err := coord.Request(ctx, req); err != nil {
		t.Logf("leave: LeaveGroup: %v", err)
	}
}
