package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// harness runs scenarios: topics, seeding, the interleaved runs, and the
// checks that every message was written or read exactly as claimed.
type harness struct {
	*bench
	bin       string // the Go client programs
	javaCP    string // kafka-tools' classpath, when the Java client runs
	peers     []clientDef
	reference clientDef
}

// topicName is unique per harness process, so a rerun against the same
// external cluster does not find old data.
var runID = fmt.Sprintf("%06x", rand.Uint32()&0xffffff)

func topicName(parts ...string) string {
	n := "bench-" + runID
	for _, p := range parts {
		n += "-" + p
	}
	return n
}

// rotated returns the clients in the order of run r: the list rotated by
// r, so that no client always runs right after the same other one.
func rotated(cs []clientDef, r int) []clientDef {
	out := make([]clientDef, 0, len(cs))
	for i := range cs {
		out = append(out, cs[(i+r)%len(cs)])
	}
	return out
}

// warmup runs every client once, producing then consuming a short
// scenario: the brokers' JIT, page cache and connection paths warm up, and
// a client that cannot work at all is found before the long part.
//
// With all false only the reference client warms the brokers up (quick
// runs: a client process is new every run anyway, so there is nothing to
// warm on the client side).
func (h *harness) warmup(ctx context.Context, all bool) {
	pr := Scenario{Mode: "produce", Size: 100, Partitions: 12, Acks: "all", Compression: "none", Count: 100_000}
	clients := h.peers
	if !all {
		pr.Count = 300_000
		clients = []clientDef{h.reference}
	}
	for _, c := range clients {
		topic := topicName("warmup", c.Name)
		if err := h.createTopic(ctx, topic, pr.Partitions); err != nil {
			logf("warm-up: %v", err)
			continue
		}
		r := h.produceRun(ctx, c, pr, topic)
		logf("warm-up %s produce: %s", c.Name, r.summary())
		if r.Err == "" {
			cs := pr
			cs.Mode, cs.Acks = "consume", ""
			exp, err := h.endOffsets(ctx, topic, cs.Partitions)
			// Read what the topic holds: a client without idempotence may
			// have written duplicates.
			cs.Count = 0
			for _, n := range exp {
				cs.Count += n
			}
			if err == nil {
				r := h.runClient(ctx, h.binFor(c), c, cs, topic, exp)
				logf("warm-up %s consume: %s", c.Name, r.summary())
			}
		}
		h.deleteTopic(ctx, topic)
	}
}

// scenario runs settings.Runs measured runs of every client.
func (h *harness) scenario(ctx context.Context, sc Scenario) []Run {
	if sc.Mode == "consume" {
		return h.consumeScenario(ctx, sc)
	}
	// One topic per client, fresh at the start of the scenario; each run
	// appends to it and is checked by how much the topic grew.
	topics := map[string]string{}
	var out []Run
	for _, c := range h.peers {
		t := topicName(sc.ID(), c.Name)
		if err := h.createTopic(ctx, t, sc.Partitions); err != nil {
			out = append(out, Run{Client: c.Name, Scenario: sc.Name(), Err: err.Error()})
			continue
		}
		topics[c.Name] = t
	}
	defer func() {
		for _, t := range topics {
			if err := h.deleteTopic(context.WithoutCancel(ctx), t); err != nil {
				logf("deleting %s: %v", t, err)
			}
		}
	}()
	for r := range settings.Runs {
		for _, c := range rotated(h.peers, r) {
			t, ok := topics[c.Name]
			if !ok || ctx.Err() != nil {
				continue
			}
			run := h.produceRun(ctx, c, sc, t)
			run.Index = r
			logf("  %-16s run %d: %s", c.Name, r+1, run.summary())
			out = append(out, run)
		}
	}
	return out
}

// produceRun runs one produce and checks, by the topic's end offsets, that
// the topic grew by at least as many messages as were acknowledged.
func (h *harness) produceRun(ctx context.Context, c clientDef, sc Scenario, topic string) Run {
	before, err := h.endOffsets(ctx, topic, sc.Partitions)
	if err != nil {
		return Run{Client: c.Name, Scenario: sc.Name(), Err: err.Error()}
	}
	r := h.runClient(ctx, h.binFor(c), c, sc, topic, nil)
	// End offsets are high watermarks: with acks=1 the leader acknowledges
	// before the followers have the messages, and the high watermark
	// catches up a moment later. Poll until it covers what was
	// acknowledged, or a deadline says messages are missing.
	deadline := time.Now().Add(15 * time.Second)
	for {
		after, err := h.endOffsets(ctx, topic, sc.Partitions)
		if err != nil {
			if r.Err == "" {
				r.Err = err.Error()
			}
			return r
		}
		r.Written = 0
		for p := range after {
			r.Written += after[p] - before[p]
		}
		if r.Written >= r.Messages || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r.Err == "" && r.Written < sc.Count {
		r.Err = fmt.Sprintf("the client reported %d messages acknowledged but the topic grew by %d: messages lost", r.Messages, r.Written)
	}
	return r
}

// consumeScenario seeds a topic with sc.Count messages (produced by the
// reference client, with the scenario's compression), then has every client
// read it from the start, settings.Runs times each.
func (h *harness) consumeScenario(ctx context.Context, sc Scenario) []Run {
	topic := topicName(sc.ID())
	fail := func(err error) []Run {
		var out []Run
		for _, c := range h.peers {
			out = append(out, Run{Client: c.Name, Scenario: sc.Name(), Err: "seeding: " + err.Error()})
		}
		return out
	}
	if err := h.createTopic(ctx, topic, sc.Partitions); err != nil {
		return fail(err)
	}
	defer h.deleteTopic(context.WithoutCancel(ctx), topic)
	seed := sc
	seed.Mode, seed.Acks = "produce", "all"
	if r := h.produceRun(ctx, h.reference, seed, topic); r.Err != "" {
		return fail(errors.New(r.Err))
	}
	expected, err := h.endOffsets(ctx, topic, sc.Partitions)
	if err != nil {
		return fail(err)
	}
	var total int64
	for _, n := range expected {
		total += n
	}
	if total != sc.Count {
		return fail(fmt.Errorf("the topic holds %d messages, want %d", total, sc.Count))
	}
	var out []Run
	for r := range settings.Runs {
		for _, c := range rotated(h.peers, r) {
			if ctx.Err() != nil {
				continue
			}
			run := h.runClient(ctx, h.binFor(c), c, sc, topic, expected)
			run.Index = r
			logf("  %-16s run %d: %s", c.Name, r+1, run.summary())
			out = append(out, run)
		}
	}
	return out
}

func (r Run) summary() string {
	if r.Err != "" {
		return "FAILED: " + r.Err
	}
	secs := r.Elapsed.Seconds()
	return fmt.Sprintf("%.0f msg/s, %.1f MB/s, %.2f µs CPU/msg, RSS %.0f MiB, %.2fs",
		float64(r.Messages)/secs, float64(r.Bytes)/secs/1e6,
		float64(r.CPU.Microseconds())/float64(r.Messages), float64(r.MaxRSS)/(1<<20), secs)
}

func (h *harness) binFor(c clientDef) string {
	if c.Java {
		return h.javaCP
	}
	return h.bin
}
