package nullbroker

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestProduceAndConsume drives the broker with franz-go (a client nobody
// here wrote): an idempotent producer's records are all acknowledged and
// counted, and a consumer reads every partition to LogEnd, every value as
// built.
func TestProduceAndConsume(t *testing.T) {
	b, err := Listen("t", 3, 100, 1000)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.LogEnd() < 1000 || b.LogEnd()%b.records != 0 {
		t.Fatalf("LogEnd %d: want whole batches of %d covering 1000", b.LogEnd(), b.records)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	p, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.DefaultProduceTopic("t"), kgo.RequiredAcks(kgo.AllISRAcks()))
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000
	for range n {
		p.Produce(ctx, &kgo.Record{Value: make([]byte, 100)}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	p.Close()
	if s := b.Stats(); s.ProducedRecords != n || s.ProduceRequests == 0 {
		t.Fatalf("broker saw %+v, want %d records", s, n)
	}

	c, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumeTopics("t"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	per := map[int32]int64{}
	var total int64
	for total < 3*b.LogEnd() {
		fs := c.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d: %v", total, 3*b.LogEnd(), ctx.Err())
		}
		fs.EachError(func(_ string, p int32, err error) { t.Fatalf("partition %d: %v", p, err) })
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset != per[r.Partition] || len(r.Value) != 100 || r.Value[1] != 'b' {
				t.Fatalf("partition %d: record at %d (want %d), value %q", r.Partition, r.Offset, per[r.Partition], r.Value)
			}
			per[r.Partition]++
			total++
		})
	}
	for p := range int32(3) {
		if per[p] != b.LogEnd() {
			t.Errorf("partition %d: %d records, want %d", p, per[p], b.LogEnd())
		}
	}
}
