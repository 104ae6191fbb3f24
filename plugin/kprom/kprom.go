// Package kprom exports a gokafka client's hooks as Prometheus metrics.
//
// It is a module of its own (github.com/gokafka/kafka/plugin/kprom), so that
// programs that do not import it do not download client_golang. Create a
// Metrics, register it with the client, and serve it:
//
//	m := kprom.New("myapp")
//	client, err := kafka.NewClient(ctx, hosts, kafka.WithHooks(m))
//	...
//	http.Handle("/metrics", m.Handler())
//
// or register it in a registry of your own (Metrics is a
// prometheus.Collector): prometheus.MustRegister(m).
//
// The metrics, all prefixed with the namespace and "kafka_":
//
//	connects_total, connect_errors_total, disconnects_total   {node_id}
//	write_bytes_total, read_bytes_total                       {node_id}
//	requests_total, request_errors_total                      {node_id, api}
//	request_duration_seconds (histogram: written to read)     {node_id, api}
//	throttles_total, throttle_seconds_total                   {node_id}
//	produce_batches_total, produce_records_total,
//	produce_bytes_total (uncompressed), produce_compressed_bytes_total {topic}
//	fetch_batches_total, fetch_records_total,
//	fetch_bytes_total, fetch_compressed_bytes_total           {topic}
//	records_produced_total, records_delivered_total,
//	records_failed_total, records_consumed_total              {topic}
//	rebalances_total, rebalance_duration_seconds (histogram)  {group, kind}
//	commits_total, commit_errors_total                        {group}
//	consumer_lag (gauge: high watermark - position)           {group, topic, partition}
//
// Node ids are Kafka's broker ids; a bootstrap address not yet mapped to
// one is "seed". With the rdkafka engine, the batch metrics stay at zero
// and the request metrics count the client's own requests only (see
// kafka.Hook). Every hook method only adds to a metric: it never blocks.
package kprom

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/gokafka/kafka"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is a kafka hook of every kind that feeds Prometheus metrics; it
// is also a prometheus.Collector of them. Safe for concurrent use; one
// Metrics may serve several clients (their counts add up).
type Metrics struct {
	reg *prometheus.Registry

	connects, connectErrors, disconnects  *prometheus.CounterVec
	writeBytes, readBytes                 *prometheus.CounterVec
	requests, requestErrors               *prometheus.CounterVec
	requestDuration                       *prometheus.HistogramVec
	throttles, throttleSeconds            *prometheus.CounterVec
	prodBatches, prodRecords              *prometheus.CounterVec
	prodBytes, prodCompressed             *prometheus.CounterVec
	fetchBatches, fetchRecords            *prometheus.CounterVec
	fetchBytes, fetchCompressed           *prometheus.CounterVec
	produced, delivered, failed, consumed *prometheus.CounterVec
	rebalances                            *prometheus.CounterVec
	rebalanceDuration                     *prometheus.HistogramVec
	commits, commitErrors                 *prometheus.CounterVec
	lag                                   *prometheus.GaugeVec

	all []prometheus.Collector
}

// New creates the metrics under namespace (for example the program's
// name; empty for none) and registers them in a registry of their own,
// which Handler serves.
func New(namespace string) *Metrics {
	m := &Metrics{}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: namespace, Subsystem: "kafka", Name: name, Help: help}, labels)
		m.all = append(m.all, v)
		return v
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		v := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: namespace, Subsystem: "kafka", Name: name, Help: help, Buckets: buckets}, labels)
		m.all = append(m.all, v)
		return v
	}
	m.connects = counter("connects_total", "Connections opened to a broker.", "node_id")
	m.connectErrors = counter("connect_errors_total", "Failed connection attempts to a broker.", "node_id")
	m.disconnects = counter("disconnects_total", "Broker connections that ended.", "node_id")
	m.writeBytes = counter("write_bytes_total", "Bytes of requests written to a broker.", "node_id")
	m.readBytes = counter("read_bytes_total", "Bytes of responses read from a broker.", "node_id")
	m.requests = counter("requests_total", "Requests answered by a broker.", "node_id", "api")
	m.requestErrors = counter("request_errors_total", "Requests not written, or whose connection failed before the response.", "node_id", "api")
	m.requestDuration = histogram("request_duration_seconds", "Time from a request written to its response read (Fetch long-polls included).",
		prometheus.ExponentialBuckets(0.0005, 2, 16), "node_id", "api")
	m.throttles = counter("throttles_total", "Responses asking the client to wait (quotas).", "node_id")
	m.throttleSeconds = counter("throttle_seconds_total", "Time brokers asked the client to wait.", "node_id")
	m.prodBatches = counter("produce_batches_total", "Record batches sent (each try).", "topic")
	m.prodRecords = counter("produce_records_total", "Records in the batches sent.", "topic")
	m.prodBytes = counter("produce_bytes_total", "Bytes of the batches sent, before compression.", "topic")
	m.prodCompressed = counter("produce_compressed_bytes_total", "Bytes of the batches sent, as sent.", "topic")
	m.fetchBatches = counter("fetch_batches_total", "Partition answers of Fetch responses decoded.", "topic")
	m.fetchRecords = counter("fetch_records_total", "Records fetched.", "topic")
	m.fetchBytes = counter("fetch_bytes_total", "Bytes of the keys, values and headers fetched.", "topic")
	m.fetchCompressed = counter("fetch_compressed_bytes_total", "Bytes of the record batches fetched, as received.", "topic")
	m.produced = counter("records_produced_total", "Records handed to a producer.", "topic")
	m.delivered = counter("records_delivered_total", "Records acknowledged by the broker.", "topic")
	m.failed = counter("records_failed_total", "Records that failed for good.", "topic")
	m.consumed = counter("records_consumed_total", "Records handed out by consumers.", "topic")
	m.rebalances = counter("rebalances_total", "Group events of balanced consumers (joined, assigned, revoked, lost).", "group", "kind")
	m.rebalanceDuration = histogram("rebalance_duration_seconds", "Time a member took to handle a group event.",
		prometheus.ExponentialBuckets(0.001, 4, 10), "group", "kind")
	m.commits = counter("commits_total", "Offset commits sent.", "group")
	m.commitErrors = counter("commit_errors_total", "Offset commits with a partition that failed.", "group")
	m.lag = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: namespace, Subsystem: "kafka", Name: "consumer_lag",
		Help: "Records left to read in a partition: high watermark minus the consumer's position."}, []string{"group", "topic", "partition"})
	m.all = append(m.all, m.lag)
	m.reg = prometheus.NewRegistry()
	m.reg.MustRegister(m)
	return m
}

// Handler serves the metrics in Prometheus' text format (from the
// registry New made).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.all {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.all {
		c.Collect(ch)
	}
}

func node(id int32) string {
	if id < 0 {
		return "seed"
	}
	return strconv.Itoa(int(id))
}

// OnBrokerConnect implements kafka.BrokerConnectHook.
func (m *Metrics) OnBrokerConnect(e kafka.BrokerConnectEvent) {
	if e.Err != nil {
		m.connectErrors.WithLabelValues(node(e.Broker)).Inc()
		return
	}
	m.connects.WithLabelValues(node(e.Broker)).Inc()
}

// OnBrokerDisconnect implements kafka.BrokerDisconnectHook.
func (m *Metrics) OnBrokerDisconnect(e kafka.BrokerDisconnectEvent) {
	m.disconnects.WithLabelValues(node(e.Broker)).Inc()
}

// OnBrokerThrottle implements kafka.BrokerThrottleHook.
func (m *Metrics) OnBrokerThrottle(e kafka.BrokerThrottleEvent) {
	m.throttles.WithLabelValues(node(e.Broker)).Inc()
	m.throttleSeconds.WithLabelValues(node(e.Broker)).Add(e.Throttle.Seconds())
}

// OnBrokerWrite implements kafka.BrokerWriteHook.
func (m *Metrics) OnBrokerWrite(e kafka.BrokerWriteEvent) {
	if e.Err != nil {
		m.requestErrors.WithLabelValues(node(e.Broker), kafka.APIKeyName(e.APIKey)).Inc()
		return
	}
	m.writeBytes.WithLabelValues(node(e.Broker)).Add(float64(e.Bytes))
}

// OnBrokerRead implements kafka.BrokerReadHook.
func (m *Metrics) OnBrokerRead(e kafka.BrokerReadEvent) {
	n, api := node(e.Broker), kafka.APIKeyName(e.APIKey)
	if errors.Is(e.Err, context.Canceled) || errors.Is(e.Err, context.DeadlineExceeded) {
		return // the caller gave up waiting (a consumer closing mid long-poll)
	}
	if e.Err != nil {
		m.requestErrors.WithLabelValues(n, api).Inc()
		return
	}
	m.requests.WithLabelValues(n, api).Inc()
	m.readBytes.WithLabelValues(n).Add(float64(e.Bytes))
	m.requestDuration.WithLabelValues(n, api).Observe(e.Latency.Seconds())
}

// OnProduceBatch implements kafka.ProduceBatchHook.
func (m *Metrics) OnProduceBatch(e kafka.ProduceBatchEvent) {
	m.prodBatches.WithLabelValues(e.Topic).Inc()
	m.prodRecords.WithLabelValues(e.Topic).Add(float64(e.Records))
	m.prodBytes.WithLabelValues(e.Topic).Add(float64(e.Bytes))
	m.prodCompressed.WithLabelValues(e.Topic).Add(float64(e.CompressedBytes))
}

// OnFetchBatch implements kafka.FetchBatchHook.
func (m *Metrics) OnFetchBatch(e kafka.FetchBatchEvent) {
	m.fetchBatches.WithLabelValues(e.Topic).Inc()
	m.fetchRecords.WithLabelValues(e.Topic).Add(float64(e.Records))
	m.fetchBytes.WithLabelValues(e.Topic).Add(float64(e.Bytes))
	m.fetchCompressed.WithLabelValues(e.Topic).Add(float64(e.CompressedBytes))
}

// OnRecordProduced implements kafka.RecordProducedHook.
func (m *Metrics) OnRecordProduced(r *kafka.Message) {
	m.produced.WithLabelValues(r.Topic).Inc()
}

// OnRecordDelivered implements kafka.RecordDeliveredHook.
func (m *Metrics) OnRecordDelivered(r *kafka.Message, err error) {
	if err != nil {
		m.failed.WithLabelValues(r.Topic).Inc()
		return
	}
	m.delivered.WithLabelValues(r.Topic).Inc()
}

// OnRecordConsumed implements kafka.RecordConsumedHook.
func (m *Metrics) OnRecordConsumed(r *kafka.Message) {
	m.consumed.WithLabelValues(r.Topic).Inc()
}

// OnRebalance implements kafka.RebalanceHook.
func (m *Metrics) OnRebalance(e kafka.RebalanceEvent) {
	kind := e.Kind.String()
	m.rebalances.WithLabelValues(e.Group, kind).Inc()
	m.rebalanceDuration.WithLabelValues(e.Group, kind).Observe(e.Took.Seconds())
	if e.Kind == kafka.RebalanceRevoked || e.Kind == kafka.RebalanceLost {
		// The partitions are someone else's now: their lag is theirs.
		for _, p := range e.Partitions {
			m.lag.DeleteLabelValues(e.Group, p.Topic, strconv.Itoa(int(p.Partition)))
		}
	}
}

// OnCommit implements kafka.CommitHook.
func (m *Metrics) OnCommit(e kafka.CommitEvent) {
	m.commits.WithLabelValues(e.Group).Inc()
	if len(e.Failed) > 0 {
		m.commitErrors.WithLabelValues(e.Group).Inc()
	}
}

// OnLag implements kafka.LagHook.
func (m *Metrics) OnLag(e kafka.LagEvent) {
	m.lag.WithLabelValues(e.Group, e.Topic, strconv.Itoa(int(e.Partition))).Set(float64(e.Lag))
}
