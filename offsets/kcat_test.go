package offsets

import (
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// Cross-checks with kcat (librdkafka), a client nobody here wrote.

// TestKcatCommittedOffsets: kcat produces, gokafka lists and commits, kcat's
// group consumer resumes from gokafka's commit, and gokafka fetches the
// offset kcat commits when it leaves.
func TestKcatCommittedOffsets(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 1)
	g := newGroup(t, cl)
	ctx := testhelp.Ctx(t, 90*time.Second)

	var msgs strings.Builder
	for i := range 10 {
		fmt.Fprintf(&msgs, "m%d\n", i)
	}
	testhelp.Kcat(t, nil, msgs.String(), "-P", "-t", topic, "-p", "0")
	if got, err := List(ctx, cl, tps(topic, 0), Latest); err != nil || got[part(topic, 0)] != 10 {
		t.Fatalf("List(Latest) after kcat produced 10 = %v, %v; want 10", got, err)
	}

	// We consumed 0..6: the commit is the next offset to read, 7.
	if err := g.Commit(ctx, on(topic, map[int32]Commit{0: {Offset: 7, LeaderEpoch: -1, Metadata: "gokafka"}}), Generation{}); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	// kcat's group consumer must start at 7. Without a committed offset
	// it would start at the end (auto.offset.reset=latest) and print
	// nothing.
	out := testhelp.Kcat(t, nil, "", "-G", g.ID(), "-c", "3", "-e", "-q", "-f", "%o %s\n", topic)
	if want := "7 m7\n8 m8\n9 m9\n"; out != want {
		t.Fatalf("kcat consumed from the committed offset:\n%s\nwant:\n%s", out, want)
	}
	// kcat commits its position (10) as it leaves the group.
	testhelp.Eventually(t, 20*time.Second, "kcat's commit", func() error {
		got, err := g.Fetch(ctx, tps(topic, 0))
		if err != nil {
			return err
		}
		if c := got[part(topic, 0)]; c.Offset != 10 {
			return fmt.Errorf("committed %+v, want offset 10", c)
		}
		return nil
	})
}

// TestKcatListForTime compares List for a time with librdkafka's
// offsetsForTimes (kcat -o s@TIME).
func TestKcatListForTime(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 1)
	base := time.Now().Add(-time.Hour).Truncate(time.Second).UnixMilli()
	produce(t, cl, topic, 0, []int64{base, base + 1000, base + 2000, base + 3000})
	ctx := testhelp.Ctx(t, 60*time.Second)
	at := base + 1500
	got, err := List(ctx, cl, tps(topic, 0), at)
	if err != nil || got[part(topic, 0)] != 2 {
		t.Fatalf("List(base+1500) = %v, %v; want 2", got, err)
	}
	out := testhelp.Kcat(t, nil, "", "-C", "-t", topic, "-p", "0", "-o", fmt.Sprintf("s@%d", at), "-c", "1", "-e", "-q", "-f", "%o %T\n")
	if want := fmt.Sprintf("2 %d\n", base+2000); out != want {
		t.Fatalf("kcat -o s@%d read %q, want %q", at, out, want)
	}
}

// TestListReadCommitted: a transaction kcat keeps open holds the last
// stable offset back; read_uncommitted sees past it.
func TestListReadCommitted(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	topic := testhelp.CreateTopic(t, nil, 1)
	produceN(t, cl, topic, 0, 2) // offsets 0, 1: not transactional
	ctx := testhelp.Ctx(t, 90*time.Second)

	// kcat sends stdin's lines in one transaction, committed when stdin
	// closes.
	cmd := exec.CommandContext(ctx, "kcat", "-b", testinstance.Shared().BootstrapServers(), "-P", "-t", topic, "-p", "0",
		"-X", "transactional.id="+testhelp.UniqueName(t, "txn"))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("kcat: %v", err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	// kcat reads stdin 64 KiB at a time: a long third line makes it send
	// the first two without waiting for the end of the input.
	io.WriteString(stdin, "t0\nt1\n"+strings.Repeat("x", 70000)+"\n")

	latest := func(iso Isolation) int64 {
		got, err := List(ctx, cl, tps(topic, 0), Latest, WithIsolation(iso))
		if err != nil {
			t.Fatalf("List(Latest, isolation %d): %v", iso, err)
		}
		return got[part(topic, 0)]
	}
	testhelp.Eventually(t, 30*time.Second, "transactional messages written", func() error {
		if n := latest(ReadUncommitted); n < 4 {
			return fmt.Errorf("read_uncommitted end offset %d, want at least 4", n)
		}
		return nil
	})
	if n := latest(ReadCommitted); n != 2 {
		t.Fatalf("read_committed end offset with the transaction open = %d, want 2 (its first offset)", n)
	}

	stdin.Close() // commit
	if err := cmd.Wait(); err != nil {
		t.Fatalf("kcat: %v\n%s", err, stderr.String())
	}
	// Committed: the commit marker takes offset 5; both levels end at 6.
	testhelp.Eventually(t, 30*time.Second, "transaction committed", func() error {
		if n := latest(ReadCommitted); n != 6 {
			return fmt.Errorf("read_committed end offset %d, want 6", n)
		}
		return nil
	})
	if n := latest(ReadUncommitted); n != 6 {
		t.Fatalf("read_uncommitted end offset after commit = %d, want 6", n)
	}
}
