package kafka

import (
	"github.com/gokafka/kafka/internal/engine"
	"github.com/gokafka/kafka/pure"
)

// pureEngine is the default engine. The rdkafka engine is never imported
// here: it registers itself when a program imports it (see the package doc),
// so programs that do not use it link no C.
var pureEngine engine.Engine = pure.Engine{}
