package main

import (
	"os"
	"strings"
	"testing"
	"time"
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
