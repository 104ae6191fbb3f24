package main

import (
	"fmt"
	"strings"
	"time"
)

// Scenario is one cell of the matrix: what every client is asked to do.
type Scenario struct {
	Mode       string `json:"mode"`             // "produce" or "consume"
	Size       int    `json:"size"`             // value bytes
	Partitions int    `json:"partitions"`       // of each topic
	Topics     int    `json:"topics,omitempty"` // 0 or 1: one topic
	Acks       string `json:"acks,omitempty"`   // produce only: "all" or "1"
	// Group: consume through a consumer group (one member, a fresh group
	// per run) instead of reading every partition directly.
	Group       bool   `json:"group,omitempty"`
	Compression string `json:"compression"` // "none" or "lz4"
	Count       int64  `json:"count"`       // messages per run, over all topics
	// Rate, if positive, makes a produce scenario a latency scenario
	// (latency.go): Rate messages per second, each one's latency timed.
	Rate int `json:"rate,omitempty"`
	// NoLinger: the producer sends at once (linger 0) instead of
	// lingering as the harness's settings say.
	NoLinger bool `json:"no_linger,omitempty"`
	// E2E: a latency scenario's client also consumes the topic in its
	// process and reports end-to-end latency (-e2e).
	E2E bool `json:"e2e,omitempty"`
}

// Linger is the producer linger of the scenario's runs.
func (s Scenario) Linger() time.Duration {
	if s.NoLinger {
		return 0
	}
	return settings.Linger
}

// NumTopics is the number of topics the scenario writes or reads.
func (s Scenario) NumTopics() int { return max(1, s.Topics) }

// Shape is the topics and partitions as names show them: "p12" for one
// topic of 12 partitions, "t10xp12" for 10 topics of 12 each.
func (s Scenario) Shape() string {
	if s.NumTopics() > 1 {
		return fmt.Sprintf("t%dxp%d", s.Topics, s.Partitions)
	}
	return fmt.Sprintf("p%d", s.Partitions)
}

// Name is the scenario as the tables print it.
func (s Scenario) Name() string {
	how := ""
	if s.Mode == "produce" {
		how = " acks=" + s.Acks
	}
	if s.Group {
		how = " group"
	}
	if s.Rate > 0 {
		how += fmt.Sprintf(" @%d/s", s.Rate)
	}
	if s.NoLinger {
		how += " linger0"
	}
	return fmt.Sprintf("%s %s %s%s %s", s.Mode, sizeName(s.Size), s.Shape(), how, s.Compression)
}

// Family is the scenario with its number of topics left out: the
// scenarios of one family differ only in how many topics carry the same
// messages (see Report.topicsRows).
func (s Scenario) Family() Scenario {
	s.Topics = 0
	return s
}

// Short is Name without the mode, for chart axes.
func (s Scenario) Short() string {
	return strings.TrimPrefix(strings.TrimPrefix(s.Name(), "produce "), "consume ")
}

// ID is the scenario as topic names carry it.
func (s Scenario) ID() string {
	id := fmt.Sprintf("%s-%d-%s-%s", s.Mode, s.Size, s.Shape(), s.Compression)
	if s.Mode == "produce" {
		id += "-acks" + s.Acks
	}
	if s.Group {
		id += "-group"
	}
	if s.Rate > 0 {
		id += fmt.Sprintf("-r%d", s.Rate)
	}
	if s.NoLinger {
		id += "-linger0"
	}
	return id
}

// topicNames are the names of a scenario's topics, from a base name: the
// base itself for one topic; for several, the base with "-t00", "-t01", ...
// (workload.Tally relies on that two-digit index at the end).
func (s Scenario) topicNames(base string) []string {
	if s.NumTopics() == 1 {
		return []string{base}
	}
	out := make([]string, s.Topics)
	for i := range out {
		out[i] = fmt.Sprintf("%s-t%02d", base, i)
	}
	return out
}

func sizeName(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return fmt.Sprintf("%dKiB", n/1024)
	}
	return fmt.Sprintf("%dB", n)
}

// Message counts are set by volume so that a run takes about a second for
// the faster clients on a 2-core machine (small messages cost per message,
// large ones per byte) and the full matrix stays near 45 minutes.
func count(mode string, size int, scale float64) int64 {
	var n int64
	switch {
	case size <= 100:
		n = 200_000
	case size <= 1024:
		n = 50_000
	default:
		n = 6_000
	}
	if mode == "consume" {
		// Consumers read from the page cache at several times the rate
		// producers write at (the fastest read 100 B messages at
		// millions per second).
		n *= 4
	}
	return max(1000, int64(float64(n)*scale))
}

// Compression is the codec of the compressed scenarios: lz4, the usual
// choice for throughput, supported by every client here.
const compressed = "lz4"

// fullMatrix is `make bench`: every combination, produce and consume (acks
// only applies to producing).
func fullMatrix(scale float64) []Scenario {
	var out []Scenario
	for _, mode := range []string{"produce", "consume"} {
		for _, size := range []int{100, 1024, 10240} {
			for _, parts := range []int{1, 12} {
				for _, comp := range []string{"none", compressed} {
					acks := []string{"all", "1"}
					if mode == "consume" {
						acks = []string{""}
					}
					for _, a := range acks {
						out = append(out, Scenario{Mode: mode, Size: size, Partitions: parts, Acks: a, Compression: comp, Count: count(mode, size, scale)})
					}
				}
			}
		}
	}
	return out
}

// manyTopics and topicsScale are the shape and the volume of the many-topics
// scenarios (-topics): 10 topics of 12 partitions against 1 of 12, five times
// the quick volume (produce 1 000 000, consume 4 000 000 messages per run:
// a group consumer reads 100 B messages at millions per second, and 1 000 000
// of them would be a run of a fifth of a second).
const (
	manyTopics  = 10
	topicsScale = 5
)

// topicsMatrix is `-topics` (make bench BENCH_FLAGS=-topics): 100 B
// messages, acks=all, no compression; a producer over 10 topics of 12
// partitions and a group consumer over the same 10 topics, each beside the
// same work on 1 topic of 12 partitions. Each mode's pair runs interleaved
// (every client runs both back to back, in alternating order), so that the
// ratio of the two is measured under the same load.
func topicsMatrix(scale float64) [][]Scenario {
	var out [][]Scenario
	for _, sc := range []Scenario{
		{Mode: "produce", Size: 100, Partitions: 12, Acks: "all", Compression: "none", Count: count("produce", 100, scale*topicsScale)},
		{Mode: "consume", Size: 100, Partitions: 12, Group: true, Compression: "none", Count: count("consume", 100, scale*topicsScale)},
	} {
		many := sc
		many.Topics = manyTopics
		out = append(out, []Scenario{sc, many})
	}
	return out
}

// The scale scenarios (-wide): one topic of widePartitions partitions and
// wideTopics topics of 12, each beside the same work on one topic of 12,
// at the -topics volume.
const (
	widePartitions = 1000
	wideTopics     = 50
)

var wideNotes = []string{
	fmt.Sprintf("Scale (-wide): p%d is one topic of %d partitions, t%dxp12 %d topics of 12 partitions, p12 one topic of 12; a producer writes message i to topic i mod the number of topics (keyless: each client's partitioner picks the partition), a group consumer is one member alone in a fresh group over the topics. The three shapes of a mode run interleaved, every client running each shape in turn, so that they compare under the same load.", widePartitions, widePartitions, wideTopics, wideTopics),
}

// wideMatrix is `-wide`: what many partitions and many topics cost, each
// mode's three shapes run as one interleaved set.
func wideMatrix(scale float64) [][]Scenario {
	var out [][]Scenario
	for _, sc := range []Scenario{
		{Mode: "produce", Size: 100, Partitions: 12, Acks: "all", Compression: "none", Count: count("produce", 100, scale*topicsScale)},
		{Mode: "consume", Size: 100, Partitions: 12, Group: true, Compression: "none", Count: count("consume", 100, scale*topicsScale)},
	} {
		many, wide := sc, sc
		many.Topics, many.Partitions = wideTopics, 12
		wide.Partitions = widePartitions
		out = append(out, []Scenario{sc, many, wide})
	}
	return out
}

// quickMatrix is `make bench-quick`: 100 B messages, 12 partitions,
// acks=all, no compression; produce and consume.
func quickMatrix(scale float64) []Scenario {
	return []Scenario{
		{Mode: "produce", Size: 100, Partitions: 12, Acks: "all", Compression: "none", Count: count("produce", 100, scale)},
		{Mode: "consume", Size: 100, Partitions: 12, Compression: "none", Count: count("consume", 100, scale)},
	}
}
