package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Report is everything one harness invocation measured.
type Report struct {
	Quick         bool                         `json:"quick"`
	Topics        bool                         `json:"topics,omitempty"`  // the many-topics scenarios (-topics)
	Latency       bool                         `json:"latency,omitempty"` // the latency scenarios (-latency)
	Wide          bool                         `json:"wide,omitempty"`    // the scale scenarios (-wide)
	Started       time.Time                    `json:"started"`
	Finished      time.Time                    `json:"finished"`
	Interrupted   bool                         `json:"interrupted,omitempty"`
	Machine       Machine                      `json:"machine"`
	Settings      Settings                     `json:"settings"`
	GokafkaCommit string                       `json:"gokafka_commit"`
	Versions      map[string]map[string]string `json:"versions"` // client -> module -> version
	NotBuilt      map[string]string            `json:"not_built,omitempty"`
	Clients       []clientDef                  `json:"clients"`
	Scenarios     []Scenario                   `json:"scenarios"`
	Results       []Result                     `json:"results"`
	// TopicsRows compare, per client, each scenario on several topics
	// with the same one on one topic (-topics).
	TopicsRows []TopicsRow `json:"topics_comparison,omitempty"`
	Runs       []Run       `json:"runs"`
}

// kind is the folder under results/ for this matrix.
func (r *Report) kind() string {
	switch {
	case r.Quick:
		return "quick"
	case r.Topics:
		return "topics"
	case r.Latency:
		return "latency"
	case r.Wide:
		return "wide"
	}
	return "full"
}

// TopicsRow is one client's figures for the same work on one topic and on
// several (the scenarios of one Family).
type TopicsRow struct {
	Client string `json:"client"`
	One    string `json:"one_topic"`   // scenario name
	Many   string `json:"many_topics"` // scenario name
	Topics int    `json:"topics"`      // of the many-topic scenario
	Work   string `json:"work"`        // both, as the table shows them
	// Ratio is many-topic msg/s over one-topic msg/s, run by run (the
	// two ran back to back in each round): median and min-max.
	Ratio    Spread `json:"msgs_per_sec_ratio"`
	CPURatio Spread `json:"cpu_per_msg_ratio"`
	// RatioVsRef is Ratio's median over the reference client's.
	RatioVsRef float64 `json:"ratio_vs_franz_go,omitempty"`
	Rounds     int     `json:"rounds"` // rounds in which both runs succeeded
}

// Spread is a median with the smallest and largest value of the runs.
type Spread struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

// Result is one client in one scenario, over its runs.
type Result struct {
	Client      string `json:"client"`
	Scenario    string `json:"scenario"`
	Mode        string `json:"mode"`
	Size        int    `json:"size"`
	Partitions  int    `json:"partitions"`
	Acks        string `json:"acks,omitempty"`
	Compression string `json:"compression"`
	Count       int64  `json:"messages_per_run"`
	RunsOK      int    `json:"runs_ok"`
	RunsFailed  int    `json:"runs_failed"`

	MsgsPerSec  float64 `json:"msgs_per_sec"` // median
	CPUusPerMsg float64 `json:"cpu_us_per_msg"`
	PeakRSS     int64   `json:"peak_rss_bytes"` // median of the runs' peaks

	MsgsPerSecSpread  Spread `json:"msgs_per_sec_spread"`
	MBPerSecSpread    Spread `json:"mb_per_sec_spread"`
	CPUusPerMsgSpread Spread `json:"cpu_us_per_msg_spread"`
	CPUSectionPerMsg  Spread `json:"cpu_section_us_per_msg_spread"`
	PeakRSSSpread     Spread `json:"peak_rss_bytes_spread"`
	BrokerCPUusPerMsg Spread `json:"broker_cpu_us_per_msg_spread"`
	// OtherLoad is the cores' worth of CPU that other work on the machine
	// used during the runs (0 = none; this machine has 2 cores).
	OtherLoad       Spread   `json:"other_load_cores_spread"`
	ThroughputVsRef float64  `json:"msgs_per_sec_vs_franz_go,omitempty"`
	CPUVsRef        float64  `json:"cpu_vs_franz_go,omitempty"`
	Duplicates      int64    `json:"duplicates,omitempty"` // produce: messages written beyond those acknowledged
	Errors          []string `json:"errors,omitempty"`
}

func spread(v []float64) Spread {
	if len(v) == 0 {
		return Spread{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Spread{Median: m, Min: s[0], Max: s[len(s)-1]}
}

// aggregate turns the runs into one Result per client and scenario.
func (r *Report) aggregate() {
	r.Results = nil
	for _, sc := range r.Scenarios {
		var ref *Result
		var rows []Result
		for _, c := range r.Clients {
			res := Result{Client: c.Name, Scenario: sc.Name(), Mode: sc.Mode, Size: sc.Size, Partitions: sc.Partitions,
				Acks: sc.Acks, Compression: sc.Compression, Count: sc.Count}
			var mps, mbs, cpu, sect, rss, bcpu, other []float64
			for _, run := range r.Runs {
				if run.Client != c.Name || run.Scenario != sc.Name() || run.Index < 0 {
					continue
				}
				if run.Err != "" {
					res.RunsFailed++
					res.Errors = append(res.Errors, run.Err)
					continue
				}
				res.RunsOK++
				secs := run.Elapsed.Seconds()
				n := float64(run.Messages)
				mps = append(mps, n/secs)
				mbs = append(mbs, float64(run.Bytes)/secs/1e6)
				cpu = append(cpu, float64(run.CPU.Nanoseconds())/1e3/n)
				if run.CPUSect >= 0 {
					sect = append(sect, float64(run.CPUSect.Nanoseconds())/1e3/n)
				}
				if run.OtherCPU >= 0 {
					other = append(other, run.OtherCPU.Seconds()/run.Wall.Seconds())
				}
				rss = append(rss, float64(run.MaxRSS))
				if run.BrokerCPU >= 0 {
					bcpu = append(bcpu, float64(run.BrokerCPU.Nanoseconds())/1e3/n)
				}
				if run.Written > run.Messages {
					res.Duplicates += run.Written - run.Messages
				}
			}
			if res.RunsOK+res.RunsFailed == 0 {
				continue
			}
			res.MsgsPerSecSpread, res.MBPerSecSpread = spread(mps), spread(mbs)
			res.CPUusPerMsgSpread, res.CPUSectionPerMsg = spread(cpu), spread(sect)
			res.PeakRSSSpread, res.BrokerCPUusPerMsg = spread(rss), spread(bcpu)
			res.OtherLoad = spread(other)
			res.MsgsPerSec = res.MsgsPerSecSpread.Median
			res.CPUusPerMsg = res.CPUusPerMsgSpread.Median
			res.PeakRSS = int64(res.PeakRSSSpread.Median)
			rows = append(rows, res)
		}
		for i := range rows {
			if rows[i].Client == reference && rows[i].RunsOK > 0 {
				ref = &rows[i]
			}
		}
		for i := range rows {
			if ref != nil && rows[i].RunsOK > 0 {
				rows[i].ThroughputVsRef = rows[i].MsgsPerSec / ref.MsgsPerSec
				rows[i].CPUVsRef = rows[i].CPUusPerMsg / ref.CPUusPerMsg
			}
		}
		r.Results = append(r.Results, rows...)
	}
	r.TopicsRows = r.topicsRows()
}

// topicsRows pairs each scenario on several topics with the scenario of its
// family on one topic, client by client, and takes their ratios round by
// round.
func (r *Report) topicsRows() []TopicsRow {
	var out []TopicsRow
	for _, many := range r.Scenarios {
		if many.NumTopics() == 1 {
			continue
		}
		i := slices.IndexFunc(r.Scenarios, func(sc Scenario) bool { return sc.NumTopics() == 1 && sc.Family() == many.Family() })
		if i < 0 {
			continue
		}
		one := r.Scenarios[i]
		var rows []TopicsRow
		for _, c := range r.Clients {
			row := TopicsRow{Client: c.Name, One: one.Name(), Many: many.Name(), Topics: many.NumTopics(),
				Work: strings.Replace(one.Name(), " "+one.Shape()+" ", " "+one.Shape()+" → "+many.Shape()+" ", 1)}
			var mps, cpu []float64
			for _, a := range r.Runs {
				if a.Client != c.Name || a.Scenario != one.Name() || a.Index < 0 || a.Err != "" {
					continue
				}
				for _, b := range r.Runs {
					if b.Client == c.Name && b.Scenario == many.Name() && b.Index == a.Index && b.Err == "" {
						mps = append(mps, (float64(b.Messages)/b.Elapsed.Seconds())/(float64(a.Messages)/a.Elapsed.Seconds()))
						cpu = append(cpu, (float64(b.CPU)/float64(b.Messages))/(float64(a.CPU)/float64(a.Messages)))
					}
				}
			}
			if len(mps) == 0 {
				continue
			}
			row.Ratio, row.CPURatio, row.Rounds = spread(mps), spread(cpu), len(mps)
			rows = append(rows, row)
		}
		if ref := slices.IndexFunc(rows, func(x TopicsRow) bool { return x.Client == reference }); ref >= 0 {
			for i := range rows {
				rows[i].RatioVsRef = rows[i].Ratio.Median / rows[ref].Ratio.Median
			}
		}
		out = append(out, rows...)
	}
	return out
}

// result is the aggregate of client in scenario, if any.
func (r *Report) result(client, scenario string) (Result, bool) {
	i := slices.IndexFunc(r.Results, func(x Result) bool { return x.Client == client && x.Scenario == scenario && x.RunsOK > 0 })
	if i < 0 {
		return Result{}, false
	}
	return r.Results[i], true
}

func (r *Report) failures() int {
	n := 0
	for _, run := range r.Runs {
		if run.Err != "" && run.Index >= 0 {
			n++
		}
	}
	return n
}

func (r *Report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "latest.json"), append(js, '\n'), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "latest.md"), []byte(r.markdown()), 0o644); err != nil {
		return err
	}
	return r.charts(dir)
}

func (r *Report) markdown() string {
	var b strings.Builder
	kind := "full matrix (`make bench`)"
	switch {
	case r.Quick:
		kind = "quick subset (`make bench-quick`)"
	case r.Topics:
		kind = "many topics (`make bench BENCH_FLAGS=-topics`)"
	case r.Wide:
		kind = "scale (`make bench BENCH_FLAGS=-wide`)"
	}
	fmt.Fprintf(&b, "# gokafka benchmark: %s\n\n", kind)
	fmt.Fprintf(&b, "Measured %s, %s, by `bench/` (see bench/README.md for method and caveats).\n",
		r.Started.Format("2006-01-02 15:04 MST"), r.Finished.Sub(r.Started).Round(time.Second))
	if r.Interrupted {
		b.WriteString("\n**Interrupted: the scenarios below are those that ran.**\n")
	}
	m := r.Machine
	fmt.Fprintf(&b, "\n## Machine\n\n")
	fmt.Fprintf(&b, "- CPU: %s, %d cores; RAM %.1f GiB; %s\n", m.CPU, m.Cores, float64(m.MemBytes)/(1<<30), m.Kernel)
	fmt.Fprintf(&b, "- Go %s; %s; Kafka %s (%d brokers, KRaft, on this machine, JVMs as testinstance starts them)\n", strings.TrimPrefix(m.Go, "go"), m.Java, m.Kafka, r.Settings.Brokers)
	fmt.Fprintf(&b, "- Load average when the harness started: %s\n", m.LoadAvg)
	if m.PageReporting != "" {
		fmt.Fprintf(&b, "- Free page reporting: %s (memory the kernel frees goes back to the host; its next use costs a fault there)\n", m.PageReporting)
	}
	fmt.Fprintf(&b, "- gokafka commit: %s\n", r.GokafkaCommit)
	b.WriteString("- Clients:")
	for _, c := range r.Clients {
		fmt.Fprintf(&b, " %s %s;", c.Name, r.libraryVersion(c.Name))
	}
	b.WriteString("\n")

	s := r.Settings
	fmt.Fprintf(&b, "\n## Settings\n\n")
	fmt.Fprintf(&b, "- Producers: linger %s, batch up to %d KiB, acks as in the scenario, at most %d messages in flight; topics replicated on %d brokers, min.insync.replicas %d.\n",
		s.Linger, s.BatchBytes>>10, s.MaxQueued, s.Replication, s.MinISR)
	fmt.Fprintf(&b, "- %d measured runs per client and scenario (median, with min-max)%s.\n", s.Runs, warmupNote(s.Warmup, r.Quick || r.Topics))
	if s.QuietWait > 0 {
		fmt.Fprintf(&b, "- Before each run the harness waits (up to %s) for other work on the machine to drop below half a core.\n", s.QuietWait)
	}
	for _, n := range s.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	b.WriteString("- broker CPU µs/msg: CPU the 3 broker JVMs spent during the client's process, per message. other load: cores' worth of CPU used by anything else on the machine during the run (0 is a quiet machine; this one has " + fmt.Sprint(r.Machine.Cores) + " cores); a high figure means the run competed with other work and its throughput is understated.\n")
	b.WriteString("- msg/s and MB/s (values only, 10^6 bytes) are over the measured section in the client: first message handed over until the last one acknowledged (produce), or consumer creation until the last message read (consume).\n")

	b.WriteString("- Messages per run:")
	seen := map[string]bool{}
	for _, sc := range r.Scenarios {
		k := fmt.Sprintf(" %s %s %d;", sc.Mode, sizeName(sc.Size), sc.Count)
		if !seen[k] {
			seen[k] = true
			b.WriteString(k)
		}
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "\n## Results\n\n")
	b.WriteString("| client | scenario | msg/s (min-max) | MB/s | CPU µs/msg (min-max) | peak RSS MiB | broker CPU µs/msg | msg/s vs franz-go | CPU vs franz-go | other load |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, res := range r.Results {
		if res.RunsOK == 0 {
			fmt.Fprintf(&b, "| %s | %s | FAILED (%d runs) | | | | | | | |\n", res.Client, res.Scenario, res.RunsFailed)
			continue
		}
		failed := ""
		if res.RunsFailed > 0 {
			failed = fmt.Sprintf(" (%d runs FAILED)", res.RunsFailed)
		}
		bcpu := "-"
		if res.BrokerCPUusPerMsg.Max > 0 {
			bcpu = fmt.Sprintf("%.2f", res.BrokerCPUusPerMsg.Median)
		}
		fmt.Fprintf(&b, "| %s | %s | %s (%s-%s)%s | %.1f | %.2f (%.2f-%.2f) | %.0f | %s | %s | %s | %.2f |\n",
			res.Client, res.Scenario,
			num(res.MsgsPerSec), num(res.MsgsPerSecSpread.Min), num(res.MsgsPerSecSpread.Max), failed,
			res.MBPerSecSpread.Median,
			res.CPUusPerMsg, res.CPUusPerMsgSpread.Min, res.CPUusPerMsgSpread.Max,
			float64(res.PeakRSS)/(1<<20), bcpu,
			ratio(res.ThroughputVsRef), ratio(res.CPUVsRef), res.OtherLoad.Median)
	}
	if len(r.TopicsRows) > 0 {
		b.WriteString(r.topicsMarkdown())
	}
	var dups []string
	for _, res := range r.Results {
		if res.Duplicates > 0 {
			dups = append(dups, fmt.Sprintf("%s, %s: %d messages written beyond those acknowledged (retries without idempotence)", res.Client, res.Scenario, res.Duplicates))
		}
	}
	if len(dups) > 0 {
		b.WriteString("\nDuplicates:\n\n")
		for _, d := range dups {
			fmt.Fprintf(&b, "- %s\n", d)
		}
	}
	if len(r.NotBuilt) > 0 {
		b.WriteString("\n## Clients not built\n\n")
		for name, why := range r.NotBuilt {
			fmt.Fprintf(&b, "- %s: %s\n", name, why)
		}
	}
	if r.failures() > 0 {
		b.WriteString("\n## Failures\n\nA run that did not account for every message is an error, not a figure:\n\n")
		for _, run := range r.Runs {
			if run.Err != "" && run.Index >= 0 {
				fmt.Fprintf(&b, "- %s, %s, run %d: %s\n", run.Client, run.Scenario, run.Index+1, run.Err)
			}
		}
	}
	b.WriteString("\nCharts (next to the latest.md of results/quick, results/full or results/topics): produce-throughput.png, produce-cpu.png, consume-throughput.png, consume-cpu.png (median, whiskers min-max). Every run's raw figures are in latest.json.\n")
	return b.String()
}

// libraryVersion is the version of the module a client program measures.
func (r *Report) libraryVersion(client string) string {
	v := r.Versions[client]
	mod := map[string]string{
		"gokafka-pure":    "github.com/gokafka/kafka",
		"gokafka-rdkafka": "github.com/gokafka/kafka",
		"franz-go":        "github.com/twmb/franz-go",
		"sarama":          "github.com/IBM/sarama",
		"kafka-go":        "github.com/segmentio/kafka-go",
		"confluent":       "github.com/confluentinc/confluent-kafka-go/v2",
		"java":            "",
	}[client]
	out := v[mod]
	if strings.HasPrefix(client, "gokafka") {
		out = r.GokafkaCommit
	}
	if lib := v["library"]; lib != "" && out != "" {
		out += " (" + lib + ")"
	} else if lib != "" {
		out = lib
	}
	return out
}

func num(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func ratio(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", v)
}

func warmupNote(warmup, quick bool) string {
	switch {
	case !warmup:
		return ""
	case quick:
		return ", after an unmeasured warm-up of the brokers (the reference client produces and consumes 300 000 messages)"
	}
	return ", after one unmeasured warm-up run (produce and consume) per client"
}

// topicsMarkdown is the many-topics table: each client's figures on one
// topic and on several, and their ratio.
func (r *Report) topicsMarkdown() string {
	var b strings.Builder
	b.WriteString("\n## Many topics against one\n\n")
	b.WriteString("The same messages on one topic and spread over several (same partitions per topic), run back to back in each round. " +
		"ratio: many-topic msg/s over one-topic msg/s, taken round by round (median, min-max); " +
		"ratio vs franz-go: the client's ratio over franz-go's (1.00x: serving several topics costs it what it costs franz-go).\n\n")
	b.WriteString("| client | work | 1 topic msg/s (min-max) | N topics msg/s (min-max) | ratio (min-max) | ratio vs franz-go | CPU µs/msg 1 → N | broker CPU µs/msg 1 → N | other load 1 / N |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, row := range r.TopicsRows {
		one, ok1 := r.result(row.Client, row.One)
		many, ok2 := r.result(row.Client, row.Many)
		if !ok1 || !ok2 {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s | %s (%s-%s) | %s (%s-%s) | %.2f (%.2f-%.2f) | %s | %.2f → %.2f | %s → %s | %.2f / %.2f |\n",
			row.Client, row.Work,
			num(one.MsgsPerSec), num(one.MsgsPerSecSpread.Min), num(one.MsgsPerSecSpread.Max),
			num(many.MsgsPerSec), num(many.MsgsPerSecSpread.Min), num(many.MsgsPerSecSpread.Max),
			row.Ratio.Median, row.Ratio.Min, row.Ratio.Max, ratio(row.RatioVsRef),
			one.CPUusPerMsg, many.CPUusPerMsg, brokerCPU(one), brokerCPU(many),
			one.OtherLoad.Median, many.OtherLoad.Median)
	}
	return b.String()
}

func brokerCPU(res Result) string {
	if res.BrokerCPUusPerMsg.Max <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", res.BrokerCPUusPerMsg.Median)
}
