package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// The tests run the command in-process, as a user would from a shell,
// against the shared cluster (BROKERS, or one testinstance starts).
func TestMain(m *testing.M) { testinstance.Main(m, testinstance.Config{Brokers: 3}) }

// result is one run of the command.
type result struct {
	code           int
	stdout, stderr string
}

// gokafka runs the command with stdin and args, with BROKERS set to the
// shared cluster (unless env overrides it).
func gokafka(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return gokafkaEnv(t, map[string]string{"BROKERS": testinstance.Shared().BootstrapServers()}, stdin, args...)
}

func gokafkaEnv(t *testing.T, env map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx := testhelp.Ctx(t, 3*time.Minute)
	code := run(ctx, args, strings.NewReader(stdin), &out, &errOut, func(k string) string { return env[k] })
	return result{code, out.String(), errOut.String()}
}

// ok fails the test unless the run succeeded and printed nothing on
// stderr (no progress bar nor summary on a pipe).
func (r result) ok(t *testing.T, what string) result {
	t.Helper()
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("%s: exit %d\nstdout: %s\nstderr: %s", what, r.code, r.stdout, r.stderr)
	}
	return r
}

// failed checks a failure: the exit status, and one line on stderr that
// starts with "gokafka: " and holds want, without a stack trace.
func (r result) failed(t *testing.T, what string, code int, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n")
	switch {
	case r.code != code:
		t.Errorf("%s: exit %d, want %d; stderr %q", what, r.code, code, r.stderr)
	case len(lines) != 1 || !strings.HasPrefix(lines[0], "gokafka: ") || !strings.HasSuffix(r.stderr, "\n"):
		t.Errorf("%s: stderr is not one line: %q", what, r.stderr)
	case !strings.Contains(r.stderr, want):
		t.Errorf("%s: stderr %q does not say %q", what, r.stderr, want)
	case strings.Contains(r.stderr, "goroutine") || strings.Contains(r.stderr, "panic"):
		t.Errorf("%s: a stack trace: %q", what, r.stderr)
	}
}

// topic creates a topic for the test with the command itself.
func topic(t *testing.T, partitions string, extra ...string) string {
	t.Helper()
	name := testhelp.UniqueName(t, "t")
	gokafka(t, "", append([]string{"topics", "create", name, "-p", partitions, "-r", "3"}, extra...)...).ok(t, "topics create")
	return name
}
