package testhelp

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka/testinstance"
)

// Kcat runs kcat (librdkafka's CLI: a client nobody here wrote, to
// cross-check gokafka with) against tc's brokers (the shared cluster's when
// tc is nil), with stdin as its input, and returns its standard output. The
// test fails, with kcat's standard error, if kcat fails or runs for more
// than 2 minutes.
func Kcat(t testing.TB, tc *testinstance.Cluster, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(Ctx(t, 2*time.Minute), "kcat", append([]string{"-b", orShared(tc).BootstrapServers()}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}
