package produce

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/wire"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// produceSniffer decodes the Produce requests a client writes to its
// connections (a cluster.Config's Conn.Dialer), so that a test sees what
// went on the wire to the real brokers: the topics and partitions of each
// request.
type produceSniffer struct {
	mu       sync.Mutex
	requests [][]kmsg.ProduceRequestTopic // topics of each request (Records dropped)
	err      error                        // the first frame that did not decode
}

func (s *produceSniffer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &sniffedConn{Conn: c, s: s}, nil
}

// sniffedConn passes writes through and decodes the request frames in them.
type sniffedConn struct {
	net.Conn
	s   *produceSniffer
	mu  sync.Mutex
	buf []byte // written bytes not yet decoded: a partial frame
}

func (c *sniffedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.buf = append(c.buf, p...)
	for len(c.buf) >= 4 {
		size := int(binary.BigEndian.Uint32(c.buf))
		if len(c.buf) < 4+size {
			break
		}
		c.s.frame(c.buf[4 : 4+size])
		c.buf = c.buf[4+size:]
	}
	c.buf = slices.Clip(c.buf)
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// frame decodes one request frame if it is a Produce request: header (key,
// version, correlation id, client id; tagged fields from v9), then body.
func (s *produceSniffer) frame(f []byte) {
	if len(f) < 10 || int16(binary.BigEndian.Uint16(f)) != 0 {
		return
	}
	req := kmsg.NewPtrProduceRequest()
	req.Version = int16(binary.BigEndian.Uint16(f[2:]))
	clientID := int(int16(binary.BigEndian.Uint16(f[8:])))
	body := f[10+max(clientID, 0):]
	var err error
	if req.IsFlexible() {
		// Header tagged fields: a count, then (tag, size, data) each.
		n, l := binary.Uvarint(body)
		body = body[max(l, 0):]
		for range n {
			_, l1 := binary.Uvarint(body)
			size, l2 := binary.Uvarint(body[max(l1, 0):])
			if l1 <= 0 || l2 <= 0 || uint64(len(body)-l1-l2) < size {
				err = errors.New("bad header tags")
				break
			}
			body = body[l1+l2+int(size):]
		}
	}
	if err == nil {
		err = req.ReadFrom(body)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.err == nil {
			s.err = fmt.Errorf("decoding a Produce v%d request: %w", req.Version, err)
		}
		return
	}
	for i := range req.Topics {
		for j := range req.Topics[i].Partitions {
			req.Topics[i].Partitions[j].Records = nil
		}
	}
	s.requests = append(s.requests, req.Topics)
}

// TestManyTopics: one producer writes to 3 topics of 4 partitions from
// several goroutines at once. Every message is acknowledged, at the offset
// where an independent reader (kcat, librdkafka) finds it; each goroutine's
// messages to a partition keep their order; and Produce requests carry
// batches of several topics, each topic once.
func TestManyTopics(t *testing.T) {
	tc := testinstance.Shared()
	cl := testhelp.NewCluster(t, nil)
	const ntopics, parts, goroutines, each = 3, 4, 6, 4000
	topics := make([]string, ntopics)
	for i := range topics {
		topics[i] = newTopic(t, tc, cl, parts)
	}
	sniff := &produceSniffer{}
	pcl := testhelp.NewCluster(t, tc, cluster.Config{Conn: wire.Options{Dialer: sniff.dial}})
	// The view learns every topic's leaders before the first message, so
	// that all topics can be sent from the start: otherwise each becomes
	// sendable at its own metadata refresh, and the first topic's batches
	// may all have gone, alone, before the others could join them (1 run
	// in 5 sent only one-topic requests).
	if err := pcl.RefreshTopics(testhelp.Ctx(t, 10*time.Second), topics...); err != nil {
		t.Fatal(err)
	}
	cfg := testhelp.ProducerConfig()
	cfg.BatchBytes = 4 << 10 // many batches per partition, so many requests
	p := newProducer(t, pcl, cfg)

	rep := testhelp.NewReports(goroutines * each)
	produceConcurrently(t, p, goroutines, each, rep.Done, func(g, i int) *engine.Message {
		// Every goroutine writes to every partition of every topic,
		// each from a different starting point.
		k := g + i
		return msg(topics[k%ntopics], int32(k/ntopics%parts), fmt.Sprintf("%d:%d", g, i))
	})()
	rep.Wait(t, 2*time.Minute)
	if errs := rep.Errors(); len(errs) > 0 {
		t.Fatalf("%d messages failed, first: %v", len(errs), errs[0])
	}

	// The reports: every partition's offsets run 0, 1, 2, ... in report
	// order, and each goroutine's messages keep their order.
	byValue := map[string]*engine.Message{}
	for _, topic := range topics {
		for part := int32(0); part < parts; part++ {
			acked := rep.AckedOf(topic, part)
			if len(acked) == 0 {
				t.Fatalf("%s/%d: no message acknowledged", topic, part)
			}
			last := map[int]int{}
			for j, m := range acked {
				if m.Topic != topic || m.Partition != part || m.Offset != int64(j) {
					t.Fatalf("%s/%d: report %d is %s/%d at offset %d", topic, part, j, m.Topic, m.Partition, m.Offset)
				}
				var g, i int
				if _, err := fmt.Sscanf(string(m.Value), "%d:%d", &g, &i); err != nil {
					t.Fatalf("bad value %q", m.Value)
				}
				if prev, ok := last[g]; ok && i <= prev {
					t.Fatalf("%s/%d: goroutine %d message %d acknowledged after %d", topic, part, g, i, prev)
				}
				last[g] = i
				byValue[topic+" "+string(m.Value)] = m
			}
		}
	}

	// An independent reader finds each message where its report said.
	read := 0
	for _, topic := range topics {
		out := testhelp.Kcat(t, tc, "", "-C", "-t", topic, "-e", "-q", "-f", "%p %o %s\n")
		for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			var part int32
			var off int64
			var value string
			if _, err := fmt.Sscanf(line, "%d %d %s", &part, &off, &value); err != nil {
				t.Fatalf("kcat line %q: %v", line, err)
			}
			m := byValue[topic+" "+value]
			if m == nil {
				t.Fatalf("kcat read %q at %s/%d offset %d: never acknowledged (or read twice)", value, topic, part, off)
			}
			if m.Partition != part || m.Offset != off {
				t.Fatalf("%s %q: acknowledged at %d/%d, kcat read it at %d/%d", topic, value, m.Partition, m.Offset, part, off)
			}
			delete(byValue, topic+" "+value)
			read++
		}
	}
	if read != goroutines*each || len(byValue) != 0 {
		t.Fatalf("kcat read %d messages, want %d (%d acknowledged ones missing)", read, goroutines*each, len(byValue))
	}

	// The wire: requests group batches by topic, each topic and partition
	// once, and carry several topics.
	sniff.mu.Lock()
	defer sniff.mu.Unlock()
	if sniff.err != nil {
		t.Fatal(sniff.err)
	}
	hist := map[int]int{} // topics per request -> requests
	most := 0
	batches := map[engine.TopicPartition]int{}
	for _, req := range sniff.requests {
		seen := map[string]bool{}
		for _, rt := range req {
			if seen[rt.Topic] {
				t.Fatalf("a Produce request names topic %s twice", rt.Topic)
			}
			seen[rt.Topic] = true
			ps := map[int32]bool{}
			for _, rp := range rt.Partitions {
				if ps[rp.Partition] {
					t.Fatalf("a Produce request carries two batches of %s/%d", rt.Topic, rp.Partition)
				}
				ps[rp.Partition] = true
				batches[engine.TopicPartition{Topic: rt.Topic, Partition: rp.Partition}]++
			}
		}
		hist[len(req)]++
		most = max(most, len(req))
	}
	t.Logf("%d Produce requests; requests by number of topics: %v", len(sniff.requests), hist)
	for _, topic := range topics {
		for part := int32(0); part < parts; part++ {
			if batches[engine.TopicPartition{Topic: topic, Partition: part}] == 0 {
				t.Fatalf("no Produce request on the wire carried %s/%d", topic, part)
			}
		}
	}
	if most < 2 {
		t.Fatalf("no Produce request carried more than %d topic(s): %v", most, hist)
	}
}

// TestSequenceHoleAcrossTopics: the producer ID and its reset are shared by
// all topics, the sequences are per topic and partition. A hole in one
// partition's sequence (as a batch that timed out unsent leaves) makes the
// broker refuse the next batch (OUT_OF_ORDER_SEQUENCE_NUMBER); the producer
// gets a new producer ID, and every partition of every topic moves to it
// when nothing of it is in flight, restarting its sequence at 0. Nothing is
// lost, duplicated or reordered, and the broker accepted every batch's
// sequence (it checks them) under each producer ID.
func TestSequenceHoleAcrossTopics(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	const ntopics, parts, goroutines, each = 3, 2, 3, 3000
	topics := make([]string, ntopics)
	for i := range topics {
		topics[i] = newTopic(t, nil, cl, parts)
	}
	cfg := testhelp.ProducerConfig()
	cfg.BatchBytes = 2 << 10      // many batches, some in flight at the reset
	cfg.Linger = time.Millisecond // batches leave soon after they open: more in flight at the reset
	p := newProducer(t, cl, cfg)

	rep := testhelp.NewReports(goroutines*each + 1 + ntopics*parts)
	var ok atomic.Int64
	done := func(m *engine.Message, err error) {
		if err == nil {
			ok.Add(1)
		}
		rep.Done(m, err)
	}
	wait := produceConcurrently(t, p, goroutines, each, done, func(g, i int) *engine.Message {
		k := g + i
		return msg(topics[k%ntopics], int32(k/ntopics%parts), fmt.Sprintf("%d:%05d", g, i))
	})
	testhelp.WaitUntil(t, 30*time.Second, "a third of the messages acknowledged", func() bool { return ok.Load() > goroutines*each/3 })
	// The hole: skip 7 sequence numbers of the first topic's partition 0.
	first := p.pid.Load()
	pt, err := p.partition(topics[0], 0)
	if err != nil {
		t.Fatal(err)
	}
	pt.mu.Lock()
	if pt.gen != first.gen {
		pt.mu.Unlock()
		t.Fatalf("%s/0 is on producer ID generation %d, the producer on %d", topics[0], pt.gen, first.gen)
	}
	pt.nextSeq = addSeq(pt.nextSeq, 7)
	pt.mu.Unlock()
	wait()
	// One more batch there, in case the hole came after its last one,
	// and Flush: the broker has refused a batch and the producer moved
	// to a new ID.
	mustProduce(t, p, msg(topics[0], 0, "z"), done)
	if err := p.Flush(testhelp.Ctx(t, 2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if errs := rep.Errors(); len(errs) > 0 {
		t.Fatalf("%d messages failed, first: %v", len(errs), errs[0])
	}
	second := p.pid.Load().id
	if second == first.id {
		t.Fatalf("still producer ID %d after a sequence hole", second)
	}
	// One more message to every partition, with nothing in flight: each
	// is written under the new ID.
	for _, topic := range topics {
		for part := int32(0); part < parts; part++ {
			mustProduce(t, p, msg(topic, part, "z"), done)
		}
	}
	rep.Wait(t, time.Minute)
	if errs := rep.Errors(); len(errs) > 0 {
		t.Fatalf("%d messages failed, first: %v", len(errs), errs[0])
	}

	for _, topic := range topics {
		for part := int32(0); part < parts; part++ {
			want := rep.AckedOf(topic, part)
			got := fetchAll(t, cl, topic, part, len(want))
			if len(got) != len(want) {
				t.Fatalf("%s/%d: %d records, %d acknowledged", topic, part, len(got), len(want))
			}
			// Runs of batches under each producer ID: first the
			// old one, then the new one, never back; within a run
			// base sequences count the records from 0.
			pids := []int64{got[0].ProducerID}
			runStart := 0
			for i, r := range got {
				if string(r.Value) != string(want[i].Value) || want[i].Offset != r.Offset {
					t.Fatalf("%s/%d offset %d: %q, acknowledged %q at %d", topic, part, r.Offset, r.Value, want[i].Value, want[i].Offset)
				}
				if r.ProducerID != pids[len(pids)-1] {
					pids = append(pids, r.ProducerID)
					runStart = i
				}
				if i == 0 || r.BaseSequence != got[i-1].BaseSequence || r.ProducerID != got[i-1].ProducerID {
					if r.BaseSequence != int32(i-runStart) {
						t.Fatalf("%s/%d offset %d: a batch of producer ID %d with base sequence %d, want %d", topic, part, i, r.ProducerID, r.BaseSequence, i-runStart)
					}
				}
			}
			if len(pids) != 2 || pids[0] != first.id || pids[1] != second {
				t.Fatalf("%s/%d: producer IDs %v in the log, want %d then %d", topic, part, pids, first.id, second)
			}
		}
	}
}

// TestDeletedTopic: a topic deleted while the producer writes to it and to
// another fails its messages at the delivery timeout with an error that
// names the topic, and the other topic goes on.
func TestDeletedTopic(t *testing.T) {
	tc := testinstance.Shared()
	cl := testhelp.NewCluster(t, nil)
	doomed := newTopic(t, tc, cl, 1)
	other := newTopic(t, tc, cl, 1)
	cfg := testhelp.ProducerConfig()
	cfg.DeliveryTimeout = 2 * time.Second // the deleted topic's failure, without waiting two minutes
	p := newProducer(t, cl, cfg)

	rep := testhelp.NewReports(2)
	mustProduce(t, p, msg(doomed, 0, "before"), rep.Done)
	mustProduce(t, p, msg(other, 0, "before"), rep.Done)
	rep.Wait(t, 30*time.Second)
	if errs := rep.Errors(); len(errs) > 0 {
		t.Fatal(errs[0])
	}

	if err := tc.DeleteTopic(testhelp.Ctx(t, 60*time.Second), doomed); err != nil {
		t.Fatal(err)
	}
	testhelp.WaitUntil(t, 30*time.Second, "the metadata to lose "+doomed, func() bool {
		if err := cl.RefreshTopics(testhelp.Ctx(t, 10*time.Second), doomed); err != nil {
			return false
		}
		_, err := cl.Snapshot().Topic(doomed)
		return errors.Is(err, kerr.ErrUnknownTopic)
	})
	const n = 10
	rep = testhelp.NewReports(2 * n)
	start := time.Now()
	for i := range n {
		mustProduce(t, p, msg(doomed, 0, fmt.Sprint("after-", i)), rep.Done)
		mustProduce(t, p, msg(other, 0, fmt.Sprint("after-", i)), rep.Done)
	}
	rep.Wait(t, 30*time.Second)
	elapsed := time.Since(start)
	for m, err := range rep.Results() {
		switch {
		case m.Topic == other && err != nil:
			t.Fatalf("%s (not deleted) %q: %v", other, m.Value, err)
		case m.Topic == doomed && (!errors.Is(err, kerr.ErrDeliveryTimeout) || !strings.Contains(err.Error(), doomed+"/0")):
			t.Fatalf("%s (deleted) %q: %v; want ErrDeliveryTimeout naming %s/0", doomed, m.Value, err, doomed)
		}
	}
	if got := len(rep.AckedOf(other, 0)); got != n {
		t.Fatalf("%s: %d acknowledged, want %d", other, got, n)
	}
	if elapsed < cfg.DeliveryTimeout {
		t.Fatalf("the deleted topic's messages failed after %v, before the delivery timeout", elapsed)
	}
	t.Logf("deleted topic: %v", rep.Errors()[0])
}

// TestTopicLookup: the cache in front of the topic map (recentTopics)
// returns each name's own table, whether the name is the string the table
// was made with or a copy, with many more topics than slots (so slots are
// shared and overwritten).
func TestTopicLookup(t *testing.T) {
	names := make([]string, 1000)
	for i := range names {
		names[i] = fmt.Sprintf("topic-%d", i)
	}
	p := offlineProducer(testhelp.ProducerConfig(), names, 1)
	defer p.cancel()
	tables := *p.topics.Load()
	for round := range 3 {
		for i, name := range names {
			if round == 1 {
				name = strings.Clone(name) // same name, other bytes
			}
			if got := p.lookup(name); got != tables[names[i]] {
				t.Fatalf("round %d: lookup(%q) returned the table of %v", round, name, got)
			}
		}
	}
	if got := p.lookup("topic-1000"); got != nil {
		t.Fatalf("lookup of an unknown topic returned the table of %q", got.name)
	}
}

// TestBuildGroupsByTopic: a request's batches, collected in any order, go
// out grouped by topic, each topic once, partitions in order, and each
// item knows where it sits (where its answer is expected). Building the
// next request in the same request object allocates nothing.
func TestBuildGroupsByTopic(t *testing.T) {
	cfg := testhelp.ProducerConfig()
	cfg.Idempotent = false // no producer ID: the request is built offline
	names := []string{"c", "a", "b", "d", "e", "f", "g", "h", "i", "j"}
	p := offlineProducer(cfg, names, 3)
	defer p.cancel()
	// One encoded batch per partition, offered in a scrambled order.
	var items []reqItem
	for _, pt := range p.partitions() {
		b := p.newBatch(time.Now(), 1024, 4)
		b.rb.Append(0, nil, []byte("v"), nil)
		b.msgs = append(b.msgs, pending{m: msg(pt.topic, pt.id, "v")})
		items = append(items, reqItem{pt: pt, b: b})
	}
	order := make([]int, len(items))
	for i := range order {
		order[i] = (i * 7) % len(items) // 7 is prime to 30: a permutation
	}
	req := &request{kreq: kmsg.NewPtrProduceRequest()}
	build := func() {
		for _, i := range order {
			req.add(items[i].pt, items[i].b)
		}
		if rep := p.build(req); len(rep) != 0 {
			t.Fatalf("%d batches failed to encode", len(rep))
		}
	}
	build()
	kt := req.kreq.Topics
	sorted := slices.Sorted(slices.Values(names))
	if len(kt) != len(names) {
		t.Fatalf("%d topic entries, want %d", len(kt), len(names))
	}
	for i, rt := range kt {
		if rt.Topic != sorted[i] || len(rt.Partitions) != 3 {
			t.Fatalf("entry %d: topic %q with %d partitions, want %q with 3", i, rt.Topic, len(rt.Partitions), sorted[i])
		}
		for j, rp := range rt.Partitions {
			if rp.Partition != int32(j) || len(rp.Records) == 0 {
				t.Fatalf("%s: entry %d is partition %d with %d bytes", rt.Topic, j, rp.Partition, len(rp.Records))
			}
		}
	}
	for _, it := range req.items {
		if kt[it.ti].Topic != it.pt.topic || kt[it.ti].Partitions[it.pi].Partition != it.pt.id {
			t.Fatalf("item %s/%d says it sits at %d/%d", it.pt.topic, it.pt.id, it.ti, it.pi)
		}
	}
	req.reset()
	if allocs := testing.AllocsPerRun(100, func() { build(); req.reset() }); allocs != 0 {
		t.Fatalf("building a request allocates %v times", allocs)
	}
}

// TestTopicTables: buffers for a thousand topics, created through the
// producer's slow path (new topics wait unpublished, then the map is
// rebuilt with them), are each found again, by the same string or a copy,
// and the map is rebuilt a bounded number of times. The topics do not
// exist; no message is sent.
func TestTopicTables(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	p := newProducer(t, cl, testhelp.ProducerConfig())
	const n = 1000
	names := make([]string, n)
	pts := make([]*partition, n)
	publishes, last := 0, 0
	start := time.Now()
	for i := range names {
		names[i] = fmt.Sprintf("gokafka-no-such-topic-%d", i)
		pt, err := p.partition(names[i], int32(i%3))
		if err != nil {
			t.Fatal(err)
		}
		if pt.topic != names[i] || pt.id != int32(i%3) {
			t.Fatalf("partition(%q, %d) gave %s/%d", names[i], i%3, pt.topic, pt.id)
		}
		pts[i] = pt
		if m := len(*p.topics.Load()); m != last {
			publishes++
			last = m
		}
	}
	t.Logf("%d topics in %v, map rebuilt %d times", n, time.Since(start), publishes)
	if publishes > 60 {
		t.Fatalf("the map of topics was rebuilt %d times for %d topics", publishes, n)
	}
	for round := range 2 {
		for i, name := range names {
			if round == 1 {
				name = strings.Clone(name)
			}
			pt, err := p.partition(name, int32(i%3))
			if err != nil || pt != pts[i] {
				t.Fatalf("round %d: %s/%d is another buffer (%v)", round, name, i%3, err)
			}
		}
	}
	p.mu.Lock()
	total := len(*p.topics.Load()) + len(p.unpublished)
	p.mu.Unlock()
	if total != n {
		t.Fatalf("%d topic tables, want %d", total, n)
	}
}
