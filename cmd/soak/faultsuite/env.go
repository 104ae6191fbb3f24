package faultsuite

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/testinstance"
)

// Engine is one of the client's engines.
type Engine struct {
	Name    string
	Rdkafka bool
}

// The two engines.
var (
	Pure    = Engine{Name: "pure"}
	Rdkafka = Engine{Name: "rdkafka", Rdkafka: true}
)

// RdkafkaEnabled reports whether the librdkafka engine is compiled into this
// program (it is not without cgo, with -tags nordkafka, or without the blank
// import of package rdkafka). Any other failure is returned.
func RdkafkaEnabled(topic *kafka.Topic) (bool, error) {
	p, err := topic.NewProducer(kafka.ProducerConfig{UseRdkafka: true})
	if errors.Is(err, kafka.ErrEngineNotEnabled) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, p.Close(context.Background())
}

// Env is what scenarios run against: a private cluster whose brokers they
// may stop, kill and restart. Every scenario leaves all brokers running.
type Env struct {
	Cluster *testinstance.Cluster
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
}

func (e *Env) logf(format string, args ...any) {
	if e.Logf != nil {
		e.Logf(format, args...)
	}
}

func (e *Env) newClient(ctx context.Context, opts ...kafka.ClientOption) (*kafka.Client, error) {
	opts = append([]kafka.ClientOption{kafka.WithClientID("faultsuite")}, opts...)
	return kafka.NewClient(ctx, e.Cluster.BootstrapServers(), opts...)
}

// nodeIndex maps a broker id to the index testinstance's fault calls take.
func (e *Env) nodeIndex(id int32) (int, error) {
	for i, n := range e.Cluster.NodeIDs() {
		if n == id {
			return i, nil
		}
	}
	return 0, fmt.Errorf("faultsuite: broker %d is not a node of the cluster (%v)", id, e.Cluster.NodeIDs())
}

// StartAll starts every broker that is not running, concurrently (a KRaft
// node alone has no quorum and would never be ready), and waits until all
// are ready. It is how a scenario, or a soak round after an error, puts the
// cluster back.
func (e *Env) StartAll(ctx context.Context) error {
	return e.eachBroker(ctx, e.Cluster.StartBroker)
}

// stopAll stops every broker gracefully, concurrently.
func (e *Env) stopAll(ctx context.Context) error {
	return e.eachBroker(ctx, e.Cluster.StopBroker)
}

// eachBroker runs op on every broker at once and waits for all of them.
func (e *Env) eachBroker(ctx context.Context, op func(context.Context, int) error) error {
	n := e.Cluster.NumBrokers()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = op(ctx, i) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// newTopic creates a topic replicated on min(3, brokers) brokers, with
// min.insync.replicas 2 when there are 3, so that acks=all means "on two
// brokers at least" even while one is down.
func newTopic(ctx context.Context, client *kafka.Client, kind string, partitions int32) (*kafka.Topic, error) {
	rf := int16(min(3, len(client.Brokers())))
	cfg := kafka.TopicConfig{Partitions: partitions, ReplicationFactor: rf, Configs: map[string]string{}}
	if rf == 3 {
		cfg.Configs["min.insync.replicas"] = "2"
	}
	name := fmt.Sprintf("fault-%s-%s-%04x", kind, strconv.FormatInt(time.Now().UnixMilli(), 36), rand.Uint32N(1<<16))
	return client.CreateTopic(ctx, name, cfg)
}

// leaders returns the leader of each partition, from fresh metadata.
func leaders(ctx context.Context, topic *kafka.Topic) (map[int32]int32, error) {
	if err := topic.Refresh(ctx); err != nil {
		return nil, err
	}
	out := map[int32]int32{}
	for _, p := range topic.Partitions() {
		out[p.ID] = p.Leader
	}
	return out, nil
}

// ledBy lists the partitions of topic that broker id leads.
func ledBy(ctx context.Context, topic *kafka.Topic, id int32) ([]int32, error) {
	ls, err := leaders(ctx, topic)
	if err != nil {
		return nil, err
	}
	var out []int32
	for p := range int32(len(ls)) {
		if ls[p] == id {
			out = append(out, p)
		}
	}
	return out, nil
}

// waitUntil polls cond every 25 ms until it holds, d passes or ctx ends.
func waitUntil(ctx context.Context, d time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(d)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("faultsuite: %s: not within %v", what, d)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return fmt.Errorf("faultsuite: %s: %w", what, ctx.Err())
		}
	}
	return nil
}

// hold lets a fault last d (the length of the fault is what the experiment
// sets; nothing waits here for a condition), or until ctx ends.
func hold(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d): // collected once unreachable (Go 1.23+), even if ctx ends first
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
