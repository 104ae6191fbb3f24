package kafka_test

import (
	"testing"
	"time"

	"github.com/gokafka/kafka/cmd/soak/faultsuite"
	"github.com/gokafka/kafka/testhelp"
)

// TestSoak is one round of `make soak` (cmd/soak): every fault scenario,
// both engines, on a private cluster, through the same code and the same
// totals as the soak command, so that what the soak prints N times over is
// exercised by every test run.
func TestSoak(t *testing.T) {
	env := faultEnv(t)
	engines := faultEngines(t, env)
	totals := faultsuite.Soak(testhelp.Ctx(t, 15*time.Minute), env, 1, faultsuite.RoundConfig{Engines: engines}, testhelp.LogWriter(t))
	t.Log(totals.String())
	if !totals.Clean() {
		t.Errorf("soak round: %d violations, %d errors", totals.Violations, totals.Errors)
	}
	if totals.Sent == 0 || totals.Acked == 0 || totals.Read < totals.Acked {
		t.Errorf("soak round: sent %d, acknowledged %d, read %d", totals.Sent, totals.Acked, totals.Read)
	}
	// leader-kill: 3 per engine; leader-kill-expiry: 2 (pure); each
	// consume scenario: 1 + 1 per engine; network: 4.
	if want := 3*len(engines) + 2 + 2*(1+len(engines)) + 4; totals.Results != want {
		t.Errorf("%d results, want %d", totals.Results, want)
	}
}
