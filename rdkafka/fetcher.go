//go:build cgo && !nordkafka

package rdkafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/offsets"
)

const (
	// pollSlice is the longest a Poll waits inside librdkafka at once:
	// librdkafka cannot watch a context, so it bounds how late Poll
	// notices a cancelled ctx, and how long Assign, Unassign and Close
	// wait for a Poll in progress.
	pollSlice = 50 * time.Millisecond
	// maxDrain bounds the events taken from librdkafka in one go, and so
	// the messages buffered in the engine beyond librdkafka's own queue
	// (batchBudget bounds their bytes). 16 384 rather than 4 096: with
	// small messages a batch is then a bigger share of the Go heap, and
	// the collector, whose cycles come every few megabytes allocated
	// while librdkafka holds the prefetch in C memory, ran half as often
	// (173 → 82 cycles for 2 000 000 × 100 B): 0.56 → 0.53 µs of CPU per
	// message (6 interleaved rounds). The price: 1.6 MiB more of scratch
	// per instance (the descriptor and pointer arrays, by their sizes), a
	// heap goal of 13 MB instead of 6 (gctrace), and the bench's consumer
	// peaking at 139-141 MiB of RSS against 122-131 before.
	maxDrain = 16384
	// slabSize is how many messages are allocated at once.
	slabSize = 256
	// rangeRetry spaces the checks for out-of-range partitions when the
	// brokers could not be asked.
	rangeRetry = time.Second
	// rangeTimeout bounds one such check.
	rangeTimeout = 10 * time.Second
)

// fetcher is an engine.Fetcher on a confluent-kafka-go Consumer used only to
// fetch, from partitions of any topics, and shared with the client's other
// fetchers of its kind (fshared.go): the Consumer never subscribes (so
// never joins a group), never commits and never stores offsets; it reads
// the partitions it is assigned from the offsets it is given, and reports
// an offset out of range instead of resetting it (auto.offset.reset=error).
//
// Actors: librdkafka's threads fetch into the instance's queue (up to
// queued.min.messages per partition); Poll takes messages from that queue
// in the caller's goroutine, for every fetcher of the instance
// (fshared.go); one goroutine per instance forwards librdkafka's logs.
// The instance's last fetcher's Close stops librdkafka and that goroutine.
type fetcher struct {
	cfg   engine.FetcherConfig
	cl    *cluster.Cluster
	props *props // the instance's properties, should the fetcher move
	log   *slog.Logger
	// inst is the shared instance and rd its Consumer (migrate changes
	// them); held is the instance whose reading lock lockToReassign
	// took. Under mu.
	inst *consumerInstance
	rd   *kafka.Consumer
	held *consumerInstance
	// got and dest are read's scratch slices (fshared.go). Under mu.
	got  []fetched
	dest []*fetcher

	// The inbox holds what another fetcher read from the instance's
	// queue for this one, until Poll files it; throttled says its
	// partitions are paused because it is over its bound; signal wakes
	// a Poll waiting for it (capacity 1).
	inboxMu    sync.Mutex
	inbox      []fetched
	inboxBytes int
	throttled  bool
	signal     chan struct{}

	// mu serialises every use of rd and guards the state below. Poll
	// holds it while it waits inside librdkafka (at most pollSlice): a
	// message that Poll took from librdkafka is thus always filed under
	// the assignment that was current when it was taken, and Assign
	// (which makes librdkafka drop what it fetched for the old offset)
	// cannot slip in between.
	mu        sync.Mutex
	closed    bool
	parts     map[engine.TopicPartition]*fpart
	paused    map[engine.TopicPartition]bool // partitions this fetcher paused in librdkafka
	ready     []*fpart                       // partitions with something for Poll, in arrival order
	last      *fpart                         // the partition of the last message handled; nil after any (un)assignment
	rangeErrs int                            // auto.offset.reset errors not yet attributed to a partition
	rangeNext time.Time                      // no range check before this (after a failed one)
	fatal     error
	auth      authWatch // authentication failures for Poll (security.go)

	closeOnce sync.Once
	closeErr  error
}

// fpart is one assigned partition. Each Assign makes a new one, so a stale
// pointer left in ready is recognised and skipped.
type fpart struct {
	tp    engine.TopicPartition
	epoch uint64
	// next is the offset after the last message taken from librdkafka:
	// librdkafka's fetch position as far as the engine knows.
	next   int64
	msgs   []*engine.Message
	err    error // a partition error for Poll, after msgs
	failed bool  // err was set: the partition stays paused until assigned again
	queued bool  // in ready
}

func newFetcher(cl *cluster.Cluster, cfg engine.FetcherConfig) (*fetcher, error) {
	fp, err := fetcherProps(cl, cfg)
	if err != nil {
		return nil, err
	}
	f := &fetcher{
		cfg:    cfg,
		cl:     cl,
		props:  fp,
		log:    logger(cfg.Logger, "fetcher"),
		parts:  map[engine.TopicPartition]*fpart{},
		paused: map[engine.TopicPartition]bool{},
		signal: make(chan struct{}, 1),
	}
	if f.inst, err = joinConsumer(f, fetcherKey(cl, fp.m, cfg.Logger)); err != nil {
		return nil, err
	}
	f.rd = f.inst.rd
	return f, nil
}

// deliverInbox hands g what another fetcher read for it from ci's queue,
// pausing g's partitions on ci when its inbox is over its bound
// (fshared.go), and wakes g's Poll.
func (g *fetcher) deliverInbox(ci *consumerInstance, fes []fetched) {
	add := 0
	for i := range fes {
		add += fes[i].size()
	}
	g.inboxMu.Lock()
	over := !g.throttled && (len(g.inbox)+len(fes) > inboxMaxMessages || g.inboxBytes+add > inboxMaxBytes)
	g.inboxMu.Unlock()
	var tps []kafka.TopicPartition
	if over {
		tps = ci.ownedBy(g) // before inboxMu: the lock order
	}
	g.inboxMu.Lock()
	defer g.inboxMu.Unlock()
	g.inbox = append(g.inbox, fes...)
	g.inboxBytes += add
	if over && !g.throttled && len(tps) > 0 {
		// Under inboxMu, so that g's resume (fileInbox) cannot come
		// between the decision and the pause.
		if err := ci.rd.Pause(tps); err != nil {
			g.log.Warn("gokafka: librdkafka pause failed", "err", mapError(err))
		} else {
			g.throttled = true
		}
	}
	select {
	case g.signal <- struct{}{}:
	default:
	}
}

// fileInbox files what other fetchers read for this one, and resumes its
// partitions if its inbox had paused them. The caller holds mu.
func (f *fetcher) fileInbox() {
	f.inboxMu.Lock()
	in := f.inbox
	f.inbox, f.inboxBytes = nil, 0
	if f.throttled {
		f.throttled = false
		var tps []kafka.TopicPartition
		for tp := range f.parts {
			if !f.paused[tp] {
				tps = append(tps, rdTP(tp, 0))
			}
		}
		if len(tps) > 0 {
			if err := f.rd.Resume(tps); err != nil {
				f.log.Warn("gokafka: librdkafka resume failed", "err", mapError(err))
			}
		}
	}
	f.inboxMu.Unlock()
	for i := 0; i < len(in); {
		i += f.file(in[i:])
	}
}

// dropInbox forgets what the inbox holds of tps, whose position in
// librdkafka is about to change (or which are going). The caller holds mu
// and the instance's reading lock, so nothing of them is added meanwhile.
func (f *fetcher) dropInbox(tps []engine.TopicPartition) {
	f.inboxMu.Lock()
	defer f.inboxMu.Unlock()
	if len(f.inbox) == 0 {
		return
	}
	f.inbox = slices.DeleteFunc(f.inbox, func(fe fetched) bool {
		return fe.msg != nil && slices.Contains(tps, engine.TopicPartition{Topic: fe.msg.Topic, Partition: fe.msg.Partition})
	})
	f.inboxBytes = 0
	for i := range f.inbox {
		f.inboxBytes += f.inbox[i].size()
	}
}

// waitInbox waits up to wait for another fetcher to hand something over,
// or for ctx. The caller holds mu.
func (f *fetcher) waitInbox(ctx context.Context, wait time.Duration) {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-f.signal:
	case <-t.C:
	case <-ctx.Done():
	}
}

// migrate moves the fetcher, with its partitions and fresh, to another
// instance of its kind where no other fetcher has any of them, claiming
// them there: librdkafka stops fetching its partitions on the old
// instance and fetches them on the new one from the offset after the last
// message the fetcher took (next), paused as they were. Messages already
// taken stay valid. The caller holds mu and (held) the old instance's
// reading lock; on return held is the new instance's.
func (f *fetcher) migrate(fresh []engine.TopicPartition) error {
	var cur []engine.TopicPartition
	for tp := range f.parts {
		cur = append(cur, tp)
	}
	from := f.inst
	if len(cur) > 0 {
		if err := f.rd.IncrementalUnassign(rdTPs(cur, nil)); err != nil {
			f.log.Warn("gokafka: rdkafka: unassign before moving to another instance failed", "err", mapError(err))
		}
		f.dropInbox(cur)
	}
	from.reading.Unlock()
	f.held = nil
	to, err := moveTo(f, from, append(slices.Clone(cur), fresh...))
	if err != nil {
		from.lockReading()
		f.held = from
		if len(cur) > 0 {
			if aerr := f.rd.IncrementalAssign(rdTPs(cur, f.parts)); aerr != nil {
				f.log.Warn("gokafka: rdkafka: assigning the partitions back failed", "err", mapError(aerr))
			}
		}
		return err
	}
	to.lockReading()
	f.held = to
	f.inst, f.rd, f.last = to, to.rd, nil
	f.inboxMu.Lock()
	f.throttled = false // nothing is paused on the new instance
	f.inboxMu.Unlock()
	if err := from.leave(f); err != nil {
		f.log.Warn("gokafka: rdkafka: closing the instance left", "err", err)
	}
	f.log.Debug("gokafka: rdkafka: fetcher moved to another instance: it was given a partition that another fetcher of its instance has", "partitions", len(cur)+len(fresh))
	if len(cur) == 0 {
		return nil
	}
	if err := f.rd.IncrementalAssign(rdTPs(cur, f.parts)); err != nil {
		for _, tp := range cur {
			delete(f.parts, tp)
		}
		to.release(f, cur)
		return fmt.Errorf("rdkafka: assign %s on another instance: %w", names(rdTPs(cur, nil)), mapError(err))
	}
	var paused []kafka.TopicPartition
	for tp := range f.paused {
		paused = append(paused, rdTP(tp, 0))
	}
	if len(paused) > 0 {
		if err := f.rd.Pause(paused); err != nil {
			f.log.Warn("gokafka: librdkafka pause failed", "err", mapError(err))
		}
	}
	return nil
}

// rdTPs is tps as confluent-kafka-go names them, at their next offsets in
// parts (offset 0 when parts is nil).
func rdTPs(tps []engine.TopicPartition, parts map[engine.TopicPartition]*fpart) []kafka.TopicPartition {
	out := make([]kafka.TopicPartition, len(tps))
	for i, tp := range tps {
		var off int64
		if p := parts[tp]; p != nil {
			off = p.next
		}
		out[i] = rdTP(tp, off)
	}
	return out
}

// topicPartitions is tps as the engine names them.
func topicPartitions(tps []kafka.TopicPartition) []engine.TopicPartition {
	out := make([]engine.TopicPartition, len(tps))
	for i, tp := range tps {
		out[i] = ourTP(tp)
	}
	return out
}

// rdTP is tp as confluent-kafka-go names it. It allocates the topic's
// *string: it serves (un)assignments and errors, not messages.
func rdTP(tp engine.TopicPartition, offset int64) kafka.TopicPartition {
	topic := tp.Topic
	return kafka.TopicPartition{Topic: &topic, Partition: tp.Partition, Offset: kafka.Offset(offset)}
}

// ourTP is a confluent-kafka-go partition as the engine names it.
func ourTP(tp kafka.TopicPartition) engine.TopicPartition {
	if tp.Topic == nil {
		return engine.TopicPartition{Partition: tp.Partition}
	}
	return engine.TopicPartition{Topic: *tp.Topic, Partition: tp.Partition}
}

// Assign implements engine.Fetcher. The positions are checked first,
// against the cluster's metadata too (validate.go), so that a refused call
// changes nothing. New partitions are then added to librdkafka's
// assignment at their offsets; partitions already assigned are moved with a
// seek, which librdkafka documents as a barrier: once it returns, nothing
// fetched for the old position is returned by librdkafka. Messages the
// engine had already taken are dropped with the old assignment's state.
// If librdkafka itself refuses a step (it does not on valid input), what
// came before that step stays done.
func (f *fetcher) Assign(ctx context.Context, positions []engine.Position) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if f.isClosed() { // before asking the cluster anything
		return kerr.ErrClosed
	}
	if err := f.validate(ctx, positions); err != nil {
		return err
	}
	if err := f.lockToReassign(); err != nil {
		return err
	}
	defer f.unlockReassign()
	var fresh, moved, resume []kafka.TopicPartition
	for _, po := range positions {
		tp := rdTP(po.TopicPartition, po.Offset)
		if f.parts[po.TopicPartition] == nil {
			fresh = append(fresh, tp)
		} else {
			moved = append(moved, tp)
		}
		if f.paused[po.TopicPartition] {
			resume = append(resume, tp)
		}
	}
	affected := make([]engine.TopicPartition, len(positions))
	for i, po := range positions {
		affected[i] = po.TopicPartition
	}
	f.dropInbox(affected)
	if len(fresh) > 0 {
		tps := topicPartitions(fresh)
		if !f.inst.claim(f, tps) {
			if err := f.migrate(tps); err != nil {
				return fmt.Errorf("rdkafka: assign %s: %w", names(fresh), err)
			}
		}
		if err := f.rd.IncrementalAssign(fresh); err != nil {
			f.inst.release(f, tps)
			return fmt.Errorf("rdkafka: assign %s: %w", names(fresh), mapError(err))
		}
	}
	// From here the fresh partitions are in librdkafka's assignment:
	// their state must exist even if what follows fails, so that Unassign
	// or a later Assign knows them.
	for _, po := range positions {
		if f.parts[po.TopicPartition] == nil {
			f.parts[po.TopicPartition] = &fpart{tp: po.TopicPartition, epoch: po.Epoch, next: po.Offset}
		}
	}
	if err := f.restart(moved); err != nil {
		return err
	}
	// A new state for every partition (re-creating the fresh ones is
	// harmless: nothing was polled since, mu is held) drops what the
	// engine buffered under the old assignment.
	for _, po := range positions {
		f.parts[po.TopicPartition] = &fpart{tp: po.TopicPartition, epoch: po.Epoch, next: po.Offset}
	}
	if len(resume) > 0 {
		if err := f.rd.Resume(resume); err != nil {
			return fmt.Errorf("rdkafka: resume %s: %w", names(resume), mapError(err))
		}
		for _, tp := range resume {
			delete(f.paused, ourTP(tp))
		}
	}
	return nil
}

// lockToReassign takes mu and the instance's reading lock for a change of
// the assignment, unless the fetcher is closed (ErrClosed, nothing held).
// It forgets last, whose partition the change may drop.
func (f *fetcher) lockToReassign() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return kerr.ErrClosed
	}
	f.last = nil
	f.inst.lockReading()
	f.held = f.inst
	return nil
}

// unlockReassign releases what lockToReassign took.
func (f *fetcher) unlockReassign() {
	f.held.reading.Unlock()
	f.held = nil
	f.mu.Unlock()
}

func (f *fetcher) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// restart moves assigned partitions to new offsets. A seek does it for
// partitions that librdkafka is fetching; one it stopped (after an error,
// or one whose fetch has not started) refuses a seek (_STATE) and is
// unassigned and assigned again instead.
func (f *fetcher) restart(tps []kafka.TopicPartition) error {
	if len(tps) == 0 {
		return nil
	}
	res, err := f.rd.SeekPartitions(tps)
	if err != nil {
		return fmt.Errorf("rdkafka: seek %s: %w", names(tps), mapError(err))
	}
	var again []kafka.TopicPartition
	for _, r := range res {
		if r.Error == nil {
			continue
		}
		// The wanted offset, from what was asked (not from the result).
		for _, tp := range tps {
			if tp.Partition == r.Partition && ourTP(tp).Topic == ourTP(r).Topic {
				again = append(again, tp)
				break
			}
		}
	}
	if len(again) == 0 {
		return nil
	}
	if err := f.rd.IncrementalUnassign(again); err != nil {
		return fmt.Errorf("rdkafka: unassign %s: %w", names(again), mapError(err))
	}
	if err := f.rd.IncrementalAssign(again); err != nil {
		f.last = nil
		for _, tp := range again {
			delete(f.parts, ourTP(tp)) // no longer in librdkafka's assignment
		}
		f.inst.release(f, topicPartitions(again))
		return fmt.Errorf("rdkafka: assign %s: %w", names(again), mapError(err))
	}
	return nil
}

// Unassign implements engine.Fetcher.
func (f *fetcher) Unassign(ctx context.Context, partitions []engine.TopicPartition) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := f.lockToReassign(); err != nil {
		return err
	}
	defer f.unlockReassign()
	var tps []kafka.TopicPartition
	for _, tp := range partitions {
		if f.parts[tp] != nil {
			tps = append(tps, rdTP(tp, 0))
			delete(f.parts, tp)
		}
	}
	if len(tps) == 0 {
		return nil
	}
	f.dropInbox(topicPartitions(tps))
	if err := f.rd.IncrementalUnassign(tps); err != nil {
		return fmt.Errorf("rdkafka: unassign %s: %w", names(tps), mapError(err))
	}
	// Only now may another fetcher of the instance take them.
	f.inst.release(f, topicPartitions(tps))
	return nil
}

// Poll implements engine.Fetcher. It returns what the engine already took
// from librdkafka first, partition by partition in arrival order; otherwise
// it waits inside librdkafka for up to pollSlice at a time, looking at ctx
// between waits.
func (f *fetcher) Poll(ctx context.Context) (engine.Fetch, error) {
	for {
		if err := ctx.Err(); err != nil {
			return engine.Fetch{}, err
		}
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			return engine.Fetch{}, kerr.ErrClosed
		}
		if fe, ok := f.takeReady(); ok {
			f.mu.Unlock()
			return fe, nil
		}
		if f.fatal != nil {
			err := f.fatal
			f.mu.Unlock()
			return engine.Fetch{}, err
		}
		if err := f.auth.take(); err != nil {
			f.mu.Unlock()
			return engine.Fetch{}, err
		}
		var stats string
		var to []*fetcher
		if f.rangeErrs > 0 && !time.Now().Before(f.rangeNext) {
			f.checkRanges(ctx)
		} else {
			stats, to = f.pull(ctx)
		}
		f.mu.Unlock()
		for _, g := range to {
			deliverWindows(g.cfg.Windows, g.log, stats) // windows.go; outside mu
		}
	}
}

// takeReady returns the buffered messages (or error) of the first
// partition that has some. The caller holds mu.
func (f *fetcher) takeReady() (engine.Fetch, bool) {
	for len(f.ready) > 0 {
		p := f.ready[0]
		f.ready[0] = nil
		f.ready = f.ready[1:]
		p.queued = false
		if f.parts[p.tp] != p {
			continue // unassigned or assigned again since
		}
		if n := len(p.msgs); n > 0 {
			fe := engine.Fetch{
				TopicPartition: p.tp,
				Epoch:          p.epoch,
				Messages:       p.msgs,
				NextOffset:     p.msgs[n-1].Offset + 1,
				HighWatermark:  f.highWatermark(p.tp),
			}
			p.msgs = nil
			if p.err != nil {
				f.enqueue(p) // the error follows the messages
			}
			return fe, true
		}
		if p.err != nil {
			fe := engine.Fetch{TopicPartition: p.tp, Epoch: p.epoch, NextOffset: p.next, HighWatermark: -1, Err: p.err}
			p.err = nil
			return fe, true
		}
	}
	return engine.Fetch{}, false
}

func (f *fetcher) enqueue(p *fpart) {
	if !p.queued {
		p.queued = true
		f.ready = append(f.ready, p)
	}
}

// highWatermark is librdkafka's cached high watermark of a partition (from
// its last fetch response; no request is made), or -1.
func (f *fetcher) highWatermark(tp engine.TopicPartition) int64 {
	_, high, err := f.rd.GetWatermarkOffsets(tp.Topic, tp.Partition)
	if err != nil || high < 0 {
		return -1
	}
	return high
}

// pull files what other fetchers read for this one; if that gave nothing,
// it reads the instance's queue for every fetcher of the instance (waiting
// at most pollSlice, or until ctx's deadline, for a first message), or,
// while another fetcher reads it, waits as long for that one to hand
// something over. It returns the statistics emission met, if any, and the
// fetchers to give it to. The caller holds mu.
func (f *fetcher) pull(ctx context.Context) (string, []*fetcher) {
	f.fileInbox()
	if len(f.ready) > 0 {
		return "", nil
	}
	wait := pollSlice
	if dl, ok := ctx.Deadline(); ok {
		wait = min(wait, time.Until(dl))
	}
	ci := f.inst
	if !ci.reading.TryLock() {
		f.waitInbox(ctx, wait)
		return "", nil
	}
	defer ci.reading.Unlock()
	return ci.read(f, wait)
}

// file files the first entry of fes, a message or an error, and the
// messages of the same partition that follow it, and says how many
// entries it filed. The caller holds mu.
func (f *fetcher) file(fes []fetched) int {
	fe := &fes[0]
	if fe.err != nil {
		if fe.msg == nil { // not about a partition
			var ke kafka.Error
			if errors.As(fe.err, &ke) {
				f.handle(ke)
			}
			return 1
		}
		m := fe.msg
		tp := kafka.TopicPartition{Topic: &m.Topic, Partition: m.Partition, Offset: kafka.Offset(m.Offset)}
		f.partitionError(f.parts[engine.TopicPartition{Topic: m.Topic, Partition: m.Partition}], tp, fe.err)
		return 1
	}
	// Messages come in runs of one partition: one lookup and one growth
	// of the partition's slice per run.
	run := 1
	for run < len(fes) && fes[run].err == nil && samePartition(fes[run].msg, fe.msg) {
		run++
	}
	p := f.last
	if p == nil || p.tp.Partition != fe.msg.Partition || p.tp.Topic != fe.msg.Topic {
		p = f.parts[engine.TopicPartition{Topic: fe.msg.Topic, Partition: fe.msg.Partition}]
		f.last = p
	}
	// Messages of partitions no longer assigned, or paused after an
	// error, are dropped; so is anything before the position, which can
	// only be left over from an earlier assignment.
	if p == nil || p.failed {
		return run
	}
	p.msgs = slices.Grow(p.msgs, run)
	for i := range run {
		if m := fes[i].msg; m.Offset >= p.next {
			p.msgs = append(p.msgs, m)
			p.next = m.Offset + 1
		}
	}
	if len(p.msgs) > 0 {
		f.enqueue(p)
	}
	return run
}

// handle files a librdkafka error that is not about one partition. The
// caller holds mu.
func (f *fetcher) handle(ev kafka.Event) {
	switch e := ev.(type) {
	case kafka.Error:
		f.auth.observe(e)
		switch {
		case e.Code() == kafka.ErrAutoOffsetReset:
			// An offset out of range. The event does not say which
			// partition (confluent-kafka-go drops that part), so
			// Poll works it out from the partitions' positions.
			f.rangeErrs++
			f.rangeNext = time.Time{}
		case e.IsFatal():
			// confluent-kafka-go already put the underlying error in e.
			f.fatal = fmt.Errorf("rdkafka: fatal consumer error, the fetcher is unusable: %w", mapError(e))
		default:
			// Broker connection problems and the like: librdkafka
			// retries on its own.
			f.log.Warn("gokafka: librdkafka consumer error", "err", mapError(e))
		}
	}
}

// partitionError handles an error librdkafka attributed to a partition
// (p is its state, nil if it is not assigned).
func (f *fetcher) partitionError(p *fpart, tp kafka.TopicPartition, err error) {
	var ke kafka.Error
	if p != nil && !p.failed && errors.As(err, &ke) && ke.Code() == kafka.ErrAutoOffsetReset {
		f.fail(p, fmt.Errorf("%w: %s at offset %d: %w", kerr.OffsetOutOfRange, p.tp, p.next, mapError(err)))
		return
	}
	if p != nil && !p.failed && errors.As(err, &ke) && authorizationCode(ke.Code()) {
		// librdkafka would fetch again and again, refused every time:
		// the partition fails, typed, as with the pure engine.
		f.fail(p, fmt.Errorf("rdkafka: %s: %w", p.tp, mapError(err)))
		return
	}
	t := ourTP(tp)
	f.log.Warn("gokafka: librdkafka partition error", "topic", t.Topic, "partition", t.Partition, "err", mapError(err))
}

// fail records a partition error for Poll and pauses the partition until
// it is assigned again.
func (f *fetcher) fail(p *fpart, err error) {
	p.err, p.failed = err, true
	f.enqueue(p)
	if perr := f.rd.Pause([]kafka.TopicPartition{rdTP(p.tp, 0)}); perr != nil {
		f.log.Warn("gokafka: librdkafka pause failed", "topic", p.tp.Topic, "partition", p.tp.Partition, "err", mapError(perr))
	}
	f.paused[p.tp] = true
}

// checkRanges finds the partitions whose position is outside their log,
// after librdkafka reported offsets out of range without saying where. It
// asks the brokers for each assigned partition's log start and end offsets
// (ListOffsets): a partition positioned outside them fails with
// kerr.OffsetOutOfRange. If that explains fewer errors than librdkafka
// reported (a partition out of range when fetched may be back in range by
// now, librdkafka having stopped it), the others are restarted at their
// positions, which costs a refetch of what librdkafka had buffered.
// The caller holds mu.
func (f *fetcher) checkRanges(ctx context.Context) {
	var cand []*fpart
	var tps []engine.TopicPartition
	for _, p := range f.parts {
		if !p.failed {
			cand = append(cand, p)
			tps = append(tps, p.tp)
		}
	}
	if len(cand) == 0 {
		f.rangeErrs = 0
		return
	}
	slices.SortFunc(tps, engine.TopicPartition.Compare)
	cctx, cancel := context.WithTimeout(ctx, rangeTimeout)
	defer cancel()
	ask := make([]offsets.TopicPartition, len(tps))
	for i, tp := range tps {
		ask[i] = offsets.TopicPartition(tp)
	}
	low, lerr := offsets.List(cctx, f.cl, ask, offsets.Earliest)
	high, herr := offsets.List(cctx, f.cl, ask, offsets.Latest)
	if err := errors.Join(lerr, herr); err != nil {
		f.log.Warn("gokafka: rdkafka: cannot check which partitions are out of range", "err", err)
		if len(low) < len(tps) || len(high) < len(tps) {
			// Look again later, at every partition: the errors
			// librdkafka reported are not attributed.
			f.rangeNext = time.Now().Add(rangeRetry)
			return
		}
	}
	found := 0
	var restart []kafka.TopicPartition
	for _, p := range cand {
		lo, hi := low[offsets.TopicPartition(p.tp)], high[offsets.TopicPartition(p.tp)]
		if p.next < lo || p.next > hi {
			f.fail(p, fmt.Errorf("%w: %s: offset %d is outside the log [%d, %d]", kerr.OffsetOutOfRange, p.tp, p.next, lo, hi))
			found++
		} else {
			restart = append(restart, rdTP(p.tp, p.next))
		}
	}
	if found < f.rangeErrs && len(restart) > 0 {
		// Messages the engine already took stay valid: next is the
		// offset after them, where the restarted fetch begins.
		f.inst.lockReading()
		f.dropInbox(topicPartitions(restart))
		if err := f.restart(restart); err != nil {
			f.log.Warn("gokafka: rdkafka: restarting partitions failed", "err", err)
		}
		f.inst.reading.Unlock()
	}
	f.rangeErrs = 0
}

// Close implements engine.Fetcher: librdkafka stops fetching the
// fetcher's partitions, and the instance's last fetcher closes librdkafka's
// consumer (which leaves no group, having joined none, and commits
// nothing) and waits for its log goroutine. Idempotent.
func (f *fetcher) Close() error {
	f.closeOnce.Do(func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.closed = true
		var tps []engine.TopicPartition
		for tp := range f.parts {
			tps = append(tps, tp)
		}
		f.parts, f.ready = nil, nil
		var errs []error
		if len(tps) > 0 {
			f.inst.lockReading()
			if err := f.rd.IncrementalUnassign(rdTPs(tps, nil)); err != nil {
				errs = append(errs, fmt.Errorf("rdkafka: unassign at close: %w", mapError(err)))
			}
			f.inst.reading.Unlock()
		}
		f.inboxMu.Lock()
		f.inbox = nil
		f.inboxMu.Unlock()
		errs = append(errs, f.inst.leave(f))
		f.closeErr = errors.Join(errs...)
	})
	return f.closeErr
}

// names lists partitions for errors: "t/0, t/1, u/3".
func names(tps []kafka.TopicPartition) string {
	var b strings.Builder
	for i, tp := range tps {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(ourTP(tp).String())
	}
	return b.String()
}
