package kotel

import (
	"context"
	"errors"
	"strconv"

	"github.com/gokafka/kafka"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Meter is a kafka hook that records OpenTelemetry metrics: records
// produced, delivered, failed and consumed (by topic), request durations
// (by broker and API), rebalances (by group and kind) and consumer lag (a
// gauge by group, topic and partition). The names follow kprom's, under
// "kafka.": kafka.records.produced, kafka.records.delivered,
// kafka.records.failed, kafka.records.consumed, kafka.request.duration
// (seconds), kafka.rebalances, kafka.consumer.lag. Safe for concurrent use.
type Meter struct {
	produced, delivered, failed, consumed metric.Int64Counter
	requestDuration                       metric.Float64Histogram
	rebalances                            metric.Int64Counter
	lag                                   metric.Int64Gauge
}

// MeterOption configures NewMeter.
type MeterOption func(*meterConfig)

type meterConfig struct{ mp metric.MeterProvider }

// WithMeterProvider sets where metrics go. Default:
// otel.GetMeterProvider().
func WithMeterProvider(mp metric.MeterProvider) MeterOption {
	return func(c *meterConfig) { c.mp = mp }
}

// NewMeter creates the instruments.
func NewMeter(opts ...MeterOption) (*Meter, error) {
	cfg := meterConfig{mp: otel.GetMeterProvider()}
	for _, o := range opts {
		o(&cfg)
	}
	mt := cfg.mp.Meter(ScopeName)
	m := &Meter{}
	var errs []error
	counter := func(name, desc string) metric.Int64Counter {
		c, err := mt.Int64Counter(name, metric.WithDescription(desc), metric.WithUnit("{record}"))
		errs = append(errs, err)
		return c
	}
	m.produced = counter("kafka.records.produced", "Records handed to a producer.")
	m.delivered = counter("kafka.records.delivered", "Records acknowledged by the broker.")
	m.failed = counter("kafka.records.failed", "Records that failed for good.")
	m.consumed = counter("kafka.records.consumed", "Records handed out by consumers.")
	var err error
	m.requestDuration, err = mt.Float64Histogram("kafka.request.duration", metric.WithUnit("s"),
		metric.WithDescription("Time from a request written to its response read (Fetch long-polls included)."))
	errs = append(errs, err)
	m.rebalances, err = mt.Int64Counter("kafka.rebalances", metric.WithDescription("Group events of balanced consumers."))
	errs = append(errs, err)
	m.lag, err = mt.Int64Gauge("kafka.consumer.lag", metric.WithUnit("{record}"),
		metric.WithDescription("Records left to read in a partition: high watermark minus the consumer's position."))
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

func topicAttr(t string) metric.MeasurementOption {
	return metric.WithAttributes(attribute.String("topic", t))
}

// OnRecordProduced implements kafka.RecordProducedHook.
func (m *Meter) OnRecordProduced(r *kafka.Message) {
	m.produced.Add(context.Background(), 1, topicAttr(r.Topic))
}

// OnRecordDelivered implements kafka.RecordDeliveredHook.
func (m *Meter) OnRecordDelivered(r *kafka.Message, err error) {
	if err != nil {
		m.failed.Add(context.Background(), 1, topicAttr(r.Topic))
		return
	}
	m.delivered.Add(context.Background(), 1, topicAttr(r.Topic))
}

// OnRecordConsumed implements kafka.RecordConsumedHook.
func (m *Meter) OnRecordConsumed(r *kafka.Message) {
	m.consumed.Add(context.Background(), 1, topicAttr(r.Topic))
}

// OnBrokerRead implements kafka.BrokerReadHook: answered requests only.
func (m *Meter) OnBrokerRead(e kafka.BrokerReadEvent) {
	if e.Err != nil {
		return
	}
	m.requestDuration.Record(context.Background(), e.Latency.Seconds(), metric.WithAttributes(
		attribute.Int("node_id", int(e.Broker)), attribute.String("api", kafka.APIKeyName(e.APIKey))))
}

// OnRebalance implements kafka.RebalanceHook.
func (m *Meter) OnRebalance(e kafka.RebalanceEvent) {
	m.rebalances.Add(context.Background(), 1, metric.WithAttributes(
		attribute.String("group", e.Group), attribute.String("kind", e.Kind.String())))
}

// OnLag implements kafka.LagHook.
func (m *Meter) OnLag(e kafka.LagEvent) {
	m.lag.Record(context.Background(), e.Lag, metric.WithAttributes(attribute.String("group", e.Group),
		attribute.String("topic", e.Topic), attribute.String("partition", strconv.Itoa(int(e.Partition)))))
}
