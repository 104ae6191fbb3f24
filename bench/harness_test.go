package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka/bench/internal/workload"
)

func TestSpread(t *testing.T) {
	if s := spread([]float64{3, 1, 2}); s != (Spread{Median: 2, Min: 1, Max: 3}) {
		t.Fatalf("odd: %+v", s)
	}
	if s := spread([]float64{4, 1, 2, 3}); s != (Spread{Median: 2.5, Min: 1, Max: 4}) {
		t.Fatalf("even: %+v", s)
	}
}

func TestRotated(t *testing.T) {
	cs := []clientDef{{Name: "a"}, {Name: "b"}, {Name: "c"}}
	if got := clientNames(rotated(cs, 1)); got != "b,c,a" {
		t.Fatalf("rotated by 1: %s", got)
	}
	if got := clientNames(rotated(cs, 3)); got != "a,b,c" {
		t.Fatalf("rotated by 3: %s", got)
	}
}

func TestProcCPU(t *testing.T) {
	end := time.Now().Add(30 * time.Millisecond)
	for time.Now().Before(end) { // burn a little CPU so that the figure is above 0
	}
	d, ok := procCPU(os.Getpid())
	if !ok || d <= 0 {
		t.Fatalf("procCPU(self) = %v, %v", d, ok)
	}
	if machineBusy() <= 0 {
		t.Fatal("machineBusy should read /proc/stat")
	}
}

func TestAggregateRatiosAndFailures(t *testing.T) {
	sc := Scenario{Mode: "produce", Size: 100, Partitions: 12, Acks: "all", Compression: "none", Count: 1000}
	run := func(client string, i int, secs float64, cpu time.Duration, err string) Run {
		return Run{Client: client, Scenario: sc.Name(), Index: i, Elapsed: time.Duration(secs * float64(time.Second)),
			CPU: cpu, Messages: 1000, Bytes: 100000, Written: 1000, MaxRSS: 1 << 20, BrokerCPU: -1, OtherCPU: -1, Wall: time.Second, Err: err}
	}
	r := &Report{
		Clients:   []clientDef{{Name: "franz-go"}, {Name: "gokafka-pure"}},
		Scenarios: []Scenario{sc},
		Runs: []Run{
			run("franz-go", 0, 1, time.Millisecond, ""),
			run("franz-go", 1, 1, time.Millisecond, ""),
			run("gokafka-pure", 0, 0.5, 2*time.Millisecond, ""),
			run("gokafka-pure", 1, 0.5, 2*time.Millisecond, "lost"),
			run("gokafka-pure", -1, 9, time.Second, ""), // warm-up: ignored
		},
	}
	r.aggregate()
	if len(r.Results) != 2 {
		t.Fatalf("%d results", len(r.Results))
	}
	g := r.Results[1]
	if g.Client != "gokafka-pure" || g.RunsOK != 1 || g.RunsFailed != 1 || g.MsgsPerSec != 2000 || g.ThroughputVsRef != 2 || g.CPUVsRef != 2 {
		t.Fatalf("gokafka-pure: %+v", g)
	}
	if r.failures() != 1 {
		t.Fatalf("failures = %d", r.failures())
	}
	md := r.markdown()
	for _, want := range []string{"| gokafka-pure | produce 100B p12 acks=all none | 2k", "(1 runs FAILED)", "## Failures", "lost"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

func TestTopicsScenarios(t *testing.T) {
	m := topicsMatrix(1)
	if len(m) != 2 || len(m[0]) != 2 || len(m[1]) != 2 {
		t.Fatalf("want two pairs: %v", m)
	}
	var names []string
	for _, set := range m {
		for _, sc := range set {
			names = append(names, sc.Name())
		}
	}
	want := "produce 100B p12 acks=all none|produce 100B t10xp12 acks=all none|consume 100B p12 group none|consume 100B t10xp12 group none"
	if got := strings.Join(names, "|"); got != want {
		t.Fatalf("names:\n%s\nwant\n%s", got, want)
	}
	if m[0][0].Count != 1_000_000 || m[1][0].Count != 4_000_000 {
		t.Fatalf("counts %d, %d", m[0][0].Count, m[1][0].Count)
	}
	many := m[1][1]
	ts := many.topicNames("bench-x")
	if len(ts) != 10 || ts[0] != "bench-x-t00" || ts[9] != "bench-x-t09" {
		t.Fatalf("topic names %v", ts)
	}
	if one := m[1][0].topicNames("bench-x"); len(one) != 1 || one[0] != "bench-x" {
		t.Fatalf("one topic: %v", one)
	}
	if many.ID() != "consume-100-t10xp12-none-group" || m[0][0].ID() != "produce-100-p12-none-acksall" {
		t.Fatalf("IDs %s, %s", many.ID(), m[0][0].ID())
	}
}

func TestTopicsRows(t *testing.T) {
	one := Scenario{Mode: "produce", Size: 100, Partitions: 12, Acks: "all", Compression: "none", Count: 1000}
	many := one
	many.Topics = 10
	run := func(client string, sc Scenario, i int, secs float64, cpu time.Duration) Run {
		return Run{Client: client, Scenario: sc.Name(), Index: i, Elapsed: time.Duration(secs * float64(time.Second)),
			CPU: cpu, Messages: 1000, Bytes: 100000, Written: 1000, BrokerCPU: -1, OtherCPU: -1, Wall: time.Second}
	}
	r := &Report{
		Clients:   []clientDef{{Name: "gokafka-pure"}, {Name: "franz-go"}},
		Scenarios: []Scenario{one, many},
		Runs: []Run{
			// franz-go: many topics at 0.8x, then 0.5x (median 0.65)
			run("franz-go", one, 0, 1, time.Millisecond), run("franz-go", many, 0, 1.25, time.Millisecond),
			run("franz-go", one, 1, 1, time.Millisecond), run("franz-go", many, 1, 2, time.Millisecond),
			// gokafka: 0.9x, 1.0x (median 0.95), CPU 1.1x
			run("gokafka-pure", one, 0, 0.5, time.Millisecond), run("gokafka-pure", many, 0, 0.5/0.9, 1100*time.Microsecond),
			run("gokafka-pure", one, 1, 0.5, time.Millisecond), run("gokafka-pure", many, 1, 0.5, 1100*time.Microsecond),
		},
	}
	r.aggregate()
	if len(r.TopicsRows) != 2 {
		t.Fatalf("%d rows: %+v", len(r.TopicsRows), r.TopicsRows)
	}
	g := r.TopicsRows[0]
	near := func(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }
	if g.Client != "gokafka-pure" || g.Rounds != 2 || !near(g.Ratio.Median, 0.95) || !near(g.Ratio.Min, 0.9) ||
		!near(g.CPURatio.Median, 1.1) || !near(g.RatioVsRef, 0.95/0.65) {
		t.Fatalf("gokafka row: %+v", g)
	}
	md := r.markdown()
	for _, want := range []string{"## Many topics against one", "| gokafka-pure | produce 100B p12 → t10xp12 acks=all none | 2k (2k-2k) |", "0.95 (0.90-1.00) | 1.46x |"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

// TestLatencyRowsCountBrokerGC: the latency table gives each client's
// median number of broker GC pauses per run and the longest pause, beside
// its percentiles, and "?" where the harness could not read the GC logs.
func TestLatencyRowsCountBrokerGC(t *testing.T) {
	sc := Scenario{Mode: "produce", Size: 100, Partitions: 12, Acks: "all", Compression: "none", Count: 1000, Rate: 10000}
	run := func(client string, i int, gc *GCPauses) Run {
		return Run{Client: client, Scenario: sc.Name(), Index: i, CPU: time.Millisecond, Messages: 1000, BrokerCPU: -1, OtherCPU: -1,
			Wall: time.Second, BrokerGC: gc, Latency: &workload.LatencyResult{Rate: 10000, P50: 4e6, P99: 9e6, P999: 20e6, Max: 25e6, SteadyP99: 9e6}}
	}
	r := &Report{
		Clients:   []clientDef{{Name: "gokafka-pure"}, {Name: "franz-go"}},
		Scenarios: []Scenario{sc},
		Runs: []Run{
			run("gokafka-pure", 0, &GCPauses{Count: 2, Longest: 21 * time.Millisecond}),
			run("gokafka-pure", 1, &GCPauses{Count: 4, Longest: 25 * time.Millisecond}),
			run("gokafka-pure", 2, &GCPauses{Count: 3, Longest: 23 * time.Millisecond}),
			run("franz-go", 0, nil),
		},
	}
	md := r.latencyMarkdown()
	for _, want := range []string{
		"| gokafka-pure | 10000/s | 5ms | 3 | 4.0 [4.0-4.0] | 9.0 [9.0-9.0] |",
		"| 3 [2-4] | 23.0 [21.0-25.0] |\n",
		"| franz-go | 10000/s | 5ms | 1 |",
		"| ? | ? |\n",
		"Broker GC:",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("latency table lacks %q:\n%s", want, md)
		}
	}
}
