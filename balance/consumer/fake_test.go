package consumer

import (
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testhelp"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Tests against fake brokers (testhelp.FakeBroker): what a real cluster
// cannot be made to do on cue without disturbing the other tests that share
// it — a broker without the consumer protocol, a coordinator that moves.

func fakeCluster(t *testing.T, addrs ...string) *cluster.Cluster {
	t.Helper()
	cl, err := cluster.New(testhelp.Ctx(t, 10*time.Second), cluster.Config{Bootstrap: addrs})
	if err != nil {
		t.Fatalf("cluster.New: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// findCoordinator answers FindCoordinator with node.
func findCoordinator(c *testhelp.FakeConn, r *testhelp.FakeRequest, node int32) {
	resp := kmsg.NewPtrFindCoordinatorResponse()
	resp.NodeID = node
	req := r.Body.(*kmsg.FindCoordinatorRequest)
	for _, k := range req.CoordinatorKeys {
		rc := kmsg.NewFindCoordinatorResponseCoordinator()
		rc.Key, rc.NodeID = k, node
		resp.Coordinators = append(resp.Coordinators, rc)
	}
	c.Respond(r, resp)
}

// TestUnsupportedBroker: a coordinator that lacks ConsumerGroupHeartbeat, or
// has only v0 (Kafka 3.7-3.9's early access), makes Join fail with
// kerr.ErrUnsupported, without sending it.
func TestUnsupportedBroker(t *testing.T) {
	for _, maxVersion := range []int16{-1, 0} {
		testhelp.NoLeaks(t)
		var sent atomic.Int32
		b := testhelp.StartFakeBroker(t, func(c *testhelp.FakeConn, r *testhelp.FakeRequest) bool {
			switch r.Key {
			case 18: // ApiVersions
				resp := c.Broker().ApiVersions(r)
				if maxVersion < 0 {
					testhelp.DropAPI(resp, apiConsumerGroupHeartbeat)
				}
				testhelp.CapAPIVersion(resp, apiConsumerGroupHeartbeat, maxVersion)
				c.Respond(r, resp)
			case 10: // FindCoordinator
				findCoordinator(c, r, c.Broker().NodeID)
			case apiConsumerGroupHeartbeat:
				sent.Add(1)
				c.Close()
			default:
				return false
			}
			return true
		})
		cl := fakeCluster(t, b.Addr())
		_, err := Join(testhelp.Ctx(t, 10*time.Second), cl, Config{Group: "g", Subscription: subOf("t")}, newRecorder("a", testhelp.NewLedger[TopicPartition]()))
		if !errors.Is(err, kerr.ErrUnsupported) || sent.Load() != 0 {
			t.Errorf("ConsumerGroupHeartbeat max version %d: Join: %v (%d heartbeats sent), want kerr.ErrUnsupported", maxVersion, err, sent.Load())
		}
	}
}

// fakeGroup is a one-member consumer group run by whichever of two fake
// brokers is its coordinator now.
type fakeGroup struct {
	topicID [16]byte
	coord   atomic.Int32 // node id of the coordinator

	mu    sync.Mutex
	epoch int32
	beats map[int32][]*kmsg.ConsumerGroupHeartbeatRequest // by node that answered
}

func (g *fakeGroup) handler(brokers *[2]*testhelp.FakeBroker) testhelp.FakeHandler {
	return func(c *testhelp.FakeConn, r *testhelp.FakeRequest) bool {
		me := c.Broker().NodeID
		switch r.Key {
		case 3: // Metadata: both brokers
			resp := c.Broker().Metadata(r)
			resp.Brokers = nil
			for _, b := range brokers {
				mb := kmsg.NewMetadataResponseBroker()
				mb.NodeID, mb.Host, mb.Port = b.NodeID, b.Host, b.Port
				resp.Brokers = append(resp.Brokers, mb)
			}
			c.Respond(r, resp)
		case 10:
			findCoordinator(c, r, g.coord.Load())
		case apiConsumerGroupHeartbeat:
			req := r.Body.(*kmsg.ConsumerGroupHeartbeatRequest)
			resp := kmsg.NewPtrConsumerGroupHeartbeatResponse()
			resp.HeartbeatIntervalMillis = 100
			g.mu.Lock()
			switch {
			case g.coord.Load() != me:
				resp.ErrorCode = kerr.NotCoordinator.Code
			case req.MemberEpoch < 0: // leave
				resp.MemberEpoch = req.MemberEpoch
				g.beats[me] = append(g.beats[me], req)
			case req.MemberEpoch == 0:
				g.epoch++
				resp.MemberEpoch = g.epoch
				a := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
				at := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
				at.TopicID, at.Partitions = g.topicID, []int32{0, 1}
				a.Topics = append(a.Topics, at)
				resp.Assignment = &a
				g.beats[me] = append(g.beats[me], req)
			default:
				resp.MemberEpoch = g.epoch
				g.beats[me] = append(g.beats[me], req)
			}
			resp.MemberID = kmsg.StringPtr(req.MemberID)
			g.mu.Unlock()
			c.Respond(r, resp)
		default:
			return false
		}
		return true
	}
}

func (g *fakeGroup) heartbeats(node int32) []*kmsg.ConsumerGroupHeartbeatRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.beats[node])
}

// TestCoordinatorMoves: when the coordinator answers NOT_COORDINATOR, the
// member looks it up again and goes on heartbeating the new one with the
// same id and epoch, owning the same partitions: nothing is lost or
// revoked. Its leave goes to the new coordinator.
func TestCoordinatorMoves(t *testing.T) {
	testhelp.NoLeaks(t)
	g := &fakeGroup{beats: map[int32][]*kmsg.ConsumerGroupHeartbeatRequest{}}
	var brokers [2]*testhelp.FakeBroker
	for i := range brokers {
		b, err := testhelp.ListenFakeBroker(g.handler(&brokers))
		if err != nil {
			t.Fatal(err)
		}
		b.NodeID = int32(i + 1)
		b.AddTopic("t", 2)
		t.Cleanup(b.Close)
		brokers[i] = b
	}
	g.coord.Store(1)
	meta := brokers[0].Metadata(&testhelp.FakeRequest{Key: 3, Version: 12})
	g.topicID = meta.Topics[0].TopicID
	cl := fakeCluster(t, brokers[0].Addr())
	l := testhelp.NewLedger[TopicPartition]()
	r := newRecorder("a", l)
	ctx := testhelp.Ctx(t, 30*time.Second)
	m, err := Join(ctx, cl, Config{Group: "g", Subscription: subOf("t"), Logger: testhelp.DebugLogger(t)}, r)
	if err != nil {
		t.Fatal(err)
	}
	r.setMember(m)
	if got := m.Assigned(); !slices.Equal(got, tps("t", 0, 1)) || m.Generation().ID != 1 {
		t.Fatalf("joined with %v at epoch %d", got, m.Generation().ID)
	}
	testhelp.WaitUntil(t, 10*time.Second, "heartbeats to node 1", func() bool { return len(g.heartbeats(1)) >= 3 })

	g.coord.Store(2)
	testhelp.WaitUntil(t, 10*time.Second, "heartbeats to node 2", func() bool { return len(g.heartbeats(2)) >= 3 })
	for _, req := range g.heartbeats(2) {
		if req.MemberEpoch != 1 || req.MemberID != m.ID() || len(req.Topics) != 1 || !slices.Equal(req.Topics[0].Partitions, []int32{0, 1}) {
			t.Errorf("a heartbeat to the new coordinator: epoch %d member %q owned %v", req.MemberEpoch, req.MemberID, req.Topics)
		}
	}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	beats := g.heartbeats(2)
	if last := beats[len(beats)-1]; last.MemberEpoch != -1 {
		t.Errorf("the last request to the new coordinator has epoch %d, want the leave (-1)", last.MemberEpoch)
	}
	if evs := r.since(0); len(evs) != 2 || evs[0].kind != "assigned" || evs[1].kind != "revoked" {
		t.Errorf("Handler calls %v, want assigned then (at Close) revoked", evs)
	}
	l.Check(t)
}
