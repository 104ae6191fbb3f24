package fetch

import (
	"fmt"
	"testing"
	"time"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/records"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// TestCompacted reads a compacted topic whose log the cleaner has really
// compacted: offsets have gaps (and batches may be emptied), positions
// must still advance to the end, and the latest value of every key must be
// there.
func TestCompacted(t *testing.T) {
	tc := testinstance.Shared()
	cl := testhelp.NewCluster(t, tc)
	topic := testhelp.CreateTopic(t, tc, 1,
		"cleanup.policy", "compact",
		"segment.ms", "100",
		"min.cleanable.dirty.ratio", "0.01",
		"min.compaction.lag.ms", "0",
		"delete.retention.ms", "100",
	)
	const keys = 10
	latest := map[string]string{}
	var rs []rec
	for i := range 2000 {
		// Every third record has a key of its own and survives
		// compaction; the others overwrite ten keys: many gaps.
		r := rec{key: fmt.Sprintf("key-%d", i%keys), value: fmt.Sprintf("v%d", i)}
		if i%3 == 0 {
			r.key = fmt.Sprintf("unique-%d", i)
		}
		rs = append(rs, r)
		latest[r.key] = r.value
	}
	produce(t, cl, topic, 0, records.CodecNone, 50, rs)
	produced := int64(len(rs))
	p0 := part(topic, 0)

	// readAll consumes the partition from 0 to its high watermark.
	readAll := func() *partitionLog {
		f := newFetcher(t, cl, testhelp.FetcherConfig())
		if err := f.Assign(testhelp.Ctx(t, time.Minute), []engine.Position{at(topic, 0, 0)}); err != nil {
			t.Fatal(err)
		}
		logs := partitionLogs{}
		consume(t, f, time.Minute, logs, func(l partitionLogs) bool {
			p := l[p0]
			return p != nil && p.hw > 0 && p.next >= p.hw
		})
		f.Close()
		return logs[p0]
	}

	// The cleaner runs every log.cleaner.backoff.ms (15s by default) on
	// segments that are no longer active; a record produced after
	// segment.ms rolls the active one.
	deadline := time.Now().Add(3 * time.Minute)
	var l *partitionLog
	for n := 0; ; n++ {
		produce(t, cl, topic, 0, records.CodecNone, 1, []rec{{key: "filler", value: fmt.Sprint(n)}})
		latest["filler"] = fmt.Sprint(n)
		produced++
		l = readAll()
		if int64(len(l.msgs)) < l.next*2/3 {
			break // compacted
		}
		if time.Now().After(deadline) {
			t.Fatalf("the log was not compacted in time: %d messages up to offset %d", len(l.msgs), l.next)
		}
		if err := cl.Sleep(testhelp.Ctx(t, time.Minute), 500*time.Millisecond); err != nil {
			t.Fatal(err)
		}
	}
	gaps := 0
	last := map[string]string{}
	for i, m := range l.msgs {
		if i > 0 && m.Offset != l.msgs[i-1].Offset+1 {
			gaps++
		}
		last[string(m.Key)] = string(m.Value)
	}
	t.Logf("after compaction: %d of %d offsets hold a message, %d gaps, next %d", len(l.msgs), l.next, gaps, l.next)
	if gaps < 100 {
		t.Fatalf("only %d offset gaps after compaction", gaps)
	}
	if l.next != produced || l.hw != produced {
		t.Fatalf("NextOffset %d, high watermark %d; want both %d", l.next, l.hw, produced)
	}
	for k, v := range latest {
		if k == "filler" {
			continue // later fillers may still be arriving in the active segment; checked below
		}
		if last[k] != v {
			t.Fatalf("key %s: last value %q, want %q", k, last[k], v)
		}
	}
	if last["filler"] != latest["filler"] {
		t.Fatalf("filler: last value %q, want %q", last["filler"], latest["filler"])
	}

	// Starting inside a gap: the first message is the next one kept.
	for i := 1; i < len(l.msgs); i++ {
		if gap := l.msgs[i].Offset - l.msgs[i-1].Offset; gap > 1 {
			from := l.msgs[i-1].Offset + 1
			f := newFetcher(t, cl, testhelp.FetcherConfig())
			if err := f.Assign(testhelp.Ctx(t, time.Minute), []engine.Position{at(topic, 0, from)}); err != nil {
				t.Fatal(err)
			}
			logs := partitionLogs{}
			consume(t, f, time.Minute, logs, haveCounts(map[engine.TopicPartition]int{p0: 1}))
			if got := logs[p0].msgs[0].Offset; got != l.msgs[i].Offset {
				t.Fatalf("from offset %d (a gap): first message at %d, want %d", from, got, l.msgs[i].Offset)
			}
			break
		}
	}
}
