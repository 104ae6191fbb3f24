// Package cluster is gokafka's view of a Kafka cluster: the brokers, their
// connections (see Broker) and the topic metadata, kept fresh by one
// background loop and on demand when a request reveals stale routing
// (NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION, a new leader).
//
// Actors: a Cluster owns one metadata goroutine and a Broker per node id;
// each Broker owns its connections (one per lane). Close stops the loop and
// closes every connection.
//
// Readers take the current metadata lock-free with Snapshot; it is an
// immutable value replaced on every refresh.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/wire"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Config configures a Cluster. Zero fields take the defaults named here.
type Config struct {
	Bootstrap []string // host:port of one or more brokers
	Conn      wire.Options
	// MetadataMaxAge: metadata is refreshed at least this often, which is
	// how new partitions and brokers are noticed. Default 5m (Java's
	// metadata.max.age.ms).
	MetadataMaxAge time.Duration
	// MetadataMinAge: refreshes triggered by errors are at most this
	// frequent, so a storm of NOT_LEADER errors costs one request.
	// Default 100ms.
	MetadataMinAge time.Duration
	// RetryBackoff and RetryBackoffMax bound the exponential, jittered wait
	// before a reconnect or a retry. Defaults 100ms and 1s.
	RetryBackoff    time.Duration
	RetryBackoffMax time.Duration
	Logger          *slog.Logger
	// Hooks, when set, is told of every connection, request and response
	// (observe.go).
	Hooks Hooks
}

// DefaultRetryBackoff is Config.RetryBackoff's default.
const DefaultRetryBackoff = 100 * time.Millisecond

func (c Config) withDefaults() Config {
	if c.MetadataMaxAge <= 0 {
		c.MetadataMaxAge = 5 * time.Minute
	}
	if c.MetadataMinAge <= 0 {
		c.MetadataMinAge = 100 * time.Millisecond
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = DefaultRetryBackoff
	}
	if c.RetryBackoffMax < c.RetryBackoff {
		c.RetryBackoffMax = max(time.Second, c.RetryBackoff)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Cluster is the client's shared view of the cluster. Safe for concurrent use.
type Cluster struct {
	cfg   Config
	snap  atomic.Pointer[Snapshot]
	seeds []*Broker

	mu      sync.Mutex
	brokers map[int32]*Broker
	tracked map[string]struct{} // topics the periodic refresh covers
	all     int                 // TrackAll holders: the periodic refresh covers every topic
	updated chan struct{}       // closed and replaced at every new snapshot

	refreshMu sync.Mutex // one metadata request at a time

	trigger chan struct{}
	closing chan struct{}
	closed  atomic.Bool
	wg      sync.WaitGroup
}

// New connects to the first reachable bootstrap broker, loads the metadata of
// the cluster (brokers, no topics yet) and starts the metadata loop.
func New(ctx context.Context, cfg Config) (*Cluster, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Bootstrap) == 0 {
		return nil, kerr.Config("hosts", "no bootstrap broker given")
	}
	c := &Cluster{
		cfg:     cfg,
		brokers: map[int32]*Broker{},
		tracked: map[string]struct{}{},
		updated: make(chan struct{}),
		trigger: make(chan struct{}, 1),
		closing: make(chan struct{}),
	}
	for i, addr := range cfg.Bootstrap {
		c.seeds = append(c.seeds, newBroker(c, int32(-1-i), addr, nil))
	}
	c.snap.Store(&Snapshot{ControllerID: -1, Brokers: map[int32]BrokerMeta{}, Topics: map[string]*TopicMeta{}})
	if err := c.refresh(ctx, []string{}, false, false); err != nil {
		c.Close()
		return nil, err
	}
	c.wg.Add(1)
	go c.loop()
	return c, nil
}

// Close stops the metadata loop and closes every connection. Idempotent.
func (c *Cluster) Close() {
	if c.closed.Swap(true) {
		return
	}
	close(c.closing)
	c.wg.Wait()
	c.mu.Lock()
	brokers := c.brokers
	c.mu.Unlock()
	for _, b := range brokers {
		b.close()
	}
	for _, b := range c.seeds {
		b.close()
	}
}

// Closing is closed when Close starts.
func (c *Cluster) Closing() <-chan struct{} { return c.closing }

// IsClosing reports whether Close has started. Callers use it to tell
// kerr.ErrClosed from their own shutdown apart from a broker that left the
// metadata (whose requests end with kerr.ErrClosed too, while the cluster
// stays open).
func (c *Cluster) IsClosing() bool { return c.closed.Load() }

// Logger is the configured logger.
func (c *Cluster) Logger() *slog.Logger { return c.cfg.Logger }

// Bootstrap returns the bootstrap addresses the cluster was created with
// (a copy). Engines that open their own connections, such as librdkafka,
// start from them.
func (c *Cluster) Bootstrap() []string { return append([]string(nil), c.cfg.Bootstrap...) }

func (c *Cluster) logf(format string, args ...any) {
	c.cfg.Logger.Debug(fmt.Sprintf(format, args...))
}

// Snapshot is the current metadata. It never returns nil.
func (c *Cluster) Snapshot() *Snapshot { return c.snap.Load() }

// Updated returns a channel closed at the next metadata update.
func (c *Cluster) Updated() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.updated
}

// Broker returns the broker with this node id.
func (c *Cluster) Broker(id int32) (*Broker, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.brokers[id]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("%w: broker %d is not in the cluster metadata", kerr.BrokerNotAvailable, id)
}

// Leader returns the leader broker of topic/partition from the current
// snapshot, without refreshing.
func (c *Cluster) Leader(topic string, partition int32) (*Broker, *PartitionMeta, error) {
	t, err := c.Snapshot().Topic(topic)
	if err != nil {
		return nil, nil, err
	}
	p, err := t.Partition(partition)
	if err != nil {
		return nil, nil, err
	}
	if p.Leader < 0 {
		return nil, p, fmt.Errorf("%s/%d: %w", topic, partition, kerr.LeaderNotAvailable)
	}
	b, err := c.Broker(p.Leader)
	return b, p, err
}

// Track adds topics to the periodic refresh.
func (c *Cluster) Track(topics ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range topics {
		c.tracked[t] = struct{}{}
	}
}

// Untrack removes topics from the periodic refresh.
func (c *Cluster) Untrack(topics ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range topics {
		delete(c.tracked, t)
	}
}

// TrackAll makes the periodic refresh (and triggered ones) cover every topic
// of the cluster, not only the tracked ones, until the returned function is
// called: how a subscription to a pattern sees topics created later. Calls
// nest.
func (c *Cluster) TrackAll() (untrack func()) {
	c.mu.Lock()
	c.all++
	c.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			c.all--
			c.mu.Unlock()
		})
	}
}

// RefreshTopics loads the metadata of the given topics now and tracks them.
func (c *Cluster) RefreshTopics(ctx context.Context, topics ...string) error {
	c.Track(topics...)
	return c.refresh(ctx, topics, false, false)
}

// CreateByMetadata is RefreshTopics asking the brokers to create the topics
// that do not exist (where auto.create.topics.enable allows it). Only an
// explicit request may create topics: periodic refreshes never do, or a
// deleted topic would come back.
func (c *Cluster) CreateByMetadata(ctx context.Context, topics ...string) error {
	c.Track(topics...)
	return c.refresh(ctx, topics, false, true)
}

// RefreshAll loads the metadata of every topic in the cluster.
func (c *Cluster) RefreshAll(ctx context.Context) error {
	return c.refresh(ctx, nil, true, false)
}

// TriggerRefresh asks the metadata loop for a refresh of the tracked topics
// soon (at most every MetadataMinAge). It never blocks.
func (c *Cluster) TriggerRefresh() {
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

// trackedTopics lists the topics a periodic refresh covers: nil means all
// of them (TrackAll).
func (c *Cluster) trackedTopics() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.all > 0 {
		return nil
	}
	ts := make([]string, 0, len(c.tracked))
	for t := range c.tracked {
		ts = append(ts, t)
	}
	return ts
}

func (c *Cluster) loop() {
	defer c.wg.Done()
	ticker := time.NewTicker(c.cfg.MetadataMaxAge)
	defer ticker.Stop()
	var last time.Time
	for {
		select {
		case <-c.closing:
			return
		case <-ticker.C:
		case <-c.trigger:
			if wait := c.cfg.MetadataMinAge - time.Since(last); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-c.closing:
					t.Stop()
					return
				}
			}
		}
		last = time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), c.cfg.Conn.RequestTimeout+10*time.Second)
		go func() { // cancel the refresh if the cluster closes meanwhile
			select {
			case <-c.closing:
				cancel()
			case <-ctx.Done():
			}
		}()
		topics := c.trackedTopics()
		if err := c.refresh(ctx, topics, topics == nil, false); err != nil {
			c.logf("metadata refresh: %v", err)
			// Failed: try again soon rather than at the next tick.
			time.AfterFunc(c.cfg.RetryBackoff, c.TriggerRefresh)
		}
		cancel()
	}
}

// refresh sends one Metadata request. topics nil means every topic (all must
// then be true so that deleted topics drop out); an empty slice means only
// brokers.
func (c *Cluster) refresh(ctx context.Context, topics []string, all, autoCreate bool) error {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	req := kmsg.NewPtrMetadataRequest()
	if topics != nil {
		req.Topics = make([]kmsg.MetadataRequestTopic, 0, len(topics))
		for _, t := range topics {
			rt := kmsg.NewMetadataRequestTopic()
			rt.Topic = kmsg.StringPtr(t)
			req.Topics = append(req.Topics, rt)
		}
	}
	req.AllowAutoTopicCreation = autoCreate
	resp, err := c.AnyRequest(ctx, req)
	if err != nil {
		return err
	}
	mr := resp.(*kmsg.MetadataResponse)
	c.publish(c.Snapshot().merge(mr, all))
	return nil
}

// publish installs a new snapshot and reconciles the broker set with it.
func (c *Cluster) publish(s *Snapshot) {
	var stale []*Broker
	c.mu.Lock()
	for id, bm := range s.Brokers {
		b, ok := c.brokers[id]
		if ok && b.Addr == bm.Addr() {
			continue
		}
		if ok {
			stale = append(stale, b) // moved to another address
		}
		c.brokers[id] = newBroker(c, id, bm.Addr(), bm.Rack)
	}
	for id, b := range c.brokers {
		if _, ok := s.Brokers[id]; !ok {
			// Gone from metadata (e.g. shut down): keep the object so
			// requests in flight end normally, but drop its connections.
			stale = append(stale, b)
			delete(c.brokers, id)
		}
	}
	c.snap.Store(s)
	close(c.updated)
	c.updated = make(chan struct{})
	c.mu.Unlock()
	for _, b := range stale {
		b.close()
	}
}

// candidates lists the brokers to try for a request that any broker can
// answer: known brokers in random order, those with a live connection first,
// then the bootstrap addresses.
func (c *Cluster) candidates() []*Broker {
	c.mu.Lock()
	bs := make([]*Broker, 0, len(c.brokers)+len(c.seeds))
	for _, b := range c.brokers {
		bs = append(bs, b)
	}
	c.mu.Unlock()
	rand.Shuffle(len(bs), func(i, j int) { bs[i], bs[j] = bs[j], bs[i] })
	live := 0
	for i, b := range bs {
		if b.connected() {
			bs[i], bs[live] = bs[live], bs[i]
			live++
		}
	}
	return append(bs, c.seeds...)
}

// AnyRequest sends req to some broker, moving on to the next one when a
// connection fails. Use it for requests any broker answers (Metadata,
// FindCoordinator, CreateTopics, ...).
func (c *Cluster) AnyRequest(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	var errs []error
	for _, b := range c.candidates() {
		resp, err := b.Request(ctx, req)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, kerr.ErrClosed) && c.closed.Load() {
			return nil, kerr.ErrClosed
		}
		errs = append(errs, fmt.Errorf("%s: %w", b.Addr, err))
		if !errors.Is(err, kerr.ErrConnection) && !errors.Is(err, kerr.ErrRequestTimeout) {
			// The broker answered with something we cannot use
			// (e.g. unsupported version): another broker would too.
			break
		}
	}
	return nil, fmt.Errorf("%w (%s): %w", kerr.ErrNoBrokers, strings.Join(c.cfg.Bootstrap, ","), errors.Join(errs...))
}

// Backoff returns the jittered wait before retry number n (1-based).
func (c *Cluster) Backoff(n int) time.Duration { return c.backoff(n) }

// Route runs the loop of a router goroutine (the fetchers'): round moves
// partitions to their leaders' sources at every metadata update, a
// wake-up, or done; it reports whether it left some partition without a
// leader, or that its fetcher closed, which ends the loop. While rounds
// leave partitions leaderless, Route asks for refreshes and waits no
// longer than the backoff of that many rounds in a row.
func (c *Cluster) Route(round func() (leaderless, closed bool), wake, done <-chan struct{}) {
	n := 0 // rounds in a row with a partition left without a leader
	for {
		updated := c.Updated() // before routing, so no update is missed
		leaderless, closed := round()
		if closed {
			return
		}
		if leaderless {
			n++
		} else {
			n = 0
		}
		var retry <-chan time.Time
		var t *time.Timer
		if n > 0 {
			c.TriggerRefresh()
			t = time.NewTimer(c.Backoff(n))
			retry = t.C
		}
		select {
		case <-updated:
		case <-retry:
		case <-wake:
		case <-done:
		}
		if t != nil {
			t.Stop()
		}
	}
}

// concurrentTxnStep is the wait per attempt after CONCURRENT_TRANSACTIONS
// (Java's client retries its first AddPartitionsToTxn of a transaction
// after 20 ms for the same reason).
const concurrentTxnStep = 20 * time.Millisecond

// BackoffAfter is Backoff for a retry caused by err. CONCURRENT_TRANSACTIONS
// means the transaction coordinator is still writing the markers of the
// producer's previous transaction, a matter of milliseconds: waiting the
// usual backoff (which doubles) after every commit cost a transactional
// consume-produce loop committing every 100 ms a third of its time here
// (bench/txnpipe), so those retries wait 20 ms more per attempt, never
// longer than Backoff would.
func (c *Cluster) BackoffAfter(err error, n int) time.Duration {
	return RetryWait(err, n, c.backoff(n))
}

// RetryWait is the wait before retry number n after err, where d is the
// caller's usual backoff for it (see BackoffAfter).
func RetryWait(err error, n int, d time.Duration) time.Duration {
	if errors.Is(err, kerr.ConcurrentTransactions) {
		d = min(d, time.Duration(n)*concurrentTxnStep)
	}
	return d
}

// Sleep waits for d, or until ctx ends or the cluster closes.
func (c *Cluster) Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.closing:
		return kerr.ErrClosed
	}
}
