package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/gokafka/kafka/testhelp"
)

// lines are what the round trips carry: keys and values with spaces, tabs,
// '|', non-ASCII, an empty value, and a line without a key.
var lines = []string{
	"k1:hello world",
	"k2:tab\there",
	"k3:pipe|and=equals",
	"clé:välue ✓",
	"k5:",
	"no key at all",
	"k7:colon:inside",
}

// splitKey is the key and value gokafka produce -K : makes of a line (no
// key: nil, which kcat prints as -1 in %K).
func splitKey(l string) (key, value string, keyLen int) {
	if k, v, ok := strings.Cut(l, ":"); ok {
		return k, v, len(k)
	}
	return "", l, -1
}

// TestProduceKcatReads: what gokafka produce writes, kcat reads byte for
// byte — keys, values, headers — with every codec.
func TestProduceKcatReads(t *testing.T) {
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			name := topic(t, "1")
			r := gokafka(t, strings.Join(lines, "\n")+"\n", "produce", name, "-K", ":", "-H", "source=gokafka", "-H", "n=ü 1", "--codec", codec)
			r.ok(t, "produce")
			if r.stdout != "" {
				t.Fatalf("produce printed %q on a pipe", r.stdout)
			}
			out := testhelp.Kcat(t, nil, "", "-C", "-t", name, "-e", "-q", "-f", "%K|%k|%S|%s|%h|%o\n")
			got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(got) != len(lines) {
				t.Fatalf("kcat read %d messages, want %d:\n%s", len(got), len(lines), out)
			}
			for i, l := range lines {
				k, v, kl := splitKey(l)
				want := fmt.Sprintf("%d|%s|%d|%s|source=gokafka,n=ü 1|%d", kl, k, len(v), v, i)
				if got[i] != want {
					t.Errorf("message %d: kcat read %q, want %q", i, got[i], want)
				}
			}
		})
	}
}

// TestKcatProducesConsumeReads: what kcat writes, gokafka consume prints
// with a format string, and as JSON lines that parse; --sync, --acks 1 and
// -p produce what kcat reads back.
func TestKcatProducesConsumeReads(t *testing.T) {
	name := topic(t, "3")
	testhelp.Kcat(t, nil, strings.Join(lines, "\n")+"\n", "-P", "-t", name, "-K:", "-z", "zstd", "-H", "h1=v1", "-H", "h2=", "-p", "1")
	out := gokafka(t, "", "consume", name, "--from", "beginning", "-e", "-f", `%p %o %K|%k|%s|%h\n`).ok(t, "consume").stdout
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(got) != len(lines) {
		t.Fatalf("consume printed %d messages, want %d:\n%s", len(got), len(lines), out)
	}
	for i, l := range lines {
		k, v, _ := splitKey(l)
		want := fmt.Sprintf("1 %d %d|%s|%s|h1=v1,h2=", i, len(k), k, v)
		if got[i] != want {
			t.Errorf("message %d: consume printed %q, want %q", i, got[i], want)
		}
	}

	out = gokafka(t, "", "consume", name, "--from", "beginning", "-n", "3", "-o", "json").ok(t, "consume -o json").stdout
	sc := bufio.NewScanner(strings.NewReader(out))
	n := 0
	for sc.Scan() {
		var m struct {
			Topic     string
			Partition int32
			Offset    int64
			Timestamp int64
			Key       *string
			Value     *string
			Headers   []struct{ Key, Value string }
		}
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("consume -o json line %q: %v", sc.Text(), err)
		}
		k, v, _ := splitKey(lines[m.Offset])
		if m.Topic != name || m.Partition != 1 || m.Key == nil || *m.Key != k || m.Value == nil || *m.Value != v || m.Timestamp <= 0 ||
			len(m.Headers) != 2 || m.Headers[0].Key != "h1" || m.Headers[0].Value != "v1" {
			t.Fatalf("consume -o json: %s", sc.Text())
		}
		n++
	}
	if n != 3 {
		t.Fatalf("consume -n 3 -o json printed %d lines:\n%s", n, out)
	}

	// From an offset; and --sync --acks 1 -p 2, read back by kcat.
	out = gokafka(t, "", "consume", name, "--from", "5", "-p", "1", "-e").ok(t, "consume --from 5").stdout
	if out != "no key at all\ncolon:inside\n" {
		t.Fatalf("consume --from 5 printed %q", out)
	}
	gokafka(t, "a\nb\n", "produce", name, "--sync", "--acks", "1", "-p", "2").ok(t, "produce --sync")
	if out := testhelp.Kcat(t, nil, "", "-C", "-t", name, "-p", "2", "-e", "-q"); out != "a\nb\n" {
		t.Fatalf("kcat read %q from partition 2", out)
	}
}
