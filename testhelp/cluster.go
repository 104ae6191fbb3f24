package testhelp

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testinstance"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Ctx is a context that ends with the test (just before its cleanups run),
// or after d.
func Ctx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// UniqueName is a topic or group name that no other test, nor another run
// of this one, uses: kind, the test's name and a random suffix. It is a
// valid topic name: characters outside [a-zA-Z0-9.] become '-' (no '_',
// which Kafka's metric names confuse with '.'), and only the last 120
// characters of a long test name are kept.
func UniqueName(t testing.TB, kind string) string {
	n := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' {
			return r
		}
		return '-'
	}, t.Name())
	if len(n) > 120 {
		n = n[len(n)-120:]
	}
	return fmt.Sprintf("%s-%s-%08x", kind, n, rand.Uint32())
}

// orShared is tc, or the shared cluster of the test binary when tc is nil.
func orShared(tc *testinstance.Cluster) *testinstance.Cluster {
	if tc == nil {
		return testinstance.Shared()
	}
	return tc
}

// CreateTopic creates a topic with a UniqueName on tc (the shared cluster
// when nil), replicated min(3, brokers) times, and returns its name once
// every broker knows its leaders. configs are topic configs as key, value
// pairs ("cleanup.policy", "compact"). TopicAlreadyExists counts as
// success: the name is unique, so it means that an attempt which timed out
// on a loaded machine did create it.
func CreateTopic(t testing.TB, tc *testinstance.Cluster, partitions int, configs ...string) string {
	t.Helper()
	name := UniqueName(t, "topic")
	CreateNamedTopic(t, tc, name, partitions, configs...)
	return name
}

// CreateNamedTopic is CreateTopic for a name the test chose: topics whose
// names must sort in a given order, or match a pattern, in tests over
// several topics (derive the names from a UniqueName, so that they stay
// unique: base+"-a", base+"-b").
func CreateNamedTopic(t testing.TB, tc *testinstance.Cluster, name string, partitions int, configs ...string) {
	t.Helper()
	tc = orShared(tc)
	if len(configs)%2 != 0 {
		t.Fatalf("CreateTopic: configs %q are not key, value pairs", configs)
	}
	var cfg map[string]string
	for i := 0; i+1 < len(configs); i += 2 {
		if cfg == nil {
			cfg = map[string]string{}
		}
		cfg[configs[i]] = configs[i+1]
	}
	err := tc.CreateTopic(Ctx(t, 2*time.Minute), name, partitions, min(3, tc.NumBrokers()), cfg)
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("CreateTopic %s: %v", name, err)
	}
}

// AddPartitions raises topic's partition count to count (CreatePartitions
// through cl); the test fails if Kafka refuses.
func AddPartitions(t testing.TB, cl *cluster.Cluster, topic string, count int32) {
	t.Helper()
	req := kmsg.NewPtrCreatePartitionsRequest()
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = topic, count
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 30000
	resp, err := cl.AnyRequest(Ctx(t, 30*time.Second), req)
	if err != nil {
		t.Fatalf("CreatePartitions %s to %d: %v", topic, count, err)
	}
	if r := resp.(*kmsg.CreatePartitionsResponse); len(r.Topics) != 1 || kerr.WithMessage(r.Topics[0].ErrorCode, r.Topics[0].ErrorMessage) != nil {
		t.Fatalf("CreatePartitions %s to %d: %+v", topic, count, r.Topics)
	}
}

// NewCluster connects a cluster view, as the client's, to tc's brokers (the
// shared cluster's when tc is nil) and closes it at the end of the test.
// cfg, if given, is the view's configuration (Bootstrap is filled in); its
// zero fields take the cluster package's defaults, which are the client's,
// but for the client id, "gokafka-test".
func NewCluster(t testing.TB, tc *testinstance.Cluster, cfg ...cluster.Config) *cluster.Cluster {
	t.Helper()
	var c cluster.Config
	switch len(cfg) {
	case 0:
	case 1:
		c = cfg[0]
	default:
		t.Fatalf("NewCluster: %d configs, want at most one", len(cfg))
	}
	c.Bootstrap = orShared(tc).Brokers()
	if c.Conn.ClientID == "" {
		c.Conn.ClientID = "gokafka-test"
	}
	cl, err := cluster.New(Ctx(t, time.Minute), c)
	if err != nil {
		t.Fatalf("cluster.New: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// PrivateCluster starts a cluster of the test's own (testinstance.Start
// with cfg) for a test that stops, kills or restarts brokers, which the
// shared cluster must never suffer, and closes it when the test ends. The
// test fails if the cluster is not up within 5 minutes (it takes about 10 s
// on two cores once the jars are cached).
func PrivateCluster(t testing.TB, cfg testinstance.Config) *testinstance.Cluster {
	t.Helper()
	t0 := time.Now()
	c, err := testinstance.Start(Ctx(t, 5*time.Minute), cfg)
	if err != nil {
		t.Fatalf("starting a private cluster: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	t.Logf("private cluster %s up in %v", c.BootstrapServers(), time.Since(t0).Round(time.Millisecond))
	return c
}
