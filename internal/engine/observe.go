package engine

import "time"

// BatchObserver is told of the record batches an engine writes and reads;
// the root implements it over the user's hooks (kafka.WithHooks). nil in a
// config: nobody listens, and the engine must not spend anything on it.
// Methods run on the engine goroutine that sent or decoded the batch: while
// one runs, that goroutine waits.
type BatchObserver interface {
	// ProduceBatchWritten: a Produce request carrying the batch was sent
	// and answered (err nil), or failed (err); a retried batch is reported
	// at each try.
	ProduceBatchWritten(b BatchInfo, err error)
	// FetchBatchRead: a Fetch response's records of one partition were
	// decoded.
	FetchBatchRead(b BatchInfo)
}

// BatchInfo describes one partition's records in one request or response.
type BatchInfo struct {
	Broker    int32
	Topic     string
	Partition int32
	Records   int
	// Bytes is the size of the records before compression (for fetches:
	// of keys, values and headers as decoded); CompressedBytes their size
	// on the wire, batch headers included.
	Bytes           int
	CompressedBytes int
	// Took is, for produced batches, how long the request took, from
	// send to answer.
	Took time.Duration
}

// QueueStater is implemented by producers that can tell what they hold,
// for kafka.Client.Stats.
type QueueStater interface {
	QueueStats() QueueStats
}

// QueueStats is what a producer holds: messages accepted and not yet
// reported (of at most Max), and the bytes buffered for them (-1: the
// engine does not know).
type QueueStats struct {
	Messages int
	Max      int
	Bytes    int64
}

// BrokerWindowObserver is told, by an engine that keeps its own broker
// connections (librdkafka), what it measured of each broker over its last
// statistics interval. nil in a config: nobody listens, and the engine
// does not turn its statistics on.
type BrokerWindowObserver interface {
	BrokerWindows(ws []BrokerWindow)
}

// BrokerWindow is one broker as an engine's own connections saw it:
// counters since the engine started, latency and throttle over the last
// interval.
type BrokerWindow struct {
	Broker       int32
	Addr         string
	Connected    bool
	InFlight     int    // requests sent, response not yet received
	Requests     uint64 // requests sent
	Errors       uint64 // send and receive errors
	BytesWritten uint64
	BytesRead    uint64
	Connects     uint64
	Disconnects  uint64
	// Round-trip time percentiles over the interval (zero without
	// requests), and the largest throttle a broker asked for in it.
	RTTP50, RTTP90, RTTP99 time.Duration
	ThrottleMax            time.Duration
}
