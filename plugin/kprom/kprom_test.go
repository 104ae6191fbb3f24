package kprom_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gokafka/kafka"
	"github.com/gokafka/kafka/plugin/kprom"
	"github.com/gokafka/kafka/testhelp"
	"github.com/gokafka/kafka/testinstance"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestMain(m *testing.M) { testinstance.Main(m, testinstance.Config{Brokers: 3}) }

func brokers() string { return testinstance.Shared().BootstrapServers() }

// connect makes a client of the shared cluster with opts, and creates the
// topic name with cfg through it. The caller closes the client, when it
// chooses (the order of closes is part of some tests).
func connect(tb testing.TB, ctx context.Context, name string, cfg kafka.TopicConfig, opts ...kafka.ClientOption) (*kafka.Client, *kafka.Topic) {
	tb.Helper()
	client, err := kafka.NewClient(ctx, brokers(), opts...)
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

// serve serves m's metrics over HTTP and makes a client with m as its
// hooks, on a fresh topic of partitions partitions: what the scraping tests
// start with. Both are closed at the end of the test, the client first.
func serve(t *testing.T, ctx context.Context, m *kprom.Metrics, partitions int32) (*httptest.Server, *kafka.Topic) {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	client, topic := connect(t, ctx, testhelp.UniqueName(t, "t"), kafka.TopicConfig{Partitions: partitions, ReplicationFactor: 3}, kafka.WithHooks(m))
	t.Cleanup(func() { client.Close() })
	return srv, topic
}

// scrape GETs the metrics through an HTTP server and parses them as
// Prometheus' text format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 {
		t.Fatalf("scrape: %s (%s)", resp.Status, ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("the scrape does not parse as Prometheus text: %v", err)
	}
	return fams
}

// value is the value of the family's sample whose labels include want.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	for _, m := range f.Metric {
		ok := true
		for k, v := range want {
			found := false
			for _, l := range m.Label {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			ok = ok && found
		}
		if !ok {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

// TestScrape: a producer and a group's consumer on the shared cluster,
// scraped through an httptest server: the counters equal what the test
// did, and the lag gauge shows high watermark minus committed for a member
// that resumes a group, then 0 once it caught up.
func TestScrape(t *testing.T) {
	testhelp.NoLeaks(t)
	const n, first = 200, 150
	ctx := testhelp.Ctx(t, 2*time.Minute)
	m := kprom.New("test")
	srv, topic := serve(t, ctx, m, 1)
	p, err := topic.NewProducer(kafka.ProducerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := p.ProduceMessage(ctx, &kafka.Message{Value: []byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	group := testhelp.UniqueName(t, "g")
	consume := func(c *kafka.SimpleConsumer, k int) []*kafka.Message {
		t.Helper()
		var out []*kafka.Message
		for len(out) < k {
			msg, err := c.Consume(ctx)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, msg)
		}
		return out
	}
	c1, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerGroup: group})
	if err != nil {
		t.Fatal(err)
	}
	if err := c1.CommitMessages(ctx, consume(c1, first)...); err != nil {
		t.Fatal(err)
	}
	if err := c1.Close(ctx); err != nil {
		t.Fatal(err)
	}

	c2, err := topic.NewSimpleConsumer(ctx, kafka.ConsumerConfig{ConsumerGroup: group})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close(ctx)
	consume(c2, 1)
	lagLabels := map[string]string{"group": group, "topic": topic.Name(), "partition": "0"}
	fams := scrape(t, srv.URL)
	if lag, ok := value(fams, "test_kafka_consumer_lag", lagLabels); !ok || lag != n-first {
		t.Errorf("consumer_lag = %v (found %v), want high watermark %d - committed %d", lag, ok, n, first)
	}
	consume(c2, n-first-1)
	fams = scrape(t, srv.URL)
	if lag, ok := value(fams, "test_kafka_consumer_lag", lagLabels); !ok || lag != 0 {
		t.Errorf("consumer_lag = %v (found %v) after catching up, want 0", lag, ok)
	}
	byTopic := map[string]string{"topic": topic.Name()}
	for name, want := range map[string]float64{
		"test_kafka_records_produced_total":  n,
		"test_kafka_records_delivered_total": n,
		"test_kafka_produce_records_total":   n,
		"test_kafka_records_consumed_total":  first + n - first,
		"test_kafka_commits_total":           1,
	} {
		labels := byTopic
		if name == "test_kafka_commits_total" {
			labels = map[string]string{"group": group}
		}
		if got, ok := value(fams, name, labels); !ok || got != want {
			t.Errorf("%s = %v (found %v), want %v", name, got, ok, want)
		}
	}
	if got, ok := value(fams, "test_kafka_records_failed_total", byTopic); ok {
		t.Errorf("records_failed_total = %v, want no failures", got)
	}
	if got, ok := value(fams, "test_kafka_request_duration_seconds", map[string]string{"api": "Produce"}); !ok || got < 1 {
		t.Errorf("request_duration_seconds{api=Produce} count = %v (found %v)", got, ok)
	}
	if got, _ := value(fams, "test_kafka_connects_total", nil); got < 1 {
		t.Errorf("connects_total = %v", got)
	}
	t.Logf("%d metric families", len(fams))
}

// TestRebalanceMetrics: a balanced consumer's join and assignment show in
// rebalances_total.
func TestRebalanceMetrics(t *testing.T) {
	testhelp.NoLeaks(t)
	ctx := testhelp.Ctx(t, 2*time.Minute)
	m := kprom.New("")
	srv, topic := serve(t, ctx, m, 2)
	group := testhelp.UniqueName(t, "g")
	c, err := topic.NewBalancedConsumer(ctx, kafka.BalancedConsumerConfig{Group: group, Managed: true})
	if err != nil {
		t.Fatal(err)
	}
	testhelp.WaitUntil(t, time.Minute, "the member owns both partitions", func() bool { return len(c.Partitions()) == 2 })
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, srv.URL)
	for kind, want := range map[string]float64{"joined": 1, "assigned": 1, "revoked": 1} {
		if got, ok := value(fams, "kafka_rebalances_total", map[string]string{"group": group, "kind": kind}); !ok || got != want {
			t.Errorf("rebalances_total{kind=%s} = %v (found %v), want %v", kind, got, ok, want)
		}
	}
}

// ExampleNew serves a client's metrics.
func ExampleNew() {
	m := kprom.New("myapp")
	client, err := kafka.NewClient(context.Background(), "localhost:9092", kafka.WithHooks(m))
	if err != nil {
		return
	}
	defer client.Close()
	http.Handle("/metrics", m.Handler())
}
