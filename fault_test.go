package kafka_test

// Fault tolerance on a real cluster. PyKafka's users lost asynchronous
// batches when a broker restarted and saw consumers stall after network
// failures; these tests show, with counts and measured recovery times, that
// gokafka does neither. Each test starts a private 3-broker cluster (the
// shared one must not be broken) and runs one scenario of
// cmd/soak/faultsuite, the code that `make soak` repeats N times; the
// scenarios' doc comments say exactly what they do and bound. Every result
// is logged (go test -v shows the figures).

import (
	"context"
	"testing"
	"time"

	"github.com/gokafka/kafka/cmd/soak/faultsuite"
	"github.com/gokafka/kafka/testhelp"
)

// A partition leader is killed with SIGKILL while an asynchronous and a
// Sync producer per engine (acks=all, idempotent: the defaults) write to
// it and a consumer per engine reads, and restarted while they go on.
// Every acknowledged message must be read back exactly once, at its
// reported offset, in order; failures are counted and reported; the
// consumers read every offset and resume within the bound.
func TestFaultLeaderKillDuringProduce(t *testing.T) {
	env := faultEnv(t)
	engines := faultEngines(t, env)
	results, err := faultsuite.LeaderKill(testhelp.Ctx(t, 8*time.Minute), env, engines)
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, results, 3*len(engines)) // async and sync producers, and a consumer, per engine
	for _, r := range results {
		if r.Scenario != "leader-kill/consumer" && (r.Acked == 0 || r.Read < r.Acked) {
			t.Errorf("%s: %d acknowledged, %d read back", r.Name(), r.Acked, r.Read)
		}
	}
}

// The same with a DeliveryTimeout (3 s) shorter than the failover:
// messages to the killed leader's partitions expire and are reported with
// ErrDeliveryTimeout while the producers go on, and every acknowledged
// message, before or after, is still in the log exactly once, in order.
//
// Pure engine only: librdkafka bumps its idempotent producer's epoch when a
// message expires, and resends messages in flight on other partitions
// under the new epoch, which the broker cannot deduplicate: acknowledged
// messages get written twice (librdkafka issue #4953; reproduce with
// `go run ./cmd/soak -n 1 -scenarios leader-kill-expiry -expiry-engines rdkafka`).
func TestFaultLeaderKillExpiry(t *testing.T) {
	env := faultEnv(t)
	results, err := faultsuite.LeaderKillExpiry(testhelp.Ctx(t, 8*time.Minute), env, []faultsuite.Engine{faultsuite.Pure})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, results, 2)
	for _, r := range results {
		if r.Acked == 0 || r.Read < r.Acked {
			t.Errorf("%s: %d acknowledged, %d read back", r.Name(), r.Acked, r.Read)
		}
	}
}

// Consumers of each engine read live data while the leader of some of
// their partitions stops (gracefully) and comes back, or across a restart
// of every broker: no offset skipped or read twice, every acknowledged
// message read, and reading resumes on the moved partitions (or once the
// cluster is back) within the bound.
func TestFaultConsume(t *testing.T) {
	for _, tc := range []struct {
		name     string
		scenario func(context.Context, *faultsuite.Env, []faultsuite.Engine) ([]faultsuite.Result, error)
	}{
		{"AcrossLeaderChange", faultsuite.ConsumeLeaderChange},
		{"AcrossClusterRestart", faultsuite.ConsumeClusterRestart},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := faultEnv(t)
			engines := faultEngines(t, env)
			results, err := tc.scenario(testhelp.Ctx(t, 8*time.Minute), env, engines)
			if err != nil {
				t.Fatal(err)
			}
			checkResults(t, results, 1+len(engines))
		})
	}
}

// The pure engine through a TCP proxy per broker (kafka.WithDialer maps
// every advertised address to its proxy): latency, resets, a short black
// hole, and a black hole longer than a DeliveryTimeout, whose messages fail
// with ErrDeliveryTimeout instead of hanging; the client recovers after
// each within a bound derived from its timeouts, loses nothing
// acknowledged, and leaves no goroutine after Close.
//
// The librdkafka engine is not here: it opens its own sockets, which
// WithDialer does not reach. The broker kill and restart tests above cover
// its recovery.
func TestFaultNetwork(t *testing.T) {
	env := faultEnv(t)
	results, err := faultsuite.NetworkFaults(testhelp.Ctx(t, 8*time.Minute), env)
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, results, 4)
	for _, r := range results {
		if r.Scenario == "network/black-hole-expiry" && (r.Failed == 0 || r.Failed != r.Sent-1) {
			t.Errorf("%s: %d of %d messages failed; every one produced into the black hole must", r.Name(), r.Failed, r.Sent-1)
		}
	}
}
