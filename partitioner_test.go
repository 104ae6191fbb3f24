package kafka

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/records"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// Vectors from the Java client's own test of Utils.murmur2 (UtilsTest).
func TestMurmur2MatchesJava(t *testing.T) {
	cases := map[string]int32{
		"21":                         -973932308,
		"foobar":                     -790332482,
		"a-little-bit-long-string":   -985981536,
		"a-little-bit-longer-string": -1486304829,
		"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
		"abc": 479470107,
	}
	for in, want := range cases {
		if got := int32(murmur2([]byte(in))); got != want {
			t.Errorf("murmur2(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestPartitionersStayInRange(t *testing.T) {
	for _, n := range []int32{1, 3, 12} {
		rr, cover := NewRoundRobinPartitioner(), NewRoundRobinPartitioner()
		seen := map[int32]bool{}
		for i := 0; i < 100; i++ {
			m := &Message{Key: []byte{byte(i), byte(i >> 3)}}
			for name, p := range map[string]Partitioner{"random": RandomPartitioner, "roundrobin": rr, "hashing": HashingPartitioner, "sticky": NewStickyPartitioner(time.Nanosecond)} {
				if got := p(m, n); got < 0 || got >= n {
					t.Fatalf("%s partitioner returned %d for %d partitions", name, got, n)
				}
			}
			seen[cover(m, n)] = true
		}
		if len(seen) != int(n) {
			t.Errorf("round robin over %d partitions reached only %d of them", n, len(seen))
		}
	}
}

func TestHashingPartitionerIsStable(t *testing.T) {
	m := &Message{Key: []byte("bravo")}
	first := HashingPartitioner(m, 12)
	for i := 0; i < 50; i++ {
		if got := HashingPartitioner(m, 12); got != first {
			t.Fatalf("key %q went to %d then %d", m.Key, first, got)
		}
	}
}

// TestStickyPartitioner: keys go where HashingPartitioner puts them;
// keyless messages stay on one partition for the sticky time, then move
// to another, and over many turns reach every partition.
func TestStickyPartitioner(t *testing.T) {
	keyed := NewStickyPartitioner(time.Hour)
	for i := range 200 {
		m := &Message{Key: []byte{byte(i), byte(i >> 2), 'k'}}
		if got, want := keyed(m, 12), HashingPartitioner(m, 12); got != want {
			t.Fatalf("key %q: sticky chose %d, murmur2 %d", m.Key, got, want)
		}
	}

	// Within the hour every keyless message, from any goroutine, goes
	// to the first choice.
	first := keyed(&Message{}, 12)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 1000 {
				if got := keyed(&Message{Value: []byte("x")}, 12); got != first {
					t.Errorf("keyless message went to %d, not the sticky %d", got, first)
					return
				}
			}
		})
	}
	wg.Wait()
	// Fewer partitions than the choice: a new choice in range.
	if got := keyed(&Message{}, 1); got != 0 {
		t.Errorf("one partition: chose %d", got)
	}

	// A short sticky time: the choice changes and covers all partitions.
	short := NewStickyPartitioner(time.Microsecond)
	seen := map[int32]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for len(seen) < 12 && time.Now().Before(deadline) {
		p := short(&Message{}, 12)
		if p < 0 || p >= 12 {
			t.Fatalf("chose %d of 12", p)
		}
		seen[p] = true
	}
	if len(seen) < 12 {
		t.Errorf("keyless messages reached %d of 12 partitions in 10 s", len(seen))
	}
}

// BenchmarkStickyPartitioner: a keyless message's choice, from goroutines
// at once, with the fixed-time turns and with the default's byte-counted
// ones (an atomic add per message on the turn they share).
func BenchmarkStickyPartitioner(b *testing.B) {
	for _, c := range []struct {
		name string
		p    Partitioner
	}{{"time", NewStickyPartitioner(0)}, {"uniform", NewUniformStickyPartitioner(0, 0)}} {
		b.Run(c.name, func(b *testing.B) {
			m := &Message{Value: make([]byte, 100)}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c.p(m, 12)
				}
			})
		})
	}
}

func BenchmarkMurmur2(b *testing.B) {
	key := []byte("user-0000000042")
	b.ReportAllocs()
	b.SetBytes(int64(len(key)))
	for b.Loop() {
		murmur2(key)
	}
}

// TestStickyPartitionAt: the producer's default partitioner takes the
// time from the stamp's clock reading; a choice holds for the stick and
// moves to another partition after it, whatever the wall clock says.
func TestStickyPartitionAt(t *testing.T) {
	s := newSticky(10*time.Millisecond, 0)
	m := &Message{Topic: "t"}
	first := s.partitionAt(m, 12, 0)
	for _, at := range []time.Duration{time.Millisecond, 9 * time.Millisecond} {
		if got := s.partitionAt(m, 12, at); got != first {
			t.Fatalf("at %v: partition %d, want %d (stuck since 0)", at, got, first)
		}
	}
	if got := s.partitionAt(m, 12, 11*time.Millisecond); got == first {
		t.Fatalf("at 11ms: still partition %d after a 10ms stick", got)
	}
	if got := s.partitionAt(&Message{Topic: "other"}, 3, 11*time.Millisecond); got < 0 || got >= 3 {
		t.Fatalf("other topic: partition %d of 3", got)
	}
}

// TestUniformStickyPartitioner: keys go where HashingPartitioner puts
// them; keyless messages give a partition exactly what fits in the turn's
// batch (counted as recordBytes: headers count too; a message that would
// not fit starts the next turn) and then move on, also when goroutines
// race at a turn's end; turns reach every partition.
func TestUniformStickyPartitioner(t *testing.T) {
	m := &Message{Value: make([]byte, 60), Headers: []Header{{Key: "h", Value: make([]byte, 39)}}}
	ten := records.HeaderSize + 10*int(recordBytes(m))
	p := NewUniformStickyPartitioner(ten, time.Hour)
	for i := range 200 {
		m := &Message{Key: []byte{byte(i), byte(i >> 2), 'k'}, Value: make([]byte, 100)}
		if got, want := p(m, 12), HashingPartitioner(m, 12); got != want {
			t.Fatalf("key %q: chose %d, murmur2 %d", m.Key, got, want)
		}
	}

	// One goroutine: turns of exactly 10 messages, each turn on another
	// partition than the last; with room for 10 and a bit, still 10.
	for _, n := range []int{ten, ten + int(recordBytes(m)) - 1} {
		p := NewUniformStickyPartitioner(n, time.Hour)
		prev := int32(-1)
		for turn := range 50 {
			first := p(m, 12)
			if first == prev {
				t.Fatalf("n %d: turn %d stayed on partition %d", n, turn, first)
			}
			for i := 1; i < 10; i++ {
				if got := p(m, 12); got != first {
					t.Fatalf("n %d: turn %d, message %d: partition %d, want %d", n, turn, i, got, first)
				}
			}
			prev = first
		}
	}

	// Goroutines racing: every turn still holds exactly 10 messages, so
	// each partition's count is a multiple of 10.
	hundred := &Message{Value: make([]byte, 100)}
	racing := NewUniformStickyPartitioner(records.HeaderSize+10*int(recordBytes(hundred)), time.Hour)
	var mu sync.Mutex
	counts := map[int32]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			mine := map[int32]int{}
			for range 2500 {
				p := racing(&Message{Value: hundred.Value}, 12)
				if p < 0 || p >= 12 {
					t.Errorf("chose %d of 12", p)
					return
				}
				mine[p]++
			}
			mu.Lock()
			defer mu.Unlock()
			for p, n := range mine {
				counts[p] += n
			}
		})
	}
	wg.Wait()
	if len(counts) != 12 {
		t.Errorf("1 000 turns reached %d of 12 partitions: %v", len(counts), counts)
	}
	for p, n := range counts {
		if n%10 != 0 {
			t.Errorf("partition %d got %d messages: not whole turns of 10 (%v)", p, n, counts)
		}
	}

	// A message larger than the turn is a turn of its own.
	big := NewUniformStickyPartitioner(0, 0)
	huge := &Message{Value: make([]byte, DefaultStickyBytes+1)}
	if a, b := big(huge, 12), big(huge, 12); a == b {
		t.Errorf("two messages over DefaultStickyBytes shared partition %d", a)
	}
	// Fewer partitions than the choice: a new choice in range.
	if got := big(&Message{}, 1); got != 0 {
		t.Errorf("one partition: chose %d", got)
	}
}

// TestUniformStickyTimeLimit: a turn that has not used its bytes ends at
// its time limit; without a limit it does not.
func TestUniformStickyTimeLimit(t *testing.T) {
	m := &Message{Topic: "t", Value: []byte("v")}
	s := newDefaultSticky(0, 0)
	first := s.partitionAt(m, 12, 0)
	if got := s.partitionAt(m, 12, DefaultStickyTime-time.Millisecond); got != first {
		t.Fatalf("before the time limit: partition %d, want %d", got, first)
	}
	if got := s.partitionAt(m, 12, DefaultStickyTime); got == first {
		t.Fatalf("at the time limit: still partition %d", got)
	}
	unlimited := newDefaultSticky(0, -1)
	first = unlimited.partitionAt(m, 12, 0)
	if got := unlimited.partitionAt(m, 12, time.Hour); got != first {
		t.Fatalf("no time limit: moved from %d to %d", first, got)
	}
}

// TestDefaultPartitionerPerEngine: a producer without a Partitioner takes
// its engine's rule: turns of one batch of its BatchBytes with a time
// limit on the pure engine, librdkafka's 10 ms turns on the librdkafka
// engine (where it is compiled in; elsewhere asking for it fails with
// ErrEngineNotEnabled).
func TestDefaultPartitionerPerEngine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := NewClient(ctx, testinstance.Shared().BootstrapServers())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, tc := range []struct {
		rdkafka bool
		stick   time.Duration
		bytes   int64
	}{{false, DefaultStickyTime, 256<<10 - records.HeaderSize}, {true, librdkafkaStick, 0}} {
		p, err := c.NewProducer(ProducerConfig{UseRdkafka: tc.rdkafka, BatchBytes: 256 << 10})
		if tc.rdkafka && errors.Is(err, ErrEngineNotEnabled) {
			continue
		}
		if err != nil {
			t.Fatalf("UseRdkafka %v: %v", tc.rdkafka, err)
		}
		if p.sticky == nil || p.sticky.stick != tc.stick || p.sticky.stickBytes != tc.bytes {
			t.Errorf("UseRdkafka %v: default partitioner %+v, want turns of %v or %d bytes", tc.rdkafka, p.sticky, tc.stick, tc.bytes)
		}
		if err := p.Close(ctx); err != nil {
			t.Errorf("UseRdkafka %v: Close: %v", tc.rdkafka, err)
		}
	}
}

// batchLog records the produce batch hook's events.
type batchLog struct {
	mu     sync.Mutex
	events []ProduceBatchEvent
}

func (l *batchLog) OnProduceBatch(e ProduceBatchEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// TestStickyTurnFillsOneBatch: on a real cluster, the pure engine's
// default partitioner gives each turn what fits in one batch of the
// producer's BatchBytes: three rounds of exactly a turn's messages land in
// three partitions, one batch each, every batch nearly full and none over
// BatchBytes. (Counting values alone, or turns of DefaultStickyBytes
// whatever BatchBytes, would put a round in two partitions or all three
// rounds in one.)
func TestStickyTurnFillsOneBatch(t *testing.T) {
	ctx := testhelp.Ctx(t, 2*time.Minute)
	log := &batchLog{}
	c, err := NewClient(ctx, testinstance.Shared().BootstrapServers(), WithHooks(log))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	name := testhelp.UniqueName(t, "turns")
	topic, err := c.CreateTopic(ctx, name, TopicConfig{Partitions: 6, ReplicationFactor: 3})
	if err != nil {
		t.Fatal(err)
	}
	const batchBytes = 16 << 10
	// A linger far longer than a round takes to hand over, so that no
	// batch leaves half-filled; ProduceSync waits for it.
	p, err := topic.NewProducer(ProducerConfig{BatchBytes: batchBytes, Linger: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	value := make([]byte, 100)
	perTurn := (batchBytes - records.HeaderSize) / int(recordBytes(&Message{Value: value}))
	prev := int32(-1)
	for round := range 3 {
		msgs := make([]*Message, perTurn)
		for i := range msgs {
			msgs[i] = &Message{Value: value}
		}
		if err := p.ProduceSync(ctx, msgs...).Err(); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		first := msgs[0].Partition
		for i, m := range msgs {
			if m.Partition != first {
				t.Fatalf("round %d: message %d in partition %d, the turn's first in %d", round, i, m.Partition, first)
			}
		}
		if first == prev {
			t.Fatalf("round %d stayed on partition %d", round, first)
		}
		prev = first
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.events) != 3 {
		t.Fatalf("%d batches for three turns, want 3: %+v", len(log.events), log.events)
	}
	for _, e := range log.events {
		if e.Err != nil || e.Records != perTurn || e.Bytes > batchBytes || e.Bytes < batchBytes*95/100 {
			t.Errorf("batch %+v: want %d records in %d-%d bytes, no error", e, perTurn, batchBytes*95/100, batchBytes)
		}
	}
}
