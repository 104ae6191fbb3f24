package offsets

import "github.com/gokafka/kafka/internal/cluster"

// Cluster is a connection to a Kafka cluster: pass a *kafka.Client
// (kafka.NewClient). The offset store and the balanced consumers
// (balance/...) send their requests over its broker connections and read
// its metadata; closing the client ends what they do.
//
// Only gokafka's own types implement it.
type Cluster interface {
	provider
}

// provider is the internal interface behind Cluster, under a name that
// keeps it out of the exported API.
type provider = cluster.Provider
