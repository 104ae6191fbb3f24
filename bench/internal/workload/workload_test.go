package workload

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func spec(count int64) Spec {
	return Spec{Mode: "produce", Brokers: []string{"x:1"}, Topics: []string{"t"}, Partitions: 2, Count: count, Size: 100, MaxQueued: 10, Timeout: 5 * time.Second}
}

func TestValueSizeAndStability(t *testing.T) {
	s := spec(1)
	for i := range int64(1000) {
		v := s.Value(i)
		if len(v) != s.Size || cap(v) != s.Size {
			t.Fatalf("Value(%d): len %d cap %d, want %d", i, len(v), cap(v), s.Size)
		}
	}
	if a, b := s.Value(7), s.Value(7); string(a) != string(b) || string(a) == string(s.Value(8)) {
		t.Fatal("values must be deterministic and differ between messages")
	}
}

func TestRunAccountsForEveryMessage(t *testing.T) {
	ok := Client{Produce: func(ctx context.Context, s Spec, tl *Tally) error {
		tl.Start()
		for i := range s.Count {
			tl.Acked("t", int32(i%2), s.Size)
		}
		return Wait(ctx, tl)
	}}
	res, good := run(ok, spec(100))
	if !good || res.Messages != 100 || res.Bytes != 10000 || res.PerPartition[0] != 50 {
		t.Fatalf("complete run: ok=%v %+v", good, res)
	}

	lossy := Client{Produce: func(ctx context.Context, s Spec, tl *Tally) error {
		tl.Start()
		for range s.Count - 1 {
			tl.Acked("t", 0, s.Size)
		}
		tl.Failed(errors.New("boom"))
		return Wait(ctx, tl)
	}}
	res, good = run(lossy, spec(100))
	if good || res.Errors != 1 || !strings.Contains(res.FirstError, "boom") {
		t.Fatalf("a failed message must fail the run: ok=%v %+v", good, res)
	}
}

func TestConsumeChecksPartitionsAndSizes(t *testing.T) {
	c := Client{Consume: func(ctx context.Context, s Spec, tl *Tally) error {
		tl.Start()
		for range s.Count {
			tl.Consumed("t", 0, s.Size) // all from partition 0
		}
		return nil
	}}
	s := spec(10)
	s.Mode, s.Expected = "consume", []int64{5, 5}
	if res, good := run(c, s); good || !strings.Contains(res.FirstError, "partition") {
		t.Fatalf("a wrong per-partition count must fail: ok=%v %+v", good, res)
	}
	s.Expected = []int64{10, 0}
	if res, good := run(c, s); !good {
		t.Fatalf("matching counts: %+v", res)
	}

	short := Client{Consume: func(ctx context.Context, s Spec, tl *Tally) error {
		tl.Start()
		for range s.Count {
			tl.Consumed("t", 1, s.Size-1)
		}
		return nil
	}}
	if res, good := run(short, s); good || res.Errors != s.Count {
		t.Fatalf("values of the wrong size must count as errors: ok=%v %+v", good, res)
	}
}

func TestWaitRoomBoundsInFlight(t *testing.T) {
	s := spec(100)
	tl := newTally(s)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tl.WaitRoom(ctx, 9); err != nil { // 9 in flight < 10
		t.Fatal(err)
	}
	released := make(chan error, 1)
	go func() { released <- tl.WaitRoom(ctx, 10) }()
	select {
	case err := <-released:
		t.Fatalf("WaitRoom returned (%v) with 10 in flight and a bound of 10", err)
	case <-time.After(50 * time.Millisecond):
	}
	tl.Acked("t", 0, 100)
	if err := <-released; err != nil {
		t.Fatal(err)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancelShort()
	if err := tl.WaitRoom(short, 20); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitRoom must honour ctx: %v", err)
	}
}

func TestManyTopics(t *testing.T) {
	s := spec(60)
	s.Mode = "consume"
	s.Topics = []string{"bench-x-t00", "bench-x-t01", "other"} // the last one without an index: found in the map
	s.Expected = []int64{10, 10, 10, 10, 10, 10}
	c := Client{Consume: func(ctx context.Context, s Spec, tl *Tally) error {
		tl.Start()
		cyc := s.Cycle()
		for i := range s.Count {
			tl.Consumed(cyc.Next(), int32(i/3%2), s.Size)
		}
		return nil
	}}
	res, good := run(c, s)
	if !good || len(res.PerPartition) != 6 {
		t.Fatalf("three topics: ok=%v %+v", good, res)
	}
	stray := Client{Consume: func(ctx context.Context, s Spec, tl *Tally) error {
		for range s.Count {
			tl.Consumed("bench-x-t02", 0, s.Size) // ends like an index, is not a topic of the run
		}
		return nil
	}}
	if res, good := run(stray, s); good || !strings.Contains(res.FirstError, "bench-x-t02[0]") {
		t.Fatalf("a message of a topic the run does not have must fail it: ok=%v %+v", good, res)
	}
}

func TestGroupRunStartsAtFirstMessage(t *testing.T) {
	s := spec(10)
	s.Mode, s.Group = "consume", true
	c := Client{Consume: func(ctx context.Context, s Spec, tl *Tally) error {
		tl.Start() // ignored: a group run starts at its first message
		time.Sleep(200 * time.Millisecond)
		for range s.Count {
			tl.Consumed("t", 0, s.Size)
		}
		return nil
	}}
	res, good := run(c, s)
	if !good || res.ElapsedNs <= 0 || res.ElapsedNs >= int64(100*time.Millisecond) {
		t.Fatalf("the join (200 ms here) must be left out: ok=%v elapsed %v", good, time.Duration(res.ElapsedNs))
	}
}

func BenchmarkTallyAcked(b *testing.B) {
	for _, n := range []int{1, 10} {
		s := spec(1 << 62)
		s.Topics = nil
		for i := range n {
			s.Topics = append(s.Topics, fmt.Sprintf("bench-0a1b2c-produce-100-t%dxp2-none-acksall-franz-go-t%02d", n, i))
		}
		b.Run(fmt.Sprintf("topics=%d", n), func(b *testing.B) {
			tl := newTally(s)
			cyc := s.Cycle()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				tl.Acked(cyc.Next(), int32(i&1), 100)
			}
		})
	}
}

// TestEndToEndLatency: with E2E, a latency run's consumer (the client's
// Consume, in the same process) reads what the producer loop wrote, and
// the result carries each message's time from the produce call to the
// consumer.
func TestEndToEndLatency(t *testing.T) {
	const delay = 20 * time.Millisecond
	wire := make(chan []byte, 1000) // the "topic"
	c := Client{
		Produce: func(ctx context.Context, s Spec, tl *Tally) error {
			tl.Start()
			for i := range s.Count {
				v := tl.Value(ctx, i)
				wire <- v
				tl.AckedValue("t", 0, v)
			}
			return Wait(ctx, tl)
		},
		Consume: func(ctx context.Context, s Spec, tl *Tally) error {
			tl.Start()
			for range s.Count {
				select {
				case v := <-wire:
					time.Sleep(delay) // what the consumer's path adds
					tl.ConsumedValue("t", 0, v)
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return Wait(ctx, tl)
		},
	}
	s := spec(50)
	s.Rate, s.E2E = 1000, true
	res, ok := run(c, s)
	if !ok || res.Latency == nil || res.Latency.E2E == nil {
		t.Fatalf("run: ok=%v %+v", ok, res)
	}
	e := res.Latency.E2E
	if e.Messages != 50 || e.Err != "" {
		t.Fatalf("e2e: %+v, want all 50 read", e)
	}
	if e.P50 < int64(delay) || e.Max < e.P99 || e.P99 < e.P50 {
		t.Fatalf("e2e percentiles %+v: want p50 >= %v (the consumer's delay) and p50 <= p99 <= max", e, delay)
	}
	if res.Latency.P50 >= int64(delay) {
		t.Fatalf("produce p50 %v includes the consumer's delay", time.Duration(res.Latency.P50))
	}
}
