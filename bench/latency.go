package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Latency scenarios (-latency): each client produces at a fixed rate
// instead of as fast as it can, and each message's latency is the time from
// the moment the program handed it to the library (just before the
// produce call) to the moment its delivery report reached the program
// (internal/workload/latency.go). The rates are far below what any client
// can do, so the figure is what a steady stream of messages waits for:
// linger, the trip to the leader and the replicas (acks=all), and whatever
// the library adds between its network code and the program. Both rates of
// a round run back to back for every client, in a rotated order, so that
// clients and rates share the same load.

// latencyRates are the messages per second of the latency scenarios.
var latencyRates = []int{1000, 10000, 100000}

// latencySeconds is how long each latency run sends for.
const latencySeconds = 10

// latencyClients are the clients whose programs stamp and time messages.
var latencyClients = []string{"gokafka-pure", "gokafka-rdkafka", "confluent", "franz-go"}

// latencyMatrix is -latency: 100 B, 12 partitions, acks=all (idempotent),
// no compression, at each rate of latencyRates, with the harness's linger
// (5 ms) and with none; one set, so that rates and lingers interleave.
//
// With e2e, each run also consumes its topic in the client's process and
// reports end-to-end latency (Produce call to the consumer's hand-over).
func latencyMatrix(scale float64, e2e bool) [][]Scenario {
	var set []Scenario
	for _, noLinger := range []bool{false, true} {
		for _, rate := range latencyRates {
			n := max(int64(1000), int64(float64(rate*latencySeconds)*scale))
			set = append(set, Scenario{Mode: "produce", Size: 100, Partitions: 12, Acks: "all", Compression: "none", Count: n, Rate: rate, NoLinger: noLinger, E2E: e2e})
		}
	}
	return [][]Scenario{set}
}

// latencyNotes are the latency scenarios' settings, printed with them.
var latencyNotes = []string{
	"Latency (@N/s): the client produces N messages per second (the harness's loop waits for each message's turn), and a message's latency is the time from just before its produce call to its delivery report reaching the program; the send time rides in the message's first 16 bytes. p50/p99/p999 over every message of the run; 'steady p99' leaves out the messages sent in the first second (connections, metadata, producer id).",
	"Broker GC: the stop-the-world collections of the brokers' JVMs while the run's process ran (count, and the longest in ms), from their GC logs. A pause stops one broker, and with acks=all every partition it replicates waits for it, whichever partition a message went to (here every broker replicates every partition): at 10 000 msg/s a 20 ms pause holds back the 200 messages sent during it, the earlier ones past 10 ms, so the number of pauses that fall in a run decides much of its p99. Compare clients over runs with as many pauses.",
}

// latencyMarkdown is the table of the latency scenarios: per client and
// rate, the median over runs of each percentile, with the runs' min-max.
func (r *Report) latencyMarkdown() string {
	var b strings.Builder
	b.WriteString("## Produce latency (acks=all, idempotent, 100 B, 12 partitions)\n\n")
	fmt.Fprintf(&b, "Medians over the runs, [min-max] in brackets; milliseconds. %s\n\n", latencyNotes[0])
	fmt.Fprintf(&b, "%s\n\n", latencyNotes[1])
	fmt.Fprintf(&b, "Load average when the harness started: %s (this machine has %d cores). Latency measures waiting, and on a loaded machine waiting for a core dominates it: read the figures of one run side by side, not across runs.\n\n", r.Machine.LoadAvg, r.Machine.Cores)
	withE2E := slices.ContainsFunc(r.Scenarios, func(s Scenario) bool { return s.Rate > 0 && s.E2E })
	if withE2E {
		b.WriteString("End-to-end (e2e): from just before the produce call to a consumer in the same process, reading the topic from its start with the same library, handing the message to the program; the CPU column then includes that consumer.\n\n")
		b.WriteString("| client | rate | linger | runs | p50 | p99 | p999 | max | steady p99 | e2e p50 | e2e p99 | e2e p999 | CPU µs/msg | other load (cores) | broker GC pauses | longest GC ms |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	} else {
		b.WriteString("| client | rate | linger | runs | p50 | p99 | p999 | max | steady p99 | CPU µs/msg | other load (cores) | broker GC pauses | longest GC ms |\n")
		b.WriteString("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	}
	for _, sc := range r.Scenarios {
		if sc.Rate == 0 {
			continue
		}
		for _, c := range r.Clients {
			var p50, p99, p999, mx, st, cpu, other, e50, e99, e999, gcs, gcMax []float64
			for _, run := range r.Runs {
				if run.Client != c.Name || run.Scenario != sc.Name() || run.Err != "" || run.Latency == nil || run.Index < 0 {
					continue
				}
				l := run.Latency
				ms := func(ns int64) float64 { return float64(ns) / float64(time.Millisecond) }
				p50 = append(p50, ms(l.P50))
				p99 = append(p99, ms(l.P99))
				p999 = append(p999, ms(l.P999))
				mx = append(mx, ms(l.Max))
				st = append(st, ms(l.SteadyP99))
				if e := l.E2E; e != nil && e.Err == "" && e.Messages == run.Messages {
					e50, e99, e999 = append(e50, ms(e.P50)), append(e99, ms(e.P99)), append(e999, ms(e.P999))
				}
				cpu = append(cpu, float64(run.CPU.Microseconds())/float64(max(run.Messages, 1)))
				if run.OtherCPU >= 0 && run.Wall > 0 {
					other = append(other, run.OtherCPU.Seconds()/run.Wall.Seconds())
				}
				if g := run.BrokerGC; g != nil {
					gcs, gcMax = append(gcs, float64(g.Count)), append(gcMax, ms(int64(g.Longest)))
				}
			}
			if len(p50) == 0 {
				continue
			}
			f := func(v []float64) string {
				s := spread(v)
				return fmt.Sprintf("%.1f [%.1f-%.1f]", s.Median, s.Min, s.Max)
			}
			o := "?"
			if len(other) > 0 {
				s := spread(other)
				o = fmt.Sprintf("%.1f [%.1f-%.1f]", s.Median, s.Min, s.Max)
			}
			gc, gcm := "?", "?"
			if len(gcs) > 0 {
				s := spread(gcs)
				gc = fmt.Sprintf("%.0f [%.0f-%.0f]", s.Median, s.Min, s.Max)
				gcm = f(gcMax)
			}
			if withE2E {
				fe := func(v []float64) string {
					if len(v) == 0 {
						return "-"
					}
					return f(v)
				}
				fmt.Fprintf(&b, "| %s | %d/s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", c.Name, sc.Rate, sc.Linger(), len(p50), f(p50), f(p99), f(p999), f(mx), f(st), fe(e50), fe(e99), fe(e999), f(cpu), o, gc, gcm)
				continue
			}
			fmt.Fprintf(&b, "| %s | %d/s | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", c.Name, sc.Rate, sc.Linger(), len(p50), f(p50), f(p99), f(p999), f(mx), f(st), f(cpu), o, gc, gcm)
		}
	}
	return b.String()
}

// writeLatency writes latency.md into dir.
func (r *Report) writeLatency(dir string) error {
	if !slices.ContainsFunc(r.Scenarios, func(s Scenario) bool { return s.Rate > 0 }) {
		return nil
	}
	return os.WriteFile(filepath.Join(dir, "latency.md"), []byte(r.latencyMarkdown()), 0o644)
}
