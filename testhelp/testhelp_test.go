package testhelp_test

import (
	"errors"
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
	if took < 50*time.Millisecond || took > 5*time.Second {
		t.Errorf("WaitUntil took %v for a 50 ms condition", took)
	}
}

func TestReports(t *testing.T) {
	r := testhelp.NewReports(3)
	a, b, c := &engine.Message{Partition: 1}, &engine.Message{Partition: 0}, &engine.Message{Partition: 1}
	r.Done(a, nil)
	r.Done(b, errors.New("refused"))
	r.Done(c, nil)
	r.Wait(t, time.Second)
	if got := r.AckedOf(1); len(got) != 2 || got[0] != a || got[1] != c {
		t.Errorf("AckedOf(1) = %v", got)
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
