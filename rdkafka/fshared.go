//go:build cgo && !nordkafka

package rdkafka

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/engine"
)

// One librdkafka consumer serves the fetchers of a client (issue 17: ten
// consumers of one client opened ten instances, each with its own
// connections to every broker). librdkafka fetches the union of their
// assignments into the instance's one queue. Whichever fetcher's Poll
// finds nothing of its own reads that queue for all (the reader holds
// the instance's reading lock meanwhile): it files its own partitions'
// messages at once and hands the others' to their fetchers' inboxes,
// which their Polls file; what is not about one partition (an
// authentication failure, all brokers down, a fatal error) goes to every
// fetcher. A fetcher alone on its instance reads the queue itself, as it
// did before instances were shared. (Routing each partition's messages to
// its fetcher's own librdkafka queue, rd_kafka_queue_forward, does not
// survive a reassignment: librdkafka clears a partition's forwarding when
// it stops fetching it, after rd_kafka_incremental_unassign returns.)
//
// A change of assignment holds the reading lock: librdkafka's seek is a
// barrier (nothing fetched for the old position comes out of the queue
// after it), and the fetcher drops what its inbox held of the partitions
// it moves, so the barrier holds across fetchers too.
//
// Bounds: an inbox over inboxMaxMessages or inboxMaxBytes pauses its
// fetcher's partitions in librdkafka until that fetcher's Poll has filed
// it, so that a fetcher that is not polled holds no more than that plus
// what librdkafka had queued for it, and the others go on.
//
// librdkafka fetches a partition once per instance, so two fetchers of
// one instance cannot both have it: a fetcher given a partition that
// another fetcher of its instance has moves, with all its partitions, to
// another instance of its kind (a new one if none is free of them),
// resuming each partition after the last message it took (migrate).
// Fetchers share instances when their librdkafka properties (group.id
// aside, which the fetcher never uses) and loggers are the same.

const (
	inboxMaxMessages = maxDrain
	inboxMaxBytes    = 2 * batchBudget
)

// consumers are the clients' consumer instances in use, by kind. Its lock
// guards each instance's refs, members and owners (lock order: a
// fetcher's mu, an instance's reading, consumers, a fetcher's inboxMu).
var consumers = struct {
	sync.Mutex
	m map[instanceKey][]*consumerInstance
}{m: map[instanceKey][]*consumerInstance{}}

// consumerInstance is one librdkafka consumer shared by fetchers.
type consumerInstance struct {
	key   instanceKey
	rd    *kafka.Consumer
	queue *batcher // the consumer queue; under reading
	log   *slog.Logger

	// reading is held by the fetcher reading the queue for all, and by
	// a fetcher changing its assignment.
	reading sync.Mutex

	refs    int                                // fetchers attached
	members []*fetcher                         // in attachment order
	owners  map[engine.TopicPartition]*fetcher // which fetcher has each assigned partition

	logsDone chan struct{} // closed when the logs goroutine ended
}

// fetcherKey is the kind of instance a fetcher with properties m shares.
func fetcherKey(cl *cluster.Cluster, m kafka.ConfigMap, logger *slog.Logger) instanceKey {
	k := make(kafka.ConfigMap, len(m))
	for name, v := range m {
		if name != "group.id" {
			k[name] = v
		}
	}
	return instanceKey{cl: cl, props: propsKey(k), logger: logger}
}

// newConsumerInstance starts an instance with properties fp.
func newConsumerInstance(key instanceKey, fp *props, log *slog.Logger, stats bool) (*consumerInstance, error) {
	rd, err := kafka.NewConsumer(&fp.m)
	if err != nil {
		return nil, fp.configError(err, consumerRaw)
	}
	b, err := newBatcher(rd, stats)
	if err != nil {
		_ = rd.Close()
		return nil, err
	}
	ci := &consumerInstance{
		key: key, rd: rd, queue: b, log: log,
		owners:   map[engine.TopicPartition]*fetcher{},
		logsDone: make(chan struct{}),
	}
	// confluent-kafka-go closes the logs channel when the consumer
	// closes, which ends this goroutine.
	go func() {
		defer close(ci.logsDone)
		for le := range rd.Logs() {
			forwardLog(log, le)
		}
	}()
	return ci, nil
}

// joinConsumer attaches f to the first instance of its kind, creating one
// for the first fetcher.
func joinConsumer(f *fetcher, key instanceKey) (*consumerInstance, error) {
	consumers.Lock()
	defer consumers.Unlock()
	if pool := consumers.m[key]; len(pool) > 0 {
		pool[0].attachLocked(f)
		return pool[0], nil
	}
	ci, err := newConsumerInstance(key, f.props, f.log, f.cfg.Windows != nil)
	if err != nil {
		return nil, err
	}
	consumers.m[key] = append(consumers.m[key], ci)
	ci.attachLocked(f)
	return ci, nil
}

func (ci *consumerInstance) attachLocked(f *fetcher) {
	ci.refs++
	ci.members = append(ci.members, f)
}

// leave detaches f, for which librdkafka fetches nothing any more, and
// closes the instance if f was its last fetcher: librdkafka's consumer
// leaves no group, having joined none, and commits nothing.
func (ci *consumerInstance) leave(f *fetcher) error {
	consumers.Lock()
	ci.releaseLocked(f, nil)
	ci.members = slices.DeleteFunc(ci.members, func(g *fetcher) bool { return g == f })
	ci.refs--
	last := ci.refs == 0
	if last {
		pool := slices.DeleteFunc(consumers.m[ci.key], func(c *consumerInstance) bool { return c == ci })
		if len(pool) == 0 {
			delete(consumers.m, ci.key)
		} else {
			consumers.m[ci.key] = pool
		}
	}
	consumers.Unlock()
	if !last {
		return nil
	}
	ci.reading.Lock() // nobody reads any more; wait for a read in progress
	ci.queue.close()
	ci.reading.Unlock()
	err := ci.rd.Close()
	<-ci.logsDone
	if err != nil {
		return fmt.Errorf("rdkafka: close consumer: %w", mapError(err))
	}
	return nil
}

// releaseLocked forgets f's ownership of tps (all of f's partitions when
// tps is nil).
func (ci *consumerInstance) releaseLocked(f *fetcher, tps []engine.TopicPartition) {
	if tps == nil {
		for tp, o := range ci.owners {
			if o == f {
				delete(ci.owners, tp)
			}
		}
		return
	}
	for _, tp := range tps {
		if ci.owners[tp] == f {
			delete(ci.owners, tp)
		}
	}
}

// claim makes f the owner of tps on its instance, unless another fetcher
// of the instance has one of them: then it reports false and claims none.
func (ci *consumerInstance) claim(f *fetcher, tps []engine.TopicPartition) bool {
	consumers.Lock()
	defer consumers.Unlock()
	for _, tp := range tps {
		if o := ci.owners[tp]; o != nil && o != f {
			return false
		}
	}
	for _, tp := range tps {
		ci.owners[tp] = f
	}
	return true
}

// release forgets f's ownership of tps, which librdkafka no longer
// fetches for f.
func (ci *consumerInstance) release(f *fetcher, tps []engine.TopicPartition) {
	consumers.Lock()
	ci.releaseLocked(f, tps)
	consumers.Unlock()
}

// lockReading takes the reading lock for a change of assignment, waking a
// reader that waits inside librdkafka so that the change does not wait
// for its whole slice.
func (ci *consumerInstance) lockReading() {
	if !ci.reading.TryLock() {
		ci.queue.wake()
		ci.reading.Lock()
	}
}

// moveTo finds f an instance of from's kind where no other fetcher has
// any of tps, creating one if none is free of them, and attaches f to it
// with tps claimed. The caller detaches f from from.
func moveTo(f *fetcher, from *consumerInstance, tps []engine.TopicPartition) (*consumerInstance, error) {
	consumers.Lock()
	defer consumers.Unlock()
	free := func(ci *consumerInstance) bool {
		for _, tp := range tps {
			if o := ci.owners[tp]; o != nil && o != f {
				return false
			}
		}
		return true
	}
	var to *consumerInstance
	for _, ci := range consumers.m[from.key] {
		if ci != from && free(ci) {
			to = ci
			break
		}
	}
	if to == nil {
		ci, err := newConsumerInstance(from.key, f.props, f.log, f.cfg.Windows != nil)
		if err != nil {
			return nil, err
		}
		consumers.m[from.key] = append(consumers.m[from.key], ci)
		to = ci
	}
	to.attachLocked(f)
	for _, tp := range tps {
		to.owners[tp] = f
	}
	return to, nil
}

// read takes a batch off the instance's queue for every fetcher (waiting
// up to wait for the first message): f's own messages and errors are
// filed at once, the others' handed to their inboxes. It returns the
// statistics emission met, if any, and the fetchers to give it to. The
// caller holds f.mu and ci.reading.
func (ci *consumerInstance) read(f *fetcher, wait time.Duration) (string, []*fetcher) {
	var stats string
	f.got, stats = ci.queue.take(wait, f.got)
	if len(f.got) == 0 && stats == "" {
		return "", nil
	}
	// Who each entry is for (nil: nobody; f itself: filed below).
	f.dest = slices.Grow(f.dest[:0], len(f.got))[:len(f.got)]
	var members []*fetcher
	broadcast := false
	consumers.Lock()
	var lastTP engine.TopicPartition
	var lastOwner *fetcher
	for i := range f.got {
		fe := &f.got[i]
		if fe.msg == nil { // for everyone: filed and handed out below
			f.dest[i] = nil
			broadcast = true
			continue
		}
		if fe.msg.Partition != lastTP.Partition || fe.msg.Topic != lastTP.Topic || lastOwner == nil {
			lastTP = engine.TopicPartition{Topic: fe.msg.Topic, Partition: fe.msg.Partition}
			lastOwner = ci.owners[lastTP]
		}
		f.dest[i] = lastOwner
	}
	if broadcast || stats != "" {
		members = slices.Clone(ci.members)
	}
	consumers.Unlock()

	var others map[*fetcher][]fetched
	for i := 0; i < len(f.got); {
		fe := &f.got[i]
		switch d := f.dest[i]; {
		case fe.msg == nil:
			f.file(f.got[i : i+1])
			for _, g := range members {
				if g != f {
					others = addTo(others, g, *fe)
				}
			}
		case d == f:
			// file takes the whole run of this partition, whose
			// entries all have this owner.
			i += f.file(f.got[i:])
			continue
		case d != nil:
			others = addTo(others, d, *fe)
		}
		i++
	}
	for g, fes := range others {
		g.deliverInbox(ci, fes)
	}
	clear(f.got) // the batch's buffer goes with the messages
	clear(f.dest)
	if stats == "" {
		members = nil
	}
	return stats, members
}

func addTo(m map[*fetcher][]fetched, g *fetcher, fe fetched) map[*fetcher][]fetched {
	if m == nil {
		m = map[*fetcher][]fetched{}
	}
	m[g] = append(m[g], fe)
	return m
}

// ownedBy lists the partitions f has on ci.
func (ci *consumerInstance) ownedBy(f *fetcher) []kafka.TopicPartition {
	consumers.Lock()
	defer consumers.Unlock()
	var tps []kafka.TopicPartition
	for tp, o := range ci.owners {
		if o == f {
			tps = append(tps, rdTP(tp, 0))
		}
	}
	return tps
}
