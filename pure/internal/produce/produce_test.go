package produce

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/records"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// testMessage is message i of a round trip: every third has a nil key,
// every fifth is a tombstone (nil value), every fourth has headers, one
// header with a nil value, and every second a timestamp in the past (the
// others are stamped now, as the root does).
func testMessage(topic string, i int, partition int32) *engine.Message {
	m := &engine.Message{Topic: topic, Partition: partition, Timestamp: time.Now()}
	if i%3 != 0 {
		m.Key = []byte(fmt.Sprintf("key-%d", i))
	}
	if i%5 != 0 {
		m.Value = []byte(fmt.Sprintf("value-%d-%s", i, strings.Repeat("x", i%200)))
	}
	if i%4 == 0 {
		m.Headers = []engine.Header{{Key: "h1", Value: []byte(fmt.Sprint(i))}, {Key: "h-nil"}}
	}
	if i%2 == 0 {
		m.Timestamp = time.UnixMilli(1_600_000_000_000 + int64(i))
	}
	return m
}

func TestRoundTripCodecs(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	for _, codec := range []records.Codec{records.CodecNone, records.CodecGzip, records.CodecSnappy, records.CodecLZ4, records.CodecZstd} {
		t.Run(codec.String(), func(t *testing.T) {
			const parts, n = 3, 1500
			topic := newTopic(t, nil, cl, parts)
			cfg := testhelp.ProducerConfig()
			cfg.Compression = codec
			cfg.BatchBytes = 16 << 10 // several batches per partition
			p := newProducer(t, cl, cfg)
			rep := testhelp.NewReports(n)
			sent := make([]*engine.Message, n)
			for i := range n {
				sent[i] = testMessage(topic, i, int32(i%parts))
				mustProduce(t, p, sent[i], rep.Done)
			}
			if err := p.Flush(testhelp.Ctx(t, 60*time.Second)); err != nil {
				t.Fatalf("Flush: %v", err)
			}
			rep.Wait(t, time.Second) // Flush returned: all reported
			if errs := rep.Errors(); len(errs) > 0 {
				t.Fatalf("%d messages failed, first: %v", len(errs), errs[0])
			}
			for part := int32(0); part < parts; part++ {
				got := fetchAll(t, cl, topic, part, n/parts)
				acked := rep.AckedOf(topic, part)
				if len(acked) != n/parts || len(got) != n/parts {
					t.Fatalf("partition %d: %d acked, %d fetched, want %d", part, len(acked), len(got), n/parts)
				}
				for j, r := range got {
					i := j*parts + int(part)
					m := sent[i]
					if acked[j] != m {
						t.Fatalf("partition %d: report %d is message %q, want %q", part, j, acked[j].Value, m.Value)
					}
					if r.Offset != m.Offset {
						t.Fatalf("message %d: reported offset %d, fetched at %d", i, m.Offset, r.Offset)
					}
					if !bytes.Equal(r.Key, m.Key) || (r.Key == nil) != (m.Key == nil) {
						t.Fatalf("message %d: key %q, want %q", i, r.Key, m.Key)
					}
					if !bytes.Equal(r.Value, m.Value) || (r.Value == nil) != (m.Value == nil) {
						t.Fatalf("message %d: value %q, want %q", i, r.Value, m.Value)
					}
					if len(r.Headers) != len(m.Headers) {
						t.Fatalf("message %d: %d headers, want %d", i, len(r.Headers), len(m.Headers))
					}
					for h := range r.Headers {
						if r.Headers[h].Key != m.Headers[h].Key || !bytes.Equal(r.Headers[h].Value, m.Headers[h].Value) ||
							(r.Headers[h].Value == nil) != (m.Headers[h].Value == nil) {
							t.Fatalf("message %d: header %d = %+v, want %+v", i, h, r.Headers[h], m.Headers[h])
						}
					}
					if r.Timestamp != m.Timestamp.UnixMilli() {
						t.Fatalf("message %d: timestamp %d, want %d", i, r.Timestamp, m.Timestamp.UnixMilli())
					}
					if r.Codec != codec {
						t.Fatalf("message %d: batch codec %v, want %v", i, r.Codec, codec)
					}
					if r.ProducerID < 0 {
						t.Fatalf("message %d: batch has no producer ID though idempotent", i)
					}
				}
			}
		})
	}
}

// TestIdempotentSequences checks the stamps the broker stored: one
// producer ID, and base sequences that continue batch after batch.
func TestIdempotentSequences(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := newTopic(t, nil, cl, 1)
	cfg := testhelp.ProducerConfig()
	cfg.BatchBytes = 4 << 10 // many batches, so that sequences must continue across them
	p := newProducer(t, cl, cfg)
	const n = 2000
	rep := testhelp.NewReports(n)
	for i := range n {
		mustProduce(t, p, msg(topic, 0, fmt.Sprintf("%06d", i)), rep.Done)
	}
	if err := p.Flush(testhelp.Ctx(t, 60*time.Second)); err != nil {
		t.Fatal(err)
	}
	got := fetchAll(t, cl, topic, 0, n)
	pid := got[0].ProducerID
	batches := 0
	for i, r := range got {
		if r.ProducerID != pid {
			t.Fatalf("record %d: producer ID %d, want %d", i, r.ProducerID, pid)
		}
		if i == 0 || r.BaseSequence != got[i-1].BaseSequence {
			batches++
			if r.BaseSequence != int32(i) {
				t.Fatalf("record %d starts a batch with base sequence %d", i, r.BaseSequence)
			}
		}
		if string(r.Value) != fmt.Sprintf("%06d", i) {
			t.Fatalf("record %d: %q", i, r.Value)
		}
	}
	if batches < 2 {
		t.Fatalf("only %d batch(es): the test needs several", batches)
	}
}

func TestAcks(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	for _, acks := range []engine.RequiredAcks{engine.RequireNone, engine.RequireLeader, engine.RequireAll} {
		for _, idem := range []bool{false, true} {
			if idem && acks != engine.RequireAll {
				continue
			}
			t.Run(fmt.Sprintf("acks=%d/idempotent=%v", acks, idem), func(t *testing.T) {
				const parts, n = 2, 1000
				topic := newTopic(t, nil, cl, parts)
				cfg := testhelp.ProducerConfig()
				cfg.Acks, cfg.Idempotent = acks, idem
				p := newProducer(t, cl, cfg)
				rep := testhelp.NewReports(n)
				for i := range n {
					mustProduce(t, p, msg(topic, int32(i%parts), fmt.Sprint(i)), rep.Done)
				}
				if err := p.Flush(testhelp.Ctx(t, 60*time.Second)); err != nil {
					t.Fatal(err)
				}
				if errs := rep.Errors(); len(errs) > 0 {
					t.Fatalf("%d failed: %v", len(errs), errs[0])
				}
				for part := int32(0); part < parts; part++ {
					for j, m := range rep.AckedOf(topic, part) {
						want := int64(j)
						if acks == engine.RequireNone {
							want = -1
						}
						if m.Offset != want {
							t.Fatalf("partition %d report %d: offset %d, want %d", part, j, m.Offset, want)
						}
					}
					got := fetchAll(t, cl, topic, part, n/parts)
					for j, r := range got {
						if want := fmt.Sprint(j*parts + int(part)); string(r.Value) != want {
							t.Fatalf("partition %d offset %d: %q, want %q", part, j, r.Value, want)
						}
						if idem != (r.ProducerID >= 0) {
							t.Fatalf("idempotent %v but batch producer ID %d", idem, r.ProducerID)
						}
					}
					if hw := highWatermark(t, cl, topic, part); hw != n/parts {
						t.Fatalf("partition %d: high watermark %d, want %d", part, hw, n/parts)
					}
				}
			})
		}
	}
}

// TestOrderUnderConcurrency: many goroutines produce to the same
// partitions; each goroutine's messages must land in its order, and
// reports of a partition come in offset order.
func TestOrderUnderConcurrency(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	const parts, goroutines, each = 4, 8, 2500
	topic := newTopic(t, nil, cl, parts)
	cfg := testhelp.ProducerConfig()
	cfg.BatchBytes = 8 << 10 // many small batches in flight at once:
	cfg.Linger = 0           // the order is at stake between them
	p := newProducer(t, cl, cfg)
	rep := testhelp.NewReports(goroutines * each)
	produceConcurrently(t, p, goroutines, each, rep.Done, func(g, i int) *engine.Message {
		return msg(topic, int32((g+i)%parts), fmt.Sprintf("%d:%d", g, i))
	})()
	if err := p.Flush(testhelp.Ctx(t, 60*time.Second)); err != nil {
		t.Fatal(err)
	}
	if errs := rep.Errors(); len(errs) > 0 {
		t.Fatalf("%d failed: %v", len(errs), errs[0])
	}
	total := 0
	for part := int32(0); part < parts; part++ {
		acked := rep.AckedOf(topic, part)
		for j := 1; j < len(acked); j++ {
			if acked[j].Offset != acked[j-1].Offset+1 {
				t.Fatalf("partition %d: report %d has offset %d after %d", part, j, acked[j].Offset, acked[j-1].Offset)
			}
		}
		got := fetchAll(t, cl, topic, part, len(acked))
		last := map[int]int{}
		for _, r := range got {
			var g, i int
			if _, err := fmt.Sscanf(string(r.Value), "%d:%d", &g, &i); err != nil {
				t.Fatalf("bad value %q", r.Value)
			}
			if prev, ok := last[g]; ok && i <= prev {
				t.Fatalf("partition %d: goroutine %d message %d after %d", part, g, i, prev)
			}
			last[g] = i
		}
		total += len(got)
	}
	if total != goroutines*each {
		t.Fatalf("fetched %d records, want %d", total, goroutines*each)
	}
}

// TestKcat cross-checks a round trip with librdkafka's kcat.
func TestKcat(t *testing.T) {
	tc := testinstance.Shared()
	cl := testhelp.NewCluster(t, nil)
	topic := newTopic(t, tc, cl, 1)
	cfg := testhelp.ProducerConfig()
	cfg.Compression = records.CodecLZ4 // kcat must read our LZ4 frames
	p := newProducer(t, cl, cfg)
	const n = 300
	rep := testhelp.NewReports(n)
	var want []string
	for i := range n {
		k, v := fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i)
		want = append(want, k+" "+v)
		m := msg(topic, 0, v)
		m.Key = []byte(k)
		mustProduce(t, p, m, rep.Done)
	}
	if err := p.Flush(testhelp.Ctx(t, 60*time.Second)); err != nil {
		t.Fatal(err)
	}
	out := testhelp.Kcat(t, tc, "", "-C", "-t", topic, "-e", "-q", "-f", "%k %s\n")
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if !slices.Equal(got, want) {
		t.Fatalf("kcat read %d lines, first %q; want %d, first %q", len(got), got[:min(3, len(got))], len(want), want[:3])
	}
}
