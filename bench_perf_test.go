package kafka_test

import (
	"testing"

	"github.com/gokafka/kafka/testhelp/kafkatest"
)

// The per-message produce and consume paths of the root package (validation,
// partitioning, delivery reports, handing messages out) on the shared
// cluster: kafkatest.BenchProduce and BenchConsume, written once for these,
// hooks_bench_test.go (the same with a hook) and plugin/kprom's. allocs/op
// is the stable figure; ns/op moves with the cluster's load.

func BenchmarkRootProduce(b *testing.B) { kafkatest.BenchProduce(b) }
func BenchmarkRootConsume(b *testing.B) { kafkatest.BenchConsume(b) }
