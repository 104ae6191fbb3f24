//go:build cgo && !nordkafka

package rdkafka

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/internal/records"
	"github.com/gokafka/kafka/testhelp"
)

// TestRegistered: importing the package registers the engine under
// "rdkafka", and it reports itself.
func TestRegistered(t *testing.T) {
	e, err := engine.Lookup("rdkafka")
	if err != nil || e == nil {
		t.Fatalf("Lookup(rdkafka) = %v, %v", e, err)
	}
	if !Enabled {
		t.Fatal("Enabled is false in a cgo build")
	}
	if v := LibraryVersion(); !strings.HasPrefix(v, "2.") {
		t.Fatalf("LibraryVersion %q, want 2.x", v)
	}
}

// TestProducerProps: every field of the producer configuration reaches
// its librdkafka property, and RdkafkaConfig overrides last.
func TestProducerProps(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	// Every field away from its default, so that each one shows.
	cfg := testhelp.ProducerConfig()
	cfg.Acks = engine.RequireLeader
	cfg.Idempotent = false
	cfg.Linger = 2500 * time.Microsecond
	cfg.BatchBytes = 64 << 10
	cfg.MaxMessageBytes = 100 << 10
	cfg.MaxQueued = 777
	cfg.Compression = records.CodecZstd
	cfg.CompressionLevel = 7
	cfg.DeliveryTimeout = 90 * time.Second
	cfg.RequestTimeout = 1500 * time.Millisecond
	cfg.RetryBackoff = 2 * time.Second
	cfg.MaxInFlight = 3
	cfg.ClientID = "me"
	cfg.Raw = map[string]any{"queue.buffering.max.kbytes": 2048, "linger.ms": 1.5, "socket.nagle.disable": true}
	p, err := producerProps(cl, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"request.required.acks":        "1",
		"enable.idempotence":           "false",
		"queue.buffering.max.ms":       "1.5", // Raw's linger.ms wins over Linger's 2.5
		"batch.size":                   "65536",
		"message.max.bytes":            "102912", // MaxMessageBytes + overhead
		"queue.buffering.max.messages": "777",
		"compression.codec":            "zstd",
		"compression.level":            "7",
		"message.timeout.ms":           "90000",
		"request.timeout.ms":           "1500",
		"retry.backoff.ms":             "2000",
		"retry.backoff.max.ms":         "2000",
		"max.in.flight":                "3",
		"client.id":                    "me",
		"queue.buffering.max.kbytes":   "2048",
		"socket.nagle.disable":         "true",
		"go.delivery.report.fields":    "none",
	}
	for k, v := range want {
		if p.m[k] != v {
			t.Errorf("%s = %v, want %v", k, p.m[k], v)
		}
	}
	// Every broker of the cluster, from the client's metadata.
	servers, _ := p.m["bootstrap.servers"].(string)
	for _, b := range cl.Snapshot().Brokers {
		if !strings.Contains(servers, b.Addr()) {
			t.Errorf("bootstrap.servers %q lacks broker %s", servers, b.Addr())
		}
	}
	cfg.Linger = 0
	cfg.Raw = nil
	p, _ = producerProps(cl, cfg)
	if p.m["queue.buffering.max.ms"] != "0" || p.m["linger.ms"] != nil {
		t.Errorf("Linger 0: queue.buffering.max.ms %v, linger.ms %v", p.m["queue.buffering.max.ms"], p.m["linger.ms"])
	}
	// An idempotent producer gives librdkafka one request in flight per
	// connection (maxInFlight: its broker threads spin otherwise), unless
	// RdkafkaConfig says otherwise.
	cfg.Acks, cfg.Idempotent = engine.RequireAll, true
	p, _ = producerProps(cl, cfg)
	if p.m["max.in.flight"] != "1" {
		t.Errorf("idempotent: max.in.flight %v, want 1", p.m["max.in.flight"])
	}
	cfg.Raw = map[string]any{"max.in.flight": 5}
	p, _ = producerProps(cl, cfg)
	if p.m["max.in.flight"] != "5" {
		t.Errorf("idempotent with RdkafkaConfig max.in.flight 5: max.in.flight %v", p.m["max.in.flight"])
	}
}

// TestFetcherProps: the fetcher's properties, and the ones it reserves.
func TestFetcherProps(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	// Every field away from its default, so that each one shows.
	cfg := testhelp.FetcherConfig()
	cfg.MinBytes = 10
	cfg.MaxBytes = 500 // below librdkafka's minimum message.max.bytes
	cfg.PartitionMaxBytes = 4096
	cfg.MaxWait = 250 * time.Millisecond
	cfg.QueuedMaxMessages = 321
	cfg.Isolation = engine.ReadCommitted
	cfg.CheckCRC = true
	p, err := fetcherProps(cl, cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"enable.auto.commit":       false,
		"enable.auto.offset.store": false,
		"auto.offset.reset":        "error",
		"fetch.min.bytes":          "10",
		"message.max.bytes":        "1000",
		"fetch.max.bytes":          "1000",
		"fetch.message.max.bytes":  "4096",
		"fetch.wait.max.ms":        "250",
		"queued.min.messages":      "321",
		"fetch.queue.backoff.ms":   5,
		"isolation.level":          "read_committed",
		"check.crcs":               "true",
	}
	for k, v := range want {
		if p.m[k] != v {
			t.Errorf("%s = %v, want %v", k, p.m[k], v)
		}
	}
	if g, _ := p.m["group.id"].(string); !strings.HasPrefix(g, "gokafka-rdkafka-fetcher-") {
		t.Errorf("group.id %q", g)
	}
	// librdkafka accepts the mapping, including the adjusted sizes.
	f, err := newFetcher(cl, cfg)
	if err != nil {
		t.Fatalf("librdkafka refused the fetcher's properties: %v", err)
	}
	f.Close()

	for _, k := range []string{"group.id", "enable.auto.commit", "auto.offset.reset", "go.events.channel.enable"} {
		cfg.Raw = map[string]any{k: "x"}
		_, err := fetcherProps(cl, cfg)
		var ce *kerr.ConfigError
		if !errors.As(err, &ce) || !strings.Contains(ce.Field, k) {
			t.Errorf("Raw %s: %v, want a ConfigError naming it", k, err)
		}
	}
}

// TestConfigErrors: what librdkafka refuses fails construction with a
// *kerr.ConfigError naming the gokafka field.
func TestConfigErrors(t *testing.T) {
	cl := testhelp.NewCluster(t, nil)
	e := rdkafkaEngine(t)
	ctx := t.Context()
	for _, tc := range []struct {
		name  string
		edit  func(*engine.ProducerConfig)
		field string
	}{
		{"level", func(c *engine.ProducerConfig) { c.Compression, c.CompressionLevel = records.CodecGzip, 50 }, "ProducerConfig.CompressionLevel"},
		{"raw value", func(c *engine.ProducerConfig) { c.Raw = map[string]any{"linger.ms": "soon"} }, `ProducerConfig.RdkafkaConfig["linger.ms"]`},
		{"raw unknown", func(c *engine.ProducerConfig) { c.Raw = map[string]any{"no.such.property": 1} }, `ProducerConfig.RdkafkaConfig["no.such.property"]`},
		{"raw type", func(c *engine.ProducerConfig) { c.Raw = map[string]any{"linger.ms": time.Second} }, `ProducerConfig.RdkafkaConfig["linger.ms"]`},
		{"raw go", func(c *engine.ProducerConfig) { c.Raw = map[string]any{"go.delivery.reports": false} }, `ProducerConfig.RdkafkaConfig["go.delivery.reports"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testhelp.ProducerConfig()
			tc.edit(&cfg)
			p, err := e.NewProducer(ctx, cl, cfg)
			if err == nil {
				p.Close(context.Background())
				t.Fatal("NewProducer accepted the configuration")
			}
			var ce *kerr.ConfigError
			if !errors.Is(err, kerr.ErrInvalidConfig) || !errors.As(err, &ce) || ce.Field != tc.field {
				t.Fatalf("NewProducer: %v (%T), want a ConfigError for %s", err, err, tc.field)
			}
			t.Log(err)
		})
	}
	fcfg := testhelp.FetcherConfig()
	fcfg.Raw = map[string]any{"fetch.wait.max.ms": -5}
	if _, err := e.NewFetcher(ctx, cl, fcfg); !errors.Is(err, kerr.ErrInvalidConfig) {
		t.Fatalf("NewFetcher with a bad raw value: %v", err)
	}
}

// TestErrorMapping: librdkafka's codes map to gokafka's typed errors and
// keep the librdkafka error in the chain.
func TestErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		code kafka.ErrorCode
		want error
	}{
		{kafka.ErrNotLeaderForPartition, kerr.NotLeaderOrFollower},
		{kafka.ErrMsgSizeTooLarge, kerr.MessageTooLarge},
		{kafka.ErrOffsetOutOfRange, kerr.OffsetOutOfRange},
		{kafka.ErrMsgTimedOut, kerr.ErrDeliveryTimeout},
		{kafka.ErrQueueFull, kerr.ErrQueueFull},
		{kafka.ErrAllBrokersDown, kerr.ErrConnection},
		{kafka.ErrTransport, kerr.ErrConnection},
		{kafka.ErrTimedOut, kerr.ErrRequestTimeout},
		{kafka.ErrPurgeQueue, kerr.ErrClosed},
		{kafka.ErrPurgeInflight, kerr.ErrClosed},
		{kafka.ErrUnknownTopic, kerr.ErrUnknownTopic},
		{kafka.ErrUnknownPartition, kerr.ErrUnknownPartition},
		{kafka.ErrAuthentication, kerr.ErrAuthentication},
		{kafka.ErrAutoOffsetReset, kerr.OffsetOutOfRange},
	} {
		err := mapError(kafka.NewError(tc.code, "detail", false))
		if !errors.Is(err, tc.want) {
			t.Errorf("%v: %v, want errors.Is %v", tc.code, err, tc.want)
		}
		var ke kafka.Error
		if !errors.As(err, &ke) || ke.Code() != tc.code {
			t.Errorf("%v: librdkafka error not in the chain of %v", tc.code, err)
		}
	}
	if !kerr.IsRetriable(mapError(kafka.NewError(kafka.ErrTransport, "", false))) {
		t.Error("a transport error is not retriable")
	}
	// Unmapped local codes pass through.
	orig := kafka.NewError(kafka.ErrState, "x", false)
	if err := mapError(orig); err != error(orig) {
		t.Errorf("unmapped code changed: %v", err)
	}
	// At Produce, librdkafka's size refusal is ErrMessageTooLarge.
	if err := produceError(kafka.NewError(kafka.ErrMsgSizeTooLarge, "", false)); !errors.Is(err, kerr.ErrMessageTooLarge) {
		t.Errorf("produceError: %v", err)
	}
	if mapError(nil) != nil {
		t.Error("mapError(nil) != nil")
	}
}
