package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gokafka/kafka/bench/internal/workload"
)

// clientDef is one peer: a program under bench/clients, built on its own so
// that each process links only its own library.
type clientDef struct {
	Name string
	Cgo  bool // links librdkafka
	Java bool // the Java client's perf tools, not a Go program
	What string
}

// allClients are the peers, in the order tables list them. franz-go is the
// reference the ratios are computed against.
var allClients = []clientDef{
	{Name: "gokafka-pure", What: "gokafka, pure-Go engine (CGO_ENABLED=0)"},
	{Name: "gokafka-rdkafka", Cgo: true, What: "gokafka, librdkafka engine (UseRdkafka)"},
	{Name: "franz-go", What: "github.com/twmb/franz-go kgo"},
	{Name: "sarama", What: "github.com/IBM/sarama"},
	{Name: "kafka-go", What: "github.com/segmentio/kafka-go"},
	{Name: "confluent", Cgo: true, What: "github.com/confluentinc/confluent-kafka-go/v2 (librdkafka) used directly"},
}

const reference = "franz-go"

// build compiles every client into dir and returns each one's library
// versions (from the binary's build info), and why each client that could
// not be built was not (a cgo client without a C compiler, say): the others
// still run.
func build(ctx context.Context, dir string, clients []clientDef) (versions map[string]map[string]string, failed map[string]string) {
	versions, failed = map[string]map[string]string{}, map[string]string{}
	for _, c := range clients {
		if c.Java {
			continue
		}
		began := time.Now()
		out := filepath.Join(dir, c.Name)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./clients/"+c.Name)
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+map[bool]string{true: "1", false: "0"}[c.Cgo])
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = os.Stderr, &stderr
		if err := cmd.Run(); err != nil {
			failed[c.Name] = fmt.Sprintf("go build: %v: %s", err, tail(stderr.String()))
			logf("NOT BUILT %s: %s", c.Name, failed[c.Name])
			continue
		}
		v, err := exec.CommandContext(ctx, out, "-version").Output()
		m := map[string]string{}
		if err == nil {
			err = json.Unmarshal(v, &m)
		}
		if err != nil {
			failed[c.Name] = fmt.Sprintf("-version: %v", err)
			continue
		}
		versions[c.Name] = m
		logf("built %s in %s", c.Name, time.Since(began).Round(time.Millisecond))
	}
	return versions, failed
}

// Run is one client process's run of a scenario.
type Run struct {
	Client    string        `json:"client"`
	Scenario  string        `json:"scenario"`
	Index     int           `json:"run"` // 0-based; -1 for warm-up
	Elapsed   time.Duration `json:"elapsed_ns"`
	Wall      time.Duration `json:"process_wall_ns"` // the whole process, start-up included
	CPU       time.Duration `json:"cpu_ns"`          // user+sys of the whole process (rusage)
	CPUUser   time.Duration `json:"cpu_user_ns"`
	CPUSys    time.Duration `json:"cpu_sys_ns"`
	CPUSect   time.Duration `json:"cpu_section_ns"` // measured section only, from the child
	MaxRSS    int64         `json:"peak_rss_bytes"`
	BrokerCPU time.Duration `json:"broker_cpu_ns"` // the cluster's JVMs during the process; -1 unknown
	// OtherCPU is what the rest of the machine used meanwhile (all CPU
	// time minus the client's and the brokers'): other work on the machine
	// that competed for the cores; -1 unknown.
	OtherCPU time.Duration `json:"other_cpu_ns"`
	Messages int64         `json:"messages"`
	Bytes    int64         `json:"bytes"`
	Written  int64         `json:"written,omitempty"` // produce: messages the topic grew by
	Err      string        `json:"error,omitempty"`
	// Latency is a latency run's figures (Scenario.Rate, latency.go).
	Latency *workload.LatencyResult `json:"latency,omitempty"`
	// BrokerGC is the brokers' garbage-collection pauses while the process
	// ran; nil when unknown (an external cluster keeps its GC logs).
	BrokerGC *GCPauses `json:"broker_gc,omitempty"`
}

// GCPauses sums the brokers' stop-the-world collections during a run. A
// pause stops one broker, and with acks=all every partition it replicates
// (here: every partition) waits for it, so the pauses that fall in a
// latency run set much of its tail.
type GCPauses struct {
	Count   int           `json:"count"`
	Total   time.Duration `json:"total_ns"`
	Longest time.Duration `json:"longest_ns"`
}

// brokerGC sums the pauses of the harness's own cluster during [from, to];
// nil on an external cluster or when the logs cannot be read.
func (b *bench) brokerGC(from, to time.Time) *GCPauses {
	if b.cluster.External() {
		return nil
	}
	ps, err := b.cluster.GCPauses(from, to)
	if err != nil {
		logf("broker GC logs: %v", err)
		return nil
	}
	g := &GCPauses{Count: len(ps)}
	for _, p := range ps {
		g.Total += p.Took
		g.Longest = max(g.Longest, p.Took)
	}
	return g
}

// runClient runs one client process and returns what it measured, with
// the process's own rusage. A run that did not account for every message
// has Err set.
//
// bin is the directory of the Go client programs, or for the Java client
// its classpath.
func (b *bench) runClient(ctx context.Context, bin string, c clientDef, sc Scenario, topics []string, expected []int64) Run {
	args := []string{
		"-mode", sc.Mode,
		"-brokers", strings.Join(b.cluster.Brokers(), ","),
		"-topic", strings.Join(topics, ","),
		"-partitions", strconv.Itoa(sc.Partitions),
		"-count", strconv.FormatInt(sc.Count, 10),
		"-size", strconv.Itoa(sc.Size),
		"-acks", cmp(sc.Acks, "all"),
		"-compression", sc.Compression,
		"-linger", sc.Linger().String(),
		"-batch-bytes", strconv.Itoa(settings.BatchBytes),
		"-max-queued", strconv.Itoa(settings.MaxQueued),
		"-timeout", runTimeout.String(),
	}
	if sc.Group {
		args = append(args, "-group")
	}
	if sc.Rate > 0 {
		args = append(args, "-rate", strconv.Itoa(sc.Rate))
		if sc.E2E {
			args = append(args, "-e2e")
		}
	}
	if expected != nil {
		var f []string
		for _, n := range expected {
			f = append(f, strconv.FormatInt(n, 10))
		}
		args = append(args, "-expected", strings.Join(f, ","))
	}
	if c.Java {
		return b.runJava(ctx, bin, sc, topics[0], expected)
	}
	r := Run{Client: c.Name, Scenario: sc.Name()}
	cmd := exec.CommandContext(ctx, filepath.Join(bin, c.Name), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	err := b.runProcess(cmd, &r)
	var res workload.Result
	line := lastLine(stdout.String())
	if jerr := json.Unmarshal([]byte(line), &res); jerr != nil {
		r.Err = fmt.Sprintf("no result from the client (%v): %s", err, tail(stderr.String()+stdout.String()))
		return r
	}
	r.Elapsed = time.Duration(res.ElapsedNs)
	r.CPUSect = time.Duration(res.CPUSectionNs)
	r.Messages, r.Bytes = res.Messages, res.Bytes
	r.Latency = res.Latency
	switch {
	case err != nil || res.Errors > 0 || res.Messages != sc.Count:
		r.Err = fmt.Sprintf("%d of %d messages, %d errors: %s", res.Messages, sc.Count, res.Errors, res.FirstError)
		if s := tail(stderr.String()); s != "" {
			r.Err += " (stderr: " + s + ")"
		}
	case r.Elapsed <= 0:
		r.Err = "the client measured no time"
	}
	return r
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 600 {
		s = "..." + s[len(s)-600:]
	}
	return strings.ReplaceAll(s, "\n", " | ")
}

// runProcess runs cmd and fills r with its wall time and rusage, and what
// the brokers and the rest of the machine used meanwhile.
func (b *bench) runProcess(cmd *exec.Cmd, r *Run) error {
	if quietWait > 0 {
		b.waitQuiet(context.Background(), quietWait)
	}
	bcpu0, busy0 := b.brokerCPU(), machineBusy()
	began := time.Now()
	err := cmd.Run()
	r.Wall = time.Since(began)
	bcpu1, busy1 := b.brokerCPU(), machineBusy()
	r.BrokerGC = b.brokerGC(began, began.Add(r.Wall))
	r.BrokerCPU, r.OtherCPU = -1, -1
	if bcpu0 >= 0 && bcpu1 >= 0 {
		r.BrokerCPU = bcpu1 - bcpu0
	}
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			r.CPUUser = time.Duration(ru.Utime.Nano())
			r.CPUSys = time.Duration(ru.Stime.Nano())
			r.CPU = r.CPUUser + r.CPUSys
			r.MaxRSS = ru.Maxrss * 1024 // KiB on Linux
		}
	}
	if busy0 >= 0 && busy1 >= 0 && r.BrokerCPU >= 0 {
		r.OtherCPU = max(0, busy1-busy0-r.CPU-r.BrokerCPU)
	}
	return err
}

// machineBusy is the CPU time all cores spent outside idle and iowait so
// far, from /proc/stat, or -1.
func machineBusy() time.Duration {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return -1
	}
	var busy int64
	for i, v := range f[1:8] { // user nice system idle iowait irq softirq
		if i == 3 || i == 4 {
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	const hz = 100
	return time.Duration(busy) * time.Second / hz
}
