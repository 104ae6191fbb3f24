package testhelp

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/engine"
)

// ClientID is the client id of the engines' test configurations.
const ClientID = "gokafka-test"

// ProducerConfig is the configuration the root gives an engine when the
// user sets nothing: engine.DefaultProducerConfig, with the tests' client
// id. It names no topic: a producer serves any number of them, each
// message names its own. A test that needs something else overrides the
// field, and says why.
func ProducerConfig() engine.ProducerConfig {
	cfg := engine.DefaultProducerConfig()
	cfg.ClientID = ClientID
	return cfg
}

// FetcherConfig is the configuration the root gives an engine's fetcher
// when the user sets nothing: engine.DefaultFetcherConfig, with the tests'
// client id. The topics are those of the positions given to Assign.
func FetcherConfig() engine.FetcherConfig {
	cfg := engine.DefaultFetcherConfig()
	cfg.ClientID = ClientID
	return cfg
}

// Reports collects the delivery reports of want messages: Done is the
// engine.DoneFunc to produce with. A message reported twice, or more
// reports than want, panics at once (in the engine's goroutine, with its
// stack): that is the bug the producer tests exist to catch. Safe for
// concurrent use.
type Reports struct {
	mu    sync.Mutex
	want  int
	n     int
	all   chan struct{} // closed when n reaches want
	acked []*engine.Message
	errs  []error
	errOf map[*engine.Message]error
}

// NewReports expects want reports.
func NewReports(want int) *Reports {
	return &Reports{want: want, all: make(chan struct{}), errOf: map[*engine.Message]error{}}
}

// Done records m's report; it is an engine.DoneFunc.
func (r *Reports) Done(m *engine.Message, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.errOf[m]; dup {
		panic(fmt.Sprintf("message reported twice: %s/%d offset %d value %.40q", m.Topic, m.Partition, m.Offset, m.Value))
	}
	r.errOf[m] = err
	if err == nil {
		r.acked = append(r.acked, m)
	} else {
		r.errs = append(r.errs, err)
	}
	r.n++
	if r.n == r.want {
		close(r.all)
	}
	if r.n > r.want {
		panic(fmt.Sprintf("%d reports, want %d", r.n, r.want))
	}
}

// Wait waits until every report came, failing the test after d.
func (r *Reports) Wait(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case <-r.all:
	case <-time.After(d):
		t.Fatalf("%d of %d messages reported after %v", r.Count(), r.want, d)
	}
}

// Count is the number of reports so far.
func (r *Reports) Count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

// Errors are the failures reported so far, in report order.
func (r *Reports) Errors() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

// Acked are the messages acknowledged so far, in report order.
func (r *Reports) Acked() []*engine.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*engine.Message(nil), r.acked...)
}

// AckedOf are the messages of partition p of topic acknowledged so far, in
// report order.
func (r *Reports) AckedOf(topic string, p int32) []*engine.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*engine.Message
	for _, m := range r.acked {
		if m.Topic == topic && m.Partition == p {
			out = append(out, m)
		}
	}
	return out
}

// Result is m's report: its error, and whether it was reported at all.
func (r *Reports) Result(m *engine.Message) (err error, reported bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	err, reported = r.errOf[m]
	return err, reported
}

// Results are every report so far, message to error (nil: acknowledged).
func (r *Reports) Results() map[*engine.Message]error {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[*engine.Message]error, len(r.errOf))
	for m, err := range r.errOf {
		out[m] = err
	}
	return out
}
