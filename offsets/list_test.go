package offsets

import (
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/testhelp"
)

func TestListEmptyTopic(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 3)
	ctx := testhelp.Ctx(t, 30*time.Second)
	zero := on(topic, map[int32]int64{0: 0, 1: 0, 2: 0})
	for _, ts := range []int64{Earliest, Latest, 0, time.Now().UnixMilli()} {
		got, err := List(ctx, cl, tps(topic, 0, 1, 2), ts)
		if err != nil || !maps.Equal(got, zero) {
			t.Errorf("List(%d) of an empty topic = %v, %v; want %v", ts, got, err, zero)
		}
	}
}

func TestListAfterProduce(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 3)
	produceN(t, cl, topic, 0, 10)
	produceN(t, cl, topic, 2, 3)
	produceN(t, cl, topic, 2, 4)
	ctx := testhelp.Ctx(t, 30*time.Second)

	got, err := List(ctx, cl, tps(topic, 0, 1, 2), Latest)
	if want := on(topic, map[int32]int64{0: 10, 1: 0, 2: 7}); err != nil || !maps.Equal(got, want) {
		t.Fatalf("List(Latest) = %v, %v; want %v", got, err, want)
	}
	got, err = List(ctx, cl, tps(topic, 2, 0, 2), Earliest)
	if want := on(topic, map[int32]int64{0: 0, 2: 0}); err != nil || !maps.Equal(got, want) {
		t.Fatalf("List(Earliest) = %v, %v; want %v", got, err, want)
	}
	got, err = List(ctx, cl, tps(topic, 0), Latest, WithIsolation(ReadCommitted))
	if want := on(topic, map[int32]int64{0: 10}); err != nil || !maps.Equal(got, want) {
		t.Fatalf("List(Latest, read_committed) without transactions = %v, %v; want %v", got, err, want)
	}
}

func TestListForTime(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 2)
	// Five records one second apart, an hour ago; timestamps are the
	// producer's (CreateTime, the topic default).
	base := time.Now().Add(-time.Hour).Truncate(time.Second).UnixMilli()
	ts := []int64{base, base + 1000, base + 2000, base + 3000, base + 4000}
	produce(t, cl, topic, 0, ts)
	ctx := testhelp.Ctx(t, 30*time.Second)

	cases := []struct {
		at   int64
		want int64
	}{
		{0, 0},              // before everything: the first message
		{base, 0},           // exactly the first timestamp
		{base + 1, 1},       // just after it: the next message
		{base + 2000, 2},    //
		{base + 3500, 4},    //
		{base + 4000, 4},    // the last message
		{base + 4001, 5},    // after the last message: the log end offset, not -1
		{base + 3600000, 5}, //
	}
	for _, c := range cases {
		got, err := List(ctx, cl, tps(topic, 0), c.at)
		if err != nil || len(got) != 1 || got[part(topic, 0)] != c.want {
			t.Errorf("List(t=base%+d) = %v, %v; want offset %d", c.at-base, got, err, c.want)
		}
	}
	// The empty partition answers its end offset (0) for any time.
	got, err := List(ctx, cl, tps(topic, 0, 1), base)
	if want := on(topic, map[int32]int64{0: 0, 1: 0}); err != nil || !maps.Equal(got, want) {
		t.Errorf("List(base) of both partitions = %v, %v; want %v", got, err, want)
	}
}

func TestListBadInput(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 2)
	ctx := testhelp.Ctx(t, 30*time.Second)

	if _, err := List(ctx, cl, tps(topic, 0), -3); !errors.Is(err, kerr.ErrInvalidConfig) {
		t.Errorf("List(-3): err = %v, want kerr.ErrInvalidConfig", err)
	}
	if _, err := List(ctx, nil, tps(topic, 0), Latest); !errors.Is(err, kerr.ErrInvalidConfig) {
		t.Errorf("List(nil cluster): err = %v, want kerr.ErrInvalidConfig", err)
	}
	if _, err := List(ctx, cl, tps("", 0), Latest); !errors.Is(err, kerr.ErrInvalidTopic) {
		t.Errorf("List(empty topic): err = %v, want kerr.ErrInvalidTopic", err)
	}
	if _, err := List(ctx, cl, tps(topic, 0), Latest, WithIsolation(7)); !errors.Is(err, kerr.ErrInvalidConfig) {
		t.Errorf("List(isolation 7): err = %v, want kerr.ErrInvalidConfig", err)
	}
	if got, err := List(ctx, cl, nil, Latest); err != nil || len(got) != 0 {
		t.Errorf("List of no partitions = %v, %v; want an empty map", got, err)
	}

	start := time.Now()
	if _, err := List(ctx, cl, tps(testhelp.UniqueName(t, "missing"), 0), Latest); !errors.Is(err, kerr.ErrUnknownTopic) {
		t.Errorf("List of a missing topic: err = %v, want kerr.ErrUnknownTopic", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("a missing topic took %v to fail", time.Since(start))
	}

	got, err := List(ctx, cl, append(tps(topic, 1, 5), part(topic, -1)), Latest)
	if !errors.Is(err, kerr.ErrUnknownPartition) {
		t.Errorf("List of partitions 5 and -1 of 2: err = %v, want kerr.ErrUnknownPartition", err)
	}
	if pe := Partitions(err); len(pe) != 2 || pe[part(topic, 5)] == nil || pe[part(topic, -1)] == nil {
		t.Errorf("Partitions(err) = %v, want only partitions 5 and -1", pe)
	}
	if want := on(topic, map[int32]int64{1: 0}); !maps.Equal(got, want) {
		t.Errorf("List of partitions 1 and 5 = %v; want %v next to the error", got, want)
	}
}
