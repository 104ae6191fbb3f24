package testhelp_test

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/testhelp"
)

// Kafka's rule for topic names: at most 249 of [a-zA-Z0-9._-].
var validTopic = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

func TestUniqueName(t *testing.T) {
	long := strings.Repeat("x", 300)
	for _, sub := range []string{"plain", "with spaces, commas=and/slashes", "ünïcode_and_underscores", long} {
		t.Run(sub, func(t *testing.T) {
			a, b := testhelp.UniqueName(t, "topic"), testhelp.UniqueName(t, "topic")
			if !validTopic.MatchString(a) || strings.Contains(a, "_") {
				t.Errorf("%q is not a valid topic name without '_'", a)
			}
			if a == b {
				t.Errorf("two calls gave %q", a)
			}
			if !strings.HasPrefix(a, "topic-") {
				t.Errorf("%q does not start with its kind", a)
			}
		})
	}
}

func TestWaitUntil(t *testing.T) {
	start := time.Now()
	took := testhelp.WaitUntil(t, 10*time.Second, "the clock", func() bool { return time.Since(start) > 50*time.Millisecond })
	// WaitUntil starts its clock a moment after start: allow for it.
	if took < 45*time.Millisecond || took > 5*time.Second {
		t.Errorf("WaitUntil took %v for a 50 ms condition", took)
	}
}

func TestReports(t *testing.T) {
	r := testhelp.NewReports(4)
	a, b, c := &engine.Message{Topic: "t", Partition: 1}, &engine.Message{Topic: "t", Partition: 0}, &engine.Message{Topic: "t", Partition: 1}
	u := &engine.Message{Topic: "u", Partition: 1} // same partition, another topic
	r.Done(a, nil)
	r.Done(b, errors.New("refused"))
	r.Done(u, nil)
	r.Done(c, nil)
	r.Wait(t, time.Second)
	if got := r.AckedOf("t", 1); len(got) != 2 || got[0] != a || got[1] != c {
		t.Errorf("AckedOf(t, 1) = %v", got)
	}
	if got := r.AckedOf("u", 1); len(got) != 1 || got[0] != u {
		t.Errorf("AckedOf(u, 1) = %v", got)
	}
	if err, ok := r.Result(b); !ok || err == nil {
		t.Errorf("Result(b) = %v, %v", err, ok)
	}
	defer func() {
		if recover() == nil {
			t.Error("a message reported twice did not panic")
		}
	}()
	r.Done(a, nil)
}

func TestLedger(t *testing.T) {
	a0, b0 := engine.TopicPartition{Topic: "a", Partition: 0}, engine.TopicPartition{Topic: "b", Partition: 0}
	l := testhelp.NewLedger[engine.TopicPartition]()
	l.Take("m1", []engine.TopicPartition{a0})
	l.Take("m2", []engine.TopicPartition{b0})    // same partition number, another topic: no conflict
	l.Release("m2", []engine.TopicPartition{a0}) // not m2's: m1 keeps it
	l.Take("m1", []engine.TopicPartition{a0})    // again, by its owner: no conflict
	l.Check(t)
	l.Take("m2", []engine.TopicPartition{a0}) // m1 still owns it
	l.Forget("m1")
	l.Take("m3", []engine.TopicPartition{b0}) // m2 still owns it
	ft := &fatalRecorder{TB: t}
	func() {
		defer func() { recover() }() // Fatalf's Goexit, played by a panic
		l.Check(ft)
	}()
	if !strings.Contains(ft.msg, "m2 assigned a/0 while m1 owns it") || !strings.Contains(ft.msg, "m3 assigned b/0 while m2 owns it") {
		t.Errorf("Check reported %q", ft.msg)
	}
}

// fatalRecorder records what Fatalf says instead of ending the test.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic("fatal")
}

// TestParseToolTable: the tables of kafka-consumer-groups as Kafka 4.3
// (a KIP-848 member) and 3.9 print them.
func TestParseToolTable(t *testing.T) {
	out43 := `
GROUP           CONSUMER-ID                                  HOST            CLIENT-ID       #PARTITIONS     CURRENT-EPOCH   CURRENT-ASSIGNMENT       TARGET-EPOCH    TARGET-ASSIGNMENT
g               rdkafka-1651a999                             /127.0.0.1      rdkafka         3               -               t:0,1,2                  -               -
`
	out39 := `Consumer group 'g' has no active members.

GROUP           TOPIC           PARTITION  CURRENT-OFFSET  LOG-END-OFFSET  LAG             CONSUMER-ID     HOST            CLIENT-ID
g               t               0          5               7               2               -               -               -
g               t               10         -               3               -               m-1             /127.0.0.1      c
`
	rows, err := testhelp.ParseToolTable(out43)
	if err != nil || len(rows) != 1 || rows[0]["CONSUMER-ID"] != "rdkafka-1651a999" || rows[0]["CURRENT-ASSIGNMENT"] != "t:0,1,2" {
		t.Fatalf("4.3 members view: %v, %v", rows, err)
	}
	rows, err = testhelp.ParseToolTable(out39)
	if err != nil || len(rows) != 2 || rows[1]["PARTITION"] != "10" || rows[1]["CONSUMER-ID"] != "m-1" || rows[0]["LAG"] != "2" {
		t.Fatalf("3.9 offsets view: %v, %v", rows, err)
	}
	if _, err := testhelp.ParseToolTable("GROUP A B\ng 1\n"); err == nil {
		t.Fatal("a short row parsed")
	}
}

func TestAllPartitions(t *testing.T) {
	tp := func(topic string, p int32) engine.TopicPartition {
		return engine.TopicPartition{Topic: topic, Partition: p}
	}
	got := testhelp.AllPartitions[engine.TopicPartition](2, "b", "a")
	want := []engine.TopicPartition{tp("a", 0), tp("a", 1), tp("b", 0), tp("b", 1)}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("AllPartitions(2, b, a) = %v, want %v", got, want)
	}
	if got := testhelp.Partitions[engine.TopicPartition]("t", 3, 1); fmt.Sprint(got) != fmt.Sprint([]engine.TopicPartition{tp("t", 3), tp("t", 1)}) {
		t.Fatalf("Partitions(t, 3, 1) = %v", got)
	}
	if got := testhelp.Partitions[engine.TopicPartition]("t"); got == nil || len(got) != 0 {
		t.Fatalf("Partitions(t) = %#v, want empty and not nil", got)
	}
}

func TestOwnedOnce(t *testing.T) {
	tp := func(topic string, p int32) engine.TopicPartition {
		return engine.TopicPartition{Topic: topic, Partition: p}
	}
	want := testhelp.AllPartitions[engine.TopicPartition](2, "a")
	for _, c := range []struct {
		owned [][]engine.TopicPartition
		err   string // "" for none
	}{
		{[][]engine.TopicPartition{{tp("a", 0)}, {tp("a", 1)}}, ""},
		{[][]engine.TopicPartition{{tp("a", 0), tp("a", 1)}, nil}, ""},
		{[][]engine.TopicPartition{{tp("a", 0)}, {tp("a", 0), tp("a", 1)}}, "owned by members 0 and 1"},
		{[][]engine.TopicPartition{{tp("a", 0), tp("b", 0)}, {tp("a", 1)}}, "not among the partitions wanted"},
		{[][]engine.TopicPartition{{tp("a", 0)}, nil}, "1 of 2 partitions owned"},
	} {
		err := testhelp.OwnedOnce(want, c.owned)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("OwnedOnce(%v) = %v, want %q", c.owned, err, c.err)
		}
	}
}
