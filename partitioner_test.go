package kafka

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

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
// them; keyless messages give a partition exactly the turn's bytes (the
// message that uses them up is the turn's last) and then move on, also
// when goroutines race at a turn's end; turns reach every partition.
func TestUniformStickyPartitioner(t *testing.T) {
	p := NewUniformStickyPartitioner(1000, time.Hour)
	for i := range 200 {
		m := &Message{Key: []byte{byte(i), byte(i >> 2), 'k'}, Value: make([]byte, 100)}
		if got, want := p(m, 12), HashingPartitioner(m, 12); got != want {
			t.Fatalf("key %q: chose %d, murmur2 %d", m.Key, got, want)
		}
	}

	// One goroutine: turns of exactly 10 messages of 100 bytes (a 60-byte
	// value and a header of 1 + 39: headers count too), each turn on
	// another partition than the last.
	m := &Message{Value: make([]byte, 60), Headers: []Header{{Key: "h", Value: make([]byte, 39)}}}
	prev := int32(-1)
	for turn := range 50 {
		first := p(m, 12)
		if first == prev {
			t.Fatalf("turn %d stayed on partition %d", turn, first)
		}
		for i := 1; i < 10; i++ {
			if got := p(m, 12); got != first {
				t.Fatalf("turn %d, message %d: partition %d, want %d", turn, i, got, first)
			}
		}
		prev = first
	}

	// Goroutines racing: every turn still holds exactly 10 messages, so
	// each partition's count is a multiple of 10.
	racing := NewUniformStickyPartitioner(1000, time.Hour)
	var mu sync.Mutex
	counts := map[int32]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			mine := map[int32]int{}
			for range 2500 {
				p := racing(&Message{Value: make([]byte, 100)}, 12)
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
// its engine's rule: byte-counted turns with a time limit on the pure
// engine, librdkafka's 10 ms turns on the librdkafka engine (where it is
// compiled in; elsewhere asking for it fails with ErrEngineNotEnabled).
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
	}{{false, DefaultStickyTime, DefaultStickyBytes}, {true, librdkafkaStick, 0}} {
		p, err := c.NewProducer(ProducerConfig{UseRdkafka: tc.rdkafka})
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
