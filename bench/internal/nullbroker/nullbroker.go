// Package nullbroker is a Kafka broker that does no work: it acknowledges
// every Produce at once, without reading the records, and answers every
// Fetch from batches built once at start-up. A client run against it spends
// its CPU on its own work only — building and sending requests, decoding
// and delivering records — so the figures it gives are the client's
// ceiling, not the brokers'.
//
// It is one process's TCP listener on 127.0.0.1 (so every client connects
// to it as to a real broker, through the network stack), playing a cluster
// of one broker that leads every partition of one topic. It is built on
// testhelp.FakeBroker, which answers ApiVersions (every key kmsg knows) and
// Metadata; the rest is here:
//
//   - InitProducerID: producer ID 1, epoch 0 (idempotent producers).
//   - Produce: success for every partition, the base offset counted per
//     partition from the record count in each batch's header (acks=0 gets
//     no answer, as from Kafka).
//   - ListOffsets: offset 0 for every partition (earliest and latest alike).
//   - Fetch: up to the partition's byte limit of prepared batches (each of
//     about BatchBytes, copied with its base offset set to the offset asked
//     for and the next ones), until the end of the partition's log, which
//     every partition has at the same offset (LogEnd); at the end, an empty
//     answer after the request's max wait, as from Kafka. No fetch sessions
//     (session ID 0 in every answer), so every client sends full fetches.
//
// Nothing is stored and nothing is checked: a client's correctness is not
// what this broker measures.
package nullbroker

import (
	"encoding/binary"
	"hash/crc32"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/kafka/testhelp"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// BatchBytes is about the size of each prepared record batch a Fetch
// returns (Kafka's batches are what producers sent: this is what a
// producer lingering 5 ms at a few hundred thousand messages per second
// sends per partition).
const BatchBytes = 64 << 10

// maxPartitionBytes bounds what one partition returns per Fetch, whatever
// the client asks (Kafka's default max.partition.fetch.bytes, and the
// bench's setting).
const maxPartitionBytes = 1 << 20

// Broker is a running null broker.
type Broker struct {
	fb      *testhelp.FakeBroker
	batch   []byte // one prepared batch
	records int64  // records in it
	logEnd  int64  // every partition's high watermark, for Fetch

	mu      sync.Mutex
	offsets map[partKey]int64 // next offset per produced partition

	// Stats.
	produceReqs  atomic.Int64
	producedRecs atomic.Int64
	produceBytes atomic.Int64
	fetchReqs    atomic.Int64
	fetchedRecs  atomic.Int64
}

type partKey struct {
	topic string
	id    [16]byte
	p     int32
}

// Listen starts a null broker on 127.0.0.1 with one topic of the given
// partitions, each of which holds at least perPartition records (rounded
// up to whole batches: see LogEnd) with values of valueSize bytes (no key,
// no headers) for consumers to fetch.
func Listen(topic string, partitions int32, valueSize int, perPartition int64) (*Broker, error) {
	b := &Broker{offsets: map[partKey]int64{}}
	b.batch, b.records = buildBatch(valueSize)
	b.logEnd = max(1, (perPartition+b.records-1)/b.records) * b.records
	fb, err := testhelp.ListenFakeBroker(b.handle)
	if err != nil {
		return nil, err
	}
	fb.AddTopic(topic, partitions)
	b.fb = fb
	return b, nil
}

// LogEnd is the number of records every partition holds for consumers
// (its high watermark): a whole number of batches.
func (b *Broker) LogEnd() int64 { return b.logEnd }

// Addr is the broker's host:port.
func (b *Broker) Addr() string { return b.fb.Addr() }

// Close stops the broker and closes its connections.
func (b *Broker) Close() { b.fb.Close() }

// Stats is what the broker saw since it started.
type Stats struct {
	ProduceRequests int64 // Produce requests
	ProducedRecords int64 // records in them (from the batch headers)
	ProduceBytes    int64 // bytes of record batches in them
	FetchRequests   int64
	FetchedRecords  int64 // records handed out
}

// Stats returns the counters so far.
func (b *Broker) Stats() Stats {
	return Stats{
		ProduceRequests: b.produceReqs.Load(),
		ProducedRecords: b.producedRecs.Load(),
		ProduceBytes:    b.produceBytes.Load(),
		FetchRequests:   b.fetchReqs.Load(),
		FetchedRecords:  b.fetchedRecs.Load(),
	}
}

// Record batch v2 layout (Kafka's DefaultRecordBatch): the offsets of the
// fields this package reads or writes.
const (
	batchLengthAt = 8  // int32, bytes after this field
	crcAt         = 17 // uint32, CRC-32C of everything from attributes on
	attributesAt  = 21
	countAt       = 57 // int32, records in the batch
	headerSize    = 61
)

// buildBatch builds one uncompressed record batch of about BatchBytes.
func buildBatch(valueSize int) ([]byte, int64) {
	value := make([]byte, valueSize)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	n := max(1, BatchBytes/(valueSize+8))
	const ts = 1700000000000
	buf := make([]byte, headerSize, BatchBytes+headerSize+64)
	// baseOffset 0, partitionLeaderEpoch 0, magic 2.
	buf[16] = 2
	binary.BigEndian.PutUint32(buf[23:], uint32(n-1))    // lastOffsetDelta
	binary.BigEndian.PutUint64(buf[27:], ts)             // baseTimestamp
	binary.BigEndian.PutUint64(buf[35:], ts)             // maxTimestamp
	binary.BigEndian.PutUint64(buf[43:], ^uint64(0))     // producerId -1
	binary.BigEndian.PutUint16(buf[51:], ^uint16(0))     // producerEpoch -1
	binary.BigEndian.PutUint32(buf[53:], ^uint32(0))     // baseSequence -1
	binary.BigEndian.PutUint32(buf[countAt:], uint32(n)) // records
	var rec []byte
	for i := range n {
		rec = rec[:0]
		rec = append(rec, 0)                     // attributes
		rec = binary.AppendVarint(rec, 0)        // timestampDelta
		rec = binary.AppendVarint(rec, int64(i)) // offsetDelta
		rec = binary.AppendVarint(rec, -1)       // key: null
		rec = binary.AppendVarint(rec, int64(len(value)))
		rec = append(rec, value...)
		rec = binary.AppendVarint(rec, 0) // headers
		buf = binary.AppendVarint(buf, int64(len(rec)))
		buf = append(buf, rec...)
	}
	binary.BigEndian.PutUint32(buf[batchLengthAt:], uint32(len(buf)-12))
	crc := crc32.Checksum(buf[attributesAt:], crc32.MakeTable(crc32.Castagnoli))
	binary.BigEndian.PutUint32(buf[crcAt:], crc)
	return buf, int64(n)
}

func (b *Broker) handle(c *testhelp.FakeConn, r *testhelp.FakeRequest) bool {
	switch req := r.Body.(type) {
	case *kmsg.InitProducerIDRequest:
		resp := kmsg.NewPtrInitProducerIDResponse()
		resp.ProducerID, resp.ProducerEpoch = 1, 0
		c.Respond(r, resp)
	case *kmsg.ProduceRequest:
		b.produce(c, r, req)
	case *kmsg.ListOffsetsRequest:
		resp := kmsg.NewPtrListOffsetsResponse()
		for _, t := range req.Topics {
			rt := kmsg.NewListOffsetsResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewListOffsetsResponseTopicPartition()
				rp.Partition, rp.Offset, rp.Timestamp, rp.LeaderEpoch = p.Partition, 0, -1, 0
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		c.Respond(r, resp)
	case *kmsg.FetchRequest:
		b.fetch(c, r, req)
	default:
		return false
	}
	return true
}

func (b *Broker) produce(c *testhelp.FakeConn, r *testhelp.FakeRequest, req *kmsg.ProduceRequest) {
	b.produceReqs.Add(1)
	resp := kmsg.NewPtrProduceResponse()
	var recs, bytes int64
	b.mu.Lock()
	for _, t := range req.Topics {
		rt := kmsg.NewProduceResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewProduceResponseTopicPartition()
			rp.Partition = p.Partition
			rp.LogAppendTime = -1
			key := partKey{t.Topic, t.TopicID, p.Partition}
			rp.BaseOffset = b.offsets[key]
			// A request may carry several batches for a partition.
			for rest := p.Records; len(rest) >= headerSize; {
				n := int64(binary.BigEndian.Uint32(rest[countAt:]))
				b.offsets[key] += n
				recs += n
				size := 12 + int(binary.BigEndian.Uint32(rest[batchLengthAt:]))
				if size <= 12 || size > len(rest) {
					break
				}
				rest = rest[size:]
			}
			bytes += int64(len(p.Records))
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	b.mu.Unlock()
	b.producedRecs.Add(recs)
	b.produceBytes.Add(bytes)
	if req.Acks != 0 {
		c.Respond(r, resp)
	}
}

func (b *Broker) fetch(c *testhelp.FakeConn, r *testhelp.FakeRequest, req *kmsg.FetchRequest) {
	b.fetchReqs.Add(1)
	resp := kmsg.NewPtrFetchResponse()
	budget := int(req.MaxBytes)
	if budget <= 0 {
		budget = 50 << 20
	}
	var handed int64
	for _, t := range req.Topics {
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic, rt.TopicID = t.Topic, t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewFetchResponseTopicPartition()
			rp.Partition = p.Partition
			rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = b.logEnd, b.logEnd, 0
			left := max(0, (b.logEnd-p.FetchOffset)/b.records) // whole batches left
			limit := min(int(p.PartitionMaxBytes), maxPartitionBytes, budget)
			n := max(0, limit/len(b.batch))
			if n == 0 && budget > 0 {
				n = 1 // Kafka returns a first batch whatever the limit
			}
			n = int(min(int64(n), left))
			out := make([]byte, 0, n*len(b.batch))
			for i := range n {
				at := len(out)
				out = append(out, b.batch...)
				// The base offset is outside the CRC: each copy with its
				// own is a valid batch.
				binary.BigEndian.PutUint64(out[at:], uint64(p.FetchOffset+int64(i)*b.records))
			}
			budget -= len(out)
			handed += int64(n) * b.records
			rp.RecordBatches = out
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	b.fetchedRecs.Add(handed)
	if handed == 0 && req.MaxWaitMillis > 0 {
		// Nothing left: Kafka holds the request for its max wait (new
		// records never come here).
		time.Sleep(time.Duration(min(req.MaxWaitMillis, 1000)) * time.Millisecond)
	}
	c.Respond(r, resp)
}
