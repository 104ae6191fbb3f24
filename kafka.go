package kafka

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gokafka/kafka/internal/cluster"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/wire"
)

// Client is a connection to a Kafka cluster: the entry point from which
// topics, producers and consumers flow. It keeps the cluster's metadata fresh
// in one background goroutine and a pool of broker connections.
//
// A Client is safe for concurrent use. Close it when done; Close also closes
// producers and consumers created from it that are still open.
type Client struct {
	cfg     clientConfig
	cluster *cluster.Cluster

	// clusterHandle makes a *Client what offsets.NewGroup, offsets.List
	// and balance's Join take (offsets.Cluster), without an exported
	// field or method.
	clusterHandle

	missing missingTopics // topics recently found not to exist

	mu       sync.Mutex
	children map[closer]struct{}
	closed   bool
}

// clusterHandle is cluster.Handle under a name that keeps the embedded
// field unexported.
type clusterHandle = cluster.Handle

// closer is a producer or consumer owned by a client.
type closer interface{ Close(context.Context) error }

type clientConfig struct {
	clientID         string
	logger           *slog.Logger
	dialTimeout      time.Duration
	requestTimeout   time.Duration
	metadataMaxAge   time.Duration
	retryBackoff     time.Duration
	autoCreateTopics bool
	engine           Engine
	tls              *tls.Config
	sasl             wire.Authenticator
	security         securityConfig // WithTLSConfig and WithSASL data, for engines (security.go)
	dialer           func(ctx context.Context, network, addr string) (net.Conn, error)
	hooks            []Hook   // WithHooks (hooks.go)
	hookSet          *hookSet // hooks sorted by NewClient; nil without hooks
	err              error    // first invalid option
}

// ClientOption configures NewClient.
type ClientOption func(*clientConfig)

// WithClientID sets the client id sent to brokers (default "gokafka"); it
// shows up in broker logs and quotas.
func WithClientID(id string) ClientOption {
	return func(c *clientConfig) { c.clientID = id }
}

// WithLogger sets where the client logs (connection failures, retries,
// rebalances), at Debug and Warn levels. Default: nothing is logged.
func WithLogger(l *slog.Logger) ClientOption {
	return func(c *clientConfig) { c.logger = l }
}

// WithDialTimeout bounds each connection attempt (TCP, TLS, version
// negotiation). Default 10s.
func WithDialTimeout(d time.Duration) ClientOption {
	return positiveDuration("WithDialTimeout", d, func(c *clientConfig) *time.Duration { return &c.dialTimeout })
}

// WithRequestTimeout bounds the wait for each broker response, on top of the
// time a request asks the broker to wait. Default 30s.
func WithRequestTimeout(d time.Duration) ClientOption {
	return positiveDuration("WithRequestTimeout", d, func(c *clientConfig) *time.Duration { return &c.requestTimeout })
}

// WithMetadataMaxAge sets how often metadata is refreshed even without an
// error prompting it; that is how new partitions are noticed. Default 5m.
func WithMetadataMaxAge(d time.Duration) ClientOption {
	return positiveDuration("WithMetadataMaxAge", d, func(c *clientConfig) *time.Duration { return &c.metadataMaxAge })
}

// WithRetryBackoff sets the first wait before a retry or reconnect; it
// doubles, with jitter, up to 1s (or d if larger). Default 100ms.
func WithRetryBackoff(d time.Duration) ClientOption {
	return positiveDuration("WithRetryBackoff", d, func(c *clientConfig) *time.Duration { return &c.retryBackoff })
}

// positiveDuration is an option that sets the duration field gives to d, or
// records that option was given a d that is not positive (NewClient
// returns it).
func positiveDuration(option string, d time.Duration, field func(*clientConfig) *time.Duration) ClientOption {
	return func(c *clientConfig) {
		if d <= 0 {
			c.setErr(kerr.Config(option, "must be positive, got %v", d))
		}
		*field(c) = d
	}
}

// WithAutoCreateTopics makes Client.Topic create a missing topic with the
// broker's defaults, where the broker allows it (auto.create.topics.enable),
// as PyKafka's client.topics[name] does. Default off: a missing topic is
// ErrUnknownTopic.
func WithAutoCreateTopics(on bool) ClientOption {
	return func(c *clientConfig) { c.autoCreateTopics = on }
}

// WithTLS connects to brokers over TLS with the given configuration. It
// works with the pure engine only: librdkafka cannot take a *tls.Config, so
// producers and consumers with UseRdkafka fail with a *ConfigError. Use
// WithTLSConfig for both engines.
func WithTLS(cfg *tls.Config) ClientOption {
	return func(c *clientConfig) { c.tls = cfg }
}

// WithDialer replaces the function that opens TCP connections (for proxies
// and tests).
func WithDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) ClientOption {
	return func(c *clientConfig) { c.dialer = dial }
}

// retryBackoffOrDefault is the first retry backoff: WithRetryBackoff's, or
// the cluster layer's default.
func (c *clientConfig) retryBackoffOrDefault() time.Duration {
	if c.retryBackoff > 0 {
		return c.retryBackoff
	}
	return cluster.DefaultRetryBackoff
}

func (c *clientConfig) setErr(err error) {
	if c.err == nil {
		c.err = err
	}
}

// NewClient connects to the cluster through one of hosts, a comma-separated
// list of host:port bootstrap brokers, and loads its metadata. It fails with
// an error wrapping ErrNoBrokers if none answers before ctx ends.
//
// NewClient starts one goroutine, which refreshes metadata; Close stops it.
func NewClient(ctx context.Context, hosts string, opts ...ClientOption) (*Client, error) {
	cfg := clientConfig{clientID: "gokafka"}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.err != nil {
		return nil, cfg.err
	}
	var bootstrap []string
	for _, h := range strings.Split(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			return nil, kerr.Config("hosts", "%q is not host:port", h)
		}
		bootstrap = append(bootstrap, h)
	}
	if len(bootstrap) == 0 {
		return nil, kerr.Config("hosts", "no broker address given")
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	cfg.hookSet = newHookSet(cfg.hooks, cfg.logger)
	var clusterHooks cluster.Hooks
	if cfg.hookSet.brokerHooks() {
		clusterHooks = cfg.hookSet
	}
	cl, err := cluster.New(ctx, cluster.Config{
		Bootstrap: bootstrap,
		Conn: wire.Options{
			ClientID:       cfg.clientID,
			DialTimeout:    cfg.dialTimeout,
			RequestTimeout: cfg.requestTimeout,
			TLS:            cfg.tls,
			SASL:           cfg.sasl,
			Dialer:         cfg.dialer,
		},
		MetadataMaxAge: cfg.metadataMaxAge,
		RetryBackoff:   cfg.retryBackoff,
		Logger:         cfg.logger,
		Hooks:          clusterHooks,
	})
	if err != nil {
		return nil, err
	}
	return &Client{cfg: cfg, cluster: cl, clusterHandle: cluster.NewHandle(cl), children: map[closer]struct{}{}}, nil
}

// Close closes the producers and consumers created from this client that
// are still open (each gets up to 10s to flush or commit), then every broker
// connection. Idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	children := c.children
	c.children = nil
	c.mu.Unlock()
	var errs []error
	for ch := range children {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := ch.Close(ctx); err != nil && !errors.Is(err, ErrClosed) {
			errs = append(errs, err)
		}
		cancel()
	}
	c.cluster.Close()
	return errors.Join(errs...)
}

// adopt registers a producer or consumer so that Close can close it.
func (c *Client) adopt(ch closer) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.children[ch] = struct{}{}
	return nil
}

// release forgets a producer or consumer that closed itself.
func (c *Client) release(ch closer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.children, ch)
}

func (c *Client) checkOpen() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	return nil
}

// Broker describes one broker of the cluster.
type Broker struct {
	ID   int32
	Host string
	Port int32
	Rack string // empty if the broker has none
}

// Addr is host:port.
func (b Broker) Addr() string { return net.JoinHostPort(b.Host, fmt.Sprint(b.Port)) }

// Brokers lists the brokers of the cluster, ordered by id, as of the last
// metadata refresh.
func (c *Client) Brokers() []Broker {
	snap := c.cluster.Snapshot()
	out := make([]Broker, 0, len(snap.Brokers))
	for _, b := range snap.Brokers {
		br := Broker{ID: b.ID, Host: b.Host, Port: b.Port}
		if b.Rack != nil {
			br.Rack = *b.Rack
		}
		out = append(out, br)
	}
	slices.SortFunc(out, func(a, b Broker) int { return int(a.ID) - int(b.ID) })
	return out
}

// ClusterID is the cluster's id as of the last metadata refresh.
func (c *Client) ClusterID() string { return c.cluster.Snapshot().ClusterID }

// Topics lists the names of the cluster's topics, sorted, without Kafka's
// internal topics (such as __consumer_offsets).
func (c *Client) Topics(ctx context.Context) ([]string, error) {
	if err := c.checkOpen(); err != nil {
		return nil, err
	}
	if err := c.cluster.RefreshAll(ctx); err != nil {
		return nil, err
	}
	var names []string
	for name, t := range c.cluster.Snapshot().Topics {
		if t.Err == nil && !t.Internal {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}
