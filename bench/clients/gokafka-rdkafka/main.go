// Command gokafka-rdkafka is the benchmark's client process for gokafka's
// librdkafka engine: the same API as gokafka-pure, with UseRdkafka set.
package main

import (
	"github.com/gokafka/kafka/bench/internal/gokafkaclient"
	"github.com/gokafka/kafka/bench/internal/workload"
	"github.com/gokafka/kafka/rdkafka" // registers the librdkafka engine
)

func main() {
	c := gokafkaclient.New("gokafka-rdkafka", true)
	c.Library = func() string { return "librdkafka " + rdkafka.LibraryVersion() }
	workload.Main(c)
}
