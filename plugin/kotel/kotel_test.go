package kotel_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/plugin/kotel"
	_ "github.com/gokafka/kafka/rdkafka" // the rdkafka engine's records are traced too
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func TestMain(m *testing.M) { testinstance.Main(m, testinstance.Config{Brokers: 3}) }

// connect makes a client of the shared cluster with opts, and creates the
// topic name with cfg through it. The caller closes the client, when it
// chooses (before its tracer or meter provider shuts down).
func connect(tb testing.TB, ctx context.Context, name string, cfg kafka.TopicConfig, opts ...kafka.ClientOption) (*kafka.Client, *kafka.Topic) {
	tb.Helper()
	client, err := kafka.NewClient(ctx, testinstance.Shared().BootstrapServers(), opts...)
	if err != nil {
		tb.Fatal(err)
	}
	topic, err := client.CreateTopic(ctx, name, cfg)
	if err != nil {
		client.Close()
		tb.Fatal(err)
	}
	return client, topic
}

// TestProduceConsumeSpans: records produced under a parent span get a
// producer span each, child of the parent, ended at acknowledgement with
// the offset; their headers carry the span's W3C trace context (read back
// by kcat, a client nobody here wrote); the consumer's spans link to the
// producer spans, and Extract continues the producer's trace. Both
// engines, to an in-memory exporter.
func TestProduceConsumeSpans(t *testing.T) {
	for _, rd := range []bool{false, true} {
		t.Run(fmt.Sprintf("rdkafka=%v", rd), func(t *testing.T) {
			testhelp.NoLeaks(t)
			const n = 5
			exp := tracetest.NewInMemoryExporter()
			tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
			defer tp.Shutdown(context.Background())
			tr := kotel.NewTracer(kotel.WithTracerProvider(tp))
			ctx := testhelp.Ctx(t, 2*time.Minute)
			client, topic := connect(t, ctx, testhelp.UniqueName(t, "t"), kafka.TopicConfig{Partitions: 1, ReplicationFactor: 3}, kafka.WithHooks(tr))
			defer client.Close()
			p, err := topic.NewProducer(kafka.ProducerConfig{UseRdkafka: rd})
			if err != nil {
				if rd && errors.Is(err, kafka.ErrEngineNotEnabled) {
					t.Logf("rdkafka engine not compiled in: %v", err)
					return
				}
				t.Fatal(err)
			}
			parentCtx, parent := tp.Tracer("test").Start(ctx, "request")
			msgs := make([]*kafka.Message, n)
			for i := range msgs {
				msgs[i] = &kafka.Message{Value: []byte(fmt.Sprint(i))}
				tr.Inject(parentCtx, msgs[i])
			}
			if err := p.ProduceSync(ctx, msgs...).Err(); err != nil {
				t.Fatal(err)
			}
			parent.End()
			if err := p.Close(ctx); err != nil {
				t.Fatal(err)
			}

			producerSpans := map[trace.SpanID]tracetest.SpanStub{}
			for _, s := range exp.GetSpans() {
				if s.SpanKind == trace.SpanKindProducer {
					producerSpans[s.SpanContext.SpanID()] = s
					if s.Parent.SpanID() != parent.SpanContext().SpanID() || s.SpanContext.TraceID() != parent.SpanContext().TraceID() {
						t.Errorf("producer span %s: parent %s, want %s", s.Name, s.Parent.SpanID(), parent.SpanContext().SpanID())
					}
					if s.Name != topic.Name()+" publish" || !hasAttr(s, "messaging.kafka.offset") {
						t.Errorf("producer span %s, attributes %v", s.Name, s.Attributes)
					}
				}
			}
			if len(producerSpans) != n {
				t.Fatalf("%d producer spans, want %d", len(producerSpans), n)
			}

			// kcat sees each record's traceparent: its producer span.
			out := testhelp.Kcat(t, nil, "", "-C", "-t", topic.Name(), "-e", "-q", "-f", "%h\n")
			lines := strings.Fields(out)
			if len(lines) != n {
				t.Fatalf("kcat read %d records: %q", len(lines), out)
			}
			for _, l := range lines {
				tp, ok := strings.CutPrefix(l, "traceparent=")
				parts := strings.Split(tp, "-")
				if !ok || len(parts) != 4 || parts[1] != parent.SpanContext().TraceID().String() {
					t.Errorf("kcat headers %q: want traceparent of trace %s", l, parent.SpanContext().TraceID())
					continue
				}
				if _, ok := producerSpans[spanID(t, parts[2])]; !ok {
					t.Errorf("traceparent %s names no producer span", tp)
				}
			}

			c, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerOptions: kafka.ConsumerOptions{UseRdkafka: rd}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(ctx)
			for i := 0; i < n; i++ {
				m, err := c.Consume(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if sc := trace.SpanContextFromContext(tr.Extract(ctx, m)); sc.TraceID() != parent.SpanContext().TraceID() {
					t.Errorf("Extract: trace %s, want %s", sc.TraceID(), parent.SpanContext().TraceID())
				}
			}
			consumerSpans := 0
			for _, s := range exp.GetSpans() {
				if s.SpanKind != trace.SpanKindConsumer {
					continue
				}
				consumerSpans++
				if len(s.Links) != 1 {
					t.Errorf("consumer span %s has %d links", s.Name, len(s.Links))
					continue
				}
				if _, ok := producerSpans[s.Links[0].SpanContext.SpanID()]; !ok || s.Name != topic.Name()+" receive" {
					t.Errorf("consumer span %s links to %s, not a producer span", s.Name, s.Links[0].SpanContext.SpanID())
				}
			}
			if consumerSpans != n {
				t.Errorf("%d consumer spans, want %d", consumerSpans, n)
			}
		})
	}
}

func spanID(t *testing.T, s string) trace.SpanID {
	id, err := trace.SpanIDFromHex(s)
	if err != nil {
		t.Errorf("span id %q: %v", s, err)
	}
	return id
}

func hasAttr(s tracetest.SpanStub, key string) bool {
	for _, a := range s.Attributes {
		if string(a.Key) == key {
			return true
		}
	}
	return false
}
