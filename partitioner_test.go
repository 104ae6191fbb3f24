package kafka

import "testing"

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
			for name, p := range map[string]Partitioner{"random": RandomPartitioner, "roundrobin": rr, "hashing": HashingPartitioner} {
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

func BenchmarkMurmur2(b *testing.B) {
	key := []byte("user-0000000042")
	b.ReportAllocs()
	b.SetBytes(int64(len(key)))
	for b.Loop() {
		murmur2(key)
	}
}
