package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gokafka/kafka/bench/internal/nullbroker"
	"github.com/gokafka/kafka/bench/internal/workload"
)

// The null-broker matrix (-null): each client's own cost per message, with
// a broker that does no work (bench/internal/nullbroker) in the harness's
// process instead of Kafka's JVMs. Each client process runs on one core
// (GOMAXPROCS=1, pinned with taskset to the last CPU; the harness and its
// broker are pinned to the others), so msg/s is what one core of client
// gets through, and CPU per message is the client's alone.

// nullClients are the clients the null matrix runs by default: gokafka's
// pure engine and the reference.
var nullClients = []string{"gokafka-pure", "franz-go"}

// nullScenarios are the null matrix: 100 B values over 12 partitions,
// produce with acks=all (idempotent) and consume from the start.
func nullScenarios(scale float64) []Scenario {
	n := func(c int64) int64 { return max(1, int64(float64(c)*scale)) }
	return []Scenario{
		{Mode: "produce", Size: 100, Partitions: 12, Acks: "all", Compression: "none", Count: n(2_000_000)},
		{Mode: "consume", Size: 100, Partitions: 12, Compression: "none", Count: n(5_000_000)},
	}
}

// NullRun is one client process's run against the null broker.
type NullRun struct {
	Run
	// Load1 is the 1-minute load average when the run ended.
	Load1 float64 `json:"loadavg_1m"`
	// Broker is what the null broker counted during the run: produce
	// requests and records (a produce run), fetch requests (a consume
	// run).
	Broker nullbroker.Stats `json:"broker"`
}

// NullReport is the null matrix's outcome (results/null/latest.json).
type NullReport struct {
	Started       time.Time                    `json:"started"`
	Finished      time.Time                    `json:"finished"`
	Machine       Machine                      `json:"machine"`
	Pinning       string                       `json:"pinning"`
	Settings      Settings                     `json:"settings"`
	GokafkaCommit string                       `json:"gokafka_commit"`
	Versions      map[string]map[string]string `json:"versions"`
	Scenarios     []Scenario                   `json:"scenarios"`
	Runs          []NullRun                    `json:"runs"`
	Results       []NullResult                 `json:"results"`
}

// NullResult is one client in one scenario of the null matrix, over its
// runs: medians with min-max.
type NullResult struct {
	Client          string `json:"client"`
	Scenario        string `json:"scenario"`
	RunsOK          int    `json:"runs_ok"`
	RunsFailed      int    `json:"runs_failed"`
	MsgsPerSec      Spread `json:"msgs_per_sec"`
	CPUusPerMsg     Spread `json:"cpu_us_per_msg"`         // whole process
	CPUSectUsPerMsg Spread `json:"cpu_section_us_per_msg"` // measured section
	PeakRSSMiB      Spread `json:"peak_rss_mib"`
	// CoreBusy is the client's CPU over wall time in the measured
	// section: near 1 means the client was bound by its own CPU (the
	// ceiling this matrix is after); well below 1, it waited (for the
	// broker, or for a core taken by other work).
	CoreBusy        Spread   `json:"core_busy"`
	RecordsPerReq   Spread   `json:"records_per_produce_request,omitempty"`
	Load1           Spread   `json:"loadavg_1m"`
	ThroughputVsRef float64  `json:"msgs_per_sec_vs_franz_go,omitempty"`
	CPUVsRef        float64  `json:"cpu_vs_franz_go,omitempty"`
	Errors          []string `json:"errors,omitempty"`
}

func runNull(ctx context.Context, runs int, scale float64, clients, only, outDir string) int {
	if runs <= 0 {
		runs = 5
	}
	names := nullClients
	if clients != "" {
		names = strings.Split(clients, ",")
	}
	var peers []clientDef
	for _, name := range names {
		i := slices.IndexFunc(allClients, func(c clientDef) bool { return c.Name == strings.TrimSpace(name) })
		if i < 0 {
			fmt.Fprintf(os.Stderr, "bench: -null: unknown client %q\n", name)
			return 2
		}
		peers = append(peers, allClients[i])
	}
	scs := nullScenarios(scale)
	if only != "" {
		scs = slices.DeleteFunc(scs, func(s Scenario) bool { return !strings.Contains(s.Name(), only) })
	}
	rep := &NullReport{Started: time.Now().UTC(), Machine: describeMachine(), Settings: settings, Scenarios: scs}
	rep.Settings.Runs = runs
	rep.Machine.Kafka = "none: bench/internal/nullbroker"
	pinClient, pinNote := nullPinning()
	rep.Pinning = pinNote
	logf("null broker: %s", pinNote)

	binDir, err := os.MkdirTemp("", "gokafka-bench-null-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer os.RemoveAll(binDir)
	var notBuilt map[string]string
	rep.Versions, notBuilt = build(ctx, binDir, peers)
	if len(notBuilt) > 0 {
		fmt.Fprintf(os.Stderr, "bench: not built: %v\n", notBuilt)
		return 1
	}
	rep.GokafkaCommit = gitCommit()

	for _, sc := range scs {
		nb, err := nullbroker.Listen("null", int32(sc.Partitions), sc.Size, sc.Count/int64(sc.Partitions))
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: null broker:", err)
			return 1
		}
		if sc.Mode == "consume" {
			// Consumers read every partition to its end: whole batches.
			sc.Count = nb.LogEnd() * int64(sc.Partitions)
			rep.Scenarios[slices.IndexFunc(rep.Scenarios, func(s Scenario) bool { return s.Name() == sc.Name() })] = sc
		}
		logf("scenario %s, %d messages, broker %s", sc.Name(), sc.Count, nb.Addr())
		for r := range runs {
			for _, c := range rotated(peers, r) {
				if ctx.Err() != nil {
					break
				}
				run := runNullClient(ctx, binDir, pinClient, c, sc, nb)
				run.Index = r
				logf("  %-14s run %d: %s (load %.2f)", c.Name, r+1, run.summary(), run.Load1)
				rep.Runs = append(rep.Runs, run)
			}
		}
		nb.Close()
	}
	rep.Finished = time.Now().UTC()
	rep.aggregate(peers)
	md := rep.markdown()
	fmt.Println(md)
	dir := filepath.Join(outDir, "null")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	raw, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "latest.json"), raw, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if err := os.WriteFile(filepath.Join(dir, "latest.md"), []byte(md), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	logf("wrote %s", filepath.Join(dir, "latest.md"))
	for _, res := range rep.Results {
		if res.RunsFailed > 0 {
			return 1
		}
	}
	return 0
}

// nullPinning pins the harness (and so the null broker) to every CPU but
// the last, and returns the command prefix that runs a client on the last
// one. With one CPU, or without taskset, nothing is pinned.
func nullPinning() (prefix []string, note string) {
	n := runtime.NumCPU()
	ts, err := exec.LookPath("taskset")
	if n < 2 || err != nil {
		return nil, fmt.Sprintf("client GOMAXPROCS=1, not pinned (%d CPUs, taskset: %v)", n, err)
	}
	others := "0"
	if n > 2 {
		others = fmt.Sprintf("0-%d", n-2)
	}
	if out, err := exec.Command(ts, "-a", "-p", "-c", others, strconv.Itoa(os.Getpid())).CombinedOutput(); err != nil {
		return nil, fmt.Sprintf("client GOMAXPROCS=1, not pinned (taskset: %v: %s)", err, out)
	}
	last := strconv.Itoa(n - 1)
	return []string{ts, "-c", last}, fmt.Sprintf("client GOMAXPROCS=1 on CPU %s (taskset); harness and null broker on CPU %s; other processes on the machine (brokers' JVMs, other work) not pinned", last, others)
}

func runNullClient(ctx context.Context, bin string, prefix []string, c clientDef, sc Scenario, nb *nullbroker.Broker) NullRun {
	args := []string{
		"-mode", sc.Mode,
		"-brokers", nb.Addr(),
		"-topic", "null",
		"-partitions", strconv.Itoa(sc.Partitions),
		"-count", strconv.FormatInt(sc.Count, 10),
		"-size", strconv.Itoa(sc.Size),
		"-acks", cmp(sc.Acks, "all"),
		"-compression", sc.Compression,
		"-linger", settings.Linger.String(),
		"-batch-bytes", strconv.Itoa(settings.BatchBytes),
		"-max-queued", strconv.Itoa(settings.MaxQueued),
		"-timeout", runTimeout.String(),
	}
	if sc.Mode == "consume" {
		exp := make([]string, sc.Partitions)
		for i := range exp {
			exp[i] = strconv.FormatInt(nb.LogEnd(), 10)
		}
		args = append(args, "-expected", strings.Join(exp, ","))
	}
	argv := append(slices.Clone(prefix), append([]string{filepath.Join(bin, c.Name)}, args...)...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	r := NullRun{Run: Run{Client: c.Name, Scenario: sc.Name(), BrokerCPU: -1, OtherCPU: -1}}
	before := nb.Stats()
	busy0 := machineBusy()
	began := time.Now()
	err := cmd.Run()
	r.Wall = time.Since(began)
	busy1 := machineBusy()
	after := nb.Stats()
	r.Broker = nullbroker.Stats{
		ProduceRequests: after.ProduceRequests - before.ProduceRequests,
		ProducedRecords: after.ProducedRecords - before.ProducedRecords,
		ProduceBytes:    after.ProduceBytes - before.ProduceBytes,
		FetchRequests:   after.FetchRequests - before.FetchRequests,
		FetchedRecords:  after.FetchedRecords - before.FetchedRecords,
	}
	r.Load1 = loadAvg1()
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			r.CPUUser, r.CPUSys = time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
			r.CPU = r.CPUUser + r.CPUSys
			r.MaxRSS = ru.Maxrss * 1024
		}
	}
	if busy0 >= 0 && busy1 >= 0 {
		// Here the "other" CPU includes the harness's null broker.
		r.OtherCPU = max(0, busy1-busy0-r.CPU)
	}
	var res workload.Result
	if jerr := json.Unmarshal([]byte(lastLine(stdout.String())), &res); jerr != nil {
		r.Err = fmt.Sprintf("no result from the client (%v): %s", err, tail(stderr.String()+stdout.String()))
		return r
	}
	r.Elapsed, r.CPUSect = time.Duration(res.ElapsedNs), time.Duration(res.CPUSectionNs)
	r.Messages, r.Bytes = res.Messages, res.Bytes
	switch {
	case err != nil || res.Errors > 0 || res.Messages != sc.Count:
		r.Err = fmt.Sprintf("%d of %d messages, %d errors: %s", res.Messages, sc.Count, res.Errors, res.FirstError)
	case sc.Mode == "produce" && r.Broker.ProducedRecords < sc.Count:
		r.Err = fmt.Sprintf("the client reported %d acknowledged, the broker received %d", res.Messages, r.Broker.ProducedRecords)
	case r.Elapsed <= 0:
		r.Err = "the client measured no time"
	}
	return r
}

func loadAvg1() float64 {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(raw))
	if len(f) == 0 {
		return -1
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

func (rep *NullReport) aggregate(peers []clientDef) {
	rep.Results = nil
	for _, sc := range rep.Scenarios {
		var ref *NullResult
		var rows []NullResult
		for _, c := range peers {
			res := NullResult{Client: c.Name, Scenario: sc.Name()}
			var mps, cpu, sect, rss, per, load, busy []float64
			for _, run := range rep.Runs {
				if run.Client != c.Name || run.Scenario != sc.Name() {
					continue
				}
				if run.Err != "" {
					res.RunsFailed++
					res.Errors = append(res.Errors, run.Err)
					continue
				}
				res.RunsOK++
				n := float64(run.Messages)
				mps = append(mps, n/run.Elapsed.Seconds())
				cpu = append(cpu, float64(run.CPU.Nanoseconds())/1e3/n)
				sect = append(sect, float64(run.CPUSect.Nanoseconds())/1e3/n)
				rss = append(rss, float64(run.MaxRSS)/(1<<20))
				load = append(load, run.Load1)
				busy = append(busy, run.CPUSect.Seconds()/run.Elapsed.Seconds())
				if run.Broker.ProduceRequests > 0 {
					per = append(per, float64(run.Broker.ProducedRecords)/float64(run.Broker.ProduceRequests))
				}
			}
			res.MsgsPerSec, res.CPUusPerMsg, res.CPUSectUsPerMsg = spread(mps), spread(cpu), spread(sect)
			res.PeakRSSMiB, res.RecordsPerReq, res.Load1, res.CoreBusy = spread(rss), spread(per), spread(load), spread(busy)
			rows = append(rows, res)
		}
		for i := range rows {
			if rows[i].Client == reference && rows[i].RunsOK > 0 {
				ref = &rows[i]
			}
		}
		for i := range rows {
			if ref != nil && rows[i].RunsOK > 0 {
				rows[i].ThroughputVsRef = rows[i].MsgsPerSec.Median / ref.MsgsPerSec.Median
				rows[i].CPUVsRef = rows[i].CPUusPerMsg.Median / ref.CPUusPerMsg.Median
			}
		}
		rep.Results = append(rep.Results, rows...)
	}
}

func (rep *NullReport) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Client ceiling: against a null broker, one core per client\n\n")
	fmt.Fprintf(&b, "%s to %s; %s, %d CPUs, Go %s, load average at start %s; gokafka %s\n\n",
		rep.Started.Format(time.RFC3339), rep.Finished.Format(time.RFC3339), rep.Machine.CPU, rep.Machine.Cores,
		rep.Machine.Go, rep.Machine.LoadAvg, rep.GokafkaCommit)
	fmt.Fprintf(&b, "Broker: bench/internal/nullbroker on 127.0.0.1 (acknowledges every Produce at once, serves every Fetch from prepared %d KiB batches; no fetch sessions). %s. %d runs per client and scenario, clients interleaved, order rotated every run; median (min-max).\n\n",
		nullbroker.BatchBytes>>10, rep.Pinning, rep.Settings.Runs)
	fmt.Fprintf(&b, "| scenario | client | msg/s | vs franz-go | CPU µs/msg | vs franz-go | section CPU µs/msg | client core busy | records/request | peak RSS MiB | load 1m | runs ok |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rep.Results {
		per := "-"
		if r.RecordsPerReq.Median > 0 {
			per = fmt.Sprintf("%.0f (%.0f-%.0f)", r.RecordsPerReq.Median, r.RecordsPerReq.Min, r.RecordsPerReq.Max)
		}
		fmt.Fprintf(&b, "| %s | %s | %.0fk (%.0fk-%.0fk) | %.2f | %.3f (%.3f-%.3f) | %.2f | %.3f (%.3f-%.3f) | %.2f (%.2f-%.2f) | %s | %.0f (%.0f-%.0f) | %.1f (%.1f-%.1f) | %d/%d |\n",
			r.Scenario, r.Client,
			r.MsgsPerSec.Median/1e3, r.MsgsPerSec.Min/1e3, r.MsgsPerSec.Max/1e3, r.ThroughputVsRef,
			r.CPUusPerMsg.Median, r.CPUusPerMsg.Min, r.CPUusPerMsg.Max, r.CPUVsRef,
			r.CPUSectUsPerMsg.Median, r.CPUSectUsPerMsg.Min, r.CPUSectUsPerMsg.Max,
			r.CoreBusy.Median, r.CoreBusy.Min, r.CoreBusy.Max, per,
			r.PeakRSSMiB.Median, r.PeakRSSMiB.Min, r.PeakRSSMiB.Max,
			r.Load1.Median, r.Load1.Min, r.Load1.Max, r.RunsOK, r.RunsOK+r.RunsFailed)
	}
	for _, r := range rep.Results {
		for _, e := range r.Errors {
			fmt.Fprintf(&b, "\nFAILED %s %s: %s\n", r.Client, r.Scenario, e)
		}
	}
	fmt.Fprintf(&b, "\nVersions: ")
	for _, c := range []string{"gokafka-pure", "franz-go"} {
		if v, ok := rep.Versions[c]; ok {
			raw, _ := json.Marshal(v)
			fmt.Fprintf(&b, "%s %s; ", c, raw)
		}
	}
	fmt.Fprintln(&b)
	return b.String()
}
