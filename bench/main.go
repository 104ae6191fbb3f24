// Command bench is gokafka's end-to-end benchmark harness: it measures
// throughput, CPU and memory of gokafka (both engines) against the Go
// clients a user would pick instead, each in its own process, against one
// fresh local 3-broker cluster. See README.md.
//
//	go run . -quick            # make bench-quick: under 5 minutes
//	go run .                   # make bench: the full matrix
//	go run . -topics           # make bench BENCH_FLAGS=-topics: 10 topics against 1
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Settings are the client settings every client gets, as far as it has
// the knob; they are printed with the results.
type Settings struct {
	Linger       time.Duration `json:"linger_ns"`
	BatchBytes   int           `json:"batch_bytes"`
	MaxQueued    int           `json:"max_queued_messages"`
	FetchMaxWait time.Duration `json:"fetch_max_wait_ns"`
	Replication  int           `json:"replication_factor"`
	MinISR       int           `json:"min_insync_replicas"`
	Brokers      int           `json:"brokers"`
	Runs         int           `json:"runs"`
	Warmup       bool          `json:"warmup"`
	QuietWait    time.Duration `json:"quiet_wait_ns"`
	Notes        []string      `json:"notes"`
}

var settings = Settings{
	Linger:       5 * time.Millisecond,
	BatchBytes:   1 << 20,
	MaxQueued:    100_000,
	FetchMaxWait: 100 * time.Millisecond,
	Replication:  3,
	MinISR:       2,
	Brokers:      3,
	Notes: []string{
		"acks=all runs use the idempotent producer where the client has one (all but kafka-go); sarama's requires max.in.flight 1 (Net.MaxOpenRequests = 1), the others allow 5.",
		"Keyless messages, each client's default partitioner for them (franz-go: sticky; librdkafka: sticky for 10 ms; gokafka: sticky for one batch (1 MiB) or 1 s on the pure engine, 10 ms on the librdkafka engine, its defaults; sarama: random; kafka-go: round-robin, as configured).",
		"At most 100 000 messages in flight per producer: the client's own bound where it has one (gokafka, franz-go, librdkafka), the harness's loop otherwise (sarama, kafka-go).",
		"kafka-go is handed 1 000 messages per WriteMessages call (Async), the way its documentation writes batches; the others get one message per call.",
		"Consumers read every partition from the earliest offset, without a consumer group unless the scenario says group (confluent-kafka-go needs a group.id: a random one, never joined), fetch max wait 100 ms, 1 MiB per partition per fetch.",
		"CPU is user+sys of the client's whole process (getrusage of the child: start-up, connections and shutdown included) divided by the messages of the run; peak RSS is its ru_maxrss.",
		"Each run is a new process; runs of one scenario interleave the clients, in an order rotated every run, so that drift on the broker side spreads over all of them.",
		"Brokers share the 2 cores with the client: a client that spends less CPU leaves more to the brokers.",
	},
}

// topicsNotes are the settings of the many-topics scenarios (-topics).
var topicsNotes = []string{
	"Many topics (tNxpM: N topics of M partitions each; p12 alone is one topic): a producer sends message i to topic i mod N, every message naming its topic, through one producer (gokafka: Client.NewProducer, and Topic.NewProducer for one topic; franz-go: one kgo.Client; sarama: one AsyncProducer; kafka-go: one Writer; confluent: one Producer).",
	"Group consume (\"group\"): one member alone in a group of its own (a fresh group id per run, reading from the earliest offsets, committing nothing): gokafka's BalancedConsumer (Kafka's classic protocol, range), franz-go kgo.ConsumerGroup, sarama ConsumerGroup, kafka-go's group Reader (GroupTopics, FetchMessage), confluent Subscribe. Its measured section starts at the first message read, leaving out the join, which costs the same whatever the volume; CPU per message still counts the whole process, join included.",
	"The one-topic and the many-topic scenario of a mode run interleaved: in every round each client runs both back to back, the order of the two alternating from round to round, so that their ratio is taken under the same load.",
	"The harness's per-message bookkeeping finds a message's topic from the two-digit index that ends its name (one comparison), so serving several topics costs the clients nothing extra in the harness.",
}

const runTimeout = 4 * time.Minute

// quietWait bounds how long each run waits for the machine to be quiet
// (-quiet-wait).
var quietWait time.Duration

var start = time.Now()

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench %6.1fs: %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
}

func main() {
	os.Exit(run())
}

func run() int {
	var (
		quick   = flag.Bool("quick", false, "the quick subset (100 B, 12 partitions, acks=all, no compression) instead of the full matrix")
		topics  = flag.Bool("topics", false, "the many-topics scenarios instead of the full matrix: a producer over 10 topics of 12 partitions and a group consumer over them, each interleaved with the same work on 1 topic of 12")
		e2e     = flag.Bool("e2e", false, "with -latency: each run also consumes its topic in the client's process (same library) and reports end-to-end latency, Produce call to the consumer's hand-over (the CPU column then includes the consumer)")
		latency = flag.Bool("latency", false, "the produce latency scenarios instead of the full matrix: 100 B at 1 000, 10 000 and 100 000 msg/s, with linger 5 ms and 0, p50/p99/p999 from produce call to delivery report (gokafka both engines, confluent, franz-go)")
		runs    = flag.Int("runs", 0, "measured runs per client and scenario (default 2 with -quick, 3 with -topics, 5 otherwise)")
		scale   = flag.Float64("scale", 1, "multiply every scenario's message count")
		clients = flag.String("clients", "", "comma-separated clients to run (default all: "+clientNames(allClients)+")")
		only    = flag.String("only", "", "run only scenarios whose name matches this `regexp` (e.g. 'produce 100B')")
		brokers = flag.String("brokers", "", "use this running cluster (comma-separated) instead of starting one; for trying the harness out, not for figures")
		outDir  = flag.String("out", defaultOut, "`dir` for latest.md, latest.json and the charts: by default they go to a subdirectory per kind of run (quick, full, topics, ..., partial for -only or -clients) and latest.md and latest.json also to the top; any other dir gets everything itself")
		warmup  = flag.Bool("warmup", true, "unmeasured produce and consume runs first: one per client, or with -quick and -topics one by the reference client")
		quiet   = flag.Duration("quiet-wait", 3*time.Second, "before each run, wait up to this long for other work on the machine to drop below half a core (0: do not wait)")
		java    = flag.String("java", "auto", "run the Java client's perf tools: on, off, or auto (on with -quick, off for the full matrix, to keep it near 45 minutes, and with -topics; needs java and mvn; one topic only)")
		noJava  = flag.Bool("no-java", false, "same as -java off")
		wide    = flag.Bool("wide", false, "the scale scenarios instead of the full matrix: a producer and a group consumer over 1 topic of 1 000 partitions and over 50 topics of 12, interleaved with the same work on 1 topic of 12")
		null    = flag.Bool("null", false, "the client-ceiling matrix instead: gokafka-pure and franz-go (or -clients) against an in-process null broker, one core per client (see null.go); writes results/null")
	)
	replot := flag.String("replot", "", "only rewrite the markdown and the charts from this `latest.json` (into -out)")
	flag.Parse()
	if *replot != "" {
		if err := replotFrom(*replot, *outDir); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if *null {
		return runNull(ctx, *runs, *scale, *clients, *only, *outDir)
	}
	if *e2e && !*latency {
		fmt.Fprintln(os.Stderr, "bench: -e2e goes with -latency")
		return 2
	}
	if n := countTrue(*quick, *topics, *latency, *wide); n > 1 {
		fmt.Fprintln(os.Stderr, "bench: -quick, -topics, -latency and -wide are matrices: pick one")
		return 2
	}
	settings.Runs = *runs
	if settings.Runs <= 0 {
		settings.Runs = 5
		switch {
		case *quick:
			settings.Runs = 2
		case *topics, *latency, *wide:
			settings.Runs = 3
		}
	}
	settings.Warmup = *warmup
	quietWait = *quiet
	settings.QuietWait = *quiet
	// The matrix is a list of sets of scenarios; the scenarios of a set
	// run interleaved (one set per scenario, except with -topics).
	var matrix [][]Scenario
	switch {
	case *quick:
		matrix = single(quickMatrix(*scale))
	case *topics:
		matrix = topicsMatrix(*scale)
		settings.Notes = append(settings.Notes, topicsNotes...)
	case *latency:
		matrix = latencyMatrix(*scale, *e2e)
		settings.Notes = append(settings.Notes, latencyNotes...)
	case *wide:
		matrix = wideMatrix(*scale)
		settings.Notes = append(settings.Notes, wideNotes...)
	default:
		matrix = single(fullMatrix(*scale))
	}
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: -only:", err)
			return 2
		}
		for i := range matrix {
			matrix[i] = slices.DeleteFunc(matrix[i], func(s Scenario) bool { return !re.MatchString(s.Name()) })
		}
		matrix = slices.DeleteFunc(matrix, func(set []Scenario) bool { return len(set) == 0 })
	}
	nScenarios := 0
	for _, set := range matrix {
		nScenarios += len(set)
	}
	peers := allClients
	if *clients != "" {
		peers = nil
		for _, name := range strings.Split(*clients, ",") {
			i := slices.IndexFunc(allClients, func(c clientDef) bool { return c.Name == strings.TrimSpace(name) })
			if strings.TrimSpace(name) == javaClient.Name {
				continue
			}
			if i < 0 {
				fmt.Fprintf(os.Stderr, "bench: unknown client %q (have %s)\n", name, clientNames(allClients))
				return 2
			}
			peers = append(peers, allClients[i])
		}
	}
	if len(matrix) == 0 || (len(peers) == 0 && *noJava) {
		fmt.Fprintln(os.Stderr, "bench: nothing to run")
		return 2
	}

	report := &Report{Settings: settings, Quick: *quick, Topics: *topics, Latency: *latency, Wide: *wide, Started: time.Now().UTC()}
	report.Machine = describeMachine()

	binDir, err := os.MkdirTemp("", "gokafka-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	defer os.RemoveAll(binDir)
	toBuild := peers
	if !slices.ContainsFunc(toBuild, func(c clientDef) bool { return c.Name == reference }) {
		toBuild = append(slices.Clone(toBuild), allClients[slices.IndexFunc(allClients, func(c clientDef) bool { return c.Name == reference })])
	}
	report.Versions, report.NotBuilt = build(ctx, binDir, toBuild)
	if _, bad := report.NotBuilt[reference]; bad {
		fmt.Fprintf(os.Stderr, "bench: the reference client %s could not be built: %s\n", reference, report.NotBuilt[reference])
		return 1
	}
	peers = slices.DeleteFunc(peers, func(c clientDef) bool { _, bad := report.NotBuilt[c.Name]; return bad })
	report.GokafkaCommit = gitCommit()

	b, err := startCluster(ctx, *brokers, settings.Brokers)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: cluster:", err)
		return 1
	}
	defer b.Close()
	report.Machine.Kafka = b.version
	logf("cluster %s (Kafka %s); %d scenarios x %d clients x %d runs", strings.Join(b.cluster.Brokers(), ","), b.version, nScenarios, len(peers), settings.Runs)

	h := &harness{bench: b, bin: binDir, peers: peers, reference: clientByName(reference)}
	withJava := *java == "on" || (*java == "auto" && *quick)
	if *clients != "" {
		withJava = slices.Contains(strings.Split(*clients, ","), javaClient.Name)
	}
	if withJava && !*noJava {
		if cp, err := javaTools(ctx); err != nil {
			logf("the Java client's perf tools are left out: %v", err)
		} else {
			h.javaCP = cp
			h.peers = append(h.peers, javaClient)
			report.Versions[javaClient.Name] = map[string]string{"library": "kafka-tools " + kafkaToolsVersion}
		}
	}
	report.Clients = h.peers
	if *warmup {
		h.warmup(ctx, !*quick && !*topics && !*latency && !*wide)
	}
	done := 0
	for _, set := range matrix {
		if ctx.Err() != nil {
			break
		}
		var names []string
		for _, sc := range set {
			names = append(names, fmt.Sprintf("%s, %d messages", sc.Name(), sc.Count))
		}
		which := fmt.Sprint(done + 1)
		if len(set) > 1 {
			which = fmt.Sprintf("%d-%d", done+1, done+len(set))
		}
		done += len(set)
		logf("scenario %s/%d: %s", which, nScenarios, strings.Join(names, " | interleaved with | "))
		report.Scenarios = append(report.Scenarios, set...)
		report.Runs = append(report.Runs, h.scenarios(ctx, set)...)
	}
	report.Finished = time.Now().UTC()
	report.Interrupted = ctx.Err() != nil
	report.aggregate()

	// Quick and full results are kept side by side; latest.md and
	// latest.json at the top are whichever ran last.
	dir := filepath.Join(*outDir, report.kind())
	switch {
	case *outDir != defaultOut:
		// A directory of the run's own (results/quiet-engines, say):
		// everything goes there, charts included.
		dir = *outDir
	case *only != "" || *clients != "":
		dir = filepath.Join(*outDir, "partial")
	}
	if err := report.write(dir); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	if dir != *outDir {
		if err := copyLatest(dir, *outDir); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			return 1
		}
	}
	if err := report.writeLatency(dir); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	fmt.Println(report.markdown())
	if report.Latency {
		fmt.Println(report.latencyMarkdown())
	}
	if dir != *outDir {
		logf("wrote %s and %s", filepath.Join(dir, "latest.md"), filepath.Join(*outDir, "latest.md"))
	} else {
		logf("wrote %s", filepath.Join(dir, "latest.md"))
	}
	if len(report.NotBuilt) > 0 {
		// Not an error: a machine without a C compiler cannot build the
		// librdkafka clients, and the others are still worth measuring.
		fmt.Fprintf(os.Stderr, "bench: %d client(s) could not be built and are left out (see latest.md)\n", len(report.NotBuilt))
	}
	if n := report.failures(); n > 0 || report.Interrupted {
		fmt.Fprintf(os.Stderr, "bench: %d run(s) failed (see the Failures section)\n", n)
		return 1
	}
	return 0
}

// defaultOut is -out's default, the committed results tree.
const defaultOut = "results"

// single makes each scenario a set of its own.
func single(scs []Scenario) [][]Scenario {
	var out [][]Scenario
	for _, sc := range scs {
		out = append(out, []Scenario{sc})
	}
	return out
}

func clientNames(cs []clientDef) string {
	var n []string
	for _, c := range cs {
		n = append(n, c.Name)
	}
	return strings.Join(n, ",")
}

func clientByName(name string) clientDef {
	return allClients[slices.IndexFunc(allClients, func(c clientDef) bool { return c.Name == name })]
}

// replotFrom rewrites latest.md and the charts from a latest.json.
func replotFrom(path, dir string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var r Report
	if err := json.Unmarshal(raw, &r); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	r.aggregate()
	if err := r.writeLatency(dir); err != nil {
		return err
	}
	return r.write(dir)
}

// copyLatest copies latest.md and latest.json from dir to top.
func copyLatest(dir, top string) error {
	for _, f := range []string{"latest.md", "latest.json"} {
		raw, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(top, f), raw, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// countTrue counts the flags that are set.
func countTrue(flags ...bool) int {
	n := 0
	for _, f := range flags {
		if f {
			n++
		}
	}
	return n
}
