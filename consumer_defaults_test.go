package kafka

import (
	"errors"
	"testing"

	"github.com/gokafka/kafka/internal/engine"
)

// TestConsumerPrefetchDefaults: a consumer left at the defaults prefetches
// with engine.DefaultFetcherConfig's bounds, a byte budget among them
// (pure engine), and one that sets them gets its own. The default budget
// is not the user's: a librdkafka consumer left at the defaults is not
// refused as one that sets QueuedMaxBytes is (TestByteBudgetConfigErrors).
func TestConsumerPrefetchDefaults(t *testing.T) {
	c := &Client{}
	def := engine.DefaultFetcherConfig()
	if def.QueuedMaxBytes <= 0 || def.QueuedMaxMessages <= 0 {
		t.Fatalf("defaults %d messages, %d bytes: want both bounds on", def.QueuedMaxMessages, def.QueuedMaxBytes)
	}
	r, err := ConsumerOptions{}.resolve(c, "", "ConsumerConfig")
	if err != nil {
		t.Fatal(err)
	}
	if r.fetch.QueuedMaxMessages != def.QueuedMaxMessages || r.fetch.QueuedMaxBytes != def.QueuedMaxBytes {
		t.Errorf("defaults resolved to %d messages, %d bytes; want %d, %d", r.fetch.QueuedMaxMessages, r.fetch.QueuedMaxBytes, def.QueuedMaxMessages, def.QueuedMaxBytes)
	}
	r, err = ConsumerOptions{QueuedMaxMessages: 500, QueuedMaxBytes: 1 << 20}.resolve(c, "", "ConsumerConfig")
	if err != nil {
		t.Fatal(err)
	}
	if r.fetch.QueuedMaxMessages != 500 || r.fetch.QueuedMaxBytes != 1<<20 {
		t.Errorf("set 500 messages, 1 MiB; resolved to %d, %d", r.fetch.QueuedMaxMessages, r.fetch.QueuedMaxBytes)
	}
	// Without the librdkafka engine linked in (-tags nordkafka) this
	// fails for want of the engine, never for the budget.
	_, err = ConsumerOptions{Engine: EngineRdkafka}.resolve(c, "", "ConsumerConfig")
	var ce *ConfigError
	if errors.As(err, &ce) && ce.Field == "ConsumerConfig.QueuedMaxBytes" {
		t.Errorf("a librdkafka consumer at the defaults: %v", err)
	}
}
