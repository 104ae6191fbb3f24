package kafka

import (
	"fmt"

	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/internal/kerr"
	"github.com/gokafka/kafka/pure"
)

// Engine selects what moves a producer's or a consumer's bytes. Both
// engines sit behind the same API and behave the same; consumer groups,
// offsets and partitioning are gokafka's Go code whatever the engine.
type Engine int8

const (
	// EngineDefault is the client's engine (WithEngine), which is
	// EnginePure unless set.
	EngineDefault Engine = iota
	// EnginePure is gokafka's pure-Go engine; it builds with
	// CGO_ENABLED=0.
	EnginePure
	// EngineRdkafka is librdkafka, through confluent-kafka-go: enable it
	// with a blank import of github.com/gokafka/kafka/rdkafka (see the
	// package doc); without it, producers and consumers that choose it
	// fail with ErrEngineNotEnabled.
	EngineRdkafka
)

func (e Engine) String() string {
	switch e {
	case EngineDefault:
		return "default"
	case EnginePure:
		return "pure"
	case EngineRdkafka:
		return "rdkafka"
	}
	return fmt.Sprintf("Engine(%d)", int8(e))
}

// WithEngine sets the engine of the client's producers and consumers; each
// can still choose another in its config. Default EnginePure.
func WithEngine(e Engine) ClientOption {
	return func(c *clientConfig) {
		if e < EngineDefault || e > EngineRdkafka {
			c.setErr(kerr.Config("WithEngine", "unknown engine %d", e))
		}
		c.engine = e
	}
}

// pureEngine is the default engine. The rdkafka engine is never imported
// here: it registers itself when a program imports it (see the package doc),
// so programs that do not use it link no C.
var pureEngine engine.Engine = pure.Engine{}

// engineFor picks the engine of a producer or consumer: its config's choice
// (UseRdkafka, PyKafka's spelling, is EngineRdkafka), else the client's.
// field names the config for errors.
func (c *Client) engineFor(field string, chosen Engine, useRdkafka bool) (engine.Engine, error) {
	switch {
	case chosen < EngineDefault || chosen > EngineRdkafka:
		return nil, kerr.Config(field+".Engine", "unknown engine %d", chosen)
	case useRdkafka && chosen == EnginePure:
		return nil, kerr.Config(field+".UseRdkafka", "contradicts Engine: EnginePure")
	case useRdkafka:
		chosen = EngineRdkafka
	case chosen == EngineDefault:
		chosen = c.cfg.engine
	}
	if chosen == EngineRdkafka {
		return engine.Lookup("rdkafka")
	}
	return pureEngine, nil
}
