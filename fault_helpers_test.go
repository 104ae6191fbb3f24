package kafka_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/cmd/soak/faultsuite"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
)

// faultEnv starts a private 3-broker cluster for one fault test: these tests
// kill and stop brokers, which the package's shared cluster must never
// suffer. The cluster closes when the test ends.
func faultEnv(t *testing.T) *faultsuite.Env {
	t.Helper()
	c := testhelp.PrivateCluster(t, testinstance.Config{Brokers: 3, NoZooKeeper: true, StopTimeout: 15 * time.Second})
	return &faultsuite.Env{Cluster: c, Logf: func(format string, args ...any) {
		t.Logf(time.Now().Format("15:04:05.000 ")+format, args...)
	}}
}

// faultEngines is forEachEngine's rule for the fault scenarios, which run
// both engines at once: pure always, rdkafka where it is compiled in, and
// where it is not, the typed error is asserted instead. It probes the
// private cluster, sparing the shared one.
func faultEngines(t *testing.T, env *faultsuite.Env) []faultsuite.Engine {
	t.Helper()
	ctx := testhelp.Ctx(t, time.Minute)
	client, err := kafka.NewClient(ctx, env.Cluster.BootstrapServers())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	probe, err := client.CreateTopic(ctx, testhelp.UniqueName(t, "probe"), kafka.TopicConfig{Partitions: 1, ReplicationFactor: 1})
	if err != nil {
		t.Fatal(err)
	}
	if rdkafkaCompiled(t, probe) {
		return []faultsuite.Engine{faultsuite.Pure, faultsuite.Rdkafka}
	}
	_, err = probe.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: true}})
	if !errors.Is(err, kafka.ErrEngineNotEnabled) {
		t.Fatalf("consumer with UseRdkafka in a build without the engine: %v", err)
	}
	t.Log("rdkafka engine not compiled in: ErrEngineNotEnabled asserted, scenarios run on the pure engine")
	return []faultsuite.Engine{faultsuite.Pure}
}

// checkResults logs every result and fails the test for each violation. It
// also checks that the results cover what was asked: want results, each
// having seen traffic.
func checkResults(t *testing.T, results []faultsuite.Result, want int) {
	t.Helper()
	for i := range results {
		r := &results[i]
		t.Log(r.String())
		for _, v := range r.Violations() {
			t.Errorf("%s: %s", r.Name(), v)
		}
		if r.Sent == 0 && r.Read == 0 {
			t.Errorf("%s: no traffic at all", r.Name())
		}
	}
	if len(results) != want {
		t.Errorf("%d results, want %d", len(results), want)
	}
}
