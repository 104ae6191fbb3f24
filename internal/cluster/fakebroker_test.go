package cluster_test

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/wire"
	"github.com/gokafka/kafka/testhelp"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The cluster layer against fake brokers that answer Metadata badly: each
// case ends in a typed error within its timeout, or in a usable cluster when
// another bootstrap broker is healthy, and leaves no goroutine behind.

// bootstrap is cluster.New on fake brokers, with their own timeouts: the
// time it took and the error (what these tests are about).
func bootstrap(t *testing.T, requestTimeout time.Duration, addrs ...string) (*cluster.Cluster, time.Duration, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	cl, err := cluster.New(ctx, cluster.Config{
		Bootstrap:    addrs,
		Conn:         wire.Options{DialTimeout: 2 * time.Second, RequestTimeout: requestTimeout},
		RetryBackoff: 10 * time.Millisecond,
	})
	if ctx.Err() != nil {
		t.Fatalf("cluster.New ran into the test's 30s context: %v", err)
	}
	if err == nil {
		t.Cleanup(cl.Close)
	}
	return cl, time.Since(start), err
}

// metadataHandler answers Metadata with whatever f makes of the default
// answer.
func metadataHandler(f func(c *testhelp.FakeConn, r *testhelp.FakeRequest, resp *kmsg.MetadataResponse)) testhelp.FakeHandler {
	return func(c *testhelp.FakeConn, r *testhelp.FakeRequest) bool {
		if r.Key != 3 {
			return false
		}
		f(c, r, c.Broker().Metadata(r))
		return true
	}
}

func TestFakeBootstrapMetadataFailures(t *testing.T) {
	testhelp.NoLeaks(t)
	for _, tc := range []struct {
		name string
		h    testhelp.FakeHandler
		want error
	}{
		{"garbage", metadataHandler(func(c *testhelp.FakeConn, r *testhelp.FakeRequest, _ *kmsg.MetadataResponse) {
			c.Write(testhelp.ResponseFrame(r.CorrID, true, []byte("garbage, not metadata")))
			c.WaitClosed()
		}), kerr.ErrCorruptResponse},
		{"hang-up", metadataHandler(func(c *testhelp.FakeConn, _ *testhelp.FakeRequest, _ *kmsg.MetadataResponse) {
			c.Close()
		}), kerr.ErrConnection},
		{"silence", metadataHandler(func(c *testhelp.FakeConn, _ *testhelp.FakeRequest, _ *kmsg.MetadataResponse) {
			c.WaitClosed()
		}), kerr.ErrRequestTimeout},
		{"slow-loris", metadataHandler(func(c *testhelp.FakeConn, r *testhelp.FakeRequest, resp *kmsg.MetadataResponse) {
			c.WriteSlowly(testhelp.EncodeResponse(r, resp), 100*time.Millisecond)
			c.WaitClosed()
		}), kerr.ErrRequestTimeout},
		{"wrong correlation id", metadataHandler(func(c *testhelp.FakeConn, r *testhelp.FakeRequest, resp *kmsg.MetadataResponse) {
			r.CorrID++
			c.Respond(r, resp)
			c.WaitClosed()
		}), kerr.ErrCorruptResponse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := testhelp.StartFakeBroker(t, tc.h)
			_, d, err := bootstrap(t, 500*time.Millisecond, b.Addr())
			if !errors.Is(err, kerr.ErrNoBrokers) || !errors.Is(err, tc.want) {
				t.Fatalf("%v, want ErrNoBrokers wrapping %v", err, tc.want)
			}
			if d > 5*time.Second {
				t.Fatalf("failed after %v with a 500ms request timeout", d)
			}
		})
	}
}

func TestFakeBootstrapFallsBackToAHealthyBroker(t *testing.T) {
	testhelp.NoLeaks(t)
	// The first bootstrap address hangs up at once, the second is healthy:
	// the cluster comes up through the second.
	hangsUp := testhelp.Serve(t, func(c net.Conn) { c.Close() })
	good := testhelp.StartFakeBroker(t, nil)
	good.AddTopic("t", 3)
	cl, _, err := bootstrap(t, time.Second, hangsUp, good.Addr())
	if err != nil {
		t.Fatalf("a healthy second bootstrap broker: %v", err)
	}
	if err := cl.RefreshTopics(context.Background(), "t"); err != nil {
		t.Fatal(err)
	}
	if b, p, err := cl.Leader("t", 2); err != nil || b.Addr != good.Addr() || p.Leader != good.NodeID {
		t.Fatalf("Leader(t, 2) = %v, %v, %v", b, p, err)
	}
}

func TestFakeMetadataWithAbsurdContents(t *testing.T) {
	testhelp.NoLeaks(t)
	var mode atomic.Int32 // 0: honest; then one of the lies below
	b := testhelp.StartFakeBroker(t, nil)
	b.AddTopic("t", 2)
	b.SetHandler(metadataHandler(func(c *testhelp.FakeConn, r *testhelp.FakeRequest, resp *kmsg.MetadataResponse) {
		for i := range resp.Topics {
			rt := &resp.Topics[i]
			if rt.Topic == nil || *rt.Topic != "t" {
				continue
			}
			switch mode.Load() {
			case 1: // a partition id of 2^31-1
				rt.Partitions[1].Partition = 2147483647
			case 2: // a leader that is no broker
				rt.Partitions[0].Leader = 99
			case 3: // negative ids everywhere
				for j := range rt.Partitions {
					rt.Partitions[j].Partition = -1 - int32(j)
					rt.Partitions[j].Leader = -5
				}
			case 4: // a broker with no host and port 0, leading everything
				bm := kmsg.NewMetadataResponseBroker()
				bm.NodeID, bm.Host, bm.Port = 7, "", 0
				resp.Brokers = append(resp.Brokers, bm)
				for j := range rt.Partitions {
					rt.Partitions[j].Leader = 7
				}
			}
		}
		c.Respond(r, resp)
	}))
	cl, _, err := bootstrap(t, time.Second, b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.RefreshTopics(ctx, "t"); err != nil {
		t.Fatal(err)
	}

	// A partition id beyond the count: corrupt. The topic keeps the
	// partitions it had, so producers keep routing.
	mode.Store(1)
	if err := cl.RefreshTopics(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if tm, err := cl.Snapshot().Topic("t"); err != nil || len(tm.Partitions) != 2 {
		t.Fatalf("known topic after a corrupt partition list: %v, %v", tm, err)
	}
	// A topic first seen that way is a typed error.
	cl2, _, err := bootstrap(t, time.Second, b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := cl2.RefreshTopics(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := cl2.Snapshot().Topic("t"); !errors.Is(err, kerr.ErrCorruptResponse) {
		t.Fatalf("new topic with a partition id of 2^31-1: %v, want ErrCorruptResponse", err)
	}

	// A leader that is not among the brokers.
	mode.Store(2)
	if err := cl.RefreshTopics(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := cl.Leader("t", 0); !errors.Is(err, kerr.BrokerNotAvailable) {
		t.Fatalf("leader 99 of brokers {1}: %v, want BROKER_NOT_AVAILABLE", err)
	}

	// Negative partition ids and leaders.
	mode.Store(3)
	if err := cl.RefreshTopics(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []int32{-1, 0, 1} {
		if _, _, err := cl.Leader("t", p); err == nil {
			t.Fatalf("Leader(t, %d) with negative ids in metadata: no error", p)
		} else if !errors.Is(err, kerr.ErrUnknownPartition) && !errors.Is(err, kerr.ErrCorruptResponse) && !errors.Is(err, kerr.LeaderNotAvailable) {
			t.Fatalf("Leader(t, %d) with negative ids in metadata: untyped %v", p, err)
		}
	}

	// A leader with no address: requests to it fail with a connection
	// error, quickly.
	mode.Store(4)
	if err := cl.RefreshTopics(ctx, "t"); err != nil {
		t.Fatal(err)
	}
	leader, _, err := cl.Leader("t", 0)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := leader.Request(ctx, kmsg.NewPtrMetadataRequest()); !errors.Is(err, kerr.ErrConnection) {
		t.Fatalf("request to a broker at %q: %v, want ErrConnection", leader.Addr, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("request to a broker with no address took %v", d)
	}
}

func TestFakeCloseDuringARefresh(t *testing.T) {
	testhelp.NoLeaks(t)
	// The broker answers the bootstrap, then never again: a refresh in
	// flight when the cluster closes ends at once, not at the timeout.
	var calls atomic.Int32
	b := testhelp.StartFakeBroker(t, metadataHandler(func(c *testhelp.FakeConn, r *testhelp.FakeRequest, resp *kmsg.MetadataResponse) {
		if calls.Add(1) == 1 {
			c.Respond(r, resp)
			return
		}
		c.WaitClosed()
	}))
	cl, _, err := bootstrap(t, 30*time.Second, b.Addr())
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- cl.RefreshTopics(context.Background(), "t") }()
	deadline := time.Now().Add(10 * time.Second)
	for calls.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the refresh never reached the broker")
		}
		time.Sleep(5 * time.Millisecond) // polling a condition, with a deadline
	}
	start := time.Now()
	cl.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, kerr.ErrClosed) && !errors.Is(err, kerr.ErrConnection) {
			t.Fatalf("refresh interrupted by Close: %v, want ErrClosed or ErrConnection", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a refresh in flight outlived Close by 5s (request timeout 30s)")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v", d)
	}
}
