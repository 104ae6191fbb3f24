// Command gokafka-pure is the benchmark's client process for gokafka's
// pure-Go engine (built with CGO_ENABLED=0, as a pure-Go user would ship it).
package main

import (
	"github.com/gokafka/kafka/bench/internal/gokafkaclient"
	"github.com/gokafka/kafka/bench/internal/workload"
)

func main() { workload.Main(gokafkaclient.New("gokafka-pure", false)) }
