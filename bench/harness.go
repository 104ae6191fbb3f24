package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
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
		topics := []string{topicName("warmup", c.Name)}
		if err := h.createTopics(ctx, topics, pr.Partitions); err != nil {
			logf("warm-up: %v", err)
			continue
		}
		r := h.produceRun(ctx, c, pr, topics)
		logf("warm-up %s produce: %s", c.Name, r.summary())
		if r.Err == "" {
			cs := pr
			cs.Mode, cs.Acks = "consume", ""
			exp, err := h.endOffsets(ctx, topics, cs.Partitions)
			// Read what the topic holds: a client without idempotence may
			// have written duplicates.
			cs.Count = 0
			for _, n := range exp {
				cs.Count += n
			}
			if err == nil {
				r := h.runClient(ctx, h.binFor(c), c, cs, topics, exp)
				logf("warm-up %s consume: %s", c.Name, r.summary())
			}
		}
		h.deleteTopics(ctx, topics)
	}
}

// supports says whether client c can run sc: the Java perf tools read and
// write one topic only.
func supports(c clientDef, sc Scenario) bool {
	if sc.Rate > 0 {
		return slices.Contains(latencyClients, c.Name)
	}
	return !c.Java || sc.NumTopics() == 1
}

// prepared is a scenario ready to run: its topics made (one set per client
// for producing, one seeded set for consuming).
type prepared struct {
	sc       Scenario
	topics   map[string][]string // produce: client -> its topics
	seeded   []string            // consume: the topics every client reads
	expected []int64             // consume: messages per topic-partition
	failed   []Run               // the runs it could not prepare
}

// scenarios runs settings.Runs measured runs of every client in each of
// scs, interleaved: in every round each client, in an order rotated every
// round, runs every scenario back to back (in an order also rotated every
// round), so that the scenarios of the set are compared under the same
// load. Their topics are all made first and deleted at the end.
func (h *harness) scenarios(ctx context.Context, scs []Scenario) []Run {
	var preps []*prepared
	defer func() {
		for _, p := range preps {
			var all []string
			for _, ts := range p.topics {
				all = append(all, ts...)
			}
			h.deleteTopics(context.WithoutCancel(ctx), append(all, p.seeded...))
		}
	}()
	var out []Run
	for _, sc := range scs {
		p := &prepared{sc: sc, topics: map[string][]string{}}
		preps = append(preps, p)
		if sc.Mode == "consume" {
			h.seed(ctx, p)
		} else {
			// One set of topics per client, fresh at the start of the
			// scenario; each run appends to it and is checked by how much
			// the topics grew.
			for _, c := range h.peers {
				if !supports(c, sc) {
					continue
				}
				ts := sc.topicNames(topicName(sc.ID(), c.Name))
				if err := h.createTopics(ctx, ts, sc.Partitions); err != nil {
					p.failed = append(p.failed, Run{Client: c.Name, Scenario: sc.Name(), Err: err.Error()})
					continue
				}
				p.topics[c.Name] = ts
			}
		}
		out = append(out, p.failed...)
	}
	for r := range settings.Runs {
		for _, c := range rotated(h.peers, r) {
			for i := range preps {
				p := preps[(i+r)%len(preps)]
				if !supports(c, p.sc) || ctx.Err() != nil {
					continue
				}
				var run Run
				switch {
				case p.sc.Mode == "produce":
					ts, ok := p.topics[c.Name]
					if !ok {
						continue
					}
					if p.sc.E2E && r > 0 {
						// The run's consumer reads its topics from
						// the start: fresh ones, so that it reads
						// only this run's messages.
						ts = p.sc.topicNames(topicName(p.sc.ID(), c.Name, fmt.Sprint(r)))
						if err := h.createTopics(ctx, ts, p.sc.Partitions); err != nil {
							out = append(out, Run{Client: c.Name, Scenario: p.sc.Name(), Err: err.Error()})
							continue
						}
					}
					run = h.produceRun(ctx, c, p.sc, ts)
				case p.seeded != nil:
					run = h.runClient(ctx, h.binFor(c), c, p.sc, p.seeded, p.expected)
				default:
					continue // seeding failed: in p.failed
				}
				run.Index = r
				name := c.Name
				if len(preps) > 1 {
					name += ", " + p.sc.Shape()
				}
				logf("  %-24s run %d: %s", name, r+1, run.summary())
				out = append(out, run)
			}
		}
	}
	return out
}

// produceRun runs one produce and checks, by the topics' end offsets, that
// they grew by at least as many messages as were acknowledged.
func (h *harness) produceRun(ctx context.Context, c clientDef, sc Scenario, topics []string) Run {
	before, err := h.endOffsets(ctx, topics, sc.Partitions)
	if err != nil {
		return Run{Client: c.Name, Scenario: sc.Name(), Err: err.Error()}
	}
	r := h.runClient(ctx, h.binFor(c), c, sc, topics, nil)
	// End offsets are high watermarks: with acks=1 the leader acknowledges
	// before the followers have the messages, and the high watermark
	// catches up a moment later. Poll until it covers what was
	// acknowledged, or a deadline says messages are missing.
	deadline := time.Now().Add(15 * time.Second)
	for {
		after, err := h.endOffsets(ctx, topics, sc.Partitions)
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
		r.Err = fmt.Sprintf("the client reported %d messages acknowledged but the topics grew by %d: messages lost", r.Messages, r.Written)
	}
	return r
}

// seed makes the topics of a consume scenario and fills them with sc.Count
// messages (produced by the reference client, with the scenario's
// compression; with several topics, round robin over them), which every
// client then reads from the start.
func (h *harness) seed(ctx context.Context, p *prepared) {
	sc := p.sc
	fail := func(err error) {
		for _, c := range h.peers {
			if supports(c, sc) {
				p.failed = append(p.failed, Run{Client: c.Name, Scenario: sc.Name(), Err: "seeding: " + err.Error()})
			}
		}
	}
	topics := sc.topicNames(topicName(sc.ID()))
	if err := h.createTopics(ctx, topics, sc.Partitions); err != nil {
		fail(err)
		return
	}
	p.seeded = topics // deleted at the end, even if seeding fails below
	seed := sc
	seed.Mode, seed.Acks, seed.Group = "produce", "all", false
	if r := h.produceRun(ctx, h.reference, seed, topics); r.Err != "" {
		p.seeded = nil
		h.deleteTopics(context.WithoutCancel(ctx), topics)
		fail(errors.New(r.Err))
		return
	}
	expected, err := h.endOffsets(ctx, topics, sc.Partitions)
	var total int64
	for _, n := range expected {
		total += n
	}
	if err == nil && total != sc.Count {
		err = fmt.Errorf("the topics hold %d messages, want %d", total, sc.Count)
	}
	if err != nil {
		p.seeded = nil
		h.deleteTopics(context.WithoutCancel(ctx), topics)
		fail(err)
		return
	}
	p.expected = expected
	logf("  seeded %d topic(s) of %d partitions with %d messages", len(topics), sc.Partitions, total)
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
