package share

import (
	"context"
	"errors"
	"hash/fnv"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testhelp"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The member against a scripted coordinator (testhelp's fake broker): what
// it sends, and what it tells its Handler, for each answer. The real
// coordinator is the root's share consumer tests' (share_test.go,
// share_group_test.go).

// coordinator is a fake broker that is its own group coordinator and
// answers ShareGroupHeartbeat from a script; once the script is used up,
// it keeps the member's epoch and sends no assignment.
type coordinator struct {
	b *testhelp.FakeBroker

	mu       sync.Mutex
	script   []func(*kmsg.ShareGroupHeartbeatRequest) *kmsg.ShareGroupHeartbeatResponse
	requests []kmsg.ShareGroupHeartbeatRequest
	configs  []kmsg.IncrementalAlterConfigsRequestResource
	epoch    int32
	versions func(*kmsg.ApiVersionsResponse) // edits ApiVersions answers
	alterErr int16
}

func newCoordinator(t *testing.T, topics ...string) *coordinator {
	t.Helper()
	c := &coordinator{}
	c.b = testhelp.StartFakeBroker(t, c.handle)
	for _, name := range topics {
		c.b.AddTopic(name, 2)
	}
	return c
}

func (c *coordinator) handle(fc *testhelp.FakeConn, r *testhelp.FakeRequest) bool {
	switch body := r.Body.(type) {
	case *kmsg.ApiVersionsRequest:
		resp := fc.Broker().ApiVersions(r)
		c.mu.Lock()
		edit := c.versions
		c.mu.Unlock()
		if edit != nil {
			edit(resp)
		}
		fc.Respond(r, resp)
	case *kmsg.FindCoordinatorRequest:
		resp := kmsg.NewPtrFindCoordinatorResponse()
		resp.NodeID, resp.Host, resp.Port = fc.Broker().NodeID, fc.Broker().Host, fc.Broker().Port
		rc := kmsg.NewFindCoordinatorResponseCoordinator()
		rc.Key, rc.NodeID, rc.Host, rc.Port = body.CoordinatorKey, resp.NodeID, resp.Host, resp.Port
		if len(body.CoordinatorKeys) > 0 {
			rc.Key = body.CoordinatorKeys[0]
		}
		resp.Coordinators = append(resp.Coordinators, rc)
		fc.Respond(r, resp)
	case *kmsg.IncrementalAlterConfigsRequest:
		c.mu.Lock()
		c.configs = append(c.configs, body.Resources...)
		code := c.alterErr
		c.mu.Unlock()
		resp := kmsg.NewPtrIncrementalAlterConfigsResponse()
		for _, res := range body.Resources {
			rr := kmsg.NewIncrementalAlterConfigsResponseResource()
			rr.ResourceType, rr.ResourceName, rr.ErrorCode = res.ResourceType, res.ResourceName, code
			resp.Resources = append(resp.Resources, rr)
		}
		fc.Respond(r, resp)
	case *kmsg.ShareGroupHeartbeatRequest:
		c.mu.Lock()
		c.requests = append(c.requests, *body)
		var resp *kmsg.ShareGroupHeartbeatResponse
		if len(c.script) > 0 {
			resp = c.script[0](body)
			c.script = c.script[1:]
		} else {
			resp = answer(c.epoch, nil)
			if body.MemberEpoch == -1 {
				resp.MemberEpoch = -1
			}
		}
		if resp.ErrorCode == 0 && resp.MemberEpoch > 0 {
			c.epoch = resp.MemberEpoch
		}
		c.mu.Unlock()
		fc.Respond(r, resp)
	default:
		return false
	}
	return true
}

func (c *coordinator) then(f ...func(*kmsg.ShareGroupHeartbeatRequest) *kmsg.ShareGroupHeartbeatResponse) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.script = append(c.script, f...)
}

func (c *coordinator) sent() []kmsg.ShareGroupHeartbeatRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.requests)
}

// topicID is the fake broker's id for a topic name.
func topicID(name string) [16]byte {
	h := fnv.New128a()
	h.Write([]byte(name))
	var id [16]byte
	copy(id[:], h.Sum(nil))
	return id
}

// answer is a heartbeat answer at epoch (50ms interval); assigned, when
// not nil, is the assignment: topic name to partitions.
func answer(epoch int32, assigned map[string][]int32) *kmsg.ShareGroupHeartbeatResponse {
	resp := kmsg.NewPtrShareGroupHeartbeatResponse()
	resp.MemberEpoch = epoch
	resp.HeartbeatIntervalMillis = 50
	if assigned != nil {
		resp.Assignment = &kmsg.ShareGroupHeartbeatResponseAssignment{}
		for name, ps := range assigned {
			resp.Assignment.TopicPartitions = append(resp.Assignment.TopicPartitions,
				kmsg.ShareGroupHeartbeatResponseAssignmentTopicPartition{TopicID: topicID(name), Partitions: ps})
		}
	}
	return resp
}

func step(epoch int32, assigned map[string][]int32) func(*kmsg.ShareGroupHeartbeatRequest) *kmsg.ShareGroupHeartbeatResponse {
	return func(*kmsg.ShareGroupHeartbeatRequest) *kmsg.ShareGroupHeartbeatResponse {
		return answer(epoch, assigned)
	}
}

func fail(code int16) func(*kmsg.ShareGroupHeartbeatRequest) *kmsg.ShareGroupHeartbeatResponse {
	return func(*kmsg.ShareGroupHeartbeatRequest) *kmsg.ShareGroupHeartbeatResponse {
		resp := kmsg.NewPtrShareGroupHeartbeatResponse()
		resp.ErrorCode = code
		return resp
	}
}

// call is one Handler call.
type call struct {
	kind string
	ps   []TopicPartition
}

// recorder is a Handler that reports each call on a channel.
type recorder struct{ calls chan call }

func newRecorder() *recorder { return &recorder{calls: make(chan call, 16)} }

func (r *recorder) Assigned(_ context.Context, ps []TopicPartition) error {
	r.calls <- call{"assigned", ps}
	return nil
}

func (r *recorder) Revoked(_ context.Context, ps []TopicPartition) error {
	r.calls <- call{"revoked", ps}
	return nil
}

func (r *recorder) Lost(_ context.Context, ps []TopicPartition) error {
	r.calls <- call{"lost", ps}
	return nil
}

// expect waits for the Handler's next call and checks it.
func (r *recorder) expect(t *testing.T, kind string, ps ...TopicPartition) {
	t.Helper()
	select {
	case c := <-r.calls:
		if c.kind != kind || !slices.Equal(c.ps, ps) {
			t.Fatalf("Handler: %s %v, want %s %v", c.kind, c.ps, kind, ps)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Handler: no call, want %s %v", kind, ps)
	}
}

func tps(topic string, ps ...int32) []TopicPartition {
	var out []TopicPartition
	for _, p := range ps {
		out = append(out, TopicPartition{Topic: topic, Partition: p})
	}
	return out
}

func newCluster(t *testing.T, c *coordinator) *cluster.Cluster {
	t.Helper()
	cl, err := cluster.New(testhelp.Ctx(t, 10*time.Second), cluster.Config{Bootstrap: []string{c.b.Addr()}, RetryBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestMemberLifecycle: the member joins with its subscription, moves to
// each assignment (Revoked for what leaves, Assigned for what arrives),
// loses everything when the coordinator drops it and rejoins at epoch 0
// with the same id and its subscription, and on Close revokes what it has
// and leaves with epoch -1.
func TestMemberLifecycle(t *testing.T) {
	testhelp.NoLeaks(t)
	c := newCoordinator(t, "t")
	c.then(
		step(1, map[string][]int32{"t": {0, 1}}),
		step(2, map[string][]int32{"t": {1}}),
		fail(kerr.UnknownMemberID.Code),
		step(5, map[string][]int32{"t": {0}}),
	)
	cl := newCluster(t, c)
	h := newRecorder()
	ctx := testhelp.Ctx(t, 30*time.Second)
	m, err := Join(ctx, cl, Config{Group: "g", Topics: []string{"t"}}, h)
	if err != nil {
		t.Fatal(err)
	}
	h.expect(t, "assigned", tps("t", 0, 1)...)
	h.expect(t, "revoked", tps("t", 0)...)
	h.expect(t, "lost", tps("t", 1)...)
	h.expect(t, "assigned", tps("t", 0)...)
	if got := m.Assigned(); !slices.Equal(got, tps("t", 0)) || m.Epoch() != 5 || m.Rebalances() != 3 {
		t.Fatalf("Assigned %v, epoch %d, rebalances %d", got, m.Epoch(), m.Rebalances())
	}
	if err := m.Close(ctx); err != nil {
		t.Fatal(err)
	}
	h.expect(t, "revoked", tps("t", 0)...)
	if m.Err() != nil || len(m.Assigned()) != 0 {
		t.Fatalf("after Close: Err %v, Assigned %v", m.Err(), m.Assigned())
	}

	reqs := c.sent()
	want := []struct {
		epoch     int32
		subscribe bool
	}{{0, true}, {1, false}, {2, false}, {0, true}}
	if len(reqs) < len(want)+1 {
		t.Fatalf("%d heartbeats sent", len(reqs))
	}
	for i, w := range want {
		r := reqs[i]
		if r.MemberEpoch != w.epoch || (r.SubscribedTopicNames != nil) != w.subscribe || r.MemberID != m.ID() || r.GroupID != "g" {
			t.Errorf("heartbeat %d: epoch %d, topics %v, member %q; want epoch %d, subscription %v, member %q",
				i, r.MemberEpoch, r.SubscribedTopicNames, r.MemberID, w.epoch, w.subscribe, m.ID())
		}
	}
	if last := reqs[len(reqs)-1]; last.MemberEpoch != -1 || last.MemberID != m.ID() {
		t.Errorf("last heartbeat: epoch %d, member %q; want -1 (leave)", last.MemberEpoch, last.MemberID)
	}
	for _, r := range reqs[len(want) : len(reqs)-1] {
		if r.MemberEpoch != 5 {
			t.Errorf("a steady heartbeat at epoch %d, want 5", r.MemberEpoch)
		}
	}
}

// TestJoinUnsupported: brokers without share groups — no ShareGroupHeartbeat
// in ApiVersions (Kafka before 4.1), only the early-access v0 (Kafka 4.0),
// or share.version 0 among the finalized features — fail Join with
// kerr.ErrUnsupported before a request of the group is sent.
func TestJoinUnsupported(t *testing.T) {
	for name, edit := range map[string]func(*kmsg.ApiVersionsResponse){
		"no ShareGroupHeartbeat": func(r *kmsg.ApiVersionsResponse) {
			testhelp.DropAPI(r, 76)
		},
		"ShareFetch v0 only": func(r *kmsg.ApiVersionsResponse) {
			testhelp.CapAPIVersion(r, 78, 0)
		},
		"share.version 0": func(r *kmsg.ApiVersionsResponse) {
			r.FinalizedFeaturesEpoch = 1
			r.FinalizedFeatures = []kmsg.ApiVersionsResponseFinalizedFeature{{Name: "metadata.version", MaxVersionLevel: 27, MinVersionLevel: 27}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			testhelp.NoLeaks(t)
			c := newCoordinator(t, "t")
			c.mu.Lock()
			c.versions = edit
			c.mu.Unlock()
			cl := newCluster(t, c)
			ctx := testhelp.Ctx(t, 30*time.Second)
			_, err := Join(ctx, cl, Config{Group: "g", Topics: []string{"t"}, GroupConfig: map[string]string{"share.auto.offset.reset": "earliest"}}, newRecorder())
			if !errors.Is(err, kerr.ErrUnsupported) {
				t.Fatalf("want ErrUnsupported, got %v", err)
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			if len(c.requests) > 0 || len(c.configs) > 0 {
				t.Fatalf("sent %d heartbeats and %d config changes to a broker without share groups", len(c.requests), len(c.configs))
			}
		})
	}
}

// TestJoinRefused: refusals that retrying cannot fix end Join with the
// broker's error: a heartbeat refused (GROUP_AUTHORIZATION_FAILED), a
// group config refused (INVALID_CONFIG).
func TestJoinRefused(t *testing.T) {
	testhelp.NoLeaks(t)
	c := newCoordinator(t, "t")
	c.then(fail(kerr.GroupAuthorizationFailed.Code))
	cl := newCluster(t, c)
	ctx := testhelp.Ctx(t, 30*time.Second)
	if _, err := Join(ctx, cl, Config{Group: "g", Topics: []string{"t"}}, newRecorder()); !errors.Is(err, kerr.GroupAuthorizationFailed) {
		t.Fatalf("want GroupAuthorizationFailed, got %v", err)
	}
	c.mu.Lock()
	c.alterErr = kerr.InvalidConfig.Code
	c.mu.Unlock()
	_, err := Join(ctx, cl, Config{Group: "g", Topics: []string{"t"}, GroupConfig: map[string]string{"share.record.lock.duration.ms": "1"}}, newRecorder())
	if !errors.Is(err, kerr.InvalidConfig) {
		t.Fatalf("want InvalidConfig, got %v", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.configs) != 1 || c.configs[0].ResourceType != kmsg.ConfigResourceTypeGroupConfig || c.configs[0].ResourceName != "g" ||
		len(c.configs[0].Configs) != 1 || c.configs[0].Configs[0].Name != "share.record.lock.duration.ms" {
		t.Fatalf("config changes sent: %+v", c.configs)
	}
}

// TestConfig: invalid configurations are refused, naming the field.
func TestConfig(t *testing.T) {
	for field, cfg := range map[string]Config{
		"Config.Group":       {Topics: []string{"t"}},
		"Config.Topics":      {Group: "g"},
		"Config.GroupConfig": {Group: "g", Topics: []string{"t"}, GroupConfig: map[string]string{"": "x"}},
	} {
		_, err := cfg.withDefaults()
		var ce *kerr.ConfigError
		if !errors.As(err, &ce) || ce.Field != field {
			t.Errorf("%s: got %v", field, err)
		}
	}
	if _, err := (Config{Group: "g", Topics: []string{"bad topic"}}).withDefaults(); !errors.Is(err, kerr.ErrInvalidConfig) {
		t.Errorf("an illegal topic name: %v", err)
	}
	c, err := Config{Group: "g", Topics: []string{"b", "a", "b"}}.withDefaults()
	if err != nil || !slices.Equal(c.Topics, []string{"a", "b"}) || len(c.MemberID) != 22 {
		t.Errorf("defaults: %+v %v", c, err)
	}
}
