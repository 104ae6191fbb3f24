package fetch

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"testing"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/records"
	"github.com/gokafka/kafka/testhelp"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// batchSpec describes a synthetic batch as a broker would store it.
type batchSpec struct {
	base   int64
	values []string
	codec  records.Codec
	txn    bool
	pid    int64
	// lastDelta, if set, overrides lastOffsetDelta: the records
	// compaction removed from the batch's end.
	lastDelta int32
	control   records.ControlType // with isControl
	isControl bool
	empty     bool // no records left (compaction emptied it)
}

var castagnoliTable = crc32.MakeTable(crc32.Castagnoli)

func (s batchSpec) build(t testing.TB) []byte {
	t.Helper()
	b := records.NewBuilder(s.codec, 0)
	b.SetTransactional(s.txn || s.isControl)
	if s.isControl {
		key := binary.BigEndian.AppendUint16([]byte{0, 0}, uint16(s.control))
		b.Append(1000, key, []byte{0, 0, 0, 0, 0, 0}, nil)
	}
	for _, v := range s.values {
		b.Append(1000, nil, []byte(v), nil)
	}
	if b.NumRecords() == 0 {
		b.Append(1000, nil, []byte("x"), nil)
	}
	pid := int64(-1)
	epoch := int16(-1)
	if s.pid != 0 {
		pid, epoch = s.pid, 0
	}
	batch, err := b.Finish(nil, pid, epoch, 0)
	if err != nil {
		t.Fatal(err)
	}
	be := binary.BigEndian
	be.PutUint64(batch, uint64(s.base))
	if s.empty {
		batch = batch[:records.HeaderSize]
		be.PutUint32(batch[8:], uint32(len(batch)-12))
		be.PutUint32(batch[57:], 0)
	}
	if s.isControl {
		be.PutUint16(batch[21:], be.Uint16(batch[21:])|0x20)
	}
	if s.lastDelta != 0 {
		be.PutUint32(batch[23:], uint32(s.lastDelta))
	}
	be.PutUint32(batch[17:], crc32.Checksum(batch[21:], castagnoliTable))
	return batch
}

func partitionData(t testing.TB, specs ...batchSpec) []byte {
	var data []byte
	for _, s := range specs {
		data = append(data, s.build(t)...)
	}
	return data
}

func vals(prefix string, n int) []string {
	var vs []string
	for i := range n {
		vs = append(vs, fmt.Sprintf("%s%d", prefix, i))
	}
	return vs
}

func decodeFor(t *testing.T, iso engine.IsolationLevel, rp *kmsg.FetchResponseTopicPartition, offset int64) decoded {
	t.Helper()
	cfg := testhelp.FetcherConfig()
	cfg.Isolation = iso // the case under test
	cfg.CheckCRC = true // TestDecodeCorrupt flips a byte that only the CRC catches
	d := newDecoder(cfg)
	var res decoded
	res.scan = scanBatches(rp.RecordBatches, offset)
	d.decode(&res, rp, offset)
	return res
}

func offsetsAndValues(msgs []*engine.Message) string {
	s := ""
	for _, m := range msgs {
		s += fmt.Sprintf("%d:%s ", m.Offset, m.Value)
	}
	return s
}

func TestDecode(t *testing.T) {
	rp := func(data []byte) *kmsg.FetchResponseTopicPartition {
		p := kmsg.NewFetchResponseTopicPartition()
		p.Partition = 7
		p.RecordBatches = data
		return &p
	}
	tests := []struct {
		name      string
		data      []byte
		offset    int64
		want      string
		next      int64
		partial   bool
		aborted   []kmsg.FetchResponseTopicPartitionAbortedTransaction
		committed bool
	}{
		{
			name:   "records before the fetch offset are dropped",
			data:   partitionData(t, batchSpec{base: 10, values: vals("a", 5)}, batchSpec{base: 15, values: vals("b", 2)}),
			offset: 13,
			want:   "13:a3 14:a4 15:b0 16:b1 ", next: 17,
		},
		{
			name:   "compressed, starting mid-batch",
			data:   partitionData(t, batchSpec{base: 0, values: vals("z", 4), codec: records.CodecZstd}, batchSpec{base: 4, values: vals("g", 2), codec: records.CodecGzip}),
			offset: 2,
			want:   "2:z2 3:z3 4:g0 5:g1 ", next: 6,
		},
		{
			name:   "control batch at the end advances the position",
			data:   partitionData(t, batchSpec{base: 0, values: vals("a", 2), txn: true, pid: 9}, batchSpec{base: 2, isControl: true, control: records.ControlCommit, pid: 9}),
			offset: 0,
			want:   "0:a0 1:a1 ", next: 3,
		},
		{
			name:   "only a control batch",
			data:   partitionData(t, batchSpec{base: 2, isControl: true, control: records.ControlCommit, pid: 9}),
			offset: 2,
			want:   "", next: 3,
		},
		{
			name:   "compaction gaps and an emptied batch",
			data:   partitionData(t, batchSpec{base: 0, values: vals("a", 2), lastDelta: 4}, batchSpec{base: 5, empty: true, lastDelta: 9}, batchSpec{base: 20, values: vals("c", 1)}),
			offset: 0,
			want:   "0:a0 1:a1 20:c0 ", next: 21,
		},
		{
			name:   "emptied batch last",
			data:   partitionData(t, batchSpec{base: 0, values: vals("a", 1)}, batchSpec{base: 5, empty: true, lastDelta: 9}),
			offset: 0,
			want:   "0:a0 ", next: 15,
		},
		{
			name: "partial trailing batch is left for the next fetch",
			data: func() []byte {
				d := partitionData(t, batchSpec{base: 0, values: vals("a", 2)}, batchSpec{base: 2, values: vals("b", 3)})
				return d[:len(d)-5]
			}(),
			offset: 0,
			want:   "0:a0 1:a1 ", next: 2,
		},
		{
			name: "only a partial batch",
			data: func() []byte {
				d := partitionData(t, batchSpec{base: 0, values: vals("a", 20)})
				return d[:100]
			}(),
			offset: 0,
			want:   "", next: 0, partial: true,
		},
		{
			name: "read_committed drops aborted transactions",
			data: partitionData(t,
				batchSpec{base: 0, values: vals("c", 2), txn: true, pid: 1},
				batchSpec{base: 2, values: vals("x", 2), txn: true, pid: 2},
				batchSpec{base: 4, values: vals("p", 1)}, // plain, inside the aborted transaction
				batchSpec{base: 5, isControl: true, control: records.ControlCommit, pid: 1},
				batchSpec{base: 6, values: vals("y", 1), txn: true, pid: 2},
				batchSpec{base: 7, isControl: true, control: records.ControlAbort, pid: 2},
				batchSpec{base: 8, values: vals("n", 1), txn: true, pid: 2}, // its next transaction
				batchSpec{base: 9, isControl: true, control: records.ControlCommit, pid: 2},
			),
			aborted: []kmsg.FetchResponseTopicPartitionAbortedTransaction{
				{ProducerID: 3, FirstOffset: 100}, // not reached
				{ProducerID: 2, FirstOffset: 2},
			},
			committed: true,
			offset:    0,
			want:      "0:c0 1:c1 4:p0 8:n0 ", next: 10,
		},
		{
			name: "read_uncommitted keeps them",
			data: partitionData(t,
				batchSpec{base: 2, values: vals("x", 2), txn: true, pid: 2},
				batchSpec{base: 4, isControl: true, control: records.ControlAbort, pid: 2},
			),
			aborted: []kmsg.FetchResponseTopicPartitionAbortedTransaction{{ProducerID: 2, FirstOffset: 2}},
			offset:  2,
			want:    "2:x0 3:x1 ", next: 5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := rp(tt.data)
			p.AbortedTransactions = tt.aborted
			iso := engine.ReadUncommitted
			if tt.committed {
				iso = engine.ReadCommitted
			}
			res := decodeFor(t, iso, p, tt.offset)
			if res.err != nil {
				t.Fatal(res.err)
			}
			if got := offsetsAndValues(res.messages()); got != tt.want {
				t.Fatalf("messages %q, want %q", got, tt.want)
			}
			if res.next != tt.next || res.scan.partial != tt.partial {
				t.Fatalf("next %d partial %v, want %d %v", res.next, res.scan.partial, tt.next, tt.partial)
			}
			if res.scan.next != res.next {
				// Without a room cut, the header scan predicts where
				// decoding ends: pipelining relies on it.
				t.Fatalf("scan next %d, decode next %d", res.scan.next, res.next)
			}
			if res.scan.count < len(res.messages()) {
				t.Fatalf("scan count %d below %d messages", res.scan.count, len(res.messages()))
			}
			for _, m := range res.recs.messages("t", 7) {
				if m.Topic != "t" || m.Partition != 7 || m.Timestamp.UnixMilli() != 1000 {
					t.Fatalf("message fields: %+v", m)
				}
			}
		})
	}
}

func TestDecodeCorrupt(t *testing.T) {
	data := partitionData(t, batchSpec{base: 0, values: vals("a", 3)}, batchSpec{base: 3, values: vals("b", 3)})
	data[len(data)-2] ^= 0xff // inside the second batch: its CRC fails
	p := kmsg.NewFetchResponseTopicPartition()
	p.RecordBatches = data
	res := decodeFor(t, engine.ReadUncommitted, &p, 0)
	if !errors.Is(res.err, records.ErrCorrupt) {
		t.Fatalf("err %v, want ErrCorrupt", res.err)
	}
	if got := offsetsAndValues(res.messages()); got != "0:a0 1:a1 2:a2 " || res.next != 3 {
		t.Fatalf("before the corrupt batch: %q next %d", got, res.next)
	}
}

// BenchmarkDecode measures turning one partition's 1 MiB of fetched
// records (100-byte values, batches of 16 KiB as producers make them)
// into messages, per codec, giving the records array back as Poll does.
func BenchmarkDecode(b *testing.B) {
	for _, codec := range []records.Codec{records.CodecNone, records.CodecLZ4, records.CodecSnappy, records.CodecZstd, records.CodecGzip} {
		b.Run(codec.String(), func(b *testing.B) {
			data, n := benchData(b, codec, 1<<20, 100)
			p := kmsg.NewFetchResponseTopicPartition()
			p.RecordBatches = data
			d := newDecoder(testhelp.FetcherConfig())
			b.SetBytes(int64(n * 100))
			b.ReportAllocs()
			b.ResetTimer()
			var res decoded
			for b.Loop() {
				d.decode(&res, &p, 0)
				if got := len(res.messages()); got != n {
					b.Fatalf("%d messages, want %d", got, n)
				}
				res.recs.release() // as Poll does once it has the messages
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "msg/s")
		})
	}
}

// benchData builds about size bytes of uncompressed records with values of
// valueSize bytes in 16 KiB batches, and returns them and the count.
func benchData(b testing.TB, codec records.Codec, size, valueSize int) ([]byte, int) {
	bl := records.NewBuilder(codec, 0)
	val := make([]byte, valueSize)
	for i := range val {
		val[i] = byte('a' + i%26)
	}
	var data []byte
	n := 0
	total := 0
	for total < size {
		bl.Reset()
		for bl.EncodedSize() < 16<<10 {
			bl.Append(int64(1700000000000+n), nil, val, nil)
			n++
			total += valueSize + 10
		}
		start := len(data)
		var err error
		if data, err = bl.Finish(data, -1, -1, -1); err != nil {
			b.Fatal(err)
		}
		binary.BigEndian.PutUint64(data[start:], uint64(n-bl.NumRecords()))
	}
	return data, n
}

// TestScanBatchSize checks that the header scan reports the size a request
// must allow for: the largest complete batch, or a cut batch's full size.
func TestScanBatchSize(t *testing.T) {
	small := batchSpec{base: 0, values: vals("a", 2)}.build(t)
	big := batchSpec{base: 2, values: vals("b", 50)}.build(t)
	data := append(append([]byte{}, small...), big...)
	if sc := scanBatches(data, 0); sc.batch != len(big) || sc.partial || sc.count != 52 || sc.next != 52 || sc.bytes != len(data) {
		t.Fatalf("complete: %+v (batches of %d and %d bytes)", sc, len(small), len(big))
	}
	cut := data[:len(small)+30]
	if sc := scanBatches(cut, 0); sc.batch != len(big) || sc.partial || sc.count != 2 || sc.next != 2 {
		t.Fatalf("second batch cut: %+v, want batch %d", sc, len(big))
	}
	if sc := scanBatches(big[:20], 2); sc.batch != len(big) || !sc.partial || sc.count != 0 || sc.next != 2 {
		t.Fatalf("only a cut batch: %+v, want batch %d", sc, len(big))
	}
}

// messages are the Messages Poll would build from res, of topic "t"
// partition 0.
func (res *decoded) messages() []*engine.Message {
	return res.recs.messages("t", 0)
}
