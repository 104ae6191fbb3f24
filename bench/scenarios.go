package main

import (
	"fmt"
	"strings"
)

// Scenario is one cell of the matrix: what every client is asked to do.
type Scenario struct {
	Mode        string `json:"mode"` // "produce" or "consume"
	Size        int    `json:"size"` // value bytes
	Partitions  int    `json:"partitions"`
	Acks        string `json:"acks,omitempty"` // produce only: "all" or "1"
	Compression string `json:"compression"`    // "none" or "lz4"
	Count       int64  `json:"count"`          // messages per run
}

// Name is the scenario as the tables print it.
func (s Scenario) Name() string {
	acks := ""
	if s.Mode == "produce" {
		acks = " acks=" + s.Acks
	}
	return fmt.Sprintf("%s %s p%d%s %s", s.Mode, sizeName(s.Size), s.Partitions, acks, s.Compression)
}

// Short is Name without the mode, for chart axes.
func (s Scenario) Short() string {
	return strings.TrimPrefix(strings.TrimPrefix(s.Name(), "produce "), "consume ")
}

// ID is the scenario as topic names carry it.
func (s Scenario) ID() string {
	id := fmt.Sprintf("%s-%d-p%d-%s", s.Mode, s.Size, s.Partitions, s.Compression)
	if s.Mode == "produce" {
		id += "-acks" + s.Acks
	}
	return id
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

// quickMatrix is `make bench-quick`: 100 B messages, 12 partitions,
// acks=all, no compression; produce and consume.
func quickMatrix(scale float64) []Scenario {
	return []Scenario{
		{Mode: "produce", Size: 100, Partitions: 12, Acks: "all", Compression: "none", Count: count("produce", 100, scale)},
		{Mode: "consume", Size: 100, Partitions: 12, Compression: "none", Count: count("consume", 100, scale)},
	}
}
