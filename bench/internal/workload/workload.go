// Package workload is the part of the benchmark that runs inside each
// client's own process: it parses the flags the harness passes, builds the
// payloads, times the measured section and prints the outcome as one JSON
// line on stdout for the harness to read.
//
// A client program (bench/clients/NAME) only supplies two functions, one
// that produces Spec.Count messages and one that consumes them, and calls
// Main. Keeping the loop, the payloads and the bookkeeping here means every
// client does the same work around the library calls, so differences in
// the figures come from the libraries.
package workload

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Spec is one run, as the harness describes it on the command line.
type Spec struct {
	Mode    string // "produce" or "consume"
	Brokers []string
	// Topics are the run's topics, each of Partitions partitions: one,
	// or several for the many-topics scenarios. A producer sends message
	// i to Topics[i mod len(Topics)] (TopicCycle); a consumer reads them
	// all.
	Topics     []string
	Partitions int
	// Group makes a consume run read through a consumer group (a fresh
	// group id per run, no commits) instead of assigning every partition
	// directly. Its measured section starts at the first message read, so
	// that the group join, which takes the same time whatever the volume,
	// is left out (as the Java tool's fetch time leaves it out).
	Group       bool
	Count       int64  // messages to produce, or to consume
	Size        int    // value bytes per message
	Acks        string // "all" or "1"
	Compression string // "none", "lz4" or "zstd"
	Linger      time.Duration
	BatchBytes  int
	MaxQueued   int // messages produced and not yet acknowledged
	Timeout     time.Duration
	// Expected is, for consume runs, the number of messages in each
	// partition (index = topic index x Partitions + partition id); the run
	// fails if the client read any other number from a partition.
	Expected []int64
	// Rate, if positive, makes a produce run a latency run (latency.go):
	// Rate messages per second, each one's latency recorded.
	Rate int
	// E2E makes a latency run also consume its topics, in the same
	// process with the same library, and record each message's
	// end-to-end latency (LatencyResult.E2E). The run's CPU then includes
	// the consumer's.
	E2E bool
}

// TopicCycle hands out a run's topics round robin: message i goes to topic
// i mod len(Topics), without a division per message.
type TopicCycle struct {
	topics []string
	i      int
}

// Cycle returns a TopicCycle over s.Topics.
func (s Spec) Cycle() *TopicCycle { return &TopicCycle{topics: s.Topics} }

// Next returns the next message's topic.
func (c *TopicCycle) Next() string {
	t := c.topics[c.i]
	if c.i++; c.i == len(c.topics) {
		c.i = 0
	}
	return t
}

// Idempotent reports whether the run asks for the idempotent producer:
// with acks=all, for every client that supports it.
func (s Spec) Idempotent() bool { return s.Acks == "all" }

// Result is what a client process prints (one JSON line) when a run ends.
type Result struct {
	Messages  int64 `json:"messages"`
	Bytes     int64 `json:"bytes"`
	ElapsedNs int64 `json:"elapsed_ns"`
	// CPUSectionNs is user+sys CPU of the whole process (every thread,
	// C threads included) during the measured section only.
	CPUSectionNs int64   `json:"cpu_section_ns"`
	PerPartition []int64 `json:"per_partition,omitempty"` // topic index x partitions + partition
	Errors       int64   `json:"errors"`
	FirstError   string  `json:"first_error,omitempty"`
	Note         string  `json:"note,omitempty"`
	// Latency is a latency run's figures (Spec.Rate > 0).
	Latency *LatencyResult `json:"latency,omitempty"`
}

// Client is what a client program implements.
type Client struct {
	Name string
	// Produce sends s.Count messages with values from Value(i) and returns
	// once each was acknowledged or failed, calling t.Acked / t.Failed
	// for each (t.Start must be called right before the first message is
	// handed to the library).
	Produce func(ctx context.Context, s Spec, t *Tally) error
	// Consume reads s.Count messages from the start of every partition of
	// every topic, calling t.Consumed for each, and returns once s.Count
	// were read (or on error). It calls t.Start right before it begins
	// fetching; with s.Group it joins a group of its own (GroupID) and
	// the measured section starts at the first message instead.
	Consume func(ctx context.Context, s Spec, t *Tally) error
	// Library, if set, names the underlying library and version beyond
	// the Go module (librdkafka's version, for instance).
	Library func() string
}

// Tally counts outcomes from any goroutine and remembers the first error.
type Tally struct {
	spec      Spec
	index     map[string]int // topic name -> index in spec.Topics
	acked     atomic.Int64
	failed    atomic.Int64
	bytes     atomic.Int64
	perPart   []atomic.Int64 // topic index x partitions + partition
	firstErr  atomic.Pointer[string]
	started   atomic.Bool
	start     atomic.Int64 // since epoch, monotonic
	startCPU  atomic.Int64
	done      chan struct{}
	doneFired atomic.Bool
	waiting   atomic.Bool   // a producer loop waits in WaitRoom
	room      chan struct{} // poked when waiting and a message is recorded
	lat       *latency      // latency runs only (latency.go)
	e2e       *e2e          // the consumer of an end-to-end latency run only
}

// epoch is what the measured section's start is kept relative to (a
// monotonic reading, in an atomic).
var epoch = time.Now()

func newTally(s Spec) *Tally {
	t := &Tally{spec: s, index: map[string]int{}, done: make(chan struct{}), room: make(chan struct{}, 1)}
	for i, name := range s.Topics {
		t.index[name] = i
	}
	t.perPart = make([]atomic.Int64, max(len(s.Topics), 1)*max(s.Partitions, 1))
	if s.Rated() {
		t.lat = &latency{sent: make([]int64, s.Count), lat: make([]int64, s.Count)}
	}
	return t
}

// Start marks the beginning of the measured section. Calls after the
// first are ignored, and so are all calls in a group consume run (Spec.Group),
// whose section starts at the first message read.
func (t *Tally) Start() {
	if t.spec.Group && t.spec.Mode == "consume" {
		return
	}
	t.begin()
}

func (t *Tally) begin() {
	if t.started.Swap(true) {
		return
	}
	t.startCPU.Store(int64(processCPU()))
	t.start.Store(int64(time.Since(epoch)))
}

// Acked records a delivered message of topic.
func (t *Tally) Acked(topic string, partition int32, size int) { t.record(topic, partition, size) }

// Consumed records a consumed message of topic. Values of the wrong size
// count as errors (the harness wrote every value with the same size).
func (t *Tally) Consumed(topic string, partition int32, size int) {
	if t.spec.Group && !t.started.Load() {
		t.begin()
	}
	if size != t.spec.Size {
		t.Failed(fmt.Errorf("%s[%d]: value of %d bytes, want %d", topic, partition, size, t.spec.Size))
		return
	}
	t.record(topic, partition, size)
}

// topicIndex is topic's index in Spec.Topics, or -1. It costs next to
// nothing per message: with one topic the name is not looked at (the
// library was given no other), and the harness ends the names of several
// with their two-digit index ("-t07"), which is checked against the name
// before the map is asked.
func (t *Tally) topicIndex(topic string) int {
	if len(t.spec.Topics) <= 1 {
		return 0
	}
	if n := len(topic); n >= 2 {
		i := int(topic[n-2]-'0')*10 + int(topic[n-1]-'0')
		if i >= 0 && i < len(t.spec.Topics) && t.spec.Topics[i] == topic {
			return i
		}
	}
	if i, ok := t.index[topic]; ok {
		return i
	}
	return -1
}

func (t *Tally) record(topic string, partition int32, size int) {
	ti := t.topicIndex(topic)
	if ti < 0 || partition < 0 || int(partition) >= t.spec.Partitions {
		t.Failed(fmt.Errorf("message in %s[%d], not one of the run's %d topics of %d partitions", topic, partition, len(t.spec.Topics), t.spec.Partitions))
		return
	}
	t.perPart[ti*t.spec.Partitions+int(partition)].Add(1)
	t.bytes.Add(int64(size))
	if t.acked.Add(1) == t.spec.Count {
		t.fire()
	}
	t.poke()
}

func (t *Tally) poke() {
	if t.waiting.Load() && t.waiting.CompareAndSwap(true, false) {
		select {
		case t.room <- struct{}{}:
		default:
		}
	}
}

// WaitRoom blocks while sent minus the messages recorded reaches
// Spec.MaxQueued. Producer loops call it for libraries that do not bound
// what they buffer (or bound it differently), so that every client keeps
// at most MaxQueued messages in flight.
func (t *Tally) WaitRoom(ctx context.Context, sent int64) error {
	limit := int64(t.spec.MaxQueued)
	for t.Outstanding(sent) >= limit {
		t.waiting.Store(true)
		if t.Outstanding(sent) < limit {
			return nil
		}
		select {
		case <-t.room:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Failed records a failed message (or a client error).
func (t *Tally) Failed(err error) {
	if err == nil {
		err = errors.New("unknown error")
	}
	msg := err.Error()
	t.firstErr.CompareAndSwap(nil, &msg)
	t.failed.Add(1)
	if t.acked.Load()+t.failed.Load() >= t.spec.Count {
		t.fire()
	}
	t.poke()
}

func (t *Tally) fire() {
	if !t.doneFired.Swap(true) {
		close(t.done)
	}
}

// Done is closed once Count messages were recorded (acked, consumed or
// failed).
func (t *Tally) Done() <-chan struct{} { return t.done }

// Count is the number of messages recorded so far (successes only).
func (t *Tally) Count() int64 { return t.acked.Load() }

// Outstanding is the number of messages handed out minus those recorded:
// produce loops use it to bound what is in flight where a library has no
// bound of its own.
func (t *Tally) Outstanding(sent int64) int64 { return sent - t.acked.Load() - t.failed.Load() }

// payloadBytes is the size of the payload that values are taken from.
const payloadBytes = 2 << 20

// payload is a pseudo-random text of words: it compresses about as well as
// typical JSON or log lines (roughly 2-3x with lz4), unlike random bytes
// (which do not compress at all) or zeros (which compress absurdly well).
// It is built on first use, so that consumers never build it, and with one
// random number a word: the figures charge a client's whole process, and
// built as it was before 2026-12-04 (strings.Builder, two draws a word, at
// start-up in every process) it cost 24 ms a process, 0.1 µs a message of
// a 200 000-message run, to every client alike.
var payload = sync.OnceValue(func() []byte {
	words := strings.Fields(`kafka broker partition offset leader replica topic consumer producer
		batch record header timestamp 0 1 2 3 4 5 6 7 8 9 id user order event value key status ok
		error retry commit group member session {"a": [1, 2], "b": null} true false GET POST /api/v1`)
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 0, payloadBytes+64)
	for len(b) < payloadBytes {
		x := r.Uint64()
		b = append(b, words[x%uint64(len(words))]...)
		b = append(b, " ,:\n"[(x>>32)&3])
	}
	return b
})

// Value returns the value of message i: Size bytes of the shared payload,
// the ones after message i-1's (wrapping around at its end). The slice
// must not be modified.
//
// Values follow each other through the payload, as a program's freshly
// built values follow each other through its memory, so that reading one
// costs a client what reading its input costs: not a cache miss. Taken at
// scattered offsets (a stride of 7 919 bytes until 2026-12-04), every value
// was a miss to memory while the brokers' JVMs shared the cores, and it
// added about 0.1 µs to every client's CPU per 100-byte message (the
// client's copy of the value paid it; bench/results/payload-walk).
func (s Spec) Value(i int64) []byte {
	p := payload()
	off := int((i * int64(s.Size)) % int64(len(p)-s.Size))
	return p[off : off+s.Size : off+s.Size]
}

// processCPU is user+sys CPU time of this process so far, all threads.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Main parses the flags, runs the client and prints the Result. It exits 0
// if the run completed with every message accounted for, 1 otherwise (the
// Result line is printed either way).
func Main(c Client) {
	var s Spec
	var brokers, expected string
	flag.StringVar(&s.Mode, "mode", "produce", "produce or consume")
	flag.StringVar(&brokers, "brokers", os.Getenv("BROKERS"), "comma-separated bootstrap brokers")
	var topics string
	flag.StringVar(&topics, "topic", "", "topic, or comma-separated topics")
	flag.IntVar(&s.Partitions, "partitions", 1, "number of partitions of each topic")
	flag.BoolVar(&s.Group, "group", false, "consume: through a consumer group of the run's own (measured from the first message read)")
	flag.Int64Var(&s.Count, "count", 100000, "messages")
	flag.IntVar(&s.Size, "size", 100, "value bytes")
	flag.StringVar(&s.Acks, "acks", "all", "all or 1")
	flag.StringVar(&s.Compression, "compression", "none", "none, lz4 or zstd")
	flag.DurationVar(&s.Linger, "linger", 5*time.Millisecond, "producer linger")
	flag.IntVar(&s.BatchBytes, "batch-bytes", 1<<20, "largest record batch")
	flag.IntVar(&s.MaxQueued, "max-queued", 100000, "messages in flight (produced, not acknowledged)")
	flag.DurationVar(&s.Timeout, "timeout", 5*time.Minute, "bound on the whole run")
	flag.IntVar(&s.Rate, "rate", 0, "produce: a latency run at this many messages per second (0: as fast as possible)")
	flag.BoolVar(&s.E2E, "e2e", false, "with -rate: also consume the topics in this process and record end-to-end latency")
	flag.StringVar(&expected, "expected", "", "consume: comma-separated message count per partition")
	version := flag.Bool("version", false, "print the client's library versions and exit")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run (Go frames; cgo clients' C time shows as one frame) to this `file`, for finding where a client's CPU per message goes; the harness never sets it")
	memProfile := flag.String("memprofile", "", "write a profile of what the run allocated (Go's allocs profile, sampled) to this `file` at its end, for finding what makes a client's garbage; the harness never sets it")
	flag.Parse()
	if *version {
		printVersion(c)
		return
	}
	s.Brokers = strings.Split(brokers, ",")
	if topics != "" {
		s.Topics = strings.Split(topics, ",")
	}
	if expected != "" {
		for _, f := range strings.Split(expected, ",") {
			var n int64
			fmt.Sscan(f, &n)
			s.Expected = append(s.Expected, n)
		}
	}
	stopProfile := func() {}
	if *cpuProfile != "" {
		stop, err := startProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		stopProfile = stop
	}
	if *memProfile != "" {
		stopCPU := stopProfile
		stopProfile = func() {
			stopCPU()
			writeAllocs(*memProfile)
		}
	}
	defer stopProfile()
	res, ok := run(c, s)
	line, _ := json.Marshal(res)
	fmt.Println(string(line))
	if !ok {
		stopProfile()
		os.Exit(1)
	}
}

// startProfile starts a CPU profile into path; stop ends and writes it.
func startProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// writeAllocs writes the allocs profile (everything allocated since the
// start, sampled) to path; a failure is reported, not fatal: the run's
// figures are already out.
func writeAllocs(path string) {
	f, err := os.Create(path)
	if err == nil {
		err = pprof.Lookup("allocs").WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "memprofile:", err)
	}
}

func run(c Client, s Spec) (Result, bool) {
	if len(s.Topics) == 0 || slices.Contains(s.Topics, "") || s.Partitions <= 0 || s.Count <= 0 || s.Size <= 0 || s.Size >= payloadBytes || (s.Rated() && s.Size < stampBytes) || len(s.Brokers) == 0 || s.Brokers[0] == "" {
		return Result{Errors: 1, FirstError: "bad flags: need -brokers, -topic, -count > 0 and -size > 0"}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.Timeout)
	defer cancel()
	t := newTally(s)
	var err error
	var reader *e2eReader
	switch s.Mode {
	case "produce":
		if s.Rated() && s.E2E {
			reader = startE2E(ctx, c, s)
		}
		err = c.Produce(ctx, s, t)
	case "consume":
		err = c.Consume(ctx, s, t)
	default:
		err = fmt.Errorf("unknown -mode %q", s.Mode)
	}
	end := time.Since(epoch)
	cpu := processCPU()
	res := Result{
		Messages:     t.acked.Load(),
		Bytes:        t.bytes.Load(),
		ElapsedNs:    int64(end) - t.start.Load(),
		CPUSectionNs: int64(cpu) - t.startCPU.Load(),
		Errors:       t.failed.Load(),
	}
	if !t.started.Load() {
		res.ElapsedNs, res.CPUSectionNs = 0, 0
	}
	if t.lat != nil {
		res.Latency = t.lat.result(s.Rate)
	}
	if reader != nil {
		if err != nil {
			reader.cancel() // the producer failed: do not wait for the rest
		}
		e2e := reader.wait()
		if res.Latency != nil {
			res.Latency.E2E = e2e
		}
	}
	for i := range t.perPart {
		res.PerPartition = append(res.PerPartition, t.perPart[i].Load())
	}
	if p := t.firstErr.Load(); p != nil {
		res.FirstError = *p
	}
	if err != nil {
		res.Errors++
		if res.FirstError == "" {
			res.FirstError = err.Error()
		}
	}
	ok := res.Errors == 0 && res.Messages == s.Count
	if ok && s.Mode == "consume" && s.Expected != nil {
		for i, want := range s.Expected {
			if i >= len(res.PerPartition) || res.PerPartition[i] != want {
				ok = false
				got := int64(-1)
				if i < len(res.PerPartition) {
					got = res.PerPartition[i]
				}
				res.FirstError = fmt.Sprintf("%s[%d]: consumed %d messages, the partition holds %d (all partitions: %v)",
					s.Topics[min(i/s.Partitions, len(s.Topics)-1)], i%s.Partitions, got, want, res.PerPartition)
				break
			}
		}
	}
	if !ok && res.FirstError == "" {
		res.FirstError = fmt.Sprintf("%d of %d messages accounted for", res.Messages, s.Count)
	}
	return res, ok
}

// Wait blocks until t is done or ctx ends.
func Wait(ctx context.Context, t *Tally) error {
	select {
	case <-t.Done():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("after %d of %d messages: %w", t.Count(), t.spec.Count, ctx.Err())
	}
}

// FetchMaxWait is the consumers' fetch.max.wait (how long a broker may hold
// a fetch that has less than min bytes), the same for every client.
const FetchMaxWait = 100 * time.Millisecond

// printVersion prints, as JSON, the versions of the modules this client
// program links (the harness records them next to the figures).
func printVersion(c Client) {
	v := map[string]string{}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v["go"] = bi.GoVersion
		for _, d := range bi.Deps {
			if d.Replace != nil {
				v[d.Path] = d.Version + " => " + d.Replace.Path
			} else {
				v[d.Path] = d.Version
			}
		}
	}
	if c.Library != nil {
		v["library"] = c.Library()
	}
	line, _ := json.Marshal(v)
	fmt.Println(string(line))
}
