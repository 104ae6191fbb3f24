package kotel_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/plugin/kotel"
	"github.com/gokafka/kafka/testhelp"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// TestMeter: records produced and consumed on the shared cluster, read
// through a manual reader: the counters equal what the test did, the lag
// gauge of the consumer that caught up is 0, request durations were
// recorded.
func TestMeter(t *testing.T) {
	testhelp.NoLeaks(t)
	const n = 300
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	m, err := kotel.NewMeter(kotel.WithMeterProvider(mp))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testhelp.Ctx(t, 2*time.Minute)
	client, topic := connect(t, ctx, testhelp.UniqueName(t, "t"), kafka.TopicConfig{Partitions: 2, ReplicationFactor: 3}, kafka.WithHooks(m))
	defer client.Close()
	p, err := topic.NewProducer(kafka.ProducerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := p.ProduceMessage(ctx, &kafka.Message{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	group := testhelp.UniqueName(t, "g")
	c, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerGroup: group})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	for i := 0; i < n; i++ {
		if _, err := c.Consume(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	sums := map[string]int64{}
	lags := map[string]int64{}
	var durations uint64
	for _, sm := range rm.ScopeMetrics {
		for _, mt := range sm.Metrics {
			switch d := mt.Data.(type) {
			case metricdata.Sum[int64]:
				for _, dp := range d.DataPoints {
					if v, ok := dp.Attributes.Value("topic"); !ok || v.AsString() == topic.Name() {
						sums[mt.Name] += dp.Value
					}
				}
			case metricdata.Gauge[int64]:
				for _, dp := range d.DataPoints {
					part, _ := dp.Attributes.Value("partition")
					lags[part.AsString()] = dp.Value
				}
			case metricdata.Histogram[float64]:
				for _, dp := range d.DataPoints {
					durations += dp.Count
				}
			}
		}
	}
	for _, name := range []string{"kafka.records.produced", "kafka.records.delivered", "kafka.records.consumed"} {
		if sums[name] != n {
			t.Errorf("%s = %d, want %d", name, sums[name], n)
		}
	}
	if sums["kafka.records.failed"] != 0 || durations == 0 {
		t.Errorf("failed %d, request durations %d", sums["kafka.records.failed"], durations)
	}
	if len(lags) != 2 || lags["0"] != 0 || lags["1"] != 0 {
		t.Errorf("kafka.consumer.lag = %v, want 0 for both partitions", lags)
	}
}
