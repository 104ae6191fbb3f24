package fetch

import (
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/records"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// sessionBroker is a fake broker of one topic whose partitions hold
// sizes[p] records (values as value(p, i), in batches of 10), answering
// Fetch with fetch sessions as Kafka does, or misbehaving as mode says:
//
//   - "sessions": Kafka's behaviour: a full request (epoch 0) opens session
//     7; an incremental one updates the partitions it lists, forgets the
//     forgotten ones, and is answered for every partition of the session
//     that has records.
//   - "none": no session is ever made (session ID 0 in every answer), as
//     from a broker whose session cache is full.
//   - "evict": as "sessions", but the third incremental request is
//     answered FETCH_SESSION_ID_NOT_FOUND (the broker evicted the
//     session), after which the old session is unknown.
//   - "refuse": every request that asks for a session (epoch 0 or more) is
//     answered FETCH_SESSION_ID_NOT_FOUND: only sessionless fetches work.
//   - "v6": the broker speaks Fetch up to v6, which has no sessions.
type sessionBroker struct {
	*testhelp.FakeBroker
	topic string
	sizes []int
	mode  string

	mu     sync.Mutex
	reqs   []seenFetch
	id     int32
	epoch  int32           // the next incremental epoch expected
	cached map[int32]int64 // the session's partitions and fetch offsets
	incrN  int
}

// seenFetch is what the broker saw of one Fetch request.
type seenFetch struct {
	version          int16
	id, epoch        int32
	parts, forgotten int
	err              int16 // what it answered at request level
}

func startSessionBroker(t *testing.T, mode string, sizes ...int) *sessionBroker {
	sb := &sessionBroker{topic: "s", sizes: sizes, mode: mode, cached: map[int32]int64{}}
	sb.FakeBroker = testhelp.StartFakeBroker(t, sb.handle)
	sb.AddTopic(sb.topic, int32(len(sizes)))
	return sb
}

func (sb *sessionBroker) handle(c *testhelp.FakeConn, r *testhelp.FakeRequest) bool {
	switch req := r.Body.(type) {
	case *kmsg.ApiVersionsRequest:
		if sb.mode != "v6" {
			return false
		}
		resp := c.Broker().ApiVersions(r)
		testhelp.CapAPIVersion(resp, 1, 6) // Fetch
		c.Respond(r, resp)
		return true
	case *kmsg.FetchRequest:
		c.Respond(r, sb.fetch(r.Version, req))
		return true
	}
	return false
}

func (sb *sessionBroker) fetch(version int16, req *kmsg.FetchRequest) *kmsg.FetchResponse {
	sb.mu.Lock()
	seen := seenFetch{version: version, id: req.SessionID, epoch: req.SessionEpoch}
	for _, t := range req.Topics {
		seen.parts += len(t.Partitions)
	}
	for _, t := range req.ForgottenTopics {
		seen.forgotten += len(t.Partitions)
	}
	resp := kmsg.NewPtrFetchResponse()
	fail := func(code int16) *kmsg.FetchResponse {
		seen.err = code
		sb.reqs = append(sb.reqs, seen)
		sb.mu.Unlock()
		resp.ErrorCode = code
		return resp
	}
	listed := map[int32]int64{}
	for _, t := range req.Topics {
		for _, p := range t.Partitions {
			listed[p.Partition] = p.FetchOffset
		}
	}
	serve := listed // without a session: what the request lists
	incremental := false
	switch {
	case version < 7 || req.SessionEpoch < 0 || sb.mode == "none":
	case sb.mode == "refuse":
		return fail(70)
	case req.SessionEpoch == 0:
		sb.id, sb.epoch, sb.cached = 7, 1, listed
		resp.SessionID = sb.id
		serve = sb.cached
	default:
		sb.incrN++
		if (sb.mode == "evict" && sb.incrN == 3) || req.SessionID != sb.id {
			sb.id = 0       // evicted: unknown from now on
			return fail(70) // FETCH_SESSION_ID_NOT_FOUND
		}
		if req.SessionEpoch != sb.epoch {
			return fail(71) // INVALID_FETCH_SESSION_EPOCH
		}
		sb.epoch++
		for p, o := range listed {
			sb.cached[p] = o
		}
		for _, t := range req.ForgottenTopics {
			for _, p := range t.Partitions {
				delete(sb.cached, p)
			}
		}
		resp.SessionID, serve, incremental = sb.id, sb.cached, true
	}
	sb.reqs = append(sb.reqs, seen)
	rt := kmsg.NewFetchResponseTopic()
	rt.Topic = sb.topic
	data := false
	for p, o := range serve {
		n := int64(sb.sizes[p])
		if incremental && o >= n {
			continue // nothing new: an incremental answer leaves it out
		}
		rp := kmsg.NewFetchResponseTopicPartition()
		rp.Partition, rp.HighWatermark, rp.LastStableOffset = p, n, n
		if o < n {
			rp.RecordBatches = sb.batch(p, o)
			data = true
		}
		rt.Partitions = append(rt.Partitions, rp)
	}
	sb.mu.Unlock()
	if len(rt.Partitions) > 0 {
		resp.Topics = append(resp.Topics, rt)
	}
	if !data {
		time.Sleep(20 * time.Millisecond) // the broker's max wait, shortened
	}
	return resp
}

// batch is the batch of partition p holding offset o: 10 records from o
// rounded down to a multiple of 10.
func (sb *sessionBroker) batch(p int32, o int64) []byte {
	base := o / 10 * 10
	rb := records.NewBuilder(records.CodecNone, 0)
	for i := base; i < min(base+10, int64(sb.sizes[p])); i++ {
		rb.Append(time.Now().UnixMilli(), nil, []byte(value(p, int(i))), nil)
	}
	b, err := rb.Finish(nil, -1, -1, -1)
	if err != nil {
		panic(err)
	}
	binary.BigEndian.PutUint64(b, uint64(base))
	return b
}

func (sb *sessionBroker) seen() []seenFetch {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return append([]seenFetch(nil), sb.reqs...)
}

// consumeAll reads every partition of sb from 0 and checks every value,
// once and in order.
func (sb *sessionBroker) consumeAll(t *testing.T) {
	t.Helper()
	cl := testhelp.NewCluster(t, testinstance.Connect([]string{sb.Addr()}, ""))
	cfg := testhelp.FetcherConfig()
	cfg.PartitionMaxBytes = 1 // one batch per partition per answer: many requests
	f := newFetcher(t, cl, cfg)
	var pos []engine.Position
	want := map[engine.TopicPartition]int{}
	for p, n := range sb.sizes {
		pos = append(pos, at(sb.topic, int32(p), 0))
		want[part(sb.topic, int32(p))] = n
	}
	if err := f.Assign(testhelp.Ctx(t, time.Minute), pos); err != nil {
		t.Fatal(err)
	}
	logs := partitionLogs{}
	consume(t, f, time.Minute, logs, haveCounts(want))
	for p, n := range sb.sizes {
		var recs []rec
		for i := range n {
			recs = append(recs, rec{value: value(int32(p), i)})
		}
		tp := part(sb.topic, int32(p))
		checkValues(t, tp, logs[tp].msgs, recs, 0)
	}
}

// TestFetchSessionIncremental: against a broker with sessions, the first
// request is full and opens a session; the next ones are incremental, with
// the session's ID and consecutive epochs, and leave out partitions whose
// position did not move (here the ones read to their end).
func TestFetchSessionIncremental(t *testing.T) {
	testhelp.NoLeaks(t)
	sb := startSessionBroker(t, "sessions", 20, 300, 40)
	sb.consumeAll(t)
	reqs := sb.seen()
	if r := reqs[0]; r.id != 0 || r.epoch != 0 || r.parts != 3 {
		t.Fatalf("first request %+v: want a full one (id 0, epoch 0, 3 partitions)", r)
	}
	fewer := 0
	for i, r := range reqs[1:] {
		if r.err != 0 || r.id != 7 || r.epoch != int32(i+1) {
			t.Fatalf("request %d: %+v, want incremental in session 7 at epoch %d", i+1, r, i+1)
		}
		if r.parts < 3 {
			fewer++
		}
	}
	if fewer == 0 {
		t.Fatalf("no incremental request left out a partition: %+v", reqs)
	}
	t.Logf("%d requests, %d of them with fewer than 3 partitions", len(reqs), fewer)
}

// TestFetchSessionEvicted: the broker forgets the session mid-way
// (FETCH_SESSION_ID_NOT_FOUND): the next request is full and opens a new
// one, and no message is lost or repeated.
func TestFetchSessionEvicted(t *testing.T) {
	testhelp.NoLeaks(t)
	sb := startSessionBroker(t, "evict", 100, 100, 100)
	sb.consumeAll(t)
	reqs := sb.seen()
	at := -1
	for i, r := range reqs {
		if r.err == 70 {
			at = i
			break
		}
	}
	if at < 0 || at+1 >= len(reqs) {
		t.Fatalf("no request after the eviction: %+v", reqs)
	}
	if r := reqs[at+1]; r.id != 0 || r.epoch != 0 || r.parts == 0 {
		t.Fatalf("request after the eviction: %+v, want a full one opening a session", r)
	}
	for _, r := range reqs[at+2:] {
		if r.err != 0 || r.epoch <= 0 {
			t.Fatalf("requests after the new session: %+v", reqs[at+1:])
		}
	}
}

// TestFetchSessionNone: a broker that makes no session (ID 0 in every
// answer) gets full requests, each asking for one; and one that refuses
// sessions outright (an error to a full request) gets full requests without
// a session (epoch -1) from then on. Both are read to the end.
func TestFetchSessionNone(t *testing.T) {
	testhelp.NoLeaks(t)
	for _, mode := range []string{"none", "refuse", "v6"} {
		t.Run(mode, func(t *testing.T) {
			sb := startSessionBroker(t, mode, 30, 50)
			sb.consumeAll(t)
			reqs := sb.seen()
			for i, r := range reqs {
				var ok bool
				switch mode {
				case "none":
					ok = r.id == 0 && r.epoch == 0 && r.err == 0
				case "refuse":
					ok = (i == 0 && r.err == 70) || (i > 0 && r.id == 0 && r.epoch == -1 && r.err == 0)
				case "v6":
					ok = r.version <= 6 && r.err == 0
				}
				if !ok {
					t.Fatalf("request %d of %d: %+v", i, len(reqs), r)
				}
			}
			if mode == "refuse" && len(reqs) < 3 {
				t.Fatalf("%d requests: want more after the refusal", len(reqs))
			}
		})
	}
}

// TestFetchSessionRequestBytes measures, on the real cluster, the bytes of
// the Fetch requests of one fetcher that reads 12 or 240 partitions (20
// messages each) to their end and then polls the idle partitions for a
// while: as sent in fetch sessions, and as the full requests they stand for
// (the requests without sessions). Sessions must save bytes, and every
// message is read once.
func TestFetchSessionRequestBytes(t *testing.T) {
	for _, parts := range []int{12, 240} {
		t.Run(fmt.Sprint("partitions=", parts), func(t *testing.T) {
			tc := testinstance.Shared()
			cl := testhelp.NewCluster(t, tc)
			topic := testhelp.CreateTopic(t, tc, parts)
			const n = 20
			want := map[engine.TopicPartition]int{}
			var pos []engine.Position
			for p := range int32(parts) {
				var recs []rec
				for i := range n {
					recs = append(recs, rec{value: value(p, i)})
				}
				produce(t, cl, topic, p, records.CodecNone, n, recs)
				want[part(topic, p)] = n
				pos = append(pos, at(topic, p, 0))
			}
			var mu sync.Mutex
			var reqs, incr, sent, full int
			testOnRequest = func(_ int32, req, fullReq *kmsg.FetchRequest) {
				a, b := *req, *fullReq
				a.Version, b.Version = 12, 12
				mu.Lock()
				defer mu.Unlock()
				reqs++
				if req.SessionEpoch > 0 {
					incr++
				}
				sent += len(a.AppendTo(nil))
				full += len(b.AppendTo(nil))
			}
			defer func() { testOnRequest = nil }()
			f := newFetcher(t, cl, testhelp.FetcherConfig())
			if err := f.Assign(testhelp.Ctx(t, time.Minute), pos); err != nil {
				t.Fatal(err)
			}
			logs := partitionLogs{}
			consume(t, f, time.Minute, logs, haveCounts(want))
			mu.Lock()
			caughtUp := reqs
			mu.Unlock()
			// Idle polling: 30 more requests (each waits MaxWait on its
			// broker) with nothing new to read.
			deadline := time.Now().Add(30 * time.Second)
			for {
				mu.Lock()
				done := reqs >= caughtUp+30
				mu.Unlock()
				if done {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d requests after catching up, want 30", reqs-caughtUp)
				}
				time.Sleep(10 * time.Millisecond) // polling a counter
			}
			f.Close()
			for tp, l := range logs {
				if len(l.msgs) != n {
					t.Fatalf("%s: %d messages, want %d", tp, len(l.msgs), n)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			t.Logf("%d partitions: %d requests (%d incremental), %d bytes sent, %d as full requests (%.1f%%); per request %d vs %d",
				parts, reqs, incr, sent, full, 100*float64(sent)/float64(full), sent/reqs, full/reqs)
			if incr == 0 || sent >= full {
				t.Fatalf("fetch sessions saved nothing: %d requests, %d incremental, %d bytes against %d", reqs, incr, sent, full)
			}
		})
	}
}

// BenchmarkSessionRequest measures building a fetch session's incremental
// request from the full one of 240 partitions, 12 of which moved since the
// last request (the rest idle): what sessions add to each request on the
// client side. It allocates nothing once the session's lists have grown.
func BenchmarkSessionRequest(b *testing.B) {
	full := kmsg.NewPtrFetchRequest()
	for ti := range 10 {
		t := kmsg.NewFetchRequestTopic()
		t.Topic = fmt.Sprintf("topic-%02d", ti)
		for p := range int32(24) {
			pt := kmsg.NewFetchRequestTopicPartition()
			pt.Partition, pt.FetchOffset, pt.PartitionMaxBytes = p, 1000, 1<<20
			t.Partitions = append(t.Partitions, pt)
		}
		full.Topics = append(full.Topics, t)
	}
	ss := newSession()
	ss.request(full, false)
	ss.answered(&kmsg.FetchResponse{SessionID: 9})
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		for j := range 12 { // 12 partitions moved
			full.Topics[j%10].Partitions[j].FetchOffset += int64(i + 1)
		}
		req := ss.request(full, false)
		if n := len(req.Topics); n != 10 || req.SessionEpoch <= 0 {
			b.Fatalf("incremental request of %d topics at epoch %d", n, req.SessionEpoch)
		}
		ss.answered(&kmsg.FetchResponse{SessionID: 9})
	}
}

// TestSessionForgets: a partition the source stops fetching (unassigned,
// or its queue full) is forgotten in the next incremental request, and
// listed again in full when it comes back; unchanged partitions are left
// out, changed ones listed.
func TestSessionForgets(t *testing.T) {
	mk := func(offsets map[int32]int64) *kmsg.FetchRequest {
		full := kmsg.NewPtrFetchRequest()
		tt := kmsg.NewFetchRequestTopic()
		tt.Topic = "t"
		for p := range int32(3) {
			if o, ok := offsets[p]; ok {
				pt := kmsg.NewFetchRequestTopicPartition()
				pt.Partition, pt.FetchOffset, pt.PartitionMaxBytes = p, o, 1<<20
				tt.Partitions = append(tt.Partitions, pt)
			}
		}
		full.Topics = append(full.Topics, tt)
		return full
	}
	listed := func(req *kmsg.FetchRequest) (ps []int32, forgotten []int32) {
		for _, t := range req.Topics {
			for _, p := range t.Partitions {
				ps = append(ps, p.Partition)
			}
		}
		for _, t := range req.ForgottenTopics {
			forgotten = append(forgotten, t.Partitions...)
		}
		return ps, forgotten
	}
	ss := newSession()
	if req := ss.request(mk(map[int32]int64{0: 5, 1: 5, 2: 5}), false); req.SessionEpoch != 0 || len(req.Topics[0].Partitions) != 3 {
		t.Fatalf("first request: epoch %d, %d partitions", req.SessionEpoch, len(req.Topics[0].Partitions))
	}
	ss.answered(&kmsg.FetchResponse{SessionID: 3})
	for _, step := range []struct {
		offsets           map[int32]int64
		listed, forgotten string
	}{
		{map[int32]int64{0: 9, 1: 5}, "[0]", "[2]"},      // 0 moved, 1 idle, 2 dropped
		{map[int32]int64{0: 9, 1: 5}, "[]", "[]"},        // nothing changed
		{map[int32]int64{0: 9, 1: 5, 2: 5}, "[2]", "[]"}, // 2 back
	} {
		req := ss.request(mk(step.offsets), false)
		ps, fg := listed(req)
		if req.SessionID != 3 || req.SessionEpoch <= 0 || fmt.Sprint(ps) != step.listed || fmt.Sprint(fg) != step.forgotten {
			t.Fatalf("offsets %v: session %d epoch %d, listed %v forgotten %v; want listed %s forgotten %s",
				step.offsets, req.SessionID, req.SessionEpoch, ps, fg, step.listed, step.forgotten)
		}
		ss.answered(&kmsg.FetchResponse{SessionID: 3})
	}
}
