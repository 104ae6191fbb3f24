package produce

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/records"
	"github.com/gokafka/kafka/testinstance"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The tests run against a real cluster: the one named by BROKERS (for
// example `set -a; . /work/dev-cluster.env; set +a`), or a 3-broker
// cluster started for this package.
func TestMain(m *testing.M) {
	testinstance.Main(m, testinstance.Config{Brokers: 3, NoZooKeeper: true})
}

// newClusterFor connects a cluster view to brokers; it closes with the test.
func newClusterFor(t testing.TB, brokers []string, mod func(*cluster.Config)) *cluster.Cluster {
	t.Helper()
	cfg := cluster.Config{Bootstrap: brokers, MetadataMinAge: 50 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := cluster.New(ctx, cfg)
	if err != nil {
		t.Fatalf("cluster.New: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func newCluster(t testing.TB) *cluster.Cluster {
	return newClusterFor(t, testinstance.Shared().Brokers(), nil)
}

var unsafeTopic = regexp.MustCompile(`[^a-zA-Z0-9._-]`)

// newTopic creates a topic with a unique name on tc and waits for the
// cluster view to know its leaders.
func newTopic(t testing.TB, tc *testinstance.Cluster, cl *cluster.Cluster, partitions int, configs map[string]string) string {
	t.Helper()
	name := unsafeTopic.ReplaceAllString(t.Name(), "_") + "-" + fmt.Sprint(rand.Uint32())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rf := min(3, tc.NumBrokers())
	// The name is unique, so "already exists" means an attempt of ours
	// that timed out on a loaded machine did create it.
	if err := tc.CreateTopic(ctx, name, partitions, rf, configs); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		t.Fatalf("CreateTopic %s: %v", name, err)
	}
	for {
		if err := cl.RefreshTopics(ctx, name); err == nil {
			if tm, err := cl.Snapshot().Topic(name); err == nil && len(tm.Partitions) == partitions {
				ok := true
				for _, p := range tm.Partitions {
					ok = ok && p.Leader >= 0
				}
				if ok {
					return name
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("topic %s: leaders not known in time", name)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// testConfig is the root's default producer configuration. It names no
// topic: the producer serves any, and each message names its own.
func testConfig() engine.ProducerConfig {
	cfg := engine.DefaultProducerConfig()
	cfg.ClientID = "gokafka-produce-test"
	return cfg
}

// msg is a message as the root hands it to the engine: topic and partition
// chosen, timestamp stamped.
func msg(topic string, partition int32, value string) *engine.Message {
	return &engine.Message{Topic: topic, Partition: partition, Value: []byte(value), Timestamp: time.Now()}
}

func newProducer(t testing.TB, cl *cluster.Cluster, cfg engine.ProducerConfig) *Producer {
	t.Helper()
	ep, err := New(context.Background(), cl, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	p := ep.(*Producer)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Close(ctx)
	})
	return p
}

// reports collects delivery reports.
type reports struct {
	mu    sync.Mutex
	n     int
	byP   map[engine.TopicPartition][]*engine.Message // successes, in report order
	errs  []error
	errOf map[*engine.Message]error
	all   chan struct{} // closed when n reaches want
	want  int
}

func newReports(want int) *reports {
	return &reports{byP: map[engine.TopicPartition][]*engine.Message{}, errOf: map[*engine.Message]error{}, all: make(chan struct{}), want: want}
}

func (r *reports) done(m *engine.Message, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.errOf[m]; dup {
		panic(fmt.Sprintf("message reported twice: %q", m.Value))
	}
	r.errOf[m] = err
	if err == nil {
		tp := engine.TopicPartition{Topic: m.Topic, Partition: m.Partition}
		r.byP[tp] = append(r.byP[tp], m)
	} else {
		r.errs = append(r.errs, err)
	}
	r.n++
	if r.n == r.want {
		close(r.all)
	}
}

func (r *reports) wait(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case <-r.all:
	case <-time.After(d):
		r.mu.Lock()
		defer r.mu.Unlock()
		t.Fatalf("only %d of %d messages reported after %v", r.n, r.want, d)
	}
}

// acked is what partition topic/p acknowledged, in report order.
func (r *reports) acked(topic string, p int32) []*engine.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byP[engine.TopicPartition{Topic: topic, Partition: p}]
}

func (r *reports) errors() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

// fetched is a record read back from the broker, with its batch's producer
// stamp.
type fetched struct {
	records.Record
	ProducerID   int64
	BaseSequence int32
	Codec        records.Codec
}

// fetchAll reads partition p of topic from offset 0 until it has n records
// (failing the test after a deadline), through the partition's leader.
func fetchAll(t testing.TB, cl *cluster.Cluster, topic string, p int32, n int) []fetched {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var out []fetched
	offset := int64(0)
	for len(out) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s/%d: fetched %d of %d records", topic, p, len(out), n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		br, _, err := cl.Leader(topic, p)
		if err != nil {
			cancel()
			cl.TriggerRefresh()
			time.Sleep(100 * time.Millisecond)
			continue
		}
		req := kmsg.NewPtrFetchRequest()
		req.MaxWaitMillis = 200
		req.MinBytes = 1
		req.MaxBytes = 16 << 20
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = p
		rp.FetchOffset = offset
		rp.PartitionMaxBytes = 8 << 20
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := br.RequestOn(ctx, "test-fetch", req)
		cancel()
		if err != nil {
			cl.TriggerRefresh()
			time.Sleep(100 * time.Millisecond)
			continue
		}
		fr := resp.(*kmsg.FetchResponse)
		if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
			t.Fatalf("fetch %s/%d: unexpected response shape", topic, p)
		}
		fp := fr.Topics[0].Partitions[0]
		if err := kerr.ForCode(fp.ErrorCode); err != nil {
			if kerr.IsRetriable(err) {
				cl.TriggerRefresh()
				time.Sleep(100 * time.Millisecond)
				continue
			}
			t.Fatalf("fetch %s/%d: %v", topic, p, err)
		}
		err = records.DecodeBatches(fp.RecordBatches, records.DecodeOptions{}, func(info *records.BatchInfo, recs []records.Record) error {
			for _, r := range recs {
				if r.Offset < offset {
					continue
				}
				out = append(out, fetched{Record: r, ProducerID: info.ProducerID, BaseSequence: info.BaseSequence, Codec: info.Codec})
			}
			offset = info.LastOffset + 1
			return nil
		})
		if err != nil {
			t.Fatalf("decode %s/%d: %v", topic, p, err)
		}
	}
	return out
}

// highWatermark returns the end offset of partition p.
func highWatermark(t testing.TB, cl *cluster.Cluster, topic string, p int32) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		br, _, err := cl.Leader(topic, p)
		if err == nil {
			req := kmsg.NewPtrListOffsetsRequest()
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition = p
			rp.Timestamp = -1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			var resp kmsg.Response
			if resp, err = br.Request(ctx, req); err == nil {
				lp := resp.(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0]
				if err = kerr.ForCode(lp.ErrorCode); err == nil {
					return lp.Offset
				}
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("ListOffsets %s/%d: %v", topic, p, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func ctxTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func mustProduce(t testing.TB, p *Producer, m *engine.Message, done engine.DoneFunc) {
	t.Helper()
	if err := p.Produce(ctxTimeout(t, 30*time.Second), m, done); err != nil {
		t.Fatalf("Produce: %v", err)
	}
}

// waitFor polls cond until it holds, failing the test after 30 seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
