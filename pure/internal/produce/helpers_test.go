package produce

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/records"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The tests run against a real cluster: the one named by BROKERS (for
// example `set -a; . /work/dev-cluster.env; set +a`), or a 3-broker
// cluster started for this package.
func TestMain(m *testing.M) {
	testinstance.Main(m, testinstance.Config{Brokers: 3, NoZooKeeper: true})
}

// newTopic creates a topic (testhelp.CreateTopic, configs as key, value
// pairs) and waits until the cluster view cl knows its leaders.
func newTopic(t testing.TB, tc *testinstance.Cluster, cl *cluster.Cluster, partitions int, configs ...string) string {
	t.Helper()
	name := testhelp.CreateTopic(t, tc, partitions, configs...)
	ctx := testhelp.Ctx(t, time.Minute)
	testhelp.Eventually(t, time.Minute, "leaders of "+name+" known", func() error {
		if err := cl.RefreshTopics(ctx, name); err != nil {
			return err
		}
		tm, err := cl.Snapshot().Topic(name)
		if err != nil {
			return err
		}
		if len(tm.Partitions) != partitions {
			return fmt.Errorf("%d partitions", len(tm.Partitions))
		}
		for _, p := range tm.Partitions {
			if p.Leader < 0 {
				return fmt.Errorf("partition %d without a leader", p.ID)
			}
		}
		return nil
	})
	return name
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
		fp := testhelp.FetchRaw(t, cl, topic, p, offset)
		err := records.DecodeBatches(fp.RecordBatches, records.DecodeOptions{}, func(info *records.BatchInfo, recs []records.Record) error {
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
	return endOffset(t, ctx, cl, topic, p, 0)
}

// endOffset is the end of partition p for isolation (ListOffsets at the
// latest timestamp): the high watermark for 0 (read_uncommitted), the last
// stable offset for 1 (read_committed). It asks the leader again while
// the leader moves, and fails the test once ctx ends.
func endOffset(t testing.TB, ctx context.Context, cl *cluster.Cluster, topic string, p int32, isolation int8) int64 {
	t.Helper()
	for {
		br, _, err := cl.Leader(topic, p)
		if err == nil {
			req := kmsg.NewPtrListOffsetsRequest()
			req.IsolationLevel = isolation
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp = p, -1
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
		time.Sleep(100 * time.Millisecond) // leader moving: ask again
	}
}

// produceConcurrently starts goroutines goroutines that produce each
// messages apiece, with done as their DoneFunc: message i of goroutine g is
// next(g, i). A refused Produce fails the test and ends its goroutine. The
// returned wait waits for them all.
func produceConcurrently(t testing.TB, p *Producer, goroutines, each int, done engine.DoneFunc, next func(g, i int) *engine.Message) (wait func()) {
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				if err := p.Produce(context.Background(), next(g, i), done); err != nil {
					t.Errorf("Produce: %v", err)
					return
				}
			}
		})
	}
	return wg.Wait
}

func mustProduce(t testing.TB, p *Producer, m *engine.Message, done engine.DoneFunc) {
	t.Helper()
	if err := p.Produce(testhelp.Ctx(t, 30*time.Second), m, done); err != nil {
		t.Fatalf("Produce: %v", err)
	}
}
