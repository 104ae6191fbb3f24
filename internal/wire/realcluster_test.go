package wire_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/wire"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// These tests talk to a real cluster: the first proof that what gokafka
// speaks is Kafka, cross-checked with kcat, a client nobody here wrote.

func TestMain(m *testing.M) { testinstance.Main(m, testinstance.Config{Brokers: 3}) }

func dial(t *testing.T, addr string) *wire.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := wire.Dial(ctx, addr, wire.Options{ClientID: "wire-test"})
	if err != nil {
		t.Fatalf("Dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestApiVersionsAndMetadataOnARealCluster(t *testing.T) {
	cl := testinstance.Shared()
	c := dial(t, cl.Brokers()[0])
	for _, key := range []int16{0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 18} {
		if _, ok := c.Versions().Max(key); !ok {
			t.Errorf("broker does not advertise API key %d (%s)", key, kmsg.NameForKey(key))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := c.Request(ctx, kmsg.NewPtrMetadataRequest())
	if err != nil {
		t.Fatal(err)
	}
	md := resp.(*kmsg.MetadataResponse)
	if len(md.Brokers) != 3 {
		t.Fatalf("metadata lists %d brokers, want 3: %+v", len(md.Brokers), md.Brokers)
	}
	if md.GetVersion() < 1 {
		t.Fatalf("negotiated Metadata v%d", md.GetVersion())
	}
	for _, b := range md.Brokers {
		if !strings.Contains(cl.BootstrapServers(), b.Host) {
			t.Fatalf("broker %d at %s:%d is not one of ours", b.NodeID, b.Host, b.Port)
		}
	}

	// kcat, librdkafka's CLI, sees the same three brokers.
	out := testhelp.Kcat(t, cl, "", "-L")
	if !strings.Contains(out, " 3 brokers:") {
		t.Fatalf("kcat -L does not list 3 brokers:\n%s", out)
	}
}

func TestKcatRoundTrip(t *testing.T) {
	cl := testinstance.Shared()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	topic := "wire-kcat-" + time.Now().Format("150405.000000")
	if err := cl.CreateTopic(ctx, topic, 1, 3, nil); err != nil {
		t.Fatal(err)
	}
	testhelp.Kcat(t, cl, "a:1\nb:2\nc:3\n", "-P", "-t", topic, "-K:")
	out := testhelp.Kcat(t, cl, "", "-C", "-t", topic, "-e", "-q", "-f", "%k=%s\n")
	if out != "a=1\nb=2\nc=3\n" {
		t.Fatalf("kcat read back %q", out)
	}
	// And our connection sees the three records in the partition.
	c := dial(t, cl.Brokers()[0])
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Timestamp = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	// The request must reach the leader: try every broker.
	for _, addr := range cl.Brokers() {
		resp, err := dial(t, addr).Request(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		p := resp.(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
		if p.ErrorCode == 0 {
			if p.Offset != 3 {
				t.Fatalf("end offset %d after kcat wrote 3 records", p.Offset)
			}
			return
		}
	}
	t.Fatalf("no broker answered ListOffsets for %s as leader (conn %s)", topic, c.Addr())
}

// Send writes in call order and Kafka answers in order: many requests in
// flight on one connection each get their own response.
func TestPipelinedSendsAnsweredInOrder(t *testing.T) {
	c := dial(t, testinstance.Shared().Brokers()[0])
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var pending []*wire.Pending
	for i := 0; i < 50; i++ {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKey = "group-" + string(rune('a'+i%26))
		req.CoordinatorKeys = []string{req.CoordinatorKey}
		p, err := c.Send(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		pending = append(pending, p)
	}
	for i, p := range pending {
		resp, err := p.Wait(ctx)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		r := resp.(*kmsg.FindCoordinatorResponse)
		want := "group-" + string(rune('a'+i%26))
		if len(r.Coordinators) == 1 && r.Coordinators[0].Key != want {
			t.Fatalf("response %d is for %q, want %q", i, r.Coordinators[0].Key, want)
		}
	}
}
