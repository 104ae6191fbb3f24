// Package kotel traces a gokafka client's records with OpenTelemetry: a
// producer span per produced record, from Produce to the broker's
// acknowledgement, whose W3C trace context travels in the record's headers
// ("traceparent", "tracestate"), and a consumer span per consumed record,
// linked to the producer span it finds in the headers.
//
// It is a module of its own (github.com/gokafka/kafka/plugin/kotel), so that
// programs that do not import it do not download OpenTelemetry:
//
//	tr := kotel.NewTracer(kotel.WithTracerProvider(tp))
//	client, err := kafka.NewClient(ctx, hosts, kafka.WithHooks(tr))
//	...
//	m := &kafka.Message{Value: v}
//	tr.Inject(ctx, m) // the producer span becomes a child of ctx's span
//	producer.ProduceMessage(ctx, m)
//	...
//	m, err := consumer.Consume(ctx)
//	ctx = tr.Extract(ctx, m) // continue the producer's trace while processing
//
// Meter (NewMeter) is a second hook, for OpenTelemetry metrics: record
// counts, request durations, rebalances and consumer lag.
//
// A record produced without Inject starts a trace of its own (or continues
// one whose context its headers already carry, such as a record copied
// from a consumed one). Span names follow OpenTelemetry's messaging
// conventions: "<topic> publish" (kind producer) and "<topic> receive"
// (kind consumer), with attributes messaging.system=kafka,
// messaging.destination.name, messaging.destination.partition.id and
// messaging.kafka.offset. The rules of kafka.Hook apply: the hooks run on
// the client's goroutines; these only start and end spans.
package kotel

import (
	"context"
	"strconv"
	"sync"

	"github.com/gokafka/kafka"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the spans.
const ScopeName = "github.com/gokafka/kafka/plugin/kotel"

// Tracer is a kafka hook (RecordProducedHook, RecordDeliveredHook,
// RecordConsumedHook) that traces records. Safe for concurrent use.
type Tracer struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator

	mu    sync.Mutex
	spans map[*kafka.Message]trace.Span // produced, not yet delivered
}

// Option configures NewTracer.
type Option func(*Tracer)

// WithTracerProvider sets where spans go. Default: otel.GetTracerProvider().
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(t *Tracer) { t.tracer = tp.Tracer(ScopeName) }
}

// WithPropagator sets how trace context is written to and read from
// headers. Default: W3C trace context (propagation.TraceContext).
func WithPropagator(p propagation.TextMapPropagator) Option {
	return func(t *Tracer) { t.prop = p }
}

// NewTracer creates the hook.
func NewTracer(opts ...Option) *Tracer {
	t := &Tracer{prop: propagation.TraceContext{}, spans: map[*kafka.Message]trace.Span{}}
	for _, o := range opts {
		o(t)
	}
	if t.tracer == nil {
		t.tracer = otel.GetTracerProvider().Tracer(ScopeName)
	}
	return t
}

// headers adapts a message's headers to propagation.TextMapCarrier.
type headers struct{ m *kafka.Message }

func (h headers) Get(key string) string {
	for i := len(h.m.Headers) - 1; i >= 0; i-- {
		if h.m.Headers[i].Key == key {
			return string(h.m.Headers[i].Value)
		}
	}
	return ""
}

func (h headers) Set(key, value string) {
	for i := range h.m.Headers {
		if h.m.Headers[i].Key == key {
			h.m.Headers[i].Value = []byte(value)
			return
		}
	}
	h.m.Headers = append(h.m.Headers, kafka.Header{Key: key, Value: []byte(value)})
}

func (h headers) Keys() []string {
	keys := make([]string, len(h.m.Headers))
	for i, x := range h.m.Headers {
		keys[i] = x.Key
	}
	return keys
}

// Inject writes ctx's trace context into m's headers, before m is
// produced: the record's producer span then becomes a child of ctx's span.
func (t *Tracer) Inject(ctx context.Context, m *kafka.Message) {
	t.prop.Inject(ctx, headers{m})
}

// Extract returns ctx carrying the trace context of m's headers (for a
// consumed record: its producer span), to continue that trace.
func (t *Tracer) Extract(ctx context.Context, m *kafka.Message) context.Context {
	return t.prop.Extract(ctx, headers{m})
}

func attrs(m *kafka.Message, op string) []attribute.KeyValue {
	return []attribute.KeyValue{
		attribute.String("messaging.system", "kafka"),
		attribute.String("messaging.operation.type", op),
		attribute.String("messaging.destination.name", m.Topic),
		attribute.String("messaging.destination.partition.id", strconv.Itoa(int(m.Partition))),
	}
}

// OnRecordProduced implements kafka.RecordProducedHook: it starts the
// record's producer span (child of the context in its headers, if any) and
// writes the span's context into the headers.
func (t *Tracer) OnRecordProduced(m *kafka.Message) {
	parent := t.prop.Extract(context.Background(), headers{m})
	ctx, span := t.tracer.Start(parent, m.Topic+" publish",
		trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(attrs(m, "send")...))
	t.prop.Inject(ctx, headers{m})
	t.mu.Lock()
	t.spans[m] = span
	t.mu.Unlock()
}

// OnRecordDelivered implements kafka.RecordDeliveredHook: it ends the
// record's producer span, with the offset or the error.
func (t *Tracer) OnRecordDelivered(m *kafka.Message, err error) {
	t.mu.Lock()
	span, ok := t.spans[m]
	delete(t.spans, m)
	t.mu.Unlock()
	if !ok {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	} else {
		span.SetAttributes(attribute.Int64("messaging.kafka.offset", m.Offset))
	}
	span.End()
}

// OnRecordConsumed implements kafka.RecordConsumedHook: a consumer span,
// linked to the producer span whose context the headers carry.
func (t *Tracer) OnRecordConsumed(m *kafka.Message) {
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attrs(m, "receive")...),
		trace.WithAttributes(attribute.Int64("messaging.kafka.offset", m.Offset)),
	}
	if sc := trace.SpanContextFromContext(t.prop.Extract(context.Background(), headers{m})); sc.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
	}
	_, span := t.tracer.Start(context.Background(), m.Topic+" receive", opts...)
	span.End()
}
