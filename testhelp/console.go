package testhelp

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka/testinstance"
)

// ConsoleCommitted reads the topics matching include with Kafka's console
// consumer (a client nobody here wrote), read_committed, from tc (the shared
// cluster when nil), until it has n messages or none came for idle, and
// returns the values, sorted. Transaction tests ask for one message more
// than they expect, so that an extra one (an aborted message shown) is read
// rather than left behind.
//
// The values must be made of letters, digits and dashes only: the tool
// prints log lines on its standard output too (its timeout among them, and
// some versions exit non-zero on it), and those lines never match.
func ConsoleCommitted(t testing.TB, tc *testinstance.Cluster, include string, n int, idle time.Duration) []string {
	t.Helper()
	c := orShared(tc)
	out, err := testinstance.KafkaTool(Ctx(t, 3*time.Minute), testinstance.Config{KafkaVersion: c.KafkaVersion()}, nil,
		"kafka-console-consumer", "--bootstrap-server", c.BootstrapServers(), "--include", include,
		"--from-beginning", "--isolation-level", "read_committed", "--max-messages", fmt.Sprint(n),
		"--timeout-ms", fmt.Sprint(idle.Milliseconds()))
	if err != nil && !strings.Contains(err.Error()+string(out), "TimeoutException") {
		t.Fatalf("console consumer: %v", err)
	}
	var vs []string
	for _, line := range strings.Split(string(out), "\n") {
		if consoleValue.MatchString(line) {
			vs = append(vs, line)
		}
	}
	slices.Sort(vs)
	return vs
}

var consoleValue = regexp.MustCompile(`^[A-Za-z0-9-]+$`)

// Diff names a few values (five at most each way) that are in one list and
// not the other, for a failure message.
func Diff(got, want []string) string {
	var extra, missing []string
	for _, v := range got {
		if !slices.Contains(want, v) && len(extra) < 5 {
			extra = append(extra, v)
		}
	}
	for _, v := range want {
		if !slices.Contains(got, v) && len(missing) < 5 {
			missing = append(missing, v)
		}
	}
	return fmt.Sprintf("unexpected %q, missing %q", extra, missing)
}
