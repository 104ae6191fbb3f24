//go:build cgo && !nordkafka

package rdkafka

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/records"
	"github.com/gokafka/kafka/testhelp"
)

// rawBatches fetches partition 0 of topic from offset 0 with a plain Fetch
// request and decodes its record batches, so that a test sees what is on
// the broker, not what a client makes of it.
func rawBatches(t *testing.T, cl *cluster.Cluster, topic string) []records.BatchInfo {
	t.Helper()
	if err := cl.RefreshTopics(testhelp.Ctx(t, time.Minute), topic); err != nil {
		t.Fatal(err)
	}
	fp := testhelp.FetchRaw(t, cl, topic, 0, 0)
	var infos []records.BatchInfo
	err := records.DecodeBatches(fp.RecordBatches, records.DecodeOptions{}, func(info *records.BatchInfo, _ []records.Record) error {
		infos = append(infos, *info)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return infos
}

// TestCompressionCodecs produces with every codec through the engine, checks
// on the broker that the batches carry that codec, and reads the messages
// back with the engine's fetcher and with kcat.
func TestCompressionCodecs(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	for _, codec := range []records.Codec{records.CodecNone, records.CodecGzip, records.CodecSnappy, records.CodecLZ4, records.CodecZstd} {
		t.Run(codec.String(), func(t *testing.T) {
			topic := testhelp.CreateTopic(t, nil, 1)
			cfg := testhelp.ProducerConfig()
			cfg.Compression = codec // what the test is about
			if codec == records.CodecZstd {
				cfg.CompressionLevel = 5
			}
			const n = 300
			p := startProducer(t, cl, cfg)
			rep := testhelp.NewReports(n)
			value := func(i int) []byte {
				return bytes.Repeat(fmt.Appendf(nil, "compressible-%d-", i%10), 20)
			}
			for i := range n {
				if err := p.Produce(t.Context(), &engine.Message{Topic: topic, Key: fmt.Appendf(nil, "k%d", i), Value: value(i)}, rep.Done); err != nil {
					t.Fatal(err)
				}
			}
			rep.Wait(t, time.Minute)
			if len(rep.Errors()) > 0 {
				t.Fatal(rep.Errors()[0])
			}
			infos := rawBatches(t, cl, topic)
			if len(infos) == 0 {
				t.Fatal("no batch on the broker")
			}
			for _, info := range infos {
				if info.Codec != codec {
					t.Fatalf("batch at %d has codec %v, want %v", info.BaseOffset, info.Codec, codec)
				}
			}
			f := startFetcher(t, cl, testhelp.FetcherConfig())
			assignAll(t, f, topic, 1, 0, 1)
			got := map[engine.TopicPartition]*consumed{}
			pollUntil(t, f, time.Minute, 1, got, func() bool { return total(got) >= n })
			for i, m := range got[engine.TopicPartition{Topic: topic, Partition: 0}].msgs {
				if m.Offset != int64(i) || string(m.Key) != fmt.Sprintf("k%d", i) || !bytes.Equal(m.Value, value(i)) {
					t.Fatalf("message %d: offset %d key %q", i, m.Offset, m.Key)
				}
			}
			recs := kcatConsume(t, topic)
			if len(recs) != n || *recs[n-1].Payload != string(value(n-1)) {
				t.Fatalf("kcat read %d messages", len(recs))
			}
		})
	}
}
